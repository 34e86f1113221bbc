"""Intent matching: hassil's own recognition for what a template says exactly, fuzzy alignment for the rest.

A sentence the pack can say (slots and all) is recognised by hassil's ``recognize_best`` on copies of
the templates and list values run through the project's normaliser, so "can't", "5" and "Can not"
meet them as they meet the fuzzy matcher. Only the templates whose words (and list words) cover
every word said are handed to hassil, so a sentence no template can say exactly costs a few set
operations there, and goes on to the fuzzy matcher.

Each template is compiled into a small word graph (alternatives branch, optionals skip,
``(a;b;c)`` permutations become subset states, ``{lists}`` become slot arcs) when the prefilter
first picks it; only its words, lists and least weight are kept for every template. A query is
aligned against a graph by a weighted edit distance: template words may be skipped, extra
spoken words inserted, and words substituted by near-spellings (rapidfuzz ratio), so
"cramping" meets "cramps" and a dropped "the" costs little. Slot arcs consume one to four
spoken words that fuzzily equal a list value. Graph size grows with the template text, not
with the number of sentences it expands to, so a million-expansion pack stays fast.

Only the few templates whose vocabulary best covers the query (an inverted-index prefilter)
are aligned, and an alignment stops as soon as it can no longer beat the best one so far.
Confidence is one minus the alignment cost over the weight of what was said, on both paths: an
exact match is aligned against the template hassil chose (filler words still cost their little).
"""

from __future__ import annotations

import dataclasses
import itertools
import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from hassil import (
    Alternative,
    Expression,
    Group,
    IntentData,
    Intents,
    ListReference,
    Permutation,
    RangeSlotList,
    RecognizeResult,
    RuleReference,
    Sentence,
    Sequence,
    SlotList,
    TextChunk,
    TextSlotList,
    TextSlotValue,
    WildcardSlotList,
    parse_sentence,
    recognize_best,
)
from hassil.intents import Intent
from hassil.models import MatchEntity
from hassil.util import check_excluded_context, check_required_context
from num2words import num2words
from rapidfuzz import fuzz, process

from .errors import BadInput
from .meaning import Meaning, MeaningIndex
from .messages import Match, Transcript
from .normalize import normalize
from .pack import IntentBehaviour, Pack
from .safety_model import CALM, SafetyModel

DEFAULT_THRESHOLD = 0.6
"""Below this confidence the result is "not understood"."""

CLOSEST_FLOOR = 0.25
"""Below this confidence nothing is close enough to name as the closest topic ("did you mean"): a sentence
from outside the pack is not offered a topic it shares a word or two with (DECISIONS.md)."""

NEGATION_REACH = 3
"""How many words before a red flag a negation reaches ("i am not having a seizure")."""

APART_REACH = 8
"""How many words may come between the parts of a red flag said apart ("my calf ... is all swollen")."""

KIND_SHARE = 0.5
"""The learned alarm names the emergency when at least this part of its chance falls on that one."""

ALTERNATIVE_BAR = 0.9
"""Least match confidence of another reading of the speech, taken when the engine's own reading is not
understood (simulated on the spoken sets: no out-of-domain speech more accepted at 0.85-0.99; see
assistant/asr/sphinx_engine.py)."""

FUNCTION_WORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "my",
        "is",
        "am",
        "are",
        "was",
        "it",
        "its",
        "i",
        "to",
        "of",
        "and",
        "this",
        "that",
        "be",
        "do",
        "does",
        "me",
        "just",
        "really",
        "so",
        "some",
        "in",
        "on",
        "at",
        "for",
        "with",
        "up",
        "too",
        "very",
        "bit",
        "little",
        "kind",
        "sort",
        "get",
        "got",
        "have",
        "has",
    ]
)
"""Words that carry little meaning: cheap to add or drop."""

_FUNCTION_WEIGHT = 0.35
_SKIP_WEIGHT = 0.05
_WORD_CUTOFF = 70.0
_SLOT_CUTOFF = 78.0
_MAX_SLOT_WORDS = 12
"""A slot's words span at most as many words as its list's longest value, and never more than this."""
_MAX_WILDCARD_WORDS = 8
_WILDCARD_COST = 0.15
_MISSING_SLOT_COST = 1.0
_BEAM = 3.0
_MAX_ACTIVE = 64
_GOOD_ENOUGH = 0.999
_MAX_CANDIDATES = 8
_MAX_TIED = 48
_MAX_RULE_DEPTH = 24
_MAX_VALUE_PHRASES = 64
_MAX_FLAG_SPELLINGS = 4096
_MAX_RANGE_VALUES = 2000
_MAX_PERMUTATION_ITEMS = 10
_MAX_COMPILED = 1024
"""Word graphs kept compiled, the most recently aligned (every template of the bundled pack fits)."""
_MAX_SUBTREES = 10_000
"""Template parts whose words are kept for the exact path's pruning (every part of the bundled pack fits; a 1 MB
pack has about 29,000, 20 MB of them); past this they are forgotten and worked out again as needed."""

_EPS, _WORD, _SLOT, _WILD = 0, 1, 2, 3
_INF = float("inf")


@dataclass(slots=True)
class _Template:
    """One template as every query needs it: what the prefilter and hassil's index look at."""

    intent: str
    """Intent id."""
    text: str
    """The template as written."""
    data: IntentData
    """The block it came from (fixed slots, context)."""
    sentence: Sentence
    """The parsed template, compiled into a word graph when first aligned."""
    wildcards: frozenset[str]
    """Lists read as wildcards when the template was added."""
    words: tuple[str, ...]
    """Every word on a word arc."""
    lists: tuple[str, ...]
    """Every list referenced (inline ranges under their own names)."""
    slot_lists: tuple[str, ...]
    """Names of the value lists on slot arcs."""
    slots: tuple[tuple[str, str], ...]
    """(list, slot) of each slot arc."""
    has_wildcard: bool
    """Whether any arc is a wildcard."""
    required: float
    """Weight of the lightest path through the graph (what must be said at least)."""
    exact: IntentData
    """The template alone in a copy of its block, text and lists normalised, for hassil to recognise."""


@dataclass
class _Draft:
    """A word graph (a DAG) while it is built: nodes numbered as made, arcs in lists."""

    wildcards: frozenset[str]
    """Lists read as wildcards."""
    arcs: list[list[tuple[int, int, Any, float]]] = field(default_factory=lambda: [[]])
    """Per node: (kind, target node, label, weight); label is a word or (list name, slot name)."""
    words: set[str] = field(default_factory=set)
    """Every word on a word arc."""
    lists: set[str] = field(default_factory=set)
    """Every list referenced."""

    def new_node(self) -> int:
        self.arcs.append([])
        return len(self.arcs) - 1

    def add(self, source: int, kind: int, target: int, label: Any = None, weight: float = 0.0) -> None:
        self.arcs[source].append((kind, target, label, weight))


@dataclass(slots=True)
class _Graph:
    """One template's word graph as the alignment walks it: nodes numbered in topological order (0, 1, 2...),
    every arc going to a higher number."""

    word_arcs: list[tuple[tuple[int, int, Any, float], ...]]
    """Per node, its word arcs: (kind, target node, word, weight)."""
    other_arcs: list[tuple[tuple[int, int, Any, float], ...]]
    """Per node, its other arcs: (kind, target node, (list name, slot name) or None, weight)."""
    origin: list[int]
    """Per node, its number while the graph was built (breaks ties between equal costs)."""
    start: int
    """Initial node."""
    final: int
    """Accepting node."""
    heaviest: list[float] = field(default_factory=list)
    """Per node, weight of the heaviest path from it to the accepting node (-inf if there is none)."""
    words_into: list[list[tuple[int, str, float]]] | None = None
    """Per node, the word arcs into it as (source, word, weight), sources in order (made when first needed)."""


@dataclass(frozen=True)
class _Value:
    """One spoken form of a list value."""

    words: str
    """Normalised spoken form."""
    out: str
    """Canonical value."""


