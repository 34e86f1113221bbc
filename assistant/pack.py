"""Load an intent pack: hassil templates plus the answers, interviews and routines beside them.

A pack is one YAML file or a folder of them, merged. The hassil part (``language``,
``intents.*.data``, ``lists``, ``expansion_rules``, ``skip_words``) is parsed by hassil;
everything else is this project's schema, documented in ``intents/README.md``.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields, is_dataclass, replace
from importlib.resources import files
from pathlib import Path
from typing import Any

import yaml
from hassil import Intents, parse_sentence
from hassil.errors import HassilError
from hassil.expression import Alternative, Expression, Group, ListReference, RuleReference, TextChunk
from hassil.intents import TextSlotList
from hassil.parser import ParseError as HassilParseError
from hassil.util import merge_dict

from .errors import BadInput
from .normalize import normalize

CONTROL_INTENTS = (
    "yes",
    "no",
    "stop",
    "pause",
    "resume",
    "repeat",
    "next",
    "time_left",
    "help",
    "more",
)
"""Intents whose meaning is built into the dialogue manager; the pack only says how they are phrased."""

ROUTINE_KINDS = ("relief", "stretch")
"""``relief`` eases a cramp happening now; ``stretch`` is an ordinary stretch."""

MAX_PACK_BYTES = 1_000_000
"""A pack (all its files together) larger than this is refused; the bundled one is about 110 kB."""

RUNTIME_BLANKS = ("closest", "seconds", "side")
"""Blanks the dialogue manager fills as it speaks (``{seconds} seconds left``); a region may not use them."""

BLANK = re.compile(r"\{(\w+)\}")
"""A blank in a reply: ``{emergency}``."""

MAX_ALIAS_NODES = 10_000
"""YAML aliases may add at most this many values to a file: shared blocks yes, an alias bomb no."""


class _LineDict(dict[str, Any]):
    """A YAML mapping that remembers where it was written."""

    file: str = ""
    line: int = 0


class _LineLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """Safe loader whose mappings carry their file and line for error messages.

    Only ``true``/``false`` are booleans: intents and actions are called ``yes`` and ``no``.
    """

    source_name = ""
    anchors = True
    """False when the text holds no '&', so no anchors and nothing for an alias to repeat."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> Any:  # type: ignore[override]
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = key_node.value
            if key in seen:
                raise yaml.MarkedYAMLError(problem=f"duplicate key '{key}'", problem_mark=key_node.start_mark)
            seen.add(key)
        mapping = _LineDict(super().construct_mapping(node, deep=deep))
        mapping.file = self.source_name
        mapping.line = node.start_mark.line + 1
        return mapping

    def construct_document(self, node: yaml.Node) -> Any:
        if self.anchors:
            _check_aliases(node)
        return super().construct_document(node)

    def construct_line_map(self, node: yaml.MappingNode) -> Any:
        # PyYAML's own map constructor fills a plain dict with what ``construct_mapping`` returns, which would
        # drop the file and line: fill a ``_LineDict`` instead (made first, so aliases to it still work).
        data = _LineDict()
        data.file = self.source_name
        data.line = node.start_mark.line + 1
        yield data
        data.update(self.construct_mapping(node))


def _check_aliases(root: yaml.Node) -> None:
    """Refuse a document whose aliases would expand it by more than ``MAX_ALIAS_NODES`` values, or into itself.

    An alias is the same node met again, so the document's expanded size is counted per node, once each.
    """
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        children = (
            [item for pair in node.value for item in pair]
            if isinstance(node, yaml.MappingNode)
            else (list(node.value) if isinstance(node, yaml.SequenceNode) else [])
        )
        if children_done:
            open_nodes.discard(id(node))
            sizes[id(node)] = min(1 + sum(sizes[id(child)] for child in children), 10 * MAX_ALIAS_NODES)
            continue
        if id(node) in sizes:
            continue
        if id(node) in open_nodes:
            raise yaml.MarkedYAMLError(problem="an alias refers to a value it is part of", problem_mark=node.start_mark)
        open_nodes.add(id(node))
        stack.append((node, True))
        stack.extend((child, False) for child in children if id(child) not in sizes)
    if sizes[id(root)] - len(sizes) > MAX_ALIAS_NODES:
        raise yaml.MarkedYAMLError(
            problem=f"aliases expand the file by more than {MAX_ALIAS_NODES:,} values (an alias bomb?)",
            problem_mark=root.start_mark,
        )


_LineLoader.add_constructor("tag:yaml.org,2002:map", _LineLoader.construct_line_map)
_LineLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_LineLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def _where(node: Any, fallback: str) -> str:
    if isinstance(node, _LineDict) and node.file:
        return f"{node.file}:{node.line}"
    return fallback


def _bad(node: Any, fallback: str, message: str) -> BadInput:
    return BadInput(f"{_where(node, fallback)}: {message}")


@dataclass(frozen=True)
class Source:
    """Where a fact came from."""

    id: str
    """Short id used in ``sources:`` lists."""
    title: str
    """Human-readable title."""
    url: str | None = None
    """Public address of the source, if it has one."""
    note: str | None = None
    """What the source is and why it is trusted."""


