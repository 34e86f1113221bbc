"""``assistant check-intents``: find what would confuse or strand a user in a pack."""

from __future__ import annotations

import dataclasses
import itertools
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from hassil import Intents, recognize_all, sample_expression
from hassil.expression import Expression, Group, ListReference, Permutation, RuleReference, Sentence, TextChunk
from hassil.intents import IntentData, TextSlotList

from .asr.grammar import sentence_samples
from .pack import BLANK, Action, Pack, _LineDict, map_texts

SAMPLES_PER_TEMPLATE = 20
"""Sentences sampled from each template when looking for overlaps (never the full expansion)."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a pack."""

    where: str
    """``file:line`` (or the pack name)."""
    message: str
    """What is wrong, in a sentence."""

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


def check_pack(pack: Pack, name: str = "<pack>") -> list[Problem]:
    """Every problem found, in a stable order."""
    problems = [
        *_references(pack, name),
        *_sources(pack, name),
        *_blanks(pack, name),
        *_triage_paths(pack, name),
        *_overlaps(pack, name),
    ]
    return problems


def _blanks(pack: Pack, name: str) -> Iterator[Problem]:
    """A ``{blank}`` in an answer, a disposition, an interview or a routine that no region fills would be
    read out as it is: say where (the dialogue's own phrases have blanks of their own, and are left out)."""
    filled = set(next(iter(pack.regions.values())).says) if pack.regions else set()
    texts = [
        *((("intents", i), b.answer) for i, b in pack.behaviours.items()),
        *((("intents", i), b.follow_up) for i, b in pack.behaviours.items()),
        *((("dispositions", i), d) for i, d in pack.dispositions.items()),
        *((("triage", i), t) for i, t in pack.triage.items()),
        *((("routines", i), r) for i, r in pack.routines.items()),
    ]
    for keys, part in texts:
        unknown = sorted(_blanks_in(part) - filled)
        if unknown:
            yield Problem(
                _where(pack, name, *keys),
                f"{keys[0][:-1]} '{keys[1]}' says {', '.join('{' + b + '}' for b in unknown)}, which no region fills",
            )


def _blanks_in(part: Any) -> set[str]:
    said: set[str] = set()

    def note(text: str) -> str:
        said.update(BLANK.findall(text))
        return text

    map_texts(part, note)
    return said


def _where(pack: Pack, name: str, *keys: str) -> str:
    node: Any = pack.raw
    where = name
    for key in keys:
        if not isinstance(node, dict) or key not in node:
            break
        node = node[key]
        if isinstance(node, _LineDict) and node.file:
            where = f"{node.file}:{node.line}"
    return where


def _action_targets(pack: Pack, action: Action, what: str, interview: str | None = None) -> Iterator[str]:
    if action.answer is not None and (
        action.answer not in pack.behaviours or pack.behaviours[action.answer].answer is None
    ):
        yield f"{what} leads to answer '{action.answer}', which has no answer"
    if action.triage is not None and action.triage not in pack.triage:
        yield f"{what} leads to unknown interview '{action.triage}'"
    if action.routine is not None and action.routine not in pack.routines:
        yield f"{what} leads to unknown routine '{action.routine}'"
    if action.disposition is not None and action.disposition not in pack.dispositions:
        yield f"{what} leads to unknown disposition '{action.disposition}'"
    if action.next is not None and (interview is None or action.next not in pack.triage[interview].questions):
        yield f"{what} leads to unknown question '{action.next}'"


def _action_effect(action: Action, what: str, interview: str | None = None) -> Iterator[str]:
    if interview is not None and action.next is None and action.disposition is None and action.routine is None:
        yield f"{what} leads nowhere (needs 'next', 'disposition' or, in a check, 'routine')"
    if interview is None and not any((action.say, action.answer, action.triage, action.routine)):
        yield f"{what} does nothing (needs say, answer, triage or routine)"


def dangling_references(pack: Pack, name: str = "intent pack") -> list[Problem]:
    """References to intents, interviews, questions, routines or dispositions the pack lacks.

    The dialogue refuses such a pack at start, rather than failing mid-conversation.
    """
    return list(_references(pack, name, dangling_only=True))


