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


def test_freed_c_memory_goes_back_to_the_system() -> None:
    """What the C heap freed stays resident until given back (glibc keeps it for reuse)."""
    import ctypes
    import ctypes.util

    import psutil

    from assistant.session import give_back_memory

    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    libc.malloc.restype = ctypes.c_void_p
    libc.free.argtypes = [ctypes.c_void_p]
    blocks = [libc.malloc(4096) for _ in range(50_000)]  # 200 MB in blocks below the mmap threshold
    for block in blocks:
        ctypes.memset(block, 1, 4096)
    pin = blocks.pop()  # the heap's top stays in use, so freeing the rest cannot shrink it by itself
    for block in blocks:
        libc.free(block)
    process = psutil.Process()
    held = process.memory_info().rss
    assert give_back_memory()
    given_back = held - process.memory_info().rss
    libc.free(pin)
    assert given_back > 150 * 2**20, f"only {given_back / 2**20:.0f} MB given back"