@dataclass(frozen=True)
class Action:
    """What happens when the user answers a follow-up or a triage question."""

    say: str | None = None
    """A sentence to speak first."""
    answer: str | None = None
    """Give this intent's answer."""
    triage: str | None = None
    """Start this triage interview."""
    routine: str | None = None
    """Start this routine (by routine id)."""
    next: str | None = None
    """Inside an interview: ask this question next."""
    disposition: str | None = None
    """Inside an interview: end with this disposition."""


@dataclass(frozen=True)
class FollowUp:
    """One yes/no question asked after an answer."""

    ask: str
    """The question, spoken."""
    yes: Action
    """What a yes does."""
    no: Action
    """What a no does."""


@dataclass(frozen=True)
class Answer:
    """A spoken answer: a short first part, more on request, and its sources."""

    say: str
    """First spoken part (about 40 words at most)."""
    more: tuple[str, ...] = ()
    """Further parts, one per "more"."""
    sources: tuple[str, ...] = ()
    """Source ids from the pack's ``sources``."""


@dataclass(frozen=True)
class RoutineStart:
    """An intent that starts the routine of a kind for the muscle in its slot."""

    kind: str
    """``relief`` or ``stretch``."""
    slot: str = "muscle"
    """Slot naming the muscle."""
    default: str | None = None
    """Muscle to use when the slot is missing (None: ask which muscle)."""


@dataclass(frozen=True)
class IntentBehaviour:
    """What the skill does for one intent (all optional: a bare intent just reports itself)."""

    id: str
    """Intent id."""
    answer: Answer | None = None
    """Spoken answer."""
    follow_up: FollowUp | None = None
    """Question asked after the answer."""
    triage: str | None = None
    """Interview started after the answer."""
    routine: RoutineStart | None = None
    """Routine started by this intent."""
    control: str | None = None
    """Built-in dialogue control (see ``CONTROL_INTENTS``)."""
    emergency: bool = False
    """Answered at once in every state, ending whatever was going on."""
    red_flags: tuple[str, ...] = ()
    """An emergency's warning signs: phrases that, said anywhere in a sentence no template says exactly,
    mean this emergency ("not breathing", "(throat|tongue) is swelling"); plain words, alternatives
    and optional parts only."""
    cues: tuple[str, ...] = ()
    """A topic's cues, written as red flags are: said in a sentence nothing else understood, when no
    question is waiting for its answer, they mean this intent ("(caffeine|coffee) ... (twitch|twitching)")."""
    general_cues: tuple[str, ...] = ()
    """Cues that name only the subject and what is asked ("why ... cramp"): taken only when no topic's own
    cue is said, so a sentence that also names a cause goes to that cause's topic."""


@dataclass(frozen=True)
class TriageQuestion:
    """One yes/no question of an interview."""

    id: str
    """Question id within the interview."""
    ask: str
    """The question, spoken."""
    yes: Action
    """Where a yes leads (``next`` or ``disposition``)."""
    no: Action
    """Where a no leads."""
    red_flag: bool = False
    """True when a yes is a warning sign (it must lead to an urgent disposition)."""


@dataclass(frozen=True)
class TriageInterview:
    """A short yes/no interview ending in a disposition."""

    id: str
    """Interview id."""
    intro: str
    """Said before the first question."""
    start: str
    """Id of the first question."""
    questions: dict[str, TriageQuestion]
    """Questions by id."""
    sources: tuple[str, ...] = ()
    """Source ids behind the questions."""


@dataclass(frozen=True)
class Disposition:
    """Where an interview ends: what to do now."""

    id: str
    """Disposition id."""
    say: str
    """The advice, spoken."""
    urgency: int
    """0 self-care, 1 book a visit, 2 see a doctor soon, 3 emergency services now."""
    sources: tuple[str, ...] = ()
    """Source ids behind the advice."""


@dataclass(frozen=True)
class RoutineStep:
    """One position of a stretch, held and maybe repeated on each side."""

    say: str
    """How to get into the position, spoken."""
    hold_seconds: int = 0
    """How long to hold (0: no hold, just an instruction)."""
    sides: tuple[str, ...] = ()
    """Sides to do in turn (e.g. left, right); empty for one-sided or central stretches."""
    repetitions: int = 1
    """How many holds per side."""
    rest_seconds: int = 5
    """Pause between holds."""


@dataclass(frozen=True)
class StretchRoutine:
    """A guided routine for one muscle."""

    id: str
    """Routine id."""
    muscle: str
    """Canonical muscle (a value of the ``muscle`` list)."""
    kind: str
    """``relief`` or ``stretch``."""
    title: str
    """Spoken name, e.g. "calf stretch"."""
    intro: str
    """Said before the first step."""
    steps: tuple[RoutineStep, ...]
    """The steps in order."""
    outro: str
    """Said at the end."""
    sources: tuple[str, ...] = ()
    """Source ids."""
    check: str | None = None
    """Interview asked before the routine starts (its red flags for this muscle); its all-clear starts it."""