def _references(pack: Pack, name: str, dangling_only: bool = False) -> Iterator[Problem]:
    for intent_id, behaviour in pack.behaviours.items():
        where = _where(pack, name, "intents", intent_id)
        if behaviour.follow_up is not None:
            for label, action in (("yes", behaviour.follow_up.yes), ("no", behaviour.follow_up.no)):
                what = f"intent '{intent_id}' follow-up '{label}'"
                for message in _action_targets(pack, action, what):
                    yield Problem(where, message)
                if not dangling_only:
                    for message in _action_effect(action, what):
                        yield Problem(where, message)
        if behaviour.triage is not None and behaviour.triage not in pack.triage:
            yield Problem(where, f"intent '{intent_id}' starts unknown interview '{behaviour.triage}'")
        routine = behaviour.routine
        if routine and routine.default and pack.routine_for(routine.default, routine.kind) is None:
            yield Problem(where, f"intent '{intent_id}' defaults to muscle '{routine.default}' with no routine")
        if behaviour.emergency and behaviour.answer is None and not dangling_only:
            yield Problem(where, f"emergency intent '{intent_id}' has no answer to give")
    for stretch in pack.routines.values():
        if stretch.check is None:
            continue
        where = _where(pack, name, "routines", stretch.id)
        check = pack.triage.get(stretch.check)
        if check is None:
            yield Problem(where, f"routine '{stretch.id}' is checked by unknown interview '{stretch.check}'")
        elif not dangling_only and stretch.id not in {
            action.routine for question in check.questions.values() for action in (question.yes, question.no)
        }:
            yield Problem(where, f"routine '{stretch.id}': its check '{stretch.check}' never starts it")
    for interview in pack.triage.values():
        for question in interview.questions.values():
            where = _where(pack, name, "triage", interview.id, "questions", question.id)
            for label, action in (("yes", question.yes), ("no", question.no)):
                what = f"triage '{interview.id}' question '{question.id}' '{label}'"
                for message in _action_targets(pack, action, what, interview.id):
                    yield Problem(where, message)
                if not dangling_only:
                    for message in _action_effect(action, what, interview.id):
                        yield Problem(where, message)
        if interview.start not in interview.questions:
            yield Problem(
                _where(pack, name, "triage", interview.id), f"triage '{interview.id}' starts at unknown question"
            )
    for state, intent_ids in pack.dialogue.expects.items():
        for intent_id in intent_ids:
            if intent_id not in pack.behaviours:
                yield Problem(
                    _where(pack, name, "dialogue"), f"dialogue state '{state}' expects unknown intent '{intent_id}'"
                )


def _sources(pack: Pack, name: str) -> Iterator[Problem]:
    cited: list[tuple[str, str, tuple[str, ...]]] = []
    for intent_id, behaviour in pack.behaviours.items():
        if behaviour.answer is not None:
            cited.append(
                (_where(pack, name, "intents", intent_id), f"answer of '{intent_id}'", behaviour.answer.sources)
            )
    for disposition in pack.dispositions.values():
        cited.append(
            (_where(pack, name, "dispositions", disposition.id), f"disposition '{disposition.id}'", disposition.sources)
        )
    for interview in pack.triage.values():
        cited.append((_where(pack, name, "triage", interview.id), f"interview '{interview.id}'", interview.sources))
    for routine in pack.routines.values():
        cited.append((_where(pack, name, "routines", routine.id), f"routine '{routine.id}'", routine.sources))
    for region in pack.regions.values():
        cited.append((_where(pack, name, "regions", region.id), f"region '{region.id}'", region.sources))
    for where, what, sources in cited:
        if not sources:
            yield Problem(where, f"{what} names no sources")
        for source in sources:
            if source not in pack.sources:
                yield Problem(where, f"{what} cites unknown source '{source}'")


def _triage_paths(pack: Pack, name: str) -> Iterator[Problem]:
    for interview in pack.triage.values():
        where = _where(pack, name, "triage", interview.id)
        reached: set[str] = set()
        stack: list[tuple[str, tuple[str, ...]]] = [(interview.start, ())]
        while stack:
            question_id, path = stack.pop()
            if question_id in path:
                yield Problem(where, f"triage '{interview.id}' loops back to '{question_id}'")
                continue
            question = interview.questions.get(question_id)
            if question is None:
                continue
            reached.add(question_id)
            for action in (question.yes, question.no):
                if action.next is not None:
                    stack.append((action.next, path + (question_id,)))
            if question.red_flag:
                disposition = pack.dispositions.get(question.yes.disposition or "")
                if disposition is None or disposition.urgency < 2:
                    yield Problem(where, f"red flag '{question_id}' does not lead to an urgent disposition on yes")
        for unreached in sorted(set(interview.questions) - reached):
            yield Problem(where, f"triage '{interview.id}' question '{unreached}' can never be asked")


_TOKEN = re.compile(r"[^\W_]+")


def _tokens(text: str) -> tuple[set[str], set[str]]:
    """The words of ``text`` with punctuation as a break ("don't": don, t) and taken out (dont)."""
    lowered = text.lower()
    return set(_TOKEN.findall(lowered)), set(_TOKEN.findall(re.sub(r"[^\w\s]", "", lowered)))


