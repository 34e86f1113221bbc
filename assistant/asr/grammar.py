"""What the recogniser should expect: words and phrases of the active pack, per dialogue state.

Phrases are sampled from the pack's hassil templates with ``hassil.sample`` when a template
has few enough expansions, and by a seeded random walk of the template otherwise, so a
template with millions of expansions never gets enumerated.
"""

from __future__ import annotations

import itertools
import random
import re
import zlib
from collections import Counter
from collections.abc import Iterator

from hassil.expression import (
    Alternative,
    Expression,
    ListReference,
    Permutation,
    RuleReference,
    Sentence,
    Sequence,
    TextChunk,
)
from hassil.intents import IntentData, RangeSlotList, SlotList, TextSlotList, WildcardSlotList
from hassil.sample import sample_expression
from num2words import num2words

from ..pack import Pack

PHRASES_PER_INTENT = 300
"""At most this many sample sentences per intent (Vosk compiles each into its grammar)."""

MAX_RANGE_VALUES = 200
"""Number ranges longer than this are sampled, not spelled out in full."""

_WORD = re.compile(r"[\w']+")


def spoken_words(text: str, language: str = "en") -> list[str]:
    """Lower-case words as a recogniser's dictionary spells them; digits become words.

    Not ``normalize.words``: that expands "can't" to "can not" for matching, while the
    dictionaries of Vosk and PocketSphinx hold "can't" as one word.
    """
    words: list[str] = []
    for token in _WORD.findall(text.lower()):
        token = token.strip("'")
        if not token:
            continue
        if token.isdigit():
            words.extend(_WORD.findall(_number_words(int(token), language)))
        else:
            words.append(token)
    return words


def _number_words(number: int, language: str) -> str:
    try:
        return str(num2words(number, lang=language)).replace("-", " ").lower()
    except (NotImplementedError, OverflowError):
        return str(num2words(number)).replace("-", " ").lower()


def active_intents(pack: Pack, expects: str | None = None) -> list[str]:
    """Intents heard in the waiting state ``expects`` (plus emergencies), or all of them."""
    if expects is None or expects not in pack.dialogue.expects:
        return pack.intent_ids
    wanted = set(expected_intents(pack, expects))
    return [intent_id for intent_id in pack.intent_ids if intent_id in wanted or pack.is_emergency(intent_id)]


def phrases(pack: Pack, expects: str | None = None, per_intent: int = PHRASES_PER_INTENT) -> list[str]:
    """Sample sentences of the active intents (``per_intent`` at most each), plus list values, spoken-form."""
    language = pack.intents.language
    seen: dict[str, None] = {}
    intent_ids = active_intents(pack, expects)
    for intent_id in intent_ids:
        intent = pack.intents.intents[intent_id]
        count = 0
        for data in intent.data:
            for sentence in data.sentences:
                if count >= per_intent:
                    break
                for text in sentence_samples(pack, data, sentence, per_intent - count):
                    phrase = " ".join(spoken_words(text, language))
                    if phrase and phrase not in seen:
                        seen[phrase] = None
                        count += 1
                        if count >= per_intent:
                            break
    for slot_list in lists_used(pack, intent_ids).values():
        for text in itertools.islice(list_samples(pack, slot_list), per_intent):
            phrase = " ".join(spoken_words(text, language))
            if phrase:
                seen.setdefault(phrase, None)
    return list(seen)


def vocabulary(pack: Pack, expects: str | None = None) -> set[str]:
    """Every word the active intents' templates and lists can produce (no enumeration needed)."""
    return set(word_counts(pack, expects))


def expected_intents(pack: Pack, expects: str | None) -> list[str]:
    """The intents the dialogue waits for in state ``expects`` (its replies, without the emergencies that
    are heard in every state); none outside a waiting state."""
    wanted = set(pack.dialogue.expects.get(expects, ())) if expects is not None else set()
    return [intent_id for intent_id in pack.intent_ids if intent_id in wanted]


