"""The normaliser: what a user types or an engine hears becomes plain words."""

import pytest

from assistant.normalize import MAX_CHARS, normalize


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Why is my EYE twitching?!", "why is my eye twitching"),
        ("I can't breathe", "i can not breathe"),
        ("I cannot breathe", "i can not breathe"),
        ("what’s going on", "what is going on"),
        ("hold 30 seconds", "hold thirty seconds"),
        ("my 2nd set", "my second set"),
        ("front-of-my-thigh", "front of my thigh"),
        ("I'm cramping, I've tried water", "i am cramping i have tried water"),
        ("   ", ""),
        ("call 911", "call nine one one"),
        ("or call 111 in the UK", "or call one one one in the uk"),
        ("rest 120 seconds", "rest one hundred and twenty seconds"),
        ("what causes cramps, anyway?", "what causes cramps any way"),  # a recogniser may write "any way"
        ("Anytime I run", "any time i run"),
        ("companyway", "companyway"),  # only whole words
    ],
)
def test_normalize(text: str, expected: str) -> None:
    assert normalize(text) == expected


def test_unicode_and_symbols_do_not_break_it() -> None:
    assert normalize("ＣＡＬＦ ⚡ cramp 🙃") == "calf cramp"


def test_very_long_input_is_cut() -> None:
    assert len(normalize("cramp " * 100_000)) <= MAX_CHARS


def test_a_compound_written_as_two_words_still_matches() -> None:
    from assistant.match import Matcher
    from assistant.pack import load_pack

    matcher = Matcher(load_pack())
    heard = matcher.match("what causes cramps any way")  # as PocketSphinx wrote "anyway" in the spoken set
    assert (heard.intent, heard.confidence) == ("spasm_causes", 1.0)
    assert matcher.match("is there any way to stop cramps").intent == "prevent_cramps"
