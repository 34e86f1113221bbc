"""Sentences a pack's own templates say come back with their intent and every slot.

Sentences are drawn by hypothesis down the template trees (assistant.sample), never enumerated: from
the bundled pack, from a coffee pack whose list values are templates that contain one another, and
from packs hypothesis writes itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assistant.match import Matcher
from assistant.pack import Pack, load_pack, pack_from_dict
from assistant.rhino import load_rhino_pack
from assistant.sample import SampledSentence, sample_template, templates

REALSPEECH = Path(__file__).resolve().parents[2] / "shared" / "realspeech" / "coffee_maker.yaml"

NESTED_COFFEE = {
    "language": "en",
    "skip_words": ["please", "um"],
    "lists": {
        "size": {"values": ["small", "medium", "large", {"in": "(extra large|x large)", "out": "xl"}]},
        "drink": {"values": ["coffee", "iced coffee", "drip coffee", "mocha", "iced mocha", "latte", "flat white"]},
        "milk": {
            "values": [
                *(
                    f"{amount}{kind}milk"
                    for amount in ("", "a bit of ", "a little bit of ", "a lot of ", "lots of ")
                    for kind in ("", "skim ", "oat ")
                ),
                {"in": "(half and half|half n half|half 'n' half)", "out": "half and half"},
            ]
        },
        "roast": {"values": ["light roast", "medium roast", "dark roast", {"in": "(decaf|decaffeinated)"}]},
        "sugar": {"values": ["sugar", "brown sugar", "two sugars", {"in": "[a] (spoon|spoonful) of sugar"}]},
        "shots": {"range": {"from": 1, "to": 4}},
    },
    "expansion_rules": {"want": "(i want|i would like|can i (get|have)|give me|make me)"},
    "intents": {
        "order": {
            "data": [
                {
                    "sentences": [
                        "<want> [a|an] ({size};{drink}) [with {milk} [and {sugar}]]",
                        "<want> [a|an] {size} {drink} with {shots} (shot|shots) [and {milk}]",
                        "<want> [a|an] {size} {roast} {drink} with {milk} and {sugar}",
                        "<want> [a|an] {roast} {size} {drink} with {sugar} and {milk}",
                        "<want> [a|an] {roast} {drink} with {milk}",
                        "<want> [a|an] {size} {drink} with {sugar}",
                        "[a|an] {drink} [please]",
                    ]
                }
            ]
        },
        "cancel": {"data": [{"sentences": ["(cancel|scrap|forget) [my|the|that] order"]}]},
        "status": {"data": [{"sentences": ["(where is|how long for) my {drink}"]}], "slots": {"topic": "status"}},
    },
}
"""A coffee pack written by hand: list values that are templates, values inside other values, a permutation."""


def draw_sentence(data: st.DataObject, pack: Pack) -> SampledSentence:
    intent, block, sentence = data.draw(st.sampled_from(templates(pack)), label="template")
    return sample_template(pack, intent, block, sentence, lambda options: data.draw(st.sampled_from(options)))


def assert_understood(matcher: Matcher, sampled: SampledSentence, fuzzy: bool = False) -> None:
    found = matcher.match_fuzzy(sampled.text) if fuzzy else matcher.match(sampled.text)
    assert (found.intent, found.slots) == (sampled.intent, sampled.slots), (sampled.text, sampled.template)


@pytest.fixture(scope="module")
def bundled() -> tuple[Pack, Matcher]:
    pack = load_pack()
    return pack, Matcher(pack)


@pytest.fixture(scope="module")
def coffee() -> tuple[Pack, Matcher]:
    pack = pack_from_dict(NESTED_COFFEE)
    return pack, Matcher(pack)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_bundled_pack_sentences_come_back_right(bundled: tuple[Pack, Matcher], data: st.DataObject) -> None:
    pack, matcher = bundled
    sampled = draw_sentence(data, pack)
    assert_understood(matcher, sampled)
    assert matcher.match(sampled.text).confidence >= 0.9  # said exactly: only filler left out costs


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_nested_coffee_sentences_come_back_right(coffee: tuple[Pack, Matcher], data: st.DataObject) -> None:
    pack, matcher = coffee
    assert_understood(matcher, draw_sentence(data, pack))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_the_fuzzy_path_alone_fills_every_slot_said(coffee: tuple[Pack, Matcher], data: st.DataObject) -> None:
    """Values inside other values, values said as written, and slots in any order the template allows."""
    pack, matcher = coffee
    assert_understood(matcher, draw_sentence(data, pack), fuzzy=True)


@pytest.mark.skipif(not REALSPEECH.exists(), reason=f"{REALSPEECH} is absent (the real-speech development set)")
@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_the_rhino_coffee_grammar_sentences_come_back_right(data: st.DataObject) -> None:
    pack, matcher = _rhino()
    sampled = draw_sentence(data, pack)
    assert_understood(matcher, sampled)
    assert_understood(matcher, sampled, fuzzy=True)


_RHINO: list[tuple[Pack, Matcher]] = []


def _rhino() -> tuple[Pack, Matcher]:
    if not _RHINO:
        pack = load_rhino_pack(REALSPEECH)
        _RHINO.append((pack, Matcher(pack)))
    return _RHINO[0]


# ---- packs hypothesis writes ------------------------------------------------------------------

_WORDS = [f"{a}{b}{c}" for a in ("ka", "lo", "mi", "nu", "po", "ri", "su", "te") for b in "aeiou" for c in "bdg"]


@st.composite
def generated_packs(draw: st.DrawFn) -> dict[str, Any]:
    """A pack of made-up words: each intent starts with a word of its own and each list draws its values
    from words of its own, so every sentence has one reading (which the test then checks)."""
    words = iter(draw(st.permutations(_WORDS)))
    lists: dict[str, Any] = {}
    for index in range(draw(st.integers(1, 3))):
        pool = [next(words) for _ in range(3)]
        phrases = st.lists(st.sampled_from(pool), min_size=1, max_size=3).map(" ".join)
        values = draw(st.lists(phrases, min_size=1, max_size=5, unique=True))
        lists[f"list{index}"] = {"values": values}
    intents: dict[str, Any] = {}
    for index in range(draw(st.integers(1, 3))):
        head = next(words)
        sentences = []
        for _ in range(draw(st.integers(1, 2))):
            parts = [head]
            used: set[str] = set()
            for _ in range(draw(st.integers(1, 3))):
                kind = draw(st.sampled_from(["word", "optional", "choice", "slot"]))
                if kind == "slot" and len(used) < len(lists):
                    name = draw(st.sampled_from(sorted(set(lists) - used)))
                    used.add(name)
                    parts.append(f"{{{name}}}")
                elif kind == "optional":
                    parts.append(f"[{next(words)}]")
                elif kind == "choice":
                    parts.append(f"({next(words)}|{next(words)} {next(words)})")
                else:
                    parts.append(next(words))
            sentences.append(" ".join(parts))
        intents[f"intent{index}"] = {"data": [{"sentences": sentences}]}
    return {"language": "en", "lists": lists, "intents": intents}


@settings(max_examples=60, deadline=None)
@given(pack_data=generated_packs(), data=st.data())
def test_generated_pack_sentences_come_back_right(pack_data: dict[str, Any], data: st.DataObject) -> None:
    pack = pack_from_dict(pack_data)
    matcher = Matcher(pack)
    for _ in range(5):
        assert_understood(matcher, draw_sentence(data, pack))