@dataclass(frozen=True)
class DialogueSettings:
    """Pack-wide phrases and which intents each waiting state listens for."""

    wake_phrase: str = "hey coach"
    """Phrase that starts a turn in wake-word mode."""
    help: str = "I can answer questions about muscle twitches, spasms and cramps, and talk you through a stretch."
    """Said for "help"."""
    not_understood: str = "Sorry, I didn't get that."
    """Said when nothing matched; ``{closest}`` is replaced by the closest topic's name."""
    did_you_mean: str = "Did you mean {closest}?"
    """Added when there is a closest topic."""
    expects: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Waiting state -> intents heard in it (emergency is always added)."""
    topic_names: dict[str, str] = field(default_factory=dict)
    """Intent id -> short spoken name for "did you mean"."""
    phrases: dict[str, str] = field(default_factory=dict)
    """Other fixed phrases of the dialogue manager, by key (e.g. ``paused``, ``resumed``)."""
    negations: tuple[str, ...] = ("not", "no", "never", "without", "nor")
    """Words that take back a red flag said just after them ("i am not having a seizure")."""
    cries: tuple[str, ...] = ("oh no",)
    """Phrases ending in one of ``negations`` that are a cry, not a negation ("oh no he is not breathing")."""


@dataclass(frozen=True)
class Region:
    """Where the user is, and what the replies' blanks say there (``{emergency}``: the number to call)."""

    id: str
    name: str
    """Spoken or listed name ("the UK")."""
    says: dict[str, str]
    """Blank -> its words in this region."""
    sources: tuple[str, ...] = ()
    """Where its numbers come from."""


@dataclass(frozen=True)
class SafetyModelSettings:
    """The pack's learned alarm (``safety_model.py``): where its weights are, and whose advice it gives."""

    weights: Path
    """The weights file, beside the pack file that names it."""
    unsure: str
    """The emergency whose advice a sentence gets when the model hears an emergency but not which one."""


@dataclass(frozen=True)
class MeaningSettings:
    """The pack's sentence vectors (``meaning.py``): where they are, and how close a sentence must come."""

    vectors: Path
    """The vectors file, beside the pack file that names it."""
    threshold: float
    """Least cosine similarity to the nearest pack sentence for a sentence to take its intent."""


@dataclass
class Pack:
    """A loaded intent pack."""

    intents: Intents
    """Templates, lists and rules, as hassil parsed them."""
    behaviours: dict[str, IntentBehaviour]
    """Intent id -> what the skill does for it."""
    sources: dict[str, Source]
    """Source id -> source."""
    triage: dict[str, TriageInterview]
    """Interview id -> interview."""
    dispositions: dict[str, Disposition]
    """Disposition id -> disposition."""
    routines: dict[str, StretchRoutine]
    """Routine id -> routine."""
    dialogue: DialogueSettings
    """Dialogue phrases and waiting states."""
    regions: dict[str, Region] = field(default_factory=dict)
    """Region id -> region, the first the default (the pack's ``regions``)."""
    region: str | None = None
    """The region whose words fill the replies' blanks; None while they are blank (``read_pack``)."""
    safety_model: SafetyModelSettings | None = None
    """The learned alarm beside the red flags, when the pack has one."""
    meaning: MeaningSettings | None = None
    """Sentence vectors for questions in words no template has, when the pack has them."""
    paths: tuple[Path, ...] = ()
    """Files the pack was read from."""
    raw: dict[str, Any] = field(default_factory=dict, repr=False)
    """The merged YAML, with line information, for ``check-intents``."""

    @property
    def intent_ids(self) -> list[str]:
        """All intent ids, in pack order."""
        return list(self.intents.intents)

    def is_emergency(self, intent_id: str | None) -> bool:
        """Whether ``intent_id`` is an emergency (answered at once in every state)."""
        behaviour = self.behaviours.get(intent_id) if intent_id else None
        return behaviour is not None and behaviour.emergency

    def sends_for_help(self, disposition_id: str | None) -> bool:
        """Whether an interview ending in ``disposition_id`` says to call emergency services now (urgency 3)."""
        disposition = self.dispositions.get(disposition_id) if disposition_id else None
        return disposition is not None and disposition.urgency >= 3

    def says_urgently(self, say: Iterable[str]) -> bool:
        """Whether a turn saying the sentences ``say`` is emergency advice, said louder and never cut off:
        any of them is one of ``emergency_advice``. By the words, so a repeat of the advice is it too."""
        return not set(self.emergency_advice()).isdisjoint(say)

    def emergency_advice(self) -> list[str]:
        """The texts said as emergency advice: an emergency's answer and its further parts ("tell me
        more" is still about the emergency), then what an interview says when it sends for help."""
        answers = [
            text
            for i, b in self.behaviours.items()
            if b.answer and self.is_emergency(i)
            for text in (b.answer.say, *b.answer.more)
        ]
        return answers + [d.say for i, d in self.dispositions.items() if self.sends_for_help(i)]

    def localised(self, region: str | None = None) -> Pack:
        """This pack with ``region``'s words in every reply's blanks (None: the first region listed).

        Emergency advice names the numbers of the user's region instead of every region's. Only the replies
        change, so a matcher compiled from the blank pack serves every region. An unknown region is BadInput.
        """
        if self.region is not None:
            raise ValueError(f"the pack is already localised for '{self.region}'")
        if not self.regions:
            if region:
                raise BadInput(f"unknown region '{region}': this pack names no regions")
            return self
        chosen = self.regions.get(region or next(iter(self.regions)))
        if chosen is None:
            raise BadInput(f"unknown region '{region}'; this pack knows: {', '.join(self.regions)}")
        return replace(
            self,
            behaviours=_filled(self.behaviours, chosen.says),
            triage=_filled(self.triage, chosen.says),
            dispositions=_filled(self.dispositions, chosen.says),
            routines=_filled(self.routines, chosen.says),
            dialogue=_filled(self.dialogue, chosen.says),
            region=chosen.id,
        )

    def routine_for(self, muscle: str, kind: str) -> StretchRoutine | None:
        """The routine of ``kind`` for ``muscle``, falling back to the other kind."""
        fallback = None
        for routine in self.routines.values():
            if routine.muscle == muscle:
                if routine.kind == kind:
                    return routine
                fallback = fallback or routine
        return fallback