class Matcher:
    """Matches text to the intents of a pack; compile once, match many times."""

    def __init__(
        self,
        pack: Pack,
        threshold: float = DEFAULT_THRESHOLD,
        red_flags: bool = True,
        cues: bool = True,
        learned: bool = True,
        meaning: bool = True,
    ) -> None:
        self.pack = pack
        self.threshold = threshold
        intents = pack.intents
        skip: set[str] = set()
        for phrase in intents.skip_words:
            skip.update(normalize(phrase).split())
        self._skip = frozenset(skip)
        self._values: dict[str, list[_Value]] = {}
        self._wildcards: set[str] = set()
        for name, slot_list in intents.slot_lists.items():
            self._add_list(name, slot_list)
        self._templates: list[_Template] = []
        wildcards: frozenset[str] = frozenset()
        for intent in intents.intents.values():
            for data in intent.data:
                for name, slot_list in data.slot_lists.items():
                    self._add_list(name, slot_list)
                self._wildcards.update(data.wildcard_list_names)
                if wildcards != self._wildcards:
                    # A block's own wildcard lists count for the templates after it, as they are added.
                    wildcards = frozenset(self._wildcards)
                block = dataclasses.replace(
                    data,
                    slot_lists={name: _normalized_list(slot_list) for name, slot_list in data.slot_lists.items()},
                    expansion_rules={name: _normalized_sentence(rule) for name, rule in data.expansion_rules.items()},
                )
                for sentence in data.sentences:
                    exact = _alone(block, _normalized_sentence(sentence))
                    self._templates.append(self._outline(intent.name, data, sentence, wildcards, exact))
        self._red_flags = _red_flags(pack) if red_flags else NO_RED_FLAGS
        self._alarm = _safety_model(pack) if learned else None
        self._meaning = _meaning(pack) if meaning else None
        slots_of: dict[str, set[tuple[str, str]]] = defaultdict(set)
        for template in self._templates:
            slots_of[template.intent].update(template.slots)
        self._slots_of = {intent: tuple(sorted(pairs)) for intent, pairs in slots_of.items()}
        """Per intent, the (list, slot) pairs its templates fill."""
        self._cues = _phrase_table(pack, lambda behaviour: behaviour.cues, negations=False) if cues else NO_RED_FLAGS
        self._general_cues = (
            _phrase_table(pack, lambda behaviour: behaviour.general_cues, negations=False) if cues else NO_RED_FLAGS
        )
        self._compiled: dict[int, _Graph] = {}  # by template, least recently aligned first
        self._compiled_lock = threading.Lock()
        self._build_index()
        self._exact_intents = Intents(
            language=intents.language,
            intents={},
            slot_lists={name: _normalized_list(slot_list) for name, slot_list in intents.slot_lists.items()},
            expansion_rules={name: _normalized_sentence(rule) for name, rule in intents.expansion_rules.items()},
            skip_words=sorted(self._skip),
            settings=intents.settings,
        )
        self._build_exact_index()

    def __getstate__(self) -> dict[str, Any]:
        """Pickled (``compiled.load_matcher`` keeps matchers between runs) without its lock and the word
        graphs compiled for recent alignments, which are made again when needed."""
        state = dict(self.__dict__)
        del state["_compiled_lock"]
        state["_compiled"] = {}
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._compiled_lock = threading.Lock()

    # ---- compiling -------------------------------------------------------------------------

    def _add_list(self, name: str, slot_list: SlotList) -> None:
        if isinstance(slot_list, WildcardSlotList):
            self._wildcards.add(name)
            return
        values: list[_Value] = []
        if isinstance(slot_list, TextSlotList):
            for value in slot_list.values:
                out = value.value_out if value.value_out is not None else None
                for phrase in itertools.islice(_phrases(value.text_in), _MAX_VALUE_PHRASES):
                    spoken = normalize(phrase)
                    if spoken:
                        values.append(_Value(spoken, str(out if out is not None else spoken)))
        elif isinstance(slot_list, RangeSlotList):
            for number in itertools.islice(
                range(slot_list.start, slot_list.stop + 1, slot_list.step), _MAX_RANGE_VALUES
            ):
                values.append(_Value(normalize(num2words(number)), str(number)))
        self._values[name] = values

    def _outline(
        self, intent: str, data: IntentData, sentence: Sentence, wildcards: frozenset[str], exact: IntentData
    ) -> _Template:
        """What every query needs of a template, read off its word graph, which is then let go (a pack's
        graphs together take about 70 MB per MB of pack; they are compiled again when aligned)."""
        draft, final = self._draft(data, sentence, wildcards)
        lightest = [_INF] * len(draft.arcs)
        lightest[0] = 0.0
        slots: set[tuple[str, str]] = set()
        has_wildcard = False
        for node in _topological(draft):
            for kind, target, label, weight in draft.arcs[node]:
                step = weight if kind == _WORD else (0.0 if kind == _EPS else 1.0)
                lightest[target] = min(lightest[target], lightest[node] + step)
                if kind == _SLOT:
                    slots.add(label)
                elif kind == _WILD:
                    has_wildcard = True
        return _Template(
            intent=intent,
            text=sentence.text or "",
            data=data,
            sentence=sentence,
            wildcards=wildcards,
            words=tuple(draft.words),
            lists=tuple(draft.lists),
            slot_lists=tuple(sorted({list_name for list_name, _ in slots})),
            slots=tuple(sorted(slots)),
            has_wildcard=has_wildcard,
            required=lightest[final],
            exact=exact,
        )

    def _draft(self, data: IntentData, sentence: Sentence, wildcards: frozenset[str]) -> tuple[_Draft, int]:
        """A template's word graph as built, and its accepting node (node 0 is the initial one)."""
        draft = _Draft(wildcards)
        return draft, self._build(draft, sentence.expression, 0, data, 0)

    def _graph(self, index: int) -> _Graph:
        """The word graph of template ``index``, compiled when not among the most recently aligned."""
        with self._compiled_lock:
            graph = self._compiled.pop(index, None)
        if graph is None:
            template = self._templates[index]
            graph = _compile(*self._draft(template.data, template.sentence, template.wildcards))
        with self._compiled_lock:
            self._compiled[index] = graph
            if len(self._compiled) > _MAX_COMPILED:
                del self._compiled[next(iter(self._compiled))]
        return graph

    def _rule(self, name: str, data: IntentData) -> Sentence:
        rule = data.expansion_rules.get(name) or self.pack.intents.expansion_rules.get(name)
        if rule is None:
            raise BadInput(f"template uses unknown expansion rule <{name}>")
        return rule

    def _build(self, graph: _Draft, expr: Expression, start: int, data: IntentData, depth: int) -> int:
        if depth > _MAX_RULE_DEPTH:
            raise BadInput("templates nest too deeply (an expansion rule may refer to itself)")
        if isinstance(expr, TextChunk):
            node = start
            for word in normalize(expr.text).split():
                target = graph.new_node()
                graph.add(node, _WORD, target, word, self._weight(word))
                graph.words.add(word)
                node = target
            return node
        if isinstance(expr, ListReference):
            target = graph.new_node()
            if expr.list_name in graph.wildcards:
                graph.add(start, _WILD, target, (expr.list_name, expr.slot_name))
            elif expr.is_inline_range:
                low, high, step = expr.get_inline_range() or (0, 0, 1)
                name = f"{low}..{high},{step}"
                if name not in self._values:
                    self._add_list(name, RangeSlotList(name=name, start=low, stop=high, step=step))
                graph.add(start, _SLOT, target, (name, expr.slot_name))
                graph.lists.add(name)  # the prefilter looks values up under this name
                return target
            else:
                if expr.list_name not in self._values:
                    raise BadInput(f"template uses unknown list {{{expr.list_name}}}")
                graph.add(start, _SLOT, target, (expr.list_name, expr.slot_name))
            graph.lists.add(expr.list_name)
            return target
        if isinstance(expr, RuleReference):
            return self._build(graph, self._rule(expr.rule_name, data).expression, start, data, depth + 1)
        if isinstance(expr, Permutation):
            return self._build_permutation(graph, expr, start, data, depth)
        if isinstance(expr, Alternative):
            end = graph.new_node()
            if expr.is_optional:
                graph.add(start, _EPS, end)
            for item in expr.items:
                words = _single_word(item)
                if words is not None:
                    # A one-word (or empty) branch needs no nodes of its own.
                    if words:
                        graph.add(start, _WORD, end, words, self._weight(words))
                        graph.words.add(words)
                    else:
                        graph.add(start, _EPS, end)
                    continue
                branch_end = self._build(graph, item, start, data, depth + 1)
                graph.add(branch_end, _EPS, end)
            return end
        if isinstance(expr, Sequence):
            node = start
            for item in _glue(expr.items):
                node = self._build(graph, item, node, data, depth + 1)
            return node
        return start

    def _build_permutation(self, graph: _Draft, expr: Permutation, start: int, data: IntentData, depth: int) -> int:
        items = [item for item in expr.items if not (isinstance(item, TextChunk) and not item.text.strip())]
        if len(items) > _MAX_PERMUTATION_ITEMS:
            raise BadInput(
                f"a permutation (a;b;...) has {len(items)} items; at most {_MAX_PERMUTATION_ITEMS} are allowed"
            )
        # One node per subset of items already said; any unsaid item may come next.
        nodes = {0: start}
        full = (1 << len(items)) - 1
        for subset in sorted(range(full + 1), key=lambda s: bin(s).count("1")):
            if subset not in nodes:
                nodes[subset] = graph.new_node()
        for subset in range(full + 1):
            for index, item in enumerate(items):
                if subset & (1 << index):
                    continue
                end = self._build(graph, item, nodes[subset], data, depth + 1)
                graph.add(end, _EPS, nodes[subset | (1 << index)])
        return nodes[full]

    def _build_index(self) -> None:
        vocab: dict[str, int] = {}
        for template in self._templates:
            for word in template.words:
                vocab.setdefault(word, len(vocab))
        self._vocab = list(vocab)
        self._vocab_weights = [self._weight(word) for word in self._vocab]
        self._word_weights = dict(zip(self._vocab, self._vocab_weights, strict=True))
        word_templates: list[np.ndarray] = [np.empty(0, dtype=np.int32)] * len(vocab)
        buckets: dict[int, list[int]] = defaultdict(list)
        list_buckets: dict[str, list[int]] = defaultdict(list)
        for index, template in enumerate(self._templates):
            for word in template.words:
                buckets[vocab[word]].append(index)
            for name in template.lists:
                list_buckets[name].append(index)
        for word_index, templates in buckets.items():
            word_templates[word_index] = np.array(templates, dtype=np.int32)
        # Which templates hold each vocabulary word: word w's are _templates_of[_first[w]:_first[w + 1]].
        self._first = np.zeros(len(vocab) + 1, dtype=np.int64)
        self._first[1:] = np.cumsum([len(templates) for templates in word_templates])
        self._templates_of = np.concatenate([np.empty(0, dtype=np.int32), *word_templates])
        self._list_templates = {name: np.array(t, dtype=np.int32) for name, t in list_buckets.items()}
        self._required = np.array([template.required for template in self._templates], dtype=np.float32)
        self._value_choices = {name: [v.words for v in values] for name, values in self._values.items()}
        self._exact_values = {
            name: {v.words: v.out for v in reversed(values)} for name, values in self._values.items()
        }  # reversed: the first value of the list with a spoken form wins, as in extractOne
        self._span_words = {
            name: min(_MAX_SLOT_WORDS, max((len(v.words.split()) for v in values), default=0))
            for name, values in self._values.items()
        }
        self._value_words = {
            name: sorted({w for v in values for w in v.words.split()}) for name, values in self._values.items()
        }

    def _build_exact_index(self) -> None:
        """Per word, a bit mask of the templates that could say it (their words, list words, skip words)."""
        masks: dict[str, int] = defaultdict(int)
        self._any_words = 0  # templates with a wildcard could say any word
        for index, template in enumerate(self._templates):
            bit = 1 << index
            if template.has_wildcard:
                self._any_words |= bit
                continue
            words = set(template.words)
            for name in template.slot_lists:
                words.update(self._value_words.get(name, ()))
            for word in words:
                masks[word] |= bit
        self._word_masks = dict(masks)
        self._subtree_words: dict[int, frozenset[str]] = {}
        # Per template, the fewest letters any sentence it says holds: a shorter text rules it out at once.
        self._least_letters = [
            _least_letters(
                t.exact.sentences[0].expression,
                {**self._exact_intents.expansion_rules, **t.exact.expansion_rules},
                {**self._exact_intents.slot_lists, **t.exact.slot_lists},
            )
            for t in self._templates
        ]

    # ---- matching --------------------------------------------------------------------------

    @property
    def template_count(self) -> int:
        """Number of compiled templates."""
        return len(self._templates)

    def expansion_count(self) -> int:
        """How many distinct sentences the templates expand to (counted on the graphs, never listed)."""
        total = 0
        for template in self._templates:
            draft, final = self._draft(template.data, template.sentence, template.wildcards)
            paths = [0] * len(draft.arcs)
            paths[0] = 1
            for node in _topological(draft):
                for kind, target, label, _ in draft.arcs[node]:
                    factor = len(self._values.get(label[0], ())) or 1 if kind in (_SLOT, _WILD) else 1
                    paths[target] += paths[node] * factor
            total += paths[final]
        return total

    def _weight(self, word: str) -> float:
        if word in self._skip:
            return _SKIP_WEIGHT
        if word in FUNCTION_WORDS:
            return _FUNCTION_WEIGHT
        return 1.0

    def match_heard(self, text: str, heard: Transcript, context: Mapping[str, Any] | None = None) -> Match:
        """The match of ``text`` (what ``heard`` says, the wake phrase taken off), weighed against the other
        readings of the same speech (``heard.alternatives``, best first, e.g. a beam's next-best readings):
        an emergency in any of them wins (over a reading the pack says exactly, only an emergency said exactly
        or almost: "no thanks" must not turn into "no fainting"); when ``text`` is not a sentence the pack
        says exactly, the first alternative that is one is taken; when ``text`` is not understood at all, an
        alternative or ``heard.fallback`` that matches a command almost exactly (``ALTERNATIVE_BAR``) is taken;
        the fallback never as an emergency; of emergencies, one a reading says exactly names the kind better
        than a warning sign or a likeness in a looser best reading."""
        exact = self.match_exact(text, context)
        found = exact or self._flagged(self.match_fuzzy(text, context))
        if self.pack.is_emergency(found.intent):
            return found if exact is not None else self._exact_emergency(heard.alternatives, context) or found
        standby: Match | None = None
        said_exactly: Match | None = None
        for other in heard.alternatives:
            other_exact = self.match_exact(other, context)
            # The learned alarm hears the best reading only: it already allows for misheard words.
            candidate = other_exact or self._flagged(self.match_fuzzy(other, context), learned=False)
            if self.pack.is_emergency(candidate.intent) and (exact is None or other_exact or self._sure(candidate)):
                return candidate
            if said_exactly is None and other_exact is not None and other_exact.intent is not None:
                said_exactly = other_exact
            if standby is None and self._sure(candidate):
                standby = candidate
        if exact is None and said_exactly is not None:
            return said_exactly
        if found.intent is not None:
            return found
        fallback = heard.fallback_text() if standby is None else ""
        if fallback:
            candidate = self.match(fallback, context)
            if self._sure(candidate) and not self.pack.is_emergency(candidate.intent):
                standby = candidate
        return standby or self._cued(found, context)

    def alarmed(self, readings: tuple[str, ...], context: Mapping[str, Any] | None = None) -> bool:
        """Whether ``match_heard`` takes one turn's ``readings`` (best first) for an emergency."""
        if not readings:
            return False
        heard = Transcript(text=readings[0], alternatives=tuple(readings[1:]))
        return self.pack.is_emergency(self.match_heard(readings[0], heard, context).intent)

    def _exact_emergency(self, readings: Iterable[str], context: Mapping[str, Any] | None) -> Match | None:
        """The first of ``readings`` that the pack says exactly as an emergency, if any."""
        for reading in readings:
            found = self.match_exact(reading, context)
            if found is not None and self.pack.is_emergency(found.intent):
                return found
        return None

    @staticmethod
    def _sure(candidate: Match) -> bool:
        return candidate.intent is not None and candidate.confidence >= ALTERNATIVE_BAR

    def match(self, text: str, context: Mapping[str, Any] | None = None) -> Match:
        """The best intent for ``text``: what a template says exactly (``match_exact``), else the fuzzy
        match (``match_fuzzy``), whose intent is None when its confidence is below the threshold."""
        return self.match_exact(text, context) or self._cued(self._flagged(self.match_fuzzy(text, context)), context)

    def _cued(self, found: Match, context: Mapping[str, Any] | None) -> Match:
        """``found``, or, when it was not understood and no question waits for its answer, the topic whose
        cue the sentence says: of several topics, the one whose templates the sentence comes closest to.
        Failing a cue, the intent of the pack sentence nearest it in meaning (``_nearest``)."""
        if found.intent is not None or (context or {}).get("expects"):
            return found
        tokens = found.normalized.split()
        # A topic's own cue first ("drank ... cramp" is hydration); general ones ("why ... cramp") only after.
        said = list(flags_said(tokens, self._cues)) or list(flags_said(tokens, self._general_cues))
        if not said:
            return self._nearest(found)
        if len({intent for _, intent, _ in said}) > 1:
            closest = [template.intent for _, template, _ in self.score(tokens, context)]
            said.sort(key=lambda cue: closest.index(cue[1]) if cue[1] in closest else len(closest))
        phrase, intent, _ = said[0]
        return Match(
            text=found.text,
            normalized=found.normalized,
            intent=intent,
            slots=self._values_said(tokens, intent),
            confidence=self.threshold,
            closest=intent,
            template=f"cue: {phrase}",
        )

    def prepare(self) -> None:
        """Start loading what the first sentence in words the pack does not have would wait for (the sentence
        encoder), in the background."""
        if self._meaning is not None:
            self._meaning.prepare()

    def _nearest(self, found: Match) -> Match:
        """``found`` (not understood), or the intent of the pack sentence nearest it by meaning, when one is
        close enough (``meaning.py``)."""
        if self._meaning is None:
            return found
        near = self._meaning.nearest(found.normalized)
        if near is None:
            return found
        return Match(
            text=found.text,
            normalized=found.normalized,
            intent=near.intent,
            slots=self._values_said(found.normalized.split(), near.intent),
            confidence=self.threshold,
            closest=near.intent,
            template=f"meaning: {near.similarity:.2f} like {near.example!r}",
        )

    def _values_said(self, tokens: list[str], intent: str) -> dict[str, str]:
        """The slots of ``intent`` whose list values are said word for word in ``tokens``, each where one value
        only is said ("my tummy is cramping" names the abdomen; "calf or hamstring" names none)."""
        spans = _SpanCache(self, tokens)
        slots: dict[str, str] = {}
        for list_name, slot_name in self._slots_of.get(intent, ()):
            values: set[str] = set()
            start = 0
            while start < len(tokens):
                said = [(end, value) for end, value, cost in spans.starting_at(start, list_name) if cost == 0.0]
                end, value = max(said, default=(start + 1, None))  # the longest said from here
                if value is not None:
                    values.add(value)
                start = end
            if len(values) == 1:
                slots[slot_name] = values.pop()
        return slots

    def _flagged(self, found: Match, learned: bool = True) -> Match:
        """``found`` (a fuzzy match), or the emergency whose red flag the sentence says, when it says one and
        ``found`` is no emergency: a warning sign said in any words outranks a likeness to a calm sentence.
        Failing a red flag, the emergency the pack's learned alarm hears, when it is sure enough (its
        threshold; unless ``learned`` is False): the kind it names when most of its chance falls on one, else
        the pack's ``unsure`` one."""
        if self.pack.is_emergency(found.intent):
            return found
        flag = red_flag_in(found.normalized.split(), self._red_flags) if self._red_flags else None
        chance = None
        if flag is not None:
            phrase, intent, said = flag
            template = f"red flag: {phrase}"
        elif self._alarm is not None and learned and found.normalized:
            model, unsure = self._alarm
            alarm = model.hear(found.normalized)
            if alarm.chance <= model.threshold:
                return found
            intent = alarm.kind if alarm.share >= KIND_SHARE else unsure
            template, said, chance = f"safety model: {alarm.kind} {alarm.chance:.2f}", None, alarm.chance
        else:
            return found
        return Match(
            text=found.text,
            normalized=found.normalized,
            intent=intent,
            confidence=max(found.confidence, self.threshold),
            closest=intent,
            template=template,
            red_flag=said,
            alarm=chance,
        )

    def match_exact(self, text: str, context: Mapping[str, Any] | None = None) -> Match | None:
        """hassil's recognition of ``text`` when a template says it exactly, slots and all, else None.

        Only templates whose vocabulary covers every word said are handed to hassil, pruned to the
        branches the sentence can say. The confidence is what the fuzzy alignment charges for hassil's
        reading (``_exact_confidence``), so it means the same on both paths.
        """
        normalized = normalize(text)
        tokens = normalized.split()
        if not tokens:
            return None
        # Filler may be left out of any template, unless nothing but filler was said.
        said = {token for token in tokens if token not in self._skip} or set(tokens)
        covering = -1
        for token in said:
            covering &= self._word_masks.get(token, 0)
            if not covering:
                break
        candidates = covering | self._any_words
        if not candidates:
            return None
        # hassil leaves out every skip word or none. Each template is handed the sentence without the filler
        # it cannot say, so "um why is my eye twitching" meets "why is my eye twitching" when "my" is a
        # skip word too; templates heard alike are recognised together.
        filler = [(t, self._word_masks.get(t, 0)) for t in dict.fromkeys(tokens) if t in self._skip]
        letters = _letters(normalized)
        groups: dict[str, list[_Template]] = defaultdict(list)
        while candidates:
            lowest = candidates & -candidates
            candidates ^= lowest
            if self._least_letters[lowest.bit_length() - 1] > letters:
                continue
            left_out = {t for t, mask in filler if not mask & lowest}
            groups[" ".join(t for t in tokens if t not in left_out)].append(self._templates[lowest.bit_length() - 1])
        found = [self._recognize(heard, graphs, context) for heard, graphs in groups.items()]
        results = [item for item in found if item is not None]
        if not results:
            return None
        # The reading that left out least filler, as hassil itself prefers the text as said.
        result, template = max(results, key=lambda item: len(item[0].original_text))
        slots = {entity.name: str(entity.value) for entity in result.entities_list}
        return Match(
            text=text,
            normalized=normalized,
            intent=template.intent,
            slots=slots,
            confidence=self._exact_confidence(template, tokens, result.entities_list),
            closest=template.intent,
            template=template.text,
        )

    def _recognize(
        self, heard: str, templates: list[_Template], context: Mapping[str, Any] | None
    ) -> tuple[RecognizeResult, _Template] | None:
        """hassil's best reading of ``heard`` among ``templates``, pruned to what ``heard`` can say."""
        blocks: dict[str, list[IntentData]] = defaultdict(list)
        template_of: dict[int, _Template] = {}
        if len(self._subtree_words) > _MAX_SUBTREES:
            self._subtree_words = {}  # a new one: a pruner at work in another thread keeps the old
        pruner = _Pruner(heard, self._exact_intents.expansion_rules, self._subtree_words)
        for template in templates:
            block = template.exact
            if block.expansion_rules:  # rules of its own: its pruning is its own too
                rules = {**self._exact_intents.expansion_rules, **block.expansion_rules}
                pruned = _Pruner(heard, rules, {}).prune(block.sentences[0].expression)
            else:
                pruned = pruner.prune(block.sentences[0].expression)
            if pruned is None:
                continue
            # No required-fragment prefilter for hassil to compute: the pruning already was one.
            block = _alone(block, Sentence(expression=pruned, text=template.text, required_clauses=frozenset()))
            template_of[id(block)] = template
            blocks[template.intent].append(block)
        intents = dataclasses.replace(
            self._exact_intents, intents={name: Intent(name=name, data=data) for name, data in blocks.items()}
        )
        result = recognize_best(heard, intents, intent_context=dict(context) if context else None)
        return (result, template_of[id(result.intent_data)]) if result is not None else None

    def _exact_confidence(self, template: _Template, tokens: list[str], entities: list[MatchEntity]) -> float:
        """What the fuzzy alignment costs hassil's reading: filler left out costs its weight, a wildcard
        its cost per word, the rest nothing; over the larger of what was said and the template path."""
        cost = path_weight = 0.0
        literal = Counter(tokens)
        for entity in entities:
            said = normalize(entity.text or "").split()
            if said:  # fixed slots and slots from context were not said
                literal.subtract(said)
                path_weight += 1.0
                cost += _WILDCARD_COST * len(said) if entity.is_wildcard else 0.0
        total = sum(self._weight(token) for token in tokens)
        for token, count in literal.items():
            if count <= 0:
                continue
            if token in self._skip and token not in template.words:
                cost += self._weight(token) * count  # filler hassil left out
            else:
                path_weight += self._weight(token) * count
        return max(0.0, 1.0 - cost / max(total, path_weight, 1.0))

    def match_fuzzy(self, text: str, context: Mapping[str, Any] | None = None) -> Match:
        """The best fuzzy alignment of ``text``; intent None when confidence is below the threshold."""
        normalized = normalize(text)
        tokens = normalized.split()
        if not tokens:
            return Match(text=text, normalized=normalized, intent=None)
        scored = self.score(tokens, context)
        if not scored:
            return Match(text=text, normalized=normalized, intent=None)
        confidence, template, slots = scored[0]
        accepted = confidence >= self.threshold
        return Match(
            text=text,
            normalized=normalized,
            intent=template.intent if accepted else None,
            slots=slots if accepted else {},
            confidence=confidence,
            closest=template.intent if confidence >= CLOSEST_FLOOR else None,
            template=template.text,
        )

    def score(
        self, tokens: list[str], context: Mapping[str, Any] | None = None
    ) -> list[tuple[float, _Template, dict[str, str]]]:
        """Candidate templates aligned against ``tokens``, best first (one entry per intent).

        Intents whose templates were given up on part way (they could not beat the best so far)
        are left out.
        """
        weights = [self._weight(t) for t in tokens]
        total = sum(weights)
        if total <= 0:
            return []
        steps, word_best = self._similarities(tokens, weights)
        spans = _SpanCache(self, tokens)
        coverage = self._coverage(tokens, weights, word_best, spans)
        # Among templates explaining the words equally well, the one asking least else comes first.
        order = np.lexsort((self._required, -coverage))
        best_per_intent: dict[str, tuple[float, _Template, dict[str, str]]] = {}
        tried = 0
        best = 0.0
        floor = coverage[order[0]] * 0.5 if len(order) else 0.0
        # Coverage over what was said, or over what the template needs said, bounds the confidence
        # a template can reach (the cost is at least the weight of the words left unexplained on
        # either side). When even the best bound is below the
        # threshold, the only thing left to find is the closest topic.
        bound = coverage / np.maximum(self._required, total)
        budget = _MAX_CANDIDATES if len(order) and bound.max() >= self.threshold else 2
        top = coverage[order[0]] if len(order) else 0.0
        for index in order:
            # Templates that explain the words as well as the best one differ only in order (slots in
            # another order, say): once one of them is understood, the budget does not stop the others
            # (up to a bound), as one may read every slot.
            tied = coverage[index] >= top - 1e-4 and tried < _MAX_TIED and best >= self.threshold
            if (tried >= budget and not tied) or coverage[index] < floor:
                break
            if best >= _GOOD_ENOUGH:
                break
            # With nothing close among the likeliest, only a template that can still be accepted is worth trying.
            long_shot = tried >= 3 and best < self.threshold * 0.6
            if bound[index] < best or (long_shot and bound[index] < self.threshold):
                continue
            template = self._templates[int(index)]
            if not _context_allows(template.data, context):
                continue
            tried += 1
            aligned = self._align(
                int(index), tokens, weights, steps, spans, total, self.threshold if long_shot else best
            )
            if aligned is None:
                # It cannot beat the best so far; keep the intent's place among those tried.
                best_per_intent.setdefault(template.intent, (-1.0, template, {}))
                continue
            cost, path_weight, slots = aligned
            if cost == _INF:
                continue
            confidence = max(0.0, 1.0 - cost / max(total, path_weight, 1.0))
            merged = {**{k: str(v) for k, v in template.data.slots.items()}, **slots}
            best = max(best, confidence)
            previous = best_per_intent.get(template.intent)
            if previous is None or confidence > previous[0]:
                best_per_intent[template.intent] = (confidence, template, merged)
        return sorted((item for item in best_per_intent.values() if item[0] >= 0.0), key=lambda item: -item[0])

    def _similarities(
        self, tokens: list[str], weights: list[float]
    ) -> tuple[list[dict[str, float]], dict[str, np.ndarray]]:
        """Per spoken word (by position), the cost of saying it for each close template word; and
        per distinct spoken word, its best similarity to a word of each template.

        Saying spoken word s for template word w costs max(weight s, weight w) * (1 - similarity),
        similarity being the fuzzy ratio in [0, 1]; template words not listed are too far apart.
        """
        unique = list(dict.fromkeys(tokens))
        matrix = process.cdist(unique, self._vocab, scorer=fuzz.ratio, score_cutoff=_WORD_CUTOFF, dtype=np.uint8)
        rows, columns = np.nonzero(matrix)
        scores = matrix[rows, columns].astype(np.float64) / 100.0
        # Every (spoken word, template, score) of the close vocabulary words, gathered without a loop.
        first, templates_of, size = self._first, self._templates_of, len(self._templates)
        starts, counts = first[columns], first[columns + 1] - first[columns]
        offsets = np.repeat(starts - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())
        table = np.zeros((len(unique), size), dtype=np.float32)
        cells = np.repeat(rows, counts) * size + templates_of[offsets]
        np.maximum.at(table.reshape(-1), cells, np.repeat(scores.astype(np.float32), counts))
        best = {word: table[row] for row, word in enumerate(unique)}
        bounds = np.searchsorted(rows, np.arange(len(unique) + 1)).tolist()
        column_list, score_list = columns.tolist(), scores.tolist()
        hits: dict[str, list[tuple[int, float]]] = {}
        for row, word in enumerate(unique):
            low, high = bounds[row], bounds[row + 1]
            hits[word] = list(zip(column_list[low:high], score_list[low:high], strict=True))
        vocab, vocab_weights = self._vocab, self._vocab_weights
        steps = [
            {vocab[column]: max(spoken, vocab_weights[column]) * (1.0 - score) for column, score in hits[token]}
            for token, spoken in zip(tokens, weights, strict=True)
        ]
        return steps, best

    def _coverage(
        self, tokens: list[str], weights: list[float], word_best: dict[str, np.ndarray], spans: _SpanCache
    ) -> np.ndarray:
        """How much of what was said each template's words could explain (the prefilter)."""
        coverage = np.zeros(len(self._templates), dtype=np.float32)
        for position, token in enumerate(tokens):
            best = word_best[token]
            copied = False
            for name, templates in self._list_templates.items():
                score = spans.best_covering(position, name)
                if score > 0:
                    if not copied:
                        best, copied = best.copy(), True
                    best[templates] = np.maximum(best[templates], score)
            coverage += best * weights[position]
        return coverage

    def _align(
        self,
        index: int,
        tokens: list[str],
        weights: list[float],
        steps: list[dict[str, float]],
        spans: _SpanCache,
        total: float,
        beat: float,
    ) -> tuple[float, float, dict[str, str]] | None:
        """Weighted edit distance between the tokens and the cheapest path through template ``index``'s graph.

        Rows are sparse: only the best nodes within the beam of the row's best are carried to
        the next row, so large graphs cost what they use.

        Gives up (None) as soon as no path left could reach confidence ``beat`` (see _hopeless):
        costs only grow along a path, every word still to be heard costs at least its cheapest
        explanation in this template, and the weight the confidence divides by is bounded.
        """
        n = len(tokens)
        graph = self._graph(index)
        word_arcs, other_arcs = graph.word_arcs, graph.other_arcs
        origin = graph.origin
        heaviest = graph.heaviest
        graph_size = len(word_arcs)
        rest = self._least_rest(self._templates[index], tokens, weights, steps, spans) if beat > 0.0 else None
        # Give up below ``beat``, less a hair for rounding (an equal confidence may still matter).
        allowed = 1.0 - beat + 1e-9
        # node -> (cost, template weight along the path, slots as a tuple of pairs)
        rows: list[dict[int, tuple[float, float, tuple[tuple[str, str], ...]]]] = [{} for _ in range(n + 2)]
        rows[0][graph.start] = (0.0, 0.0, ())
        missing_cost = _MISSING_SLOT_COST
        for i in range(n + 1):
            row = rows[i]
            if not row:
                continue
            if rest is not None and _hopeless(rows, i, rest, heaviest, total, allowed):
                return None
            limit = min([cell[0] for cell in row.values()]) + _BEAM
            last = i == n
            following = rows[i + 1]  # a spare row after the last
            spoken_weight = weights[i] if not last else 0.0
            step_of = steps[i] if not last else {}
            get, follow_get, step_get = row.get, following.get, step_of.get
            spans_here: dict[str, list[tuple[int, str, float]]] = {}
            # Nodes are numbered in topological order and arcs only go forward, so one pass in that
            # order, from the lowest node in the row, settles the row.
            for node in range(min(row), graph_size):
                cell = get(node)
                if cell is None:
                    continue
                cost, path, slots = cell
                if cost > limit:
                    continue
                for _, target, label, word_weight in word_arcs[node]:
                    skipped = cost + word_weight
                    if skipped <= limit:
                        current = get(target)
                        if current is None or skipped < current[0]:
                            row[target] = (skipped, path + word_weight, slots)
                        step = step_get(label)
                        if step is None:
                            # Saying an unlike word here costs what skipping this one and then
                            # hearing that word costs: that cell is in the row and goes on to
                            # the next (if the beam drops it, see below).
                            continue
                    else:
                        step = step_get(label, word_weight + spoken_weight)
                    candidate = cost + step
                    current = follow_get(target)
                    if current is None or candidate < current[0]:
                        following[target] = (candidate, path + word_weight, slots)
                for kind, target, label, _ in other_arcs[node]:
                    if kind == _EPS:
                        current = get(target)
                        if current is None or cost < current[0]:
                            row[target] = cell
                    elif kind == _SLOT:
                        list_name, slot_name = label
                        missing = cost + missing_cost
                        if missing <= limit:
                            current = get(target)
                            if current is None or missing < current[0]:
                                row[target] = (missing, path + 1.0, slots)
                        found = spans_here.get(list_name)
                        if found is None:
                            found = spans_here[list_name] = spans.starting_at(i, list_name)
                        for end, value, span_cost in found:
                            candidate = cost + span_cost
                            current = rows[end].get(target)
                            if current is None or candidate < current[0]:
                                rows[end][target] = (candidate, path + 1.0, slots + ((slot_name, value),))
                    else:  # wildcard: any words, a small cost each
                        list_name, slot_name = label
                        for end in range(i + 1, min(n, i + _MAX_WILDCARD_WORDS) + 1):
                            candidate = cost + _WILDCARD_COST * (end - i)
                            current = rows[end].get(target)
                            if current is None or candidate < current[0]:
                                rows[end][target] = (
                                    candidate,
                                    path + 1.0,
                                    slots + ((slot_name, " ".join(tokens[i:end])),),
                                )
            if last:
                break  # the last row is read, not carried forward
            # The best of the row, within the beam, go on to the next row with the word heard added.
            kept = [node for node, cell in row.items() if cell[0] <= limit]
            if len(kept) > _MAX_ACTIVE:
                ranked = sorted([(row[x][0], origin[x], x) for x in kept])
                kept = [node for _, _, node in ranked[:_MAX_ACTIVE]]
                # A cell the beam drops no longer stands in for saying an unlike word instead of
                # its template word (see above): that costs the same, so take it now.
                words_into = graph.words_into or _words_into(graph)
                for _, _, node in ranked[_MAX_ACTIVE:]:
                    for source, label, word_weight in words_into[node]:
                        cell = get(source)
                        if cell is None or step_get(label) is not None:
                            continue
                        cost, path, slots = cell
                        if cost + word_weight > limit:
                            continue  # it was not left out
                        candidate = cost + (word_weight + spoken_weight)
                        current = follow_get(node)
                        if current is None or candidate < current[0]:
                            following[node] = (candidate, path + word_weight, slots)
            for node in kept:
                cost, path, slots = row[node]
                cost += spoken_weight
                current = follow_get(node)
                if current is None or cost < current[0]:
                    following[node] = (cost, path, slots)
        cost, path, slots = rows[n].get(graph.final, (_INF, 0.0, ()))
        return cost, path, dict(slots)

    def _least_rest(
        self,
        template: _Template,
        tokens: list[str],
        weights: list[float],
        steps: list[dict[str, float]],
        spans: _SpanCache,
    ) -> tuple[list[float], list[float]]:
        """Per position, bounds on what the words from there to the end can do in this template.

        First the least they can cost. Second the most they can add to the weight of the template
        path beyond what they cost (a matched word adds its weight, a slot or wildcard one, less
        their cost; an extra word adds nothing; skipped template words add as much as they cost).
        """
        n = len(tokens)
        least = list(weights)  # heard but not in the template
        gain = [0.0] * n
        words = frozenset(template.words)
        for position in range(n):
            for word, step in steps[position].items():
                if word in words:
                    least[position] = min(least[position], step)
                    gain[position] = max(gain[position], self._word_weights[word] - step)
        if template.has_wildcard:
            least = [min(cost, _WILDCARD_COST) for cost in least]
            gain = [max(most, 1.0 - _WILDCARD_COST) for most in gain]
        for name in template.slot_lists:
            for start in range(n):
                for end, _, span_cost in spans.starting_at(start, name):
                    share = span_cost / (end - start)
                    added = (1.0 - span_cost) / (end - start)
                    for position in range(start, end):
                        least[position] = min(least[position], share)
                        gain[position] = max(gain[position], added)
        rest = [0.0] * (n + 1)
        more = [0.0] * (n + 1)
        for position in range(n - 1, -1, -1):
            rest[position] = rest[position + 1] + least[position]
            more[position] = more[position + 1] + gain[position]
        return rest, more


