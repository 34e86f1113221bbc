"""Safety: every emergency phrasing, typed the way people say it, wins in every dialogue state of the
bundled pack, through the real matcher and dialogue."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from assistant.clock import FakeClock
from assistant.dialogue import Dialogue
from assistant.match import Matcher
from assistant.pack import load_pack

PACK = load_pack()
MATCHER = Matcher(PACK)
PHRASINGS = [json.loads(line) for line in (Path(__file__).parent / "data" / "phrasings.jsonl").read_text().splitlines()]
EMERGENCIES = [item["text"] for item in PHRASINGS if item["intent"] == "emergency"]
NUMBER_READINGS = [
    "call nine hundred eleven",
    "call nine eleven",
    "dial nine hundred and ninety nine",
    "call one hundred twelve",
]
"""Emergency numbers as a recogniser's open vocabulary writes them (flite and festival read 911 aloud
as "nine hundred eleven", and the general language model writes it so)."""


def say(dialogue: Dialogue, text: str) -> None:
    dialogue.handle(MATCHER.match(text, dialogue.context()))


SETUPS: dict[str, Callable[[Dialogue], None]] = {
    "idle": lambda d: None,
    "follow_up": lambda d: say(d, "why is my eye twitching"),
    "triage": lambda d: say(d, "is twitching a sign of ALS"),
    "choose_muscle": lambda d: say(d, "I have a cramp"),
    "routine": lambda d: say(d, "my calf is cramping"),
    "paused": lambda d: (say(d, "my calf is cramping"), say(d, "pause")),
}


def test_there_are_emergency_phrasings_to_check() -> None:
    assert len(EMERGENCIES) >= 5


@pytest.mark.parametrize("state", list(SETUPS))
@pytest.mark.parametrize("text", EMERGENCIES + NUMBER_READINGS)
def test_emergency_phrase_wins_in_every_state(state: str, text: str) -> None:
    dialogue = Dialogue(PACK, FakeClock())
    SETUPS[state](dialogue)
    assert dialogue.state.value == state
    match = MATCHER.match(text, dialogue.context())
    assert match.intent == "emergency", (text, match.closest, match.confidence)
    turn = dialogue.handle(match)
    advice = " ".join(turn.say).lower()
    assert "emergency" in advice or "999" in advice or "911" in advice
    assert dialogue.state.value == "idle"
    assert dialogue.poll() == []  # nothing carries on after the advice
