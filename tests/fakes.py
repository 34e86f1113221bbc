"""Fakes for what the test machine does not have (a microphone, a sound card, a full disk), shared
test audio made with espeak-ng and numpy, and one real PocketSphinx engine per test process.

Everything else the soak and fault tests use is the real component.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sounddevice
import soxr

from assistant.asr.base import Audio, PartialCallback, SpeechEngine
from assistant.asr.choose import open_engine
from assistant.audio.io import SAMPLE_RATE, load_audio
from assistant.clock import FakeClock
from assistant.messages import Transcript
from assistant.pack import Pack, load_pack
from assistant.tts import NeuralVoice, Speaker

UNPLUGGED = "Error opening InputStream: Device unavailable [PaErrorCode -9985]"


class FakeMicStream:
    """Behaves like ``sounddevice.RawInputStream`` (context manager, ``read(frames) -> (bytes, overflowed)``).

    Reads continue from the microphone's position, so audio time runs on across reopenings;
    ``read`` returns nothing at the end of the audio, which ends the listening loop.
    """

    def __init__(self, microphone: FakeMicrophone, **kwargs: Any) -> None:
        self.microphone = microphone
        self.kwargs = kwargs
        self.active = False
        self.closed = False

    def __enter__(self) -> FakeMicStream:
        self.active = True
        return self

    def __exit__(self, *exc: Any) -> None:
        self.active = False
        self.closed = True
        self.microphone.open_streams -= 1

    def read(self, frames: int) -> tuple[bytes, bool]:
        assert self.active, "read from a stream that was not started"
        return self.microphone.read(frames), False


@dataclass
class FakeMicrophone:
    """A stream factory for ``MicrophoneTurns`` that plays ``audio`` (16 kHz int16) as fast as it is read.

    ``unplug_at`` lists sample positions where the device fails mid-read with PortAudioError;
    for ``outage_opens`` openings after each failure it cannot be opened (PortAudioError
    again), then it comes back. ``gone_at`` is a position after which it never works again.
    """

    audio: np.ndarray
    """What the microphone hears."""
    unplug_at: Sequence[int] = ()
    """Sample positions where a read fails."""
    outage_opens: int = 0
    """Failed openings after each unplug before the device comes back."""
    gone_at: int | None = None
    """Sample position after which every read and open fails."""
    position: int = 0
    opened: int = 0
    open_streams: int = 0
    failures: int = 0
    _pending_unplugs: list[int] = field(default_factory=list)
    _outage_left: int = 0

    def __post_init__(self) -> None:
        self._pending_unplugs = sorted(self.unplug_at)

    def __call__(self, **kwargs: Any) -> FakeMicStream:
        self.opened += 1
        if self._outage_left > 0 or self._gone():
            self._outage_left = max(0, self._outage_left - 1)
            self.failures += 1
            raise sounddevice.PortAudioError(UNPLUGGED)
        assert kwargs.get("samplerate") == SAMPLE_RATE and kwargs.get("dtype") == "int16"
        self.open_streams += 1
        return FakeMicStream(self, **kwargs)

    def _gone(self) -> bool:
        return self.gone_at is not None and self.position >= self.gone_at

    def read(self, frames: int) -> bytes:
        if self._pending_unplugs and self.position >= self._pending_unplugs[0]:
            self._pending_unplugs.pop(0)
            self._outage_left = self.outage_opens
            self.failures += 1
            raise sounddevice.PortAudioError(UNPLUGGED)
        if self._gone():
            self.failures += 1
            raise sounddevice.PortAudioError(UNPLUGGED)
        chunk = self.audio[self.position : self.position + frames]
        self.position += len(chunk)
        return chunk.tobytes()


class FlakyEngine:
    """A real speech engine whose ``transcribe`` raises on the calls numbered in ``fail_on`` (1-based)."""

    def __init__(self, engine: SpeechEngine, fail_on: Iterable[int] = (1,), error: Exception | None = None) -> None:
        self.engine = engine
        self.name = engine.name
        self.noise_suppression = engine.noise_suppression
        self.fail_on = set(fail_on)
        self.error = error if error is not None else RuntimeError("decoder crashed: ps_process_raw returned -1")
        self.calls = 0

    def transcribe(
        self, samples: Audio, expects: str | None = None, on_partial: PartialCallback | None = None
    ) -> Transcript:
        self.calls += 1
        if self.calls in self.fail_on:
            for _ in samples:  # the audio was consumed before the failure, as a real decoder would
                pass
            raise self.error
        return self.engine.transcribe(samples, expects=expects, on_partial=on_partial)

    def describe(self) -> str:
        return self.engine.describe()


class FakeOutputStream:
    """A sound card that takes audio (counted) instead of playing it."""

    def __init__(self, samplerate: int) -> None:
        self.samplerate = samplerate
        self.frames = 0

    def start(self) -> None:
        pass

    def write(self, data: np.ndarray) -> None:
        self.frames += len(data)

    def stop(self) -> None:
        pass

    def abort(self) -> None:
        pass

    def close(self) -> None:
        pass


class RealTimeOutput(FakeOutputStream):
    """A sound card that takes audio as fast as it would play it."""

    def write(self, data: np.ndarray) -> None:
        super().write(data)
        time.sleep(len(data) / self.samplerate)


class ClockedOutput(FakeOutputStream):
    """A sound card that plays in no time but moves a fake clock on by the length of what it plays."""

    def __init__(self, samplerate: int, clock: FakeClock) -> None:
        super().__init__(samplerate)
        self.clock = clock

    def write(self, data: np.ndarray) -> None:
        super().write(data)
        self.clock.advance(len(data) / self.samplerate)


@functools.cache
def bundled_pack() -> Pack:
    """The bundled intent pack, loaded once."""
    return load_pack(None)


@functools.cache
def pocketsphinx() -> SpeechEngine:
    """The real PocketSphinx engine for the bundled pack, opened once per test process (start-up is slow)."""
    return open_engine("pocketsphinx", bundled_pack())


def need(*tools: str) -> None:
    """Skip the test when a command-line tool is missing."""
    for tool in tools:
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is needed for this test")


@functools.cache
def spoken(text: str, voice: str = "en-us", rate: int = 150) -> np.ndarray:
    """``text`` said by espeak-ng, as 16 kHz int16 (cached per process)."""
    need("espeak-ng")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "speech.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(rate), "-w", str(path), text], check=True)
        return load_audio(path)


def silence(seconds: float) -> np.ndarray:
    """Digital silence."""
    return np.zeros(int(seconds * SAMPLE_RATE), dtype=np.int16)


def pink_noise(seconds: float, rms: float, rng: np.random.Generator) -> np.ndarray:
    """Pink (1/f) noise at ``rms`` (int16 units): a gym's air handling and traffic."""
    n = int(seconds * SAMPLE_RATE)
    spectrum = rng.standard_normal(n // 2 + 1) + 1j * rng.standard_normal(n // 2 + 1)
    freqs = np.fft.rfftfreq(n, 1 / SAMPLE_RATE)
    spectrum /= np.sqrt(np.maximum(freqs, 20.0))
    noise = np.fft.irfft(spectrum, n)
    return _at_rms(noise, rms)


def babble(seconds: float, rms: float, rng: np.random.Generator) -> np.ndarray:
    """Crowd babble stand-in: speech-band noise with syllable-rate (3-6 Hz) loudness swings from several talkers."""
    n = int(seconds * SAMPLE_RATE)
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1 / SAMPLE_RATE)
    spectrum *= (freqs > 200) & (freqs < 3500)
    carrier = np.fft.irfft(spectrum, n)
    t = np.arange(n) / SAMPLE_RATE
    envelope = np.zeros(n)
    for _ in range(4):
        envelope += 1 + np.sin(2 * np.pi * rng.uniform(3, 6) * t + rng.uniform(0, 2 * np.pi))
    return _at_rms(carrier * envelope, rms)