def word_counts(pack: Pack, expects: str | None = None, intent_ids: list[str] | None = None) -> Counter[str]:
    """How many of the active intents' templates (or of ``intent_ids``'s) can say each word (lists and rules
    followed)."""
    language = pack.intents.language
    counts: Counter[str] = Counter()
    for intent_id in active_intents(pack, expects) if intent_ids is None else intent_ids:
        for data in pack.intents.intents[intent_id].data:
            for sentence in data.sentences:
                words: set[str] = set()
                for text in _texts(pack, data, sentence.expression, depth=0):
                    words.update(spoken_words(text, language))
                counts.update(words)
    return counts


def _rules(pack: Pack, data: IntentData | None) -> dict[str, Sentence]:
    rules = dict(pack.intents.expansion_rules)
    if data is not None and data.expansion_rules:
        rules.update(data.expansion_rules)
    return rules


def _slot_lists(pack: Pack, data: IntentData | None) -> dict[str, SlotList]:
    lists = dict(pack.intents.slot_lists)
    if data is not None and data.slot_lists:
        lists.update(data.slot_lists)
    return lists


def lists_used(pack: Pack, intent_ids: list[str]) -> dict[str, SlotList]:
    """The slot lists that the templates of ``intent_ids`` refer to, by name."""
    used: dict[str, SlotList] = {}
    for intent_id in intent_ids:
        for data in pack.intents.intents[intent_id].data:
            lists = _slot_lists(pack, data)
            for sentence in data.sentences:
                for name in sentence.list_names(_rules(pack, data)):
                    if name in lists:
                        used[name] = lists[name]
    return used


def _texts(pack: Pack, data: IntentData | None, expression: Expression, depth: int) -> Iterator[str]:
    """Every piece of literal text reachable from ``expression`` (lists and rules followed)."""
    if depth > 20:
        return
    if isinstance(expression, TextChunk):
        yield expression.original_text or expression.text
    elif isinstance(expression, (Sequence, Alternative, Permutation)):
        for item in expression.items:
            yield from _texts(pack, data, item, depth + 1)
    elif isinstance(expression, RuleReference):
        rule = _rules(pack, data).get(expression.rule_name)
        if rule is not None:
            yield from _texts(pack, data, rule.expression, depth + 1)
    elif isinstance(expression, ListReference):
        slot_list = _slot_lists(pack, data).get(expression.list_name)
        if isinstance(slot_list, TextSlotList):
            for value in slot_list.values:
                yield from _texts(pack, data, value.text_in, depth + 1)
        elif isinstance(slot_list, RangeSlotList):
            yield from _range_samples(slot_list, pack.intents.language)


def _range_samples(slot_list: RangeSlotList, language: str) -> Iterator[str]:
    numbers = range(slot_list.start, slot_list.stop + 1, slot_list.step or 1)
    if len(numbers) > MAX_RANGE_VALUES:
        picked = random.Random(len(numbers)).sample(list(numbers), MAX_RANGE_VALUES)
        numbers = sorted({numbers[0], numbers[-1], *picked})  # type: ignore[assignment]
    for number in numbers:
        yield _number_words(number, language)


def list_samples(pack: Pack, slot_list: SlotList) -> Iterator[str]:
    """What a slot list's values can be said as (a few spellings of each; samples of a range)."""
    if isinstance(slot_list, TextSlotList):
        for value in slot_list.values:
            yield from itertools.islice(
                sample_expression(value.text_in, pack.intents.slot_lists, pack.intents.expansion_rules), 20
            )
    elif isinstance(slot_list, RangeSlotList):
        yield from _range_samples(slot_list, pack.intents.language)


def _count(pack: Pack, data: IntentData, expression: Expression, depth: int = 0) -> int | None:
    """How many sentences ``expression`` expands to, or None for a wildcard (and past 10**9, 10**9)."""
    cap = 10**9
    if depth > 20:
        return cap
    if isinstance(expression, TextChunk):
        return 1
    if isinstance(expression, (Sequence, Alternative, Permutation)):
        counts = [_count(pack, data, item, depth + 1) for item in expression.items]
        if any(c is None for c in counts):
            return None
        numbers = [c for c in counts if c is not None]
        if isinstance(expression, Alternative):
            return min(cap, sum(numbers))
        total = 1
        for number in numbers:
            total = min(cap, total * number)
        if isinstance(expression, Permutation):
            for factor in range(2, len(numbers) + 1):
                total = min(cap, total * factor)
        return total
    if isinstance(expression, RuleReference):
        rule = _rules(pack, data).get(expression.rule_name)
        return _count(pack, data, rule.expression, depth + 1) if rule is not None else 1
    if isinstance(expression, ListReference):
        slot_list = _slot_lists(pack, data).get(expression.list_name)
        if isinstance(slot_list, WildcardSlotList):
            return None
        if isinstance(slot_list, RangeSlotList):
            return min(MAX_RANGE_VALUES, len(range(slot_list.start, slot_list.stop + 1, slot_list.step or 1)))
        if isinstance(slot_list, TextSlotList):
            counts = [_count(pack, data, value.text_in, depth + 1) for value in slot_list.values]
            return min(cap, sum(c or 0 for c in counts))
    return 1