def _filled(value: Any, says: dict[str, str]) -> Any:
    """``value`` with each ``{blank}`` that ``says`` names replaced by its words; other braces (the dialogue's
    own blanks) are left for the dialogue."""
    return map_texts(value, lambda text: BLANK.sub(lambda found: says.get(found[1], found[0]), text))


def map_texts(value: Any, change: Callable[[str], str]) -> Any:
    """``value`` (text, or tuples, mappings and dataclasses of it) with ``change`` made to every text in it."""
    if isinstance(value, str):
        return change(value)
    if isinstance(value, tuple):
        return tuple(map_texts(item, change) for item in value)
    if isinstance(value, dict):
        return {key: map_texts(item, change) for key, item in value.items()}
    if is_dataclass(value) and not isinstance(value, type):
        return replace(value, **{f.name: map_texts(getattr(value, f.name), change) for f in fields(value) if f.init})
    return value


def bundled_pack_path() -> Path:
    """Folder of the pack shipped with the package."""
    return Path(str(files("assistant.intents")))


def pack_files(path: Path) -> list[Path]:
    """The YAML files of a pack given as a file or a folder."""
    try:
        path.stat()
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise BadInput(f"{path}: a loop of symbolic links, not an intent pack") from None
        if error.errno not in (errno.ENOENT, errno.ENOTDIR):
            raise BadInput(f"{path}: cannot read: {error.strerror}") from None
        raise BadInput(f"{path}: no such intent pack (give a YAML file or a folder of them)") from None
    if path.is_dir():
        found = sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())
        if not found:
            raise BadInput(f"{path}: folder holds no .yaml files")
        return found
    return [path]


