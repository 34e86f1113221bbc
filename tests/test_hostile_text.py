"""Hostile and odd text: the normaliser, matcher and pack loader raise nothing but the project's own errors."""

import contextlib
import time
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assistant.errors import AssistantError
from assistant.match import Matcher
from assistant.normalize import MAX_CHARS, normalize
from assistant.pack import load_pack, pack_from_dict

FIXTURES = Path(__file__).parent / "fixtures"
MATCHER = Matcher(load_pack(FIXTURES / "match_pack.yaml"))


@given(st.text(max_size=3000))
@settings(max_examples=300, deadline=None)
def test_normalize_never_raises_and_stays_plain(text: str) -> None:
    result = normalize(text)
    assert len(result) <= MAX_CHARS * 4  # numbers spell out longer than digits, but stay bounded
    assert result == result.strip()
    assert "  " not in result


@given(st.text(max_size=500))
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_match_never_raises(text: str) -> None:
    match = MATCHER.match(text)
    assert 0.0 <= match.confidence <= 1.0
    assert match.intent is None or match.intent in MATCHER.pack.behaviours


def test_huge_question_is_answered_quickly() -> None:
    text = "why is my eye twitching " * 10_000  # 240,000 characters
    started = time.perf_counter()
    MATCHER.match(text)
    elapsed = time.perf_counter() - started
    assert elapsed < 5  # generous bound against hangs; the benchmark reports the real figure


templates = st.recursive(
    st.sampled_from(["calf", "cramp", "my", "eye", "{muscle}", "<my>", ""]),
    lambda inner: st.one_of(
        st.lists(inner, min_size=1, max_size=3).map(lambda xs: "(" + "|".join(xs) + ")"),
        inner.map(lambda x: "[" + x + "]"),
        st.lists(inner, min_size=1, max_size=3).map(" ".join),
        st.lists(inner, min_size=2, max_size=3).map(lambda xs: "(" + ";".join(xs) + ")"),
    ),
    max_leaves=25,
)


@given(st.lists(templates, min_size=1, max_size=4), st.text(max_size=60))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_random_templates_load_and_match_or_fail_cleanly(sentences: list[str], text: str) -> None:
    data = {
        "language": "en",
        "lists": {"muscle": {"values": [{"in": "(calf|calves)", "out": "calf"}, "neck"]}},
        "expansion_rules": {"my": "(my|the)"},
        "intents": {"x": {"data": [{"sentences": sentences}]}},
    }
    try:
        matcher = Matcher(pack_from_dict(data))
    except AssistantError:
        return
    matcher.match(text)


def test_deep_nesting_is_refused_or_handled() -> None:
    sentence = "(" * 200 + "calf" + ")" * 200
    with contextlib.suppress(AssistantError):
        Matcher(pack_from_dict({"language": "en", "intents": {"x": {"data": [{"sentences": [sentence]}]}}}))


def test_huge_list_loads() -> None:
    first = [f"move{i}" for i in range(150)]
    second = [f"style{i}" for i in range(150)]
    values = [f"{a} {b}" for a in first for b in second]  # 22,500 values
    data = {
        "language": "en",
        "lists": {"exercise": {"values": values}},
        "intents": {"do": {"data": [{"sentences": ["start {exercise}"]}]}},
    }
    matcher = Matcher(pack_from_dict(data))
    match = matcher.match("start move12 style99")
    assert match.intent == "do"
    assert match.slots == {"exercise": "move12 style99"}


@given(
    st.dictionaries(
        st.text(max_size=10),
        st.recursive(
            st.none() | st.booleans() | st.text(max_size=10) | st.integers(),
            lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=5), c, max_size=3),
            max_leaves=10,
        ),
        max_size=6,
    )
)
@settings(max_examples=200, deadline=None)
def test_random_yaml_pack_fails_cleanly(tmp_path_factory, data) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path_factory.mktemp("pack") / "pack.yaml"
    path.write_text(yaml.safe_dump(data))
    with contextlib.suppress(AssistantError):
        Matcher(load_pack(path))