def _hopeless(
    rows: list[dict[int, tuple[float, float, tuple[tuple[str, str], ...]]]],
    i: int,
    rest: tuple[list[float], list[float]],
    heaviest: list[float],
    total: float,
    allowed: float,
) -> bool:
    """Whether no cell of row ``i`` or after can still lead to a good enough alignment.

    From a cell, the final cost is at least cost + least[j] and the final path weight at most
    min(path + heaviest[node], path + least[j] + more[j]); the confidence is largest when both
    are at those bounds.
    """
    least, more = rest
    for j in range(i, len(least)):
        left = least[j]
        most = left + more[j]
        for node, (cost, path, _) in rows[j].items():
            if cost + left <= allowed * max(total, min(path + heaviest[node], path + most), 1.0):
                return False
    return True


class _SpanCache:
    """Best list value for each span of spoken words, computed once per query."""

    def __init__(self, matcher: Matcher, tokens: list[str]) -> None:
        self._matcher = matcher
        self._tokens = tokens
        self._cache: dict[tuple[int, int, str], tuple[str, float] | None] = {}
        self._covering: dict[tuple[int, str], float] = {}
        self._starting: dict[tuple[int, str], list[tuple[int, str, float]]] = {}

    def starting_at(self, start: int, list_name: str) -> list[tuple[int, str, float]]:
        """(end, canonical value, cost) for every span from ``start`` that is a value of the list."""
        key = (start, list_name)
        found = self._starting.get(key)
        if found is None:
            found = []
            longest = self._matcher._span_words.get(list_name, 0)
            for end in range(start + 1, min(len(self._tokens), start + longest) + 1):
                hit = self.value(start, end, list_name)
                if hit is not None:
                    found.append((end, hit[0], hit[1]))
            self._starting[key] = found
        return found

    def value(self, start: int, end: int, list_name: str) -> tuple[str, float] | None:
        """(canonical value, cost) for tokens[start:end] as a value of the list, or None."""
        key = (start, end, list_name)
        if key not in self._cache:
            self._cache[key] = self._lookup(start, end, list_name)
        return self._cache[key]

    def _lookup(self, start: int, end: int, list_name: str) -> tuple[str, float] | None:
        values = self._matcher._values.get(list_name) or []
        if not values:
            return None
        spoken = " ".join(self._tokens[start:end])
        exact = self._matcher._exact_values[list_name].get(spoken)
        if exact is not None:
            return exact, 0.0  # a value said as it is written beats any value it merely resembles
        choices = self._matcher._value_choices[list_name]
        found = process.extractOne(spoken, choices, scorer=fuzz.ratio, score_cutoff=_SLOT_CUTOFF)
        if found is None:
            return None
        _, score, index = found
        span_weight = float(end - start)
        return values[index].out, span_weight * (1.0 - score / 100.0)

    def best_covering(self, position: int, list_name: str) -> float:
        """Best similarity of any span holding ``position`` to a value of the list."""
        key = (position, list_name)
        if key not in self._covering:
            best = 0.0
            words = self._matcher._value_words.get(list_name, [])
            if words and process.extractOne(
                self._tokens[position], words, scorer=fuzz.ratio, score_cutoff=_SLOT_CUTOFF
            ):
                longest = self._matcher._span_words.get(list_name, 0)
                for start in range(max(0, position - longest + 1), position + 1):
                    for end in range(position + 1, min(len(self._tokens), start + longest) + 1):
                        found = self.value(start, end, list_name)
                        if found is not None:
                            best = max(best, 1.0 - found[1] / (end - start))
            self._covering[key] = best
        return self._covering[key]