def read_yaml(path: Path) -> Any:
    """Parse one YAML file, turning syntax errors into a message with file and line.

    Only a regular file of at most ``MAX_PACK_BYTES`` is read: a pipe or a device could hang or never end.
    """
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise BadInput(f"{path}: not a regular file (a pipe or a device?); give a YAML file or a folder")
        with open(path, "rb") as handle:
            data = handle.read(MAX_PACK_BYTES + 1)
        if len(data) > MAX_PACK_BYTES:
            raise BadInput(f"{path}: larger than the {MAX_PACK_BYTES:,}-byte limit for an intent pack")
        text = data.decode("utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise BadInput(f"{path}: cannot read: {getattr(error, 'strerror', None) or error}") from None
    loader = _LineLoader(text)
    loader.source_name = str(path)
    loader.anchors = "&" in text
    try:
        return loader.get_single_data()
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = f":{mark.line + 1}" if mark else ""
        raise BadInput(f"{path}{line}: malformed YAML: {error.problem or error}") from None
    except yaml.YAMLError as error:
        raise BadInput(f"{path}: malformed YAML: {error}") from None
    finally:
        loader.dispose()


def pack_sources(root: Path) -> list[Path]:
    """The YAML files of the pack at ``root``; BadInput when there are none or they pass the size limit."""
    paths = pack_files(root)
    total = sum(p.stat().st_size for p in paths)
    if total > MAX_PACK_BYTES:
        raise BadInput(f"{root}: the pack is {total:,} bytes; the limit is {MAX_PACK_BYTES:,}")
    return paths


def load_pack(path: Path | None = None, region: str | None = None) -> Pack:
    """Load the pack at ``path`` (a file or folder), or the bundled one, its replies in ``region``'s words
    (None: the pack's first region)."""
    return read_pack(path).localised(region)


def read_pack(path: Path | None = None) -> Pack:
    """Read the pack at ``path`` (a file or folder), or the bundled one, its replies' blanks left blank."""
    root = Path(path) if path is not None else bundled_pack_path()
    paths = pack_sources(root)
    merged: dict[str, Any] = _LineDict()
    for file_path in paths:
        data = read_yaml(file_path)
        if data is None:
            continue
        if not isinstance(data, dict):
            raise BadInput(f"{file_path}:1: a pack file must be a mapping at the top level")
        merge_dict(merged, data)
    return pack_from_dict(merged, str(root), tuple(paths))


def pack_from_dict(data: dict[str, Any], name: str = "<pack>", paths: tuple[Path, ...] = ()) -> Pack:
    """Build a ``Pack`` from merged YAML data, checking the schema as it goes."""
    if "language" not in data:
        data["language"] = "en"
    intents_data = data.get("intents")
    if not isinstance(intents_data, dict) or not intents_data:
        raise _bad(data, name, "the pack has no 'intents' mapping")
    for intent_id, intent in intents_data.items():
        if not isinstance(intent, dict) or not isinstance(intent.get("data"), list):
            raise _bad(intent, name, f"intent '{intent_id}' needs a 'data' list of sentence blocks")
        for block in intent["data"]:
            if not isinstance(block, dict) or not isinstance(block.get("sentences"), list):
                raise _bad(
                    block, _where(intent, name), f"intent '{intent_id}': each data block needs a 'sentences' list"
                )
            for sentence in block["sentences"]:
                if not isinstance(sentence, str):
                    raise _bad(block, name, f"intent '{intent_id}': sentence {sentence!r} is not text")
    lists = data.get("lists") or {}
    if not isinstance(lists, dict):
        raise _bad(data, name, "'lists' must be a mapping")
    for list_name, list_data in lists.items():
        if not isinstance(list_data, dict) or not ({"values", "range", "wildcard"} & set(list_data)):
            raise _bad(list_data, _where(lists, name), f"list '{list_name}' needs 'values', 'range' or 'wildcard'")
    rules = data.get("expansion_rules") or {}
    if not isinstance(rules, dict):
        raise _bad(data, name, "'expansion_rules' must be a mapping")
    for rule_name, body in rules.items():
        if not isinstance(body, str):
            raise _bad(rules, name, f"expansion rule '{rule_name}' must be a template text")
        _check_template(body, rules, f"expansion rule '{rule_name}'", name)
    try:
        hassil_intents = Intents.from_dict(
            {
                key: data[key]
                for key in ("language", "intents", "lists", "expansion_rules", "skip_words", "settings")
                if key in data
            }
        )
    except (HassilParseError, HassilError) as error:
        raise BadInput(f"{name}: template error: {error}") from None
    except (KeyError, TypeError, ValueError, AttributeError, AssertionError, IndexError) as error:
        raise BadInput(f"{name}: pack does not follow the hassil layout: {error or type(error).__name__}") from None
    cycle = _reference_cycle(hassil_intents)
    if cycle:
        raise BadInput(f"{name}: lists and rules refer to each other in a cycle: {' -> '.join(cycle)}")
    parts: dict[tuple[Any, ...], Expression] = {}
    for intent_id, intent in hassil_intents.intents.items():
        for intent_data, block in zip(intent.data, intents_data[intent_id]["data"], strict=True):
            try:
                sentences = intent_data.sentences  # parsed once here (hassil caches it)
            except Exception:  # hassil reports some malformed templates with asserts and index errors
                for sentence in block["sentences"]:
                    _check_template(sentence, block, f"intent '{intent_id}'", name)
                raise _bad(block, name, f"intent '{intent_id}': a template could not be parsed") from None
            # A block with rules of its own says different things with the same words: its parts stay its own.
            block_parts = {} if intent_data.expansion_rules else parts
            for sentence in sentences:
                sentence.expression = _shared(sentence.expression, block_parts)

    sources = {
        sid: Source(
            id=sid,
            title=_text(s, "title", sid, name),
            url=s.get("url"),
            note=s.get("note"),
        )
        for sid, s in _mapping(data, "sources", name).items()
    }
    dispositions = {
        did: Disposition(
            id=did,
            say=_text(d, "say", f"disposition '{did}'", name),
            urgency=int(d.get("urgency", 0)),
            sources=_ids(d, "sources"),
        )
        for did, d in _mapping(data, "dispositions", name).items()
    }
    triage = {tid: _interview(tid, t, name) for tid, t in _mapping(data, "triage", name).items()}
    routines = {rid: _routine(rid, r, name) for rid, r in _mapping(data, "routines", name).items()}
    behaviours = {iid: _behaviour(iid, intent, name) for iid, intent in intents_data.items()}
    dialogue = _dialogue(data.get("dialogue") or {}, name)
    regions = _regions(data, name)
    return Pack(
        intents=hassil_intents,
        behaviours=behaviours,
        sources=sources,
        triage=triage,
        dispositions=dispositions,
        routines=routines,
        dialogue=dialogue,
        regions=regions,
        safety_model=_safety_model(data, behaviours, name),
        meaning=_meaning(data, name),
        paths=paths,
        raw=data,
    )


def _shared(expression: Expression, parts: dict[tuple[Any, ...], Expression]) -> Expression:
    """``expression`` with each part that ``parts`` already holds replaced by that one object.

    hassil makes an object per word, alternative and group of every template; the same "[please|now]"
    or "what is" written in a thousand templates would be a thousand trees. Parts are compared by what
    they say (their text, list or rule, and the parts they hold), so sharing changes no match; nothing
    alters a template once parsed.
    """
    if isinstance(expression, TextChunk):
        expression.parent = None  # one chunk may now sit in many groups
        key: tuple[Any, ...] = (TextChunk, expression.text, expression.original_text)
    elif isinstance(expression, ListReference):
        key = (
            ListReference,
            expression.list_name,
            expression.slot_name,
            expression.prefix,
            expression.suffix,
            expression.is_end_of_word,
            expression.is_capture,
        )
    elif isinstance(expression, RuleReference):
        key = (RuleReference, expression.rule_name)
    elif isinstance(expression, Group):
        expression.items = [_shared(item, parts) for item in expression.items]
        key = (
            type(expression),
            isinstance(expression, Alternative) and expression.is_optional,
            *map(id, expression.items),
        )
    else:
        return expression
    return parts.setdefault(key, expression)


def _references(expression: Expression) -> list[str]:
    """The lists ("{name}") and rules ("<name>") a template refers to."""
    found: list[str] = []
    stack = [expression]
    while stack:
        item = stack.pop()
        if isinstance(item, Group):
            stack.extend(item.items)
        elif isinstance(item, ListReference):
            found.append(f"{{{item.list_name}}}")
        elif isinstance(item, RuleReference):
            found.append(f"<{item.rule_name}>")
    return found


def _reference_cycle(intents: Intents) -> list[str]:
    """A chain of lists and rules that leads back to its start (["{a}", "{b}", "{a}"]), or []."""
    graph: dict[str, list[str]] = {}
    for list_name, slot_list in intents.slot_lists.items():
        if isinstance(slot_list, TextSlotList):
            graph[f"{{{list_name}}}"] = [ref for value in slot_list.values for ref in _references(value.text_in)]
    for rule_name, rule in intents.expansion_rules.items():
        graph[f"<{rule_name}>"] = _references(rule.expression)
    done: set[str] = set()
    for start in graph:
        path: list[str] = []
        stack: list[tuple[str, int]] = [(start, 0)]
        while stack:
            node, index = stack.pop()
            if index == 0:
                if node in done:
                    continue
                if node in path:
                    return [*path[path.index(node) :], node]
                path.append(node)
            targets = graph.get(node, [])
            if index < len(targets):
                stack.append((node, index + 1))
                stack.append((targets[index], 0))
            else:
                done.add(path.pop())
    return []


def _check_template(template: str, node: Any, what: str, name: str) -> None:
    """Parse one template with hassil, naming the template and where it is when it is malformed."""
    try:
        parse_sentence(template, keep_text=True)
    except RecursionError:
        raise _bad(node, name, f"{what}: template {template!r} nests too deeply") from None
    except Exception as error:  # hassil reports some malformed templates with asserts and index errors
        raise _bad(node, name, f"{what}: malformed template {template!r}: {error or type(error).__name__}") from None


def _mapping(data: dict[str, Any], key: str, name: str) -> dict[str, Any]:
    value = data.get(key) or {}
    if not isinstance(value, dict):
        raise _bad(data, name, f"'{key}' must be a mapping")
    for item_id, item in value.items():
        if not isinstance(item, dict):
            raise _bad(value, name, f"'{key}.{item_id}' must be a mapping")
    return value


def _text(node: Any, key: str, what: str, name: str) -> str:
    value = node.get(key) if isinstance(node, dict) else None
    if not isinstance(value, str) or not value.strip():
        raise _bad(node, name, f"{what} needs a '{key}' text")
    return " ".join(value.split())


def _ids(node: Any, key: str) -> tuple[str, ...]:
    value = node.get(key) if isinstance(node, dict) else None
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in value)


