"""Sentences a pack can say, drawn at random from its templates with the intent and slots they mean.

A walk down hassil's template tree: one branch of each alternative, the items of a permutation in a
drawn order, one value of each list (the value out is the slot's). Nothing is enumerated, so a pack
of 10^12 sentences is sampled as cheaply as a small one. The matcher's tests draw with hypothesis,
the text benchmark with a seeded ``random.Random``.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from hassil import (
    Alternative,
    Expression,
    IntentData,
    ListReference,
    Permutation,
    RangeSlotList,
    RuleReference,
    Sentence,
    SlotList,
    TextChunk,
    TextSlotList,
)
from hassil import Sequence as TemplateSequence

from .normalize import normalize
from .pack import Pack

T = TypeVar("T")
Choose = Callable[[Sequence[T]], T]
"""Picks one of a non-empty sequence (``random.Random.choice``, or a hypothesis draw)."""


@dataclass(frozen=True)
class SampledSentence:
    """One sentence a template says, and what it means."""

    intent: str
    """Intent id."""
    text: str
    """The sentence, as a user would type it."""
    slots: dict[str, str]
    """Slot name -> the value the pack gives it (fixed slots of the block included)."""
    template: str
    """The template it came from."""


def templates(pack: Pack, with_wildcards: bool = False) -> list[tuple[str, IntentData, Sentence]]:
    """(intent id, block, template) for every template of the pack; wildcard ones only if asked."""
    found = []
    for intent in pack.intents.intents.values():
        for data in intent.data:
            rules = {**pack.intents.expansion_rules, **data.expansion_rules}
            for sentence in data.sentences:
                if with_wildcards or not (set(sentence.list_names(rules)) & data.wildcard_list_names):
                    found.append((intent.name, data, sentence))
    return found


def sample_template(pack: Pack, intent: str, data: IntentData, sentence: Sentence, choose: Choose) -> SampledSentence:
    """One sentence of ``sentence`` (a template of ``data``), each choice made by ``choose``."""
    walk = _Walk(
        lists={**pack.intents.slot_lists, **data.slot_lists},
        rules={**pack.intents.expansion_rules, **data.expansion_rules},
        choose=choose,
    )
    text = walk.say(sentence.expression)
    slots = {name: str(value) for name, value in data.slots.items()}
    slots.update(walk.slots)
    return SampledSentence(intent=intent, text=" ".join(text.split()), slots=slots, template=sentence.text or "")


def sample_pack(pack: Pack, count: int, seed: int = 0) -> list[SampledSentence]:
    """``count`` sentences: a random template each time, then random choices down its tree."""
    rng = random.Random(seed)
    found = templates(pack)
    sentences = []
    for _ in range(count):
        intent, data, sentence = rng.choice(found)
        sentences.append(sample_template(pack, intent, data, sentence, rng.choice))
    return sentences


@dataclass
class _Walk:
    lists: Mapping[str, SlotList]
    rules: Mapping[str, Sentence]
    choose: Choose

    def __post_init__(self) -> None:
        self.slots: dict[str, str] = {}

    def say(self, expr: Expression) -> str:
        if isinstance(expr, TextChunk):
            return expr.text
        if isinstance(expr, Alternative):
            return self.say(self.choose(expr.items))
        if isinstance(expr, Permutation):
            left = list(range(len(expr.items)))
            said = []
            while left:
                index = self.choose(left)
                left.remove(index)
                said.append(self.say(expr.items[index]))
            return " " + " ".join(said) + " "
        if isinstance(expr, TemplateSequence):
            return "".join(self.say(item) for item in expr.items)
        if isinstance(expr, RuleReference):
            return self.say(self.rules[expr.rule_name].expression)
        if isinstance(expr, ListReference):
            return self._value(expr)
        raise TypeError(f"unexpected template part {expr!r}")

    def _value(self, ref: ListReference) -> str:
        if ref.is_inline_range:
            low, high, step = ref.get_inline_range() or (0, 0, 1)
            number = self.choose(range(low, high + 1, step))
            self.slots[ref.slot_name] = str(number)
            return str(number)
        slot_list: Any = self.lists[ref.list_name]
        if isinstance(slot_list, RangeSlotList):
            number = self.choose(range(slot_list.start, slot_list.stop + 1, slot_list.step))
            self.slots[ref.slot_name] = str(number)
            return str(number)
        if not isinstance(slot_list, TextSlotList):
            raise TypeError(f"list {{{ref.list_name}}} cannot be sampled (a wildcard)")
        value = self.choose(slot_list.values)
        text = self.say(value.text_in)
        self.slots[ref.slot_name] = str(value.value_out) if value.value_out is not None else normalize(text)
        return text