def _normalized_text(text: str) -> str:
    """A template's text chunk through the normaliser, keeping the spaces that join it to its neighbours."""
    core = text.strip()
    if not core:
        return text
    return text[: len(text) - len(text.lstrip())] + normalize(core) + text[len(text.rstrip()) :]


def _normalized_expression(expr: Expression) -> Expression:
    """A template tree whose text chunks went through the normaliser; parts already normal are shared, not copied."""
    if isinstance(expr, TextChunk):
        text = _normalized_text(expr.text)
        return expr if text == expr.text else TextChunk(text)
    if not isinstance(expr, Group):
        return expr
    items = [_normalized_expression(item) for item in expr.items]
    if all(new is item for new, item in zip(items, expr.items, strict=True)):
        return expr
    if isinstance(expr, Alternative):
        return Alternative(items=items, is_optional=expr.is_optional)
    return type(expr)(items=items)


def _normalized_sentence(sentence: Sentence) -> Sentence:
    return Sentence(expression=_normalized_expression(sentence.expression), text=sentence.text)


def _normalized_list(slot_list: SlotList) -> SlotList:
    """A text list whose spoken forms went through the normaliser (values out unchanged); others as they are."""
    if not isinstance(slot_list, TextSlotList):
        return slot_list
    values = [
        dataclasses.replace(value, text_in=_normalized_expression(value.text_in))
        for value in slot_list.values
        if isinstance(value, TextSlotValue)
    ]
    return TextSlotList(name=slot_list.name, values=values)


