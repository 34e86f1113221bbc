"""Who the assistant listens to: the wake phrase, always-listening, and replies that need none."""

import pytest

from assistant.errors import AssistantError
from assistant.session import WakePhrase


def test_wake_phrase_starts_a_turn_and_is_stripped() -> None:
    wake = WakePhrase("hey coach", "wake")
    assert wake.addressed("hey coach why is my eye twitching", awaiting_reply=False) == "why is my eye twitching"
    assert wake.addressed("Hey, coach! my calf is cramping", awaiting_reply=False) == "my calf is cramping"


def test_speech_without_the_wake_phrase_is_ignored_when_nothing_is_pending() -> None:
    wake = WakePhrase("hey coach", "wake")
    assert wake.addressed("why is my eye twitching", awaiting_reply=False) is None


def test_replies_to_a_pending_question_need_no_wake_phrase() -> None:
    wake = WakePhrase("hey coach", "wake")
    assert wake.addressed("yes", awaiting_reply=True) == "yes"


def test_wake_phrase_alone_arms_the_next_turn() -> None:
    wake = WakePhrase("hey coach", "wake")
    assert wake.addressed("hey coach", awaiting_reply=False) == ""
    assert wake.addressed("my hamstring is cramping", awaiting_reply=False) == "my hamstring is cramping"
    assert wake.addressed("and another thing", awaiting_reply=False) is None


def test_a_misheard_wake_phrase_still_counts() -> None:
    assert WakePhrase("hey coach", "wake").addressed("hey coat pause", awaiting_reply=False) == "pause"


def test_always_listening_takes_everything() -> None:
    wake = WakePhrase("hey coach", "always")
    assert wake.addressed("why is my eye twitching", awaiting_reply=False) == "why is my eye twitching"
    assert wake.addressed("hey coach stop", awaiting_reply=False) == "stop"


def test_unknown_mode_is_refused() -> None:
    with pytest.raises(AssistantError, match="listening mode"):
        WakePhrase("hey coach", "sometimes")