def sentence_samples(pack: Pack, data: IntentData, sentence: Sentence, limit: int) -> Iterator[str]:
    """Sentences of one template: all of them when there are at most ``limit``, else ``3 * limit`` random
    walks (hassil's sampler expands a permutation in full before giving its first sentence)."""
    expression = _without_lead_in(pack, data, sentence.expression)
    count = _count(pack, data, expression)
    if count is None:
        return  # free text (a wildcard) cannot be written down as phrases
    if count <= limit:
        yield from sample_expression(expression, _slot_lists(pack, data), _rules(pack, data), pack.intents.language)
        return
    rng = random.Random(zlib.crc32((sentence.text or "").encode()))
    for _ in range(limit * 3):
        yield _walk(pack, data, expression, rng, 0)


def _without_lead_in(pack: Pack, data: IntentData, expression: Expression) -> Expression:
    """``expression`` without the lead-in rules it opens with (rules made only of optional parts, such as
    ``<alarm>``: "[please] help", "[i think]"): a lead-in shared by many templates multiplies their
    sentences without adding to what is said, and would use up an intent's share of phrases on variants
    of its first templates."""
    if not isinstance(expression, Sequence) or isinstance(expression, Permutation):
        return expression
    items = list(expression.items)
    while items and (_blank(items[0]) or (isinstance(items[0], RuleReference) and _optional(pack, data, items[0]))):
        items.pop(0)
    return expression if len(items) == len(expression.items) else Sequence(items=items)


def _blank(expression: Expression) -> bool:
    return isinstance(expression, TextChunk) and not expression.text.strip()


def _optional(pack: Pack, data: IntentData, expression: Expression) -> bool:
    """True when ``expression`` may be left out entirely (an optional part, or a rule made only of them)."""
    if isinstance(expression, Alternative):
        return expression.is_optional
    if isinstance(expression, RuleReference):
        rule = _rules(pack, data).get(expression.rule_name)
        return rule is not None and _optional(pack, data, rule.expression)
    if isinstance(expression, Sequence) and not isinstance(expression, Permutation):
        return all(_blank(item) or _optional(pack, data, item) for item in expression.items)
    return False


def _walk(pack: Pack, data: IntentData, expression: Expression, rng: random.Random, depth: int) -> str:
    """One random expansion of ``expression``."""
    if depth > 20:
        return ""
    if isinstance(expression, TextChunk):
        return expression.original_text or expression.text
    if isinstance(expression, Alternative):
        return _walk(pack, data, rng.choice(expression.items), rng, depth + 1) if expression.items else ""
    if isinstance(expression, Permutation):
        items = list(expression.items)
        rng.shuffle(items)
        return " ".join(_walk(pack, data, item, rng, depth + 1) for item in items)
    if isinstance(expression, Sequence):
        return "".join(_walk(pack, data, item, rng, depth + 1) for item in expression.items)
    if isinstance(expression, RuleReference):
        rule = _rules(pack, data).get(expression.rule_name)
        return _walk(pack, data, rule.expression, rng, depth + 1) if rule is not None else ""
    if isinstance(expression, ListReference):
        slot_list = _slot_lists(pack, data).get(expression.list_name)
        if isinstance(slot_list, TextSlotList) and slot_list.values:
            return _walk(pack, data, rng.choice(slot_list.values).text_in, rng, depth + 1)
        if isinstance(slot_list, RangeSlotList):
            return rng.choice(list(_range_samples(slot_list, pack.intents.language)))
    return ""