def _inside_words(tokens: list[str]) -> set[str]:
    """Every run of letters inside the words said: where hassil, matching characters, can meet a template word
    ("eye" of "eye[lid]" inside "eyelid")."""
    return {word[i:j] for word in tokens for i in range(len(word)) for j in range(i + 1, len(word) + 1)}


def _letters(text: str) -> int:
    """Letters and digits in ``text``: what hassil, matching characters, must find one by one."""
    return sum(ch.isalnum() for ch in text)


def _least_letters(
    expr: Expression, rules: Mapping[str, Sentence], lists: Mapping[str, SlotList], depth: int = 0
) -> int:
    """The fewest letters and digits a sentence of ``expr`` holds (a number's value may be one digit, a
    wildcard none); a text with fewer cannot be it."""
    if depth > _MAX_RULE_DEPTH:
        raise BadInput("templates nest too deeply (an expansion rule may refer to itself)")
    if isinstance(expr, TextChunk):
        return _letters(expr.text)
    if isinstance(expr, RuleReference):
        rule = rules.get(expr.rule_name)
        return _least_letters(rule.expression, rules, lists, depth + 1) if rule is not None else 0
    if isinstance(expr, Alternative):
        least = [_least_letters(item, rules, lists, depth + 1) for item in expr.items]
        return 0 if expr.is_optional or not least else min(least)
    if isinstance(expr, Group):
        return sum(_least_letters(item, rules, lists, depth + 1) for item in expr.items)
    if isinstance(expr, ListReference):
        values = lists.get(expr.list_name)
        if isinstance(values, TextSlotList) and values.values and not expr.is_inline_range:
            return min(_least_letters(value.text_in, rules, lists, depth + 1) for value in values.values)
        return 1 if isinstance(values, RangeSlotList) or expr.is_inline_range else 0
    return 0


