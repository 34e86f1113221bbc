"""Microphone turns through a fake sounddevice stream, and file turns."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sounddevice
from asr_fixtures import speak

from assistant.audio.io import load_audio
from assistant.audio.mic import FileTurns, MicrophoneTurns
from assistant.audio.vad import FRAME_SAMPLES
from assistant.clock import FakeClock
from assistant.errors import AssistantError, BadInput


class FakeStream:
    """Behaves like sounddevice.RawInputStream: a context manager whose read(frames) returns (bytes, overflowed).

    Plays ``audio`` then returns empty reads (end of test), or raises PortAudioError after
    ``fail_after`` frames to simulate a microphone being unplugged.
    """

    opened: list[FakeStream] = []

    def __init__(self, audio: np.ndarray, fail_after: int | None = None, **kwargs: Any) -> None:
        self.audio = audio
        self.position = 0
        self.fail_after = fail_after
        self.kwargs = kwargs
        self.active = False
        self.closed = False

    def __enter__(self) -> FakeStream:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()
        self.close()

    def start(self) -> None:
        self.active = True

    def stop(self) -> None:
        self.active = False

    def close(self) -> None:
        self.closed = True

    def read(self, frames: int) -> tuple[bytes, bool]:
        assert self.active, "read from a stream that was not started"
        if self.fail_after is not None and self.position >= self.fail_after:
            raise sounddevice.PortAudioError("Error opening InputStream: Device unavailable [PaErrorCode -9985]")
        chunk = self.audio[self.position : self.position + frames]
        self.position += frames
        return chunk.tobytes(), False


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * 16000), dtype=np.int16)


@pytest.fixture()
def two_turns(tmp_path: Path) -> np.ndarray:
    yes = load_audio(speak(tmp_path, "yes please", lead_s=0, tail_s=0))
    calf = load_audio(speak(tmp_path, "my calf is cramping", lead_s=0, tail_s=0))
    return np.concatenate([silence(0.8), yes, silence(1.2), calf, silence(1.2)])


def test_turns_from_a_microphone_stream(two_turns: np.ndarray) -> None:
    streams: list[FakeStream] = []

    def factory(**kwargs: Any) -> FakeStream:
        streams.append(FakeStream(two_turns, **kwargs))
        return streams[-1]

    turns = list(MicrophoneTurns(stream_factory=factory))
    assert len(turns) == 2
    assert turns[0].start_s < turns[1].start_s
    assert (
        streams[0].kwargs["samplerate"] == 16000
        and streams[0].kwargs["channels"] == 1
        and streams[0].kwargs["dtype"] == "int16"
    )
    assert streams[0].closed


def test_unplugged_microphone_is_reopened(two_turns: np.ndarray) -> None:
    streams: list[FakeStream] = []
    notices: list[str] = []

    def factory(**kwargs: Any) -> FakeStream:
        # The first stream dies after the first turn; the reopened one works.
        fail = 2 * 16000 if not streams else None
        streams.append(FakeStream(two_turns if not streams else two_turns[2 * 16000 :], fail_after=fail, **kwargs))
        return streams[-1]

    turns = list(MicrophoneTurns(stream_factory=factory, clock=FakeClock(), on_notice=notices.append))
    assert len(streams) == 2 and streams[0].closed
    assert len(turns) == 2
    assert notices and "reopening" in notices[0]


def test_microphone_that_stays_gone_ends_with_a_message(two_turns: np.ndarray) -> None:
    def factory(**kwargs: Any) -> FakeStream:
        return FakeStream(two_turns, fail_after=FRAME_SAMPLES * 3, **kwargs)

    clock = FakeClock()
    mic = MicrophoneTurns(
        device="USB mic", stream_factory=factory, reopen_attempts=3, clock=clock, on_notice=lambda _: None
    )
    with pytest.raises(AssistantError, match="'USB mic' stopped working.*plugged in"):
        list(mic)
    assert clock.now() > 0  # it waited between attempts


def test_unknown_device_is_a_clear_error() -> None:
    def factory(**kwargs: Any) -> FakeStream:
        raise ValueError("No input device matching 'nonexistent'")

    with pytest.raises(AssistantError, match="assistant devices"):
        list(MicrophoneTurns(device="nonexistent", stream_factory=factory))


def test_each_file_is_one_turn(tmp_path: Path) -> None:
    a = speak(tmp_path, "yes")
    b = speak(tmp_path, "my calf is cramping")
    turns = list(FileTurns([a, b]))
    assert [t.source for t in turns] == [str(a), str(b)]
    heard = [np.concatenate(list(t.chunks)) for t in turns]
    assert len(heard[1]) > len(heard[0]) > 0


def test_bad_file_fails_at_its_turn_with_its_name(tmp_path: Path) -> None:
    good = speak(tmp_path, "yes")
    turns = iter(FileTurns([good, tmp_path / "missing.wav"]))
    next(turns)
    with pytest.raises(BadInput, match="missing.wav"):
        next(turns)


class BufferedStream(FakeStream):
    """A stream whose first ``buffered`` samples were captured before the reader came back (as PortAudio
    buffers input between reads): ``read_available`` reports them, like sounddevice's."""

    def __init__(self, audio: np.ndarray, buffered: int, **kwargs: Any) -> None:
        super().__init__(audio, **kwargs)
        self.buffered = buffered

    @property
    def read_available(self) -> int:
        return max(0, self.buffered - self.position)


def test_push_to_talk_drops_what_was_said_before_the_key_press(two_turns: np.ndarray) -> None:
    before_second = int((0.8 + 1.0) * 16000) + 16000  # inside the pause after "yes please"
    mic = MicrophoneTurns(stream_factory=lambda **kw: BufferedStream(two_turns, before_second, **kw))
    mic.listen_from_now()
    turns = list(mic)
    assert len(turns) == 1
    assert turns[0].start_s >= before_second / 16000 - 0.35  # only the second sentence (with its lead-in)


def test_push_to_talk_command_line_waits_for_enter_each_turn(
    two_turns: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    from assistant import cli

    presses = iter(["", ""])

    def enter(prompt: str) -> str:
        try:
            return next(presses)
        except StopIteration:
            raise EOFError from None

    monkeypatch.setattr("builtins.input", enter)
    mic = MicrophoneTurns(stream_factory=lambda **kw: BufferedStream(two_turns, 0, **kw))
    turns = list(cli._push_to_talk(mic))
    assert len(turns) == 2