def _action(node: Any, what: str, name: str) -> Action:
    if isinstance(node, str):
        return Action(say=" ".join(node.split()))
    if not isinstance(node, dict):
        raise _bad(node, name, f"{what} must be a mapping (say/answer/triage/routine/next/disposition)")
    known = {"say", "answer", "triage", "routine", "next", "disposition"}
    unknown = set(node) - known
    if unknown:
        raise _bad(node, name, f"{what}: unknown key(s) {sorted(unknown)}; expected some of {sorted(known)}")
    return Action(**{key: (" ".join(str(node[key]).split()) if key == "say" else str(node[key])) for key in node})


def _answer(node: Any, what: str, name: str) -> Answer:
    if not isinstance(node, dict):
        raise _bad(node, name, f"{what}: 'answer' must be a mapping with 'say', 'more', 'sources'")
    more = node.get("more") or ()
    if isinstance(more, str):
        more = (more,)
    return Answer(
        say=_text(node, "say", what, name),
        more=tuple(" ".join(str(m).split()) for m in more),
        sources=_ids(node, "sources"),
    )


def _behaviour(intent_id: str, node: dict[str, Any], name: str) -> IntentBehaviour:
    what = f"intent '{intent_id}'"
    follow = node.get("follow_up")
    routine = node.get("routine")
    if routine is not None and not isinstance(routine, dict):
        raise _bad(node, name, f"{what}: 'routine' must be a mapping with 'kind'")
    control = node.get("control")
    if control is not None and control not in CONTROL_INTENTS:
        raise _bad(node, name, f"{what}: unknown control '{control}'; known: {', '.join(CONTROL_INTENTS)}")
    if routine is not None and routine.get("kind") not in ROUTINE_KINDS:
        raise _bad(routine, name, f"{what}: routine kind must be one of {ROUTINE_KINDS}")
    return IntentBehaviour(
        id=intent_id,
        answer=_answer(node["answer"], what, name) if "answer" in node else None,
        follow_up=(
            FollowUp(
                ask=_text(follow, "ask", f"{what} follow_up", name),
                yes=_action(follow.get("yes", {}), f"{what} follow_up yes", name),
                no=_action(follow.get("no", {}), f"{what} follow_up no", name),
            )
            if isinstance(follow, dict)
            else None
        ),
        triage=node.get("triage"),
        routine=(
            RoutineStart(kind=routine["kind"], slot=routine.get("slot", "muscle"), default=routine.get("default"))
            if routine
            else None
        ),
        control=control,
        emergency=bool(node.get("emergency", False)),
        red_flags=_red_flags(node, what, name),
        cues=_cues(node, what, name, "cues"),
        general_cues=_cues(node, what, name, "general_cues"),
    )