class _Pruner:
    """Template trees without the branches that need a word a sentence lacks (see ``prune``)."""

    def __init__(self, text: str, rules: Mapping[str, Sentence], words: dict[int, frozenset[str]]) -> None:
        # A template word can only meet the text inside one of its words ("eye" of "eye[lid]" in "eyelid").
        self._present = _inside_words(text.split())
        self._rules = rules
        self._words = words  # per subtree (by id), every word in it; shared across queries
        self._done: dict[int, Expression | None] = {}  # per subtree, this sentence's pruning

    def prune(self, expr: Expression, depth: int = 0) -> Expression | None:
        """``expr`` without the branches that need a word the text lacks; None if ``expr`` itself needs one.

        hassil matches a text chunk character by character, so a chunk whose words are not all somewhere
        in the text cannot match; dropping those branches (expansion rules are written out in place)
        spares hassil's search the alternatives a sentence never says, and changes no result.
        """
        if self._words_of(expr, depth) <= self._present:
            return expr
        key = id(expr)
        if key in self._done:
            return self._done[key]
        pruned: Expression | None = None
        if isinstance(expr, RuleReference):
            rule = self._rules.get(expr.rule_name)
            pruned = self.prune(rule.expression, depth + 1) if rule is not None else expr
        elif isinstance(expr, Group):
            kept: list[Expression] = []
            for item in expr.items:
                # Said whole, or a chunk with a word missing: settled here, without a call.
                if self._words_of(item, depth + 1) <= self._present:
                    part: Expression | None = item
                else:
                    part = None if isinstance(item, TextChunk) else self.prune(item, depth + 1)
                if part is not None:
                    kept.append(part)
                elif not isinstance(expr, Alternative):
                    kept = []  # every part of a sequence or permutation is said
                    break
            if kept and isinstance(expr, Alternative):
                pruned = Alternative(items=kept, is_optional=expr.is_optional)
            elif kept:
                pruned = type(expr)(items=kept)
        self._done[key] = pruned
        return pruned

    def _words_of(self, expr: Expression, depth: int) -> frozenset[str]:
        words = self._words.get(id(expr))
        if words is None:  # first time this subtree is seen
            if depth > _MAX_RULE_DEPTH:
                raise BadInput("templates nest too deeply (an expansion rule may refer to itself)")
            if isinstance(expr, TextChunk):
                words = frozenset(expr.text.split())
            elif isinstance(expr, RuleReference):
                rule = self._rules.get(expr.rule_name)
                words = self._words_of(rule.expression, depth + 1) if rule is not None else frozenset()
            elif isinstance(expr, Group):
                words = frozenset().union(*(self._words_of(item, depth + 1) for item in expr.items))
            else:
                words = frozenset()
            self._words[id(expr)] = words
        return words


