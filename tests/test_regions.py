"""Regions: the emergency numbers and crisis lines the replies name, chosen by --region."""

from pathlib import Path

import pytest

from assistant import compiled
from assistant.checks import check_pack
from assistant.cli import main
from assistant.dialogue import Dialogue
from assistant.errors import BadInput
from assistant.match import Matcher
from assistant.pack import BLANK, Pack, load_pack, map_texts, pack_from_dict, read_pack

FIXTURE = Path(__file__).parent / "fixtures" / "coffee_pack.yaml"

NUMBERS = {"us": "nine one one", "gb": "nine nine nine", "eu": "one one two", "ie": "one one two"}
"""The emergency number each bundled region names (the bundled pack's own words)."""

TINY = {
    "sources": {"seed": {"title": "the article"}},
    "intents": {
        "help_now": {
            "data": [{"sentences": ["help me now"]}],
            "emergency": True,
            "answer": {"say": "Call {emergency} now.", "sources": ["seed"]},
        }
    },
    "regions": {
        "here": {"name": "here", "sources": ["seed"], "emergency": "one two three"},
        "there": {"name": "there", "sources": ["seed"], "emergency": "four five six"},
    },
}


def _replies(pack: Pack) -> list[str]:
    texts: list[str] = []

    def keep(text: str) -> str:
        texts.append(text)
        return text

    map_texts((pack.behaviours, pack.triage, pack.dispositions, pack.routines), keep)
    return texts


@pytest.mark.parametrize("region", [None, "any", "us", "gb", "ie", "eu"])
def test_every_bundled_region_fills_every_blank(region: str | None) -> None:
    pack = load_pack(region=region)
    filled = set(next(iter(pack.regions.values())).says)
    left = [text for text in _replies(pack) if set(BLANK.findall(text)) & filled]
    assert not left and pack.region == (region or "any")


@pytest.mark.parametrize("region", ["us", "gb", "eu"])
def test_a_region_names_its_own_number_and_no_other(region: str) -> None:
    pack = load_pack(region=region)
    advice = pack.emergency_advice()
    assert advice and NUMBERS[region] in " ".join(advice).lower()
    others = {number for code, number in NUMBERS.items() if number != NUMBERS[region]}
    assert not [text for text in advice for number in others if number in text.lower()]


def test_the_default_names_every_number() -> None:
    said = load_pack().behaviours["cardiac_arrest"].answer.say.lower()  # type: ignore[union-attr]
    assert all(number in said for number in ("nine one one", "nine nine nine", "one one two"))


def test_a_crisis_hears_the_regions_crisis_line() -> None:
    assert "nine eight eight" in load_pack(region="us").behaviours["crisis"].answer.say  # type: ignore[union-attr]
    gb = load_pack(region="gb").behaviours["crisis"].answer.say  # type: ignore[union-attr]
    assert "one one six, one two three" in gb and "nine eight eight" not in gb


def test_emergency_advice_in_a_region_is_still_said_urgently() -> None:
    pack = load_pack(region="gb")
    turn = Dialogue(pack).handle(Matcher(pack).match("he is not breathing"))
    assert pack.says_urgently(turn.say) and "nine nine nine" in " ".join(turn.say)


def test_an_unknown_region_is_refused_with_the_known_ones() -> None:
    with pytest.raises(BadInput, match="unknown region 'mars'; this pack knows: any, us, gb, ie, eu"):
        load_pack(region="mars")
    with pytest.raises(BadInput, match="names no regions"):
        load_pack(FIXTURE, region="gb")
    assert load_pack(FIXTURE).region is None  # a pack without regions is as it was


def test_a_pack_fills_its_blanks_from_its_own_regions() -> None:
    pack = pack_from_dict(dict(TINY))
    assert pack.localised().behaviours["help_now"].answer.say == "Call one two three now."  # type: ignore[union-attr]
    assert pack.localised("there").behaviours["help_now"].answer.say == "Call four five six now."  # type: ignore[union-attr]
    assert pack.behaviours["help_now"].answer.say == "Call {emergency} now."  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="already localised"):
        pack.localised("here").localised("there")


def test_regions_must_fill_the_same_blanks_and_not_the_dialogues_own() -> None:
    uneven = {**TINY, "regions": {**TINY["regions"], "far": {"name": "far", "crisis": "seven"}}}
    with pytest.raises(
        BadInput, match="region 'far' must fill the same blanks as 'here' \\(emergency\\); it fills crisis"
    ):
        pack_from_dict(uneven)
    reserved = {**TINY, "regions": {"here": {"name": "here", "seconds": "ten"}}}
    with pytest.raises(BadInput, match="seconds is a blank the dialogue fills"):
        pack_from_dict(reserved)
    with pytest.raises(BadInput, match="region 'here' needs a 'name' text"):
        pack_from_dict({**TINY, "regions": {"here": {"emergency": "one"}}})


def test_check_intents_names_a_blank_no_region_fills_and_a_region_without_sources() -> None:
    typo = {
        **TINY,
        "intents": {
            "help_now": {**TINY["intents"]["help_now"], "answer": {"say": "Call {emergncy}.", "sources": ["seed"]}}
        },
        "regions": {"here": {"name": "here", "emergency": "one"}},
    }
    found = [problem.message for problem in check_pack(pack_from_dict(typo))]
    assert "intent 'help_now' says {emergncy}, which no region fills" in found
    assert "region 'here' names no sources" in found
    assert check_pack(pack_from_dict(dict(TINY))) == []
    assert check_pack(read_pack()) == []


def test_one_compiled_matcher_serves_every_region(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    gb = compiled.load_matcher(None, cache, region="gb")
    us = compiled.load_matcher(None, cache, region="us")
    assert len([p for p in cache.iterdir() if p.is_dir()]) == 1
    assert (gb.pack.region, us.pack.region) == ("gb", "us")
    assert gb.match("he is not breathing").intent == us.match("he is not breathing").intent == "cardiac_arrest"


def test_region_from_the_command_line_and_the_environment(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["ask", "--region", "gb", "he is not breathing"]) == 0
    out = capsys.readouterr().out
    assert "nine nine nine" in out and "nine one one" not in out
    monkeypatch.setenv("ASSISTANT_REGION", "us")
    assert main(["ask", "he is not breathing"]) == 0
    out = capsys.readouterr().out
    assert "nine one one" in out and "nine nine nine" not in out
    assert main(["ask", "--region", "eu", "he is not breathing"]) == 0  # the option wins over the environment
    assert "one one two" in capsys.readouterr().out


def test_a_bad_region_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ask", "--region", "atlantis", "why is my eye twitching"]) == 2
    _, err = capsys.readouterr()
    assert err.strip() == "assistant: error: unknown region 'atlantis'; this pack knows: any, us, gb, ie, eu"


def test_the_start_line_says_which_numbers_and_how_to_choose() -> None:
    from assistant.cli import _region_notice

    assert _region_notice(load_pack()).endswith("; --region us|gb|ie|eu names one place's.")
    assert _region_notice(load_pack(region="gb")) == "Emergency numbers for the United Kingdom (--region to change)."