def _red_flags(node: dict[str, Any], what: str, name: str) -> tuple[str, ...]:
    flags = node.get("red_flags")
    if flags is None:
        return ()
    if not node.get("emergency"):
        raise _bad(node, name, f"{what}: 'red_flags' belong to an emergency (add 'emergency: true')")
    if not isinstance(flags, list) or not all(isinstance(flag, str) and flag.strip() for flag in flags):
        raise _bad(node, name, f"{what}: 'red_flags' must be a list of phrases")
    return tuple(" ".join(flag.split()) for flag in flags)


def _cues(node: dict[str, Any], what: str, name: str, key: str) -> tuple[str, ...]:
    cues = node.get(key)
    if cues is None:
        return ()
    if node.get("emergency"):
        raise _bad(node, name, f"{what}: an emergency's warning signs are its 'red_flags', not '{key}'")
    if not isinstance(cues, list) or not all(isinstance(cue, str) and cue.strip() for cue in cues):
        raise _bad(node, name, f"{what}: '{key}' must be a list of phrases")
    return tuple(" ".join(cue.split()) for cue in cues)


def _interview(interview_id: str, node: dict[str, Any], name: str) -> TriageInterview:
    what = f"triage '{interview_id}'"
    questions_node = node.get("questions")
    if not isinstance(questions_node, dict) or not questions_node:
        raise _bad(node, name, f"{what} needs a 'questions' mapping")
    questions = {}
    for qid, q in questions_node.items():
        qwhat = f"{what} question '{qid}'"
        if not isinstance(q, dict):
            raise _bad(questions_node, name, f"{qwhat} must be a mapping")
        questions[qid] = TriageQuestion(
            id=qid,
            ask=_text(q, "ask", qwhat, name),
            yes=_action(q.get("yes"), f"{qwhat} yes", name),
            no=_action(q.get("no"), f"{qwhat} no", name),
            red_flag=bool(q.get("red_flag", False)),
        )
    start = str(node.get("start") or next(iter(questions)))
    return TriageInterview(
        id=interview_id,
        intro=_text(node, "intro", what, name),
        start=start,
        questions=questions,
        sources=_ids(node, "sources"),
    )


def _routine(routine_id: str, node: dict[str, Any], name: str) -> StretchRoutine:
    what = f"routine '{routine_id}'"
    steps_node = node.get("steps")
    if not isinstance(steps_node, list) or not steps_node:
        raise _bad(node, name, f"{what} needs a 'steps' list")
    steps = []
    for step in steps_node:
        if not isinstance(step, dict):
            raise _bad(node, name, f"{what}: each step must be a mapping")
        try:
            steps.append(
                RoutineStep(
                    say=_text(step, "say", f"{what} step", name),
                    hold_seconds=int(step.get("hold_seconds", 0)),
                    sides=_ids(step, "sides"),
                    repetitions=max(1, int(step.get("repetitions", 1))),
                    rest_seconds=int(step.get("rest_seconds", 5)),
                )
            )
        except (TypeError, ValueError):
            raise _bad(
                step, name, f"{what}: hold_seconds, repetitions and rest_seconds must be whole numbers"
            ) from None
    kind = node.get("kind", "stretch")
    if kind not in ROUTINE_KINDS:
        raise _bad(node, name, f"{what}: kind must be one of {ROUTINE_KINDS}")
    return StretchRoutine(
        id=routine_id,
        muscle=_text(node, "muscle", what, name),
        kind=kind,
        title=_text(node, "title", what, name),
        intro=_text(node, "intro", what, name),
        steps=tuple(steps),
        outro=_text(node, "outro", what, name),
        sources=_ids(node, "sources"),
        check=str(node["check"]) if node.get("check") else None,
    )