def _vocabularies(intents: Intents) -> tuple[dict[str, set[str]], set[str]]:
    """Each intent's words, and the intents that can match words beyond them (wildcards, numbers)."""
    words: dict[str, set[str]] = {}
    open_ended: set[str] = set()
    for intent in intents.intents.values():
        found = words.setdefault(intent.name, set())
        for data in intent.data:
            lists = {**intents.slot_lists, **data.slot_lists}
            rules = {**intents.expansion_rules, **data.expansion_rules}
            followed: set[str] = set()
            walked: set[int] = set()  # a part shared by several templates (see pack._shared) is walked once
            stack: list[Expression] = [sentence.expression for sentence in data.sentences]
            while stack:
                item = stack.pop()
                if id(item) in walked:
                    continue
                walked.add(id(item))
                if isinstance(item, TextChunk):
                    found.update(*_tokens(item.original_text or item.text))
                elif isinstance(item, Group):
                    stack.extend(item.items)
                elif (
                    isinstance(item, RuleReference) and item.rule_name in rules and f"<{item.rule_name}" not in followed
                ):
                    followed.add(f"<{item.rule_name}")
                    stack.append(rules[item.rule_name].expression)
                elif isinstance(item, ListReference) and f"{{{item.list_name}" not in followed:
                    followed.add(f"{{{item.list_name}")
                    slot_list = lists.get(item.list_name)
                    if isinstance(slot_list, TextSlotList):
                        stack.extend(value.text_in for value in slot_list.values)
                    else:
                        open_ended.add(intent.name)
    return words, open_ended


def _having_all(having: dict[str, set[str]], words: set[str]) -> set[str]:
    """The intents that have every one of ``words``, rarest word first: most words are in every intent."""
    sets = sorted((having.get(word, set()) for word in words), key=len)
    found = set(sets[0])
    for other in sets[1:]:
        if not found:
            break
        found &= other
    return found


def _samples(pack: Pack, data: IntentData, sentence: Sentence) -> Iterator[str]:
    """A template's sentences in hassil's order, or random ones when it holds a permutation: hassil's sampler
    expands a permutation in full before giving its first sentence (millions, for six lists in any order)."""
    rules = {**pack.intents.expansion_rules, **data.expansion_rules}
    stack: list[Expression] = [sentence.expression]
    followed: set[str] = set()
    while stack:
        item = stack.pop()
        if isinstance(item, Permutation):
            return sentence_samples(pack, data, sentence, SAMPLES_PER_TEMPLATE * 10)
        if isinstance(item, Group):
            stack.extend(item.items)
        elif isinstance(item, RuleReference) and item.rule_name in rules and item.rule_name not in followed:
            followed.add(item.rule_name)
            stack.append(rules[item.rule_name].expression)
    return iter(sample_expression(sentence.expression, {**pack.intents.slot_lists, **data.slot_lists}, rules))


def _says_all(text: str, intents: Intents, name: str) -> bool:
    """Whether intent ``name`` matches ``text`` with every word of it, filler included."""
    alone = dataclasses.replace(intents, intents={name: intents.intents[name]}, skip_words=[])
    return any(True for _ in recognize_all(text, alone))


def _overlaps(pack: Pack, name: str) -> Iterator[Problem]:
    """Sentences of one intent that another intent's templates also match exactly.

    A sentence is only tried against intents that have all its words (or take free text or numbers):
    recognising every sample against every intent grew with the square of the pack."""
    intents = pack.intents
    vocabularies, open_ended = _vocabularies(intents)
    having: dict[str, set[str]] = {}
    for intent_name, vocabulary in vocabularies.items():
        for word in vocabulary:
            having.setdefault(word, set()).add(intent_name)
    skip = set().union(*(_tokens(word)[0] for word in intents.skip_words or []))

    def candidates(text: str, own: str) -> list[str]:
        found = set(open_ended)
        split, joined = _tokens(text)
        for variant in (split, joined) if joined != split else (split,):
            words = variant - skip
            found |= _having_all(having, words) if words else set(vocabularies)
        found.discard(own)
        return sorted(found)

    rng = random.Random(0)
    seen: set[tuple[str, str]] = set()
    for intent in intents.intents.values():
        for data in intent.data:
            for sentence in data.sentences:
                samples = list(itertools.islice(_samples(pack, data, sentence), SAMPLES_PER_TEMPLATE * 10))
                rng.shuffle(samples)
                for text in samples[:SAMPLES_PER_TEMPLATE]:
                    rivals = candidates(text, intent.name)
                    if not rivals:
                        continue
                    subset = dataclasses.replace(intents, intents={n: intents.intents[n] for n in rivals})
                    others = {
                        result.intent.name for result in recognize_all(text, subset, skip_words=intents.skip_words)
                    } - {intent.name}
                    if others and _says_all(text, intents, intent.name):
                        # The matcher takes the reading that leaves out least filler ("uh huh" is yes, where
                        # "huh" alone asks to repeat): a rival that must drop filler to match does not win.
                        as_said = dataclasses.replace(subset, skip_words=[])
                        others = {result.intent.name for result in recognize_all(text, as_said)}
                        others.discard(intent.name)
                    for other in sorted(others):
                        key = tuple(sorted((intent.name, other)))
                        if key in seen:
                            continue
                        seen.add(key)  # type: ignore[arg-type]
                        yield Problem(
                            _where(pack, name, "intents", intent.name),
                            f"'{text}' matches both '{intent.name}' and '{other}'",
                        )