def _alone(block: IntentData, sentence: Sentence) -> IntentData:
    """A copy of ``block`` holding only ``sentence`` (already parsed)."""
    alone = dataclasses.replace(block, sentence_texts=[sentence.text or ""])
    alone.__dict__["sentences"] = [sentence]  # hassil's cached parse, set rather than parsed again
    return alone


def _context_allows(data: IntentData, context: Mapping[str, Any] | None) -> bool:
    if data.requires_context and not check_required_context(data.requires_context, dict(context or {})):
        return False
    return not (data.excludes_context and not check_excluded_context(data.excludes_context, dict(context or {})))


def _glue(items: list[Expression]) -> list[Expression]:
    """Join a word and the text written against it, e.g. ``eye[lid]`` -> ``(eye|eyelid)``."""
    result: list[Expression] = []
    for item in items:
        previous = result[-1] if result else None
        options = _text_options(item) if isinstance(item, Alternative) else None
        if (
            options is not None
            and isinstance(previous, TextChunk)
            and previous.text
            and not previous.text[-1].isspace()
            and not any(option[:1].isspace() for option in options)
        ):
            head, _, last = previous.text.rpartition(" ")
            result[-1] = TextChunk(head + " " if head else "")
            result.append(Alternative(items=[TextChunk(last + option) for option in dict.fromkeys(options)]))
        else:
            result.append(item)
    return result


@dataclass(frozen=True)
class RedFlags:
    """A pack's red flags, compiled: each spelling of a phrase by its first word, longest first; and the
    flags made of parts said apart ("(calf|leg) ... swollen"), each part as its set of spellings."""

    together: dict[str, list[tuple[tuple[str, ...], str, str]]]
    """First word -> (words, intent, phrase as written)."""
    apart: list[tuple[tuple[frozenset[tuple[str, ...]], ...], str, str]]
    """(spellings of each part in order, intent, phrase as written)."""
    negations: frozenset[str] = frozenset()
    """Words that take a red flag said just after them back (the pack's ``dialogue.negations``)."""
    cries: tuple[tuple[str, ...], ...] = ()
    """Phrases ending in a negation that are a cry, not one (the pack's ``dialogue.cries``: "oh no")."""
    apart_first_words: list[tuple[frozenset[str], ...]] = field(init=False)
    """Per flag said apart, the words each part can begin with: a sentence lacking one cannot say it."""
    apart_starting: list[tuple[dict[str, tuple[tuple[str, ...], ...]], ...]] = field(init=False)
    """Per flag said apart, each part's spellings by their first word, longest first."""

    def __post_init__(self) -> None:
        first_words = [tuple(frozenset(words[0] for words in part) for part in parts) for parts, _, _ in self.apart]
        object.__setattr__(self, "apart_first_words", first_words)
        starting = [tuple(_by_first_word(part) for part in parts) for parts, _, _ in self.apart]
        object.__setattr__(self, "apart_starting", starting)

    def __bool__(self) -> bool:
        return bool(self.together or self.apart)


def _by_first_word(spellings: frozenset[tuple[str, ...]]) -> dict[str, tuple[tuple[str, ...], ...]]:
    grouped: dict[str, list[tuple[str, ...]]] = defaultdict(list)
    for words in spellings:
        grouped[words[0]].append(words)
    return {first: tuple(sorted(group, key=lambda words: (-len(words), words))) for first, group in grouped.items()}


NO_RED_FLAGS = RedFlags({}, [])


def _safety_model(pack: Pack) -> tuple[SafetyModel, str] | None:
    """The pack's learned alarm and its ``unsure`` emergency, when it has one; BadInput when the weights
    cannot be read or were trained for emergencies the pack does not have."""
    settings = pack.safety_model
    if settings is None:
        return None
    model = SafetyModel.load(settings.weights)
    strangers = sorted(kind for kind in model.classes if kind != CALM and not pack.is_emergency(kind))
    if strangers:
        raise BadInput(
            f"{settings.weights}: trained for emergencies this pack does not have ({', '.join(strangers)}); "
            "train it again with scripts/train_safety.py"
        )
    return model, settings.unsure


def _meaning(pack: Pack) -> Meaning | None:
    """The pack's sentence vectors, when it has them; BadInput when they cannot be read or name intents the
    pack does not have."""
    settings = pack.meaning
    if settings is None:
        return None
    index = MeaningIndex.load(settings.vectors, settings.threshold)
    strangers = sorted({intent for intent in index.intents if intent not in pack.behaviours})
    if strangers:
        raise BadInput(
            f"{settings.vectors}: made for intents this pack does not have ({', '.join(strangers[:5])}); "
            "build it again with scripts/build_meaning.py"
        )
    return Meaning(index)


def _red_flags(pack: Pack) -> RedFlags:
    """Every spelling of every emergency's red flags."""
    return _phrase_table(pack, lambda behaviour: behaviour.red_flags)


def _phrase_table(
    pack: Pack, phrases_of: Callable[[IntentBehaviour], tuple[str, ...]], negations: bool = True
) -> RedFlags:
    """Every spelling of the phrases ``phrases_of`` each intent (its red flags, or its cues), a ``<rule>`` in
    one spelt as the pack's expansion rule. ``negations``: whether a negation just before takes a phrase
    back (a red flag's "not having a seizure"; a cue names a topic however it is asked about)."""
    rules = pack.intents.expansion_rules
    together: dict[str, list[tuple[tuple[str, ...], str, str]]] = defaultdict(list)
    apart: list[tuple[tuple[frozenset[tuple[str, ...]], ...], str, str]] = []
    for behaviour in pack.behaviours.values():
        for phrase in phrases_of(behaviour):
            parts = [_flag_spellings(part, phrase, behaviour.id, rules) for part in phrase.split("...")]
            if len(parts) > 1:
                apart.append((tuple(frozenset(part) for part in parts), behaviour.id, phrase))
                continue
            for words in parts[0]:
                together[words[0]].append((words, behaviour.id, phrase))
    for starting in together.values():
        starting.sort(key=lambda flag: -len(flag[0]))
    if not negations:
        return RedFlags(dict(together), apart)
    taking_back = frozenset(word for phrase in pack.dialogue.negations for word in phrase.split())
    cries = tuple(tuple(cry.split()) for cry in pack.dialogue.cries)
    return RedFlags(dict(together), apart, taking_back, cries)