def _at_rms(signal: np.ndarray, rms: float) -> np.ndarray:
    current = float(np.sqrt(np.mean(np.square(signal)))) or 1.0
    return np.clip(signal * (rms / current), -32768, 32767).astype(np.int16)


def mix(speech: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """Speech over the start of ``noise`` (which must be at least as long)."""
    out = noise[: len(speech)].astype(np.int32) + speech
    return np.clip(out, -32768, 32767).astype(np.int16)


def voice_calls(speaker: Speaker, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Texts the speaker's neural voice is asked to make from now on (it still makes them)."""
    assert isinstance(speaker.voice, NeuralVoice)
    made: list[str] = []
    real = speaker.voice.synthesize

    def counting(text: str) -> tuple[np.ndarray, int]:
        made.append(text)
        return real(text)

    monkeypatch.setattr(speaker.voice, "synthesize", counting)
    return made


def room_path(delay_s: float = 0.04, tail_s: float = 0.12, gain: float = 0.08, seed: int = 7) -> np.ndarray:
    """A loudspeaker-to-microphone impulse response at 16 kHz: ``delay_s`` of travel, the direct sound, then
    a reverberant tail decaying over ``tail_s``."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(tail_s * SAMPLE_RATE)) / SAMPLE_RATE
    tail = rng.standard_normal(len(t)) * np.exp(-t / (tail_s / 4)) * 0.3
    tail[0] = 1.0
    return np.concatenate([np.zeros(int(delay_s * SAMPLE_RATE)), tail]) * gain


class FakeRoom:
    """A loudspeaker and a microphone in one room, in real time: what the fake sound card (``output``) plays
    reaches the fake microphone (the room itself is the ``MicrophoneTurns`` stream factory) through ``path``,
    with what the user ``say``s and a faint noise floor. Times are ``time.monotonic()``, the speaker's and
    the microphone's clock. The microphone hears nothing more after ``close``.
    """

    def __init__(self, path: np.ndarray, seconds: float = 90.0, noise_rms: float = 15.0, seed: int = 0) -> None:
        self.path = path
        self.start = time.monotonic()
        rng = np.random.default_rng(seed)
        self.air = rng.standard_normal(int(seconds * SAMPLE_RATE)) * noise_rms
        self.position = 0
        self.closed = False
        self._lock = threading.Lock()

    def now_index(self) -> int:
        return int((time.monotonic() - self.start) * SAMPLE_RATE)

    def _add(self, audio: np.ndarray, at: float) -> None:
        begin = max(0, round((at - self.start) * SAMPLE_RATE))
        end = min(len(self.air), begin + len(audio))
        with self._lock:
            self.air[begin:end] += audio[: end - begin]

    def played(self, data: np.ndarray, rate: int, at: float) -> None:
        """The loudspeaker plays float ``data`` at ``rate`` from time ``at``."""
        audio = soxr.resample(np.asarray(data, dtype=np.float32).reshape(-1), rate, SAMPLE_RATE) * 32767.0
        self._add(np.convolve(audio, self.path), at)

    def say(self, speech: np.ndarray, at: float) -> None:
        """The user says int16 ``speech`` from time ``at``."""
        self._add(speech.astype(np.float64), at)

    def output(self, samplerate: int) -> RoomOutput:
        """A fake sound card playing into the room (a ``Speaker``'s ``output_stream``)."""
        return RoomOutput(self, samplerate)

    def close(self) -> None:
        self.closed = True

    def __call__(self, **kwargs: Any) -> RoomMicStream:
        assert kwargs.get("samplerate") == SAMPLE_RATE and kwargs.get("dtype") == "int16"
        return RoomMicStream(self)


class RoomOutput(FakeOutputStream):
    """A sound card that plays into a ``FakeRoom``: blocks back to back (a block written within 20 ms of the
    end of the last follows it without a gap), ``write`` returning when only ``latency`` is left queued."""

    latency = 0.01

    def __init__(self, room: FakeRoom, samplerate: int) -> None:
        super().__init__(samplerate)
        self.room = room
        self.ends_at = -1.0

    def write(self, data: np.ndarray) -> None:
        super().write(data)
        now = time.monotonic()
        at = self.ends_at if abs(now + self.latency - self.ends_at) <= 0.02 else now + self.latency
        self.room.played(data, self.samplerate, at)
        self.ends_at = at + len(data) / self.samplerate
        time.sleep(max(0.0, self.ends_at - self.latency - time.monotonic()))


class RoomMicStream:
    """The microphone of a ``FakeRoom``: ``read`` waits until the audio asked for has been heard."""

    def __init__(self, room: FakeRoom) -> None:
        self.room = room

    def __enter__(self) -> RoomMicStream:
        return self

    def __exit__(self, *exc: Any) -> None:
        pass

    @property
    def read_available(self) -> int:
        """Samples heard but not read yet."""
        return max(0, self.room.now_index() - self.room.position)

    def read(self, frames: int) -> tuple[bytes, bool]:
        room = self.room
        end = room.position + frames
        wait = room.start + end / SAMPLE_RATE - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        if room.closed or end > len(room.air):
            return b"", False
        with room._lock:
            chunk = room.air[room.position : end]
        room.position = end
        return np.clip(np.rint(chunk), -32768, 32767).astype(np.int16).tobytes(), False
