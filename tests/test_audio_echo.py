"""Echo cancellation: the loudspeaker's reply taken out of what the microphone hears, the user's words kept.

Real filters (WebRTC AEC3 from livekit, Speex from pyaec); the room is a delay and a reverberant tail."""

from __future__ import annotations

import builtins
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fakes import FakeOutputStream, room_path

from assistant.audio.echo import EchoCanceller, EchoUnavailable
from assistant.audio.io import SAMPLE_RATE, load_audio
from assistant.audio.vad import Endpointer, level_db
from assistant.cli import _echo_canceller
from assistant.tts import Speaker

SAMPLES = Path(__file__).resolve().parent.parent / "assistant" / "samples"
START = 1000.0
"""Clock time the scene starts at (any: the canceller pairs by time)."""
CHUNK = 512


def reply() -> np.ndarray:
    """17 s of speech (the bundled recordings, twice) as float samples at 16 kHz: what the loudspeaker plays."""
    names = ["01-eye", "03-als", "08-cramp", "11-left", "07-yes", "10-resume"] * 2
    audio = np.concatenate([load_audio(SAMPLES / f"{name}.wav") for name in names]).astype(np.float32) / 32768
    return audio / np.max(np.abs(audio)) * 0.5


def scene(word_at_s: float | None, against_echo_db: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(reply, microphone, word): the reply through the room, "stop" said over it at ``word_at_s``, a noise floor."""
    played = reply()
    echo = np.convolve(played * 32767.0, room_path())[: len(played)]
    word = load_audio(SAMPLES / "12-stop.wav").astype(np.float64)
    word *= 10 ** ((level_db(echo) - level_db(word) + against_echo_db) / 20)
    microphone = echo + np.random.default_rng(0).standard_normal(len(echo)) * 15
    if word_at_s is not None:
        at = int(word_at_s * SAMPLE_RATE)
        microphone[at : at + len(word)] += word
    return played, np.clip(np.rint(microphone), -32768, 32767).astype(np.int16), word


def run(canceller: EchoCanceller, played: np.ndarray, microphone: np.ndarray, late_s: float = 0.0) -> list[Any]:
    """Play ``played`` from START and pass the microphone through in chunks; with ``late_s`` the listener reads
    each chunk that long after it was captured (stamped as ``MicrophoneTurns`` stamps it)."""
    for start in range(0, len(played), 1024):
        canceller.played(played[start : start + 1024], SAMPLE_RATE, START + start / SAMPLE_RATE)
    out = []
    for start in range(0, len(microphone), CHUNK):
        chunk = microphone[start : start + CHUNK]
        now = START + (start + len(chunk)) / SAMPLE_RATE + late_s
        unread = round(late_s * SAMPLE_RATE)
        out.append(canceller.cancel(chunk, now - (len(chunk) + unread) / SAMPLE_RATE))
    return out


def streams(out: list[Any]) -> tuple[np.ndarray, np.ndarray]:
    detection = np.concatenate([o[0] if isinstance(o, tuple) else o for o in out])
    content = np.concatenate([o[1] if isinstance(o, tuple) else o for o in out])
    return detection, content


def test_the_echo_is_taken_down_and_the_word_kept() -> None:
    played, microphone, word = scene(word_at_s=9.0)
    detection, content = streams(run(EchoCanceller(), played, microphone))
    echo_only = slice(5 * SAMPLE_RATE, int(8.5 * SAMPLE_RATE))
    assert level_db(microphone[echo_only]) - level_db(content[echo_only]) >= 12  # measured 19 dB
    said = slice(9 * SAMPLE_RATE, 9 * SAMPLE_RATE + len(word))
    assert np.corrcoef(content[said].astype(np.float64), word[: len(content[said])])[0, 1] > 0.5  # measured 0.65
    endpointer = Endpointer()
    turns = endpointer.feed((detection, content)) + endpointer.flush()
    assert [round(turn.start_s) for turn in turns] == [9]  # one turn, at the word: none made of the reply


def test_nothing_playing_passes_the_microphone_through_untouched() -> None:
    _, microphone, _ = scene(word_at_s=3.0)
    out = run(EchoCanceller(), np.zeros(0, dtype=np.float32), microphone)
    assert all(not isinstance(chunk, tuple) for chunk in out)
    assert all(np.array_equal(a, microphone[i * CHUNK : (i + 1) * CHUNK]) for i, a in enumerate(out))


def test_a_listener_that_reads_late_stays_paired() -> None:
    played, microphone, _ = scene(word_at_s=9.0)
    on_time = streams(run(EchoCanceller(), played, microphone))
    late = streams(run(EchoCanceller(), played, microphone, late_s=1.5))
    assert np.array_equal(on_time[1], late[1]) and np.array_equal(on_time[0], late[0])


def test_the_microphone_passes_through_again_once_the_echo_has_died_away() -> None:
    played, microphone, _ = scene(word_at_s=None)
    quiet = np.zeros(2 * SAMPLE_RATE, dtype=np.int16) + 3
    out = run(EchoCanceller(), played[: 3 * SAMPLE_RATE], np.concatenate([microphone[: 3 * SAMPLE_RATE], quiet]))
    after = out[-(SAMPLE_RATE // CHUNK) :]  # the last second: more than the tail after the reply ended
    assert all(not isinstance(chunk, tuple) for chunk in after)
    assert np.array_equal(np.concatenate(after)[-CHUNK:], quiet[-CHUNK:])


def test_missing_libraries_turn_it_off_with_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real_import = builtins.__import__

    def no_pyaec(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "pyaec":
            raise ImportError("No module named 'pyaec'")
        return real_import(name, *args, **kwargs)

    monkeypatch.delitem(sys.modules, "pyaec", raising=False)
    monkeypatch.setattr(builtins, "__import__", no_pyaec)
    with pytest.raises(EchoUnavailable, match="pyaec"):
        EchoCanceller()
    speaker = Speaker(play=True, output_stream=FakeOutputStream, print_unheard=False)
    assert _echo_canceller("auto", speaker) is None
    err = capsys.readouterr().err
    assert err.startswith("echo cancellation: off (needs the livekit and pyaec packages") and err.count("\n") == 1
    assert speaker.on_played is None


def test_on_when_replies_are_played_and_off_when_they_are_not(capsys: pytest.CaptureFixture[str]) -> None:
    playing = Speaker(play=True, output_stream=FakeOutputStream, print_unheard=False)
    assert _echo_canceller("auto", playing) is not None and playing.on_played is not None
    assert capsys.readouterr().err == "echo cancellation: on (WebRTC AEC3 + Speex)\n"
    silent = Speaker(play=False, print_unheard=False)
    assert _echo_canceller("on", silent) is None
    assert capsys.readouterr().err == "echo cancellation: off (replies are not played through speakers)\n"
    assert _echo_canceller("off", Speaker(play=True, output_stream=FakeOutputStream, print_unheard=False)) is None
    assert capsys.readouterr().err == "echo cancellation: off (--echo-cancel off)\n"