def _flag_spellings(part: str, phrase: str, intent: str, rules: Mapping[str, Sentence]) -> list[tuple[str, ...]]:
    try:
        spellings = (
            _text_options(parse_sentence(part.strip()).expression, _MAX_FLAG_SPELLINGS, rules) if part.strip() else None
        )
    except Exception:  # noqa: BLE001 - hassil's parser raises several kinds for malformed text
        spellings = None
    words = [tuple(normalize(spelling).split()) for spelling in spellings or ()]
    if not any(words):
        raise BadInput(
            f"intent '{intent}': the red flag or cue {phrase!r} must be words, (a|b), [c], <rule> and ... only"
        )
    return [spelt for spelt in words if spelt]


def red_flag_in(tokens: list[str], flags: RedFlags) -> tuple[str, str, str] | None:
    """The first red flag said in ``tokens`` without a negation in the few words before it, as (phrase as
    written, intent, the words said, parts said apart joined by " ... "); None when there is none. Flags
    said apart come first, in the pack's order, each part within ``APART_REACH`` words of the one before:
    several signs together say more than one ("shaking ... will not answer" is a seizure, where "will not
    answer" alone could be a cardiac arrest). Then flags said together: the first place one is said, the
    longest there."""
    return next(flags_said(tokens, flags), None)


def flags_said(tokens: list[str], flags: RedFlags) -> Iterator[tuple[str, str, str]]:
    """Every flag said in ``tokens``, in ``red_flag_in``'s order of preference, as it gives the first."""
    present = set(tokens)
    for (_, intent, phrase), first_words, starting in zip(
        flags.apart, flags.apart_first_words, flags.apart_starting, strict=True
    ):
        if not all(words & present for words in first_words):
            continue
        said = _said_apart(tokens, starting, flags)
        if said is not None:
            yield phrase, intent, " ... ".join(said)
    for start, token in enumerate(tokens):
        for words, intent, phrase in flags.together.get(token, ()):
            if _said_at(tokens, start, words, flags):
                yield phrase, intent, " ".join(words)


def _said_at(tokens: list[str], start: int, words: tuple[str, ...], flags: RedFlags) -> bool:
    """Whether ``words`` are said from ``start`` on, with no negation in the few words before (a cry that
    ends in one, "oh no", is not)."""
    if tuple(tokens[start : start + len(words)]) != words:
        return False
    first = max(0, start - NEGATION_REACH)
    return not any(
        token in flags.negations
        and not any(len(cry) <= at + 1 and tuple(tokens[at + 1 - len(cry) : at + 1]) == cry for cry in flags.cries)
        for at, token in enumerate(tokens[first:start], first)
    )


def _said_apart(
    tokens: list[str], parts: tuple[dict[str, tuple[tuple[str, ...], ...]], ...], flags: RedFlags
) -> list[str] | None:
    """The words of each part (its spellings by first word), when every part is said in order, each within
    reach of the one before; at each place the longest spelling said there."""
    said: list[str] = []
    position, reach = 0, len(tokens)
    for starting in parts:
        found = None
        for start in range(position, min(len(tokens), position + reach + 1)):
            for words in starting.get(tokens[start], ()):
                if _said_at(tokens, start, words, flags):
                    found = (start, words)
                    break
            if found:
                break
        if found is None:
            return None
        said.append(" ".join(found[1]))
        position, reach = found[0] + len(found[1]), APART_REACH
    return said


def _single_word(expr: Expression) -> str | None:
    """The one normalised word (or "") an expression of plain text spells, else None."""
    while isinstance(expr, Sequence) and len(expr.items) == 1 and not isinstance(expr, (Alternative, Permutation)):
        expr = expr.items[0]
    if isinstance(expr, TextChunk):
        words = normalize(expr.text).split()
        if len(words) <= 1:
            return words[0] if words else ""
    return None


def _text_options(
    expr: Expression, most: int = _MAX_VALUE_PHRASES, rules: Mapping[str, Sentence] | None = None, depth: int = 0
) -> list[str] | None:
    """All spellings of an expression made of text only, at most ``most`` (None if it holds lists, or rules
    other than ``rules``, which are spelt out)."""
    if isinstance(expr, RuleReference) and rules and expr.rule_name in rules and depth < _MAX_RULE_DEPTH:
        return _text_options(rules[expr.rule_name].expression, most, rules, depth + 1)
    if isinstance(expr, (ListReference, RuleReference, Permutation)):
        return None
    if isinstance(expr, TextChunk):
        return [expr.text]
    if isinstance(expr, Alternative):
        options: list[str] = []
        for item in expr.items:
            sub = _text_options(item, most, rules, depth)
            if sub is None:
                return None
            options.extend(sub)
        # hassil writes an optional part's empty choice out as a chunk of its own: one empty spelling, once.
        return list(dict.fromkeys([*options, ""] if expr.is_optional else options))
    if isinstance(expr, Sequence):
        combos = [""]
        for item in expr.items:
            sub = _text_options(item, most, rules, depth)
            if sub is None:
                return None
            combos = list(dict.fromkeys(a + b for a in combos for b in sub))[:most]
        return combos
    return None


def _phrases(expr: Expression) -> list[str]:
    """Spoken forms of a list value (values hold text only)."""
    return _text_options(expr) or []


def _compile(draft: _Draft, final: int) -> _Graph:
    """A built word graph as the alignment walks it: nodes numbered in topological order, so that every arc
    goes to a higher number; each node's arcs sorted into word arcs and the others."""
    draft, start, final, numbers = _contract(draft, final)
    order = _topological(draft)
    rank = [0] * len(order)
    for position, node in enumerate(order):
        rank[node] = position
    word_arcs, other_arcs = [], []
    for node in order:
        words: list[tuple[int, int, Any, float]] = []
        others: list[tuple[int, int, Any, float]] = []
        for kind, target, label, weight in draft.arcs[node]:
            (words if kind == _WORD else others).append((kind, rank[target], label, weight))
        word_arcs.append(tuple(words))  # exactly sized, and an empty one is the shared (): most nodes have one kind
        other_arcs.append(tuple(others))
    graph = _Graph(
        word_arcs=word_arcs,
        other_arcs=other_arcs,
        origin=[numbers[node] for node in order],
        start=rank[start],
        final=rank[final],
    )
    graph.heaviest = _heaviest_paths(graph)
    return graph


def _contract(draft: _Draft, final: int) -> tuple[_Draft, int, int, list[int]]:
    """The graph without the nodes whose only way on is one free arc: arcs into such a node go straight to
    where it leads. Returns the graph, its initial and accepting nodes, and each node's number before."""
    arcs = draft.arcs

    def passes_on(node: int) -> bool:
        return node != final and len(arcs[node]) == 1 and arcs[node][0][0] == _EPS

    leads_to = list(range(len(arcs)))
    for node in range(len(arcs)):
        target = node
        while passes_on(target):
            target = arcs[target][0][1]
        leads_to[node] = target
    kept = [node for node in range(len(arcs)) if leads_to[node] == node]
    number = {node: position for position, node in enumerate(kept)}
    contracted = _Draft(
        draft.wildcards,
        arcs=[
            [(kind, number[leads_to[target]], label, weight) for kind, target, label, weight in arcs[node]]
            for node in kept
        ],
        words=draft.words,
        lists=draft.lists,
    )
    return contracted, number[leads_to[0]], number[final], kept


def _words_into(graph: _Graph) -> list[list[tuple[int, str, float]]]:
    """Per node, the word arcs into it as (source, word, weight); kept on the graph."""
    into: list[list[tuple[int, str, float]]] = [[] for _ in graph.word_arcs]
    for source, words in enumerate(graph.word_arcs):
        for _, target, label, weight in words:
            into[target].append((source, label, weight))
    graph.words_into = into
    return into


def _heaviest_paths(graph: _Graph) -> list[float]:
    """Per node, the weight of the heaviest path from it to the accepting node."""
    heaviest = [-_INF] * len(graph.word_arcs)
    heaviest[graph.final] = 0.0
    for node in range(len(heaviest) - 1, -1, -1):
        for kind, target, _, weight in graph.word_arcs[node] + graph.other_arcs[node]:
            step = weight if kind == _WORD else (0.0 if kind == _EPS else 1.0)
            heaviest[node] = max(heaviest[node], heaviest[target] + step)
    return heaviest


def _topological(graph: _Draft) -> list[int]:
    indegree = [0] * len(graph.arcs)
    for arcs in graph.arcs:
        for arc in arcs:
            indegree[arc[1]] += 1
    ready = [node for node, degree in enumerate(indegree) if degree == 0]
    order: list[int] = []
    while ready:
        node = ready.pop()
        order.append(node)
        for arc in graph.arcs[node]:
            indegree[arc[1]] -= 1
            if indegree[arc[1]] == 0:
                ready.append(arc[1])
    return order