def _dialogue(node: Any, name: str) -> DialogueSettings:
    if not isinstance(node, dict):
        raise _bad(node, name, "'dialogue' must be a mapping")
    defaults = DialogueSettings()
    expects = node.get("expects") or {}
    return DialogueSettings(
        wake_phrase=str(node.get("wake_phrase", defaults.wake_phrase)),
        help=" ".join(str(node.get("help", defaults.help)).split()),
        not_understood=" ".join(str(node.get("not_understood", defaults.not_understood)).split()),
        did_you_mean=str(node.get("did_you_mean", defaults.did_you_mean)),
        expects={key: tuple(value) for key, value in expects.items()},
        topic_names={str(k): str(v) for k, v in (node.get("topic_names") or {}).items()},
        phrases={str(k): " ".join(str(v).split()) for k, v in (node.get("phrases") or {}).items()},
        negations=_phrases(node, "negations", defaults.negations, name),
        cries=_phrases(node, "cries", defaults.cries, name),
    )


def _phrases(node: dict[str, Any], key: str, default: tuple[str, ...], name: str) -> tuple[str, ...]:
    """A list of phrases under ``key``, normalised as sentences are; ``default`` when it is not given."""
    value = node.get(key)
    if value is None:
        return default
    if not isinstance(value, list) or not all(isinstance(item, str) and normalize(item) for item in value):
        raise _bad(node, name, f"dialogue: '{key}' must be a list of words or phrases")
    return tuple(normalize(item) for item in value)


def _settings(data: dict[str, Any], key: str, keys: tuple[str, ...], name: str) -> dict[str, Any] | None:
    """The pack's ``key`` setting, a mapping of ``keys`` only; None when the pack has none."""
    node = data.get(key)
    if node is None:
        return None
    takes = " and ".join(repr(k) for k in keys)
    if not isinstance(node, dict):
        raise _bad(data, name, f"'{key}' must be a mapping with {takes}")
    unknown = sorted(set(node) - set(keys))
    if unknown:
        raise _bad(node, name, f"'{key}': unknown key '{unknown[0]}' (it takes {takes})")
    return node


def _file_beside(node: dict[str, Any], key: str, field: str, name: str) -> Path:
    """The file a setting names, in the folder of the pack file that names it."""
    value = node.get(field)
    if not isinstance(value, str) or not value.strip() or Path(value).name != value:
        raise _bad(node, name, f"'{key}': '{field}' must be a file name, the file beside the pack file")
    folder = Path(node.file).parent if isinstance(node, _LineDict) and node.file else Path(".")
    return folder / value


def _safety_model(
    data: dict[str, Any], behaviours: dict[str, IntentBehaviour], name: str
) -> SafetyModelSettings | None:
    """The pack's ``safety_model``: a weights file beside the pack file that names it, and an emergency for the
    sentences it hears as one without knowing which."""
    node = _settings(data, "safety_model", ("weights", "unsure"), name)
    if node is None:
        return None
    weights = _file_beside(node, "safety_model", "weights", name)
    unsure = node.get("unsure")
    behaviour = behaviours.get(unsure) if isinstance(unsure, str) else None
    if not isinstance(unsure, str) or behaviour is None or not behaviour.emergency:
        raise _bad(node, name, f"'safety_model': 'unsure' must name an emergency of the pack, not {unsure!r}")
    return SafetyModelSettings(weights=weights, unsure=unsure)


def _meaning(data: dict[str, Any], name: str) -> MeaningSettings | None:
    """The pack's ``meaning``: a vectors file beside the pack file that names it, and a threshold."""
    node = _settings(data, "meaning", ("vectors", "threshold"), name)
    if node is None:
        return None
    vectors = _file_beside(node, "meaning", "vectors", name)
    threshold = node.get("threshold")
    if isinstance(threshold, bool) or not isinstance(threshold, int | float) or not 0.0 < threshold <= 1.0:
        raise _bad(node, name, f"'meaning': 'threshold' must be a number above 0 and at most 1, not {threshold!r}")
    return MeaningSettings(vectors=vectors, threshold=float(threshold))


def _regions(data: dict[str, Any], name: str) -> dict[str, Region]:
    """The pack's regions; each fills the same blanks as the first, none of them the dialogue's own."""
    regions: dict[str, Region] = {}
    for region_id, node in _mapping(data, "regions", name).items():
        what = f"region '{region_id}'"
        says = {str(key): _text(node, key, what, name) for key in node if key not in ("name", "sources")}
        reserved = sorted(set(says) & set(RUNTIME_BLANKS))
        if reserved:
            raise _bad(node, name, f"{what}: {', '.join(reserved)} is a blank the dialogue fills; name it otherwise")
        first = next(iter(regions.values()), None)
        if first is not None and set(says) != set(first.says):
            raise _bad(
                node,
                name,
                f"{what} must fill the same blanks as '{first.id}' ({', '.join(sorted(first.says))}); "
                f"it fills {', '.join(sorted(says)) or 'none'}",
            )
        regions[str(region_id)] = Region(
            id=str(region_id), name=_text(node, "name", what, name), says=says, sources=_ids(node, "sources")
        )
    return regions
