"""Echo cancellation: take what the loudspeaker plays out of what the microphone hears, so a user can
speak up over the assistant's own voice.

The speaker hands every block it plays to ``EchoCanceller.played``, stamped with when it is played; the
microphone stage passes each captured chunk through ``EchoCanceller.cancelled``, stamped with when it was
captured, and the canceller pairs the two by time (a listener that reads late stays paired). Two filters run
on the same pairing, in 10 ms frames: WebRTC's AEC3 (``livekit``) takes the echo far down but the user's
words with it while both sound, so its output says *when* someone spoke (the endpointer's detection); Speex's
multi-delay filter (``pyaec``) takes less echo out but keeps the words, so its output is *what* was said (the
audio the recogniser reads). While nothing has been played for longer than the filters' tail, the
microphone's audio passes through untouched. Measured: DECISIONS.md, "Speaking up over the assistant's own
voice".
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import soxr

from .io import SAMPLE_RATE
from .vad import Heard

FRAME = SAMPLE_RATE // 100
"""Both filters work on 10 ms frames (AEC3 takes nothing else)."""

SPEEX_FILTER_SAMPLES = 4096
"""Speex's echo path length: 256 ms, room for the loudspeaker's latency and a room's reverberation."""

TAIL_S = 0.5
"""After this long with nothing played, the microphone passes through untouched (the echo has died away)."""

TIMELINE_S = 30.0
"""How much played audio is kept for pairing with a microphone that reads late."""

REANCHOR_S = 0.02
"""A chunk stamped this far from where counting samples puts it starts a new count (dropped audio, a reopen)."""

class EchoUnavailable(Exception):
    """The filters' libraries are missing or would not start (the message says which)."""


def _filters() -> tuple[Any, Any]:
    """New AEC3 and Speex filters; ``EchoUnavailable`` when a library is missing or fails."""
    try:
        from livekit.rtc import AudioProcessingModule
        from pyaec import Aec
    except Exception as error:  # noqa: BLE001 - a missing package or its native library failing to load
        raise EchoUnavailable(f"needs the livekit and pyaec packages ({error})") from None
    try:
        return AudioProcessingModule(echo_cancellation=True), Aec(FRAME, SPEEX_FILTER_SAMPLES, SAMPLE_RATE, False)
    except Exception as error:  # noqa: BLE001 - the native side refusing to start
        raise EchoUnavailable(f"the filters did not start ({error})") from None


def available() -> str | None:
    """None when echo cancellation can run here, otherwise why not (one line)."""
    try:
        _filters()
    except EchoUnavailable as error:
        return str(error)
    return None


class EchoCanceller:
    """Pairs what the loudspeaker played with what the microphone heard, by time, and cancels the echo.

    ``played`` may be called from the speaker's thread while ``cancelled`` runs in the listener's.
    """

    def __init__(self, tail_s: float = TAIL_S) -> None:
        self._apm, self._speex = _filters()
        self._tail = round(tail_s * SAMPLE_RATE)
        size = round(TIMELINE_S * SAMPLE_RATE)
        self._audio = np.zeros(size, dtype=np.int16)
        self._owner = np.full(size, -1, dtype=np.int64)
        """Which absolute sample each slot of the ring holds (a slot of another time reads as silence)."""
        self._sounding_until = -(1 << 62)
        self._lock = threading.Lock()
        self._next: int | None = None
        self._pending = np.zeros(0, dtype=np.int16)

    def played(self, samples: np.ndarray, rate: int, at: float) -> None:
        """The loudspeaker plays float ``samples`` at ``rate`` from ``at`` seconds (``time.monotonic``)."""
        audio = soxr.resample(np.asarray(samples, dtype=np.float32), rate, SAMPLE_RATE) if rate != SAMPLE_RATE else samples
        pcm = np.clip(np.rint(np.asarray(audio, dtype=np.float64) * 32767), -32768, 32767).astype(np.int16)
        if not len(pcm):
            return
        start = round(at * SAMPLE_RATE)
        where = np.arange(start, start + len(pcm)) % len(self._audio)
        with self._lock:
            self._audio[where] = pcm
            self._owner[where] = np.arange(start, start + len(pcm))
            if np.any(pcm):
                self._sounding_until = max(self._sounding_until, start + len(pcm))

    def reference(self, start: int, length: int) -> np.ndarray:
        """The played audio from absolute sample ``start`` on (silence where nothing was played)."""
        index = np.arange(start, start + length)
        where = index % len(self._audio)
        with self._lock:
            return np.where(self._owner[where] == index, self._audio[where], 0).astype(np.int16)

    def _sounding(self, start: int, length: int) -> bool:
        """Whether anything played in the tail before this span, or during it, can still be heard."""
        with self._lock:
            if start >= self._sounding_until + self._tail:
                return False
        return bool(np.any(self.reference(start - self._tail, self._tail + length)))

    def cancel(self, chunk: np.ndarray, captured_at: float) -> Heard:
        """One microphone chunk (int16), its first sample captured at ``captured_at`` seconds: the chunk
        itself while nothing sounds, else (AEC3's output, Speex's output), in whole 10 ms frames (what is
        left over comes with the next chunk)."""
        stamped = round(captured_at * SAMPLE_RATE)
        if self._next is None or abs(stamped - self._next) > REANCHOR_S * SAMPLE_RATE:
            self._next = stamped
        start = self._next - len(self._pending)  # the samples held back from the last chunk come first
        self._next += len(chunk)
        data = np.concatenate([self._pending, chunk]) if len(self._pending) else np.asarray(chunk, dtype=np.int16)
        if not self._sounding(start, len(data)):
            self._pending = np.zeros(0, dtype=np.int16)
            return data
        whole = len(data) // FRAME * FRAME
        self._pending = data[whole:].copy()
        detection = data[:whole].copy()
        content = data[:whole].copy()
        reference = self.reference(start, whole)
        for offset in range(0, whole, FRAME):
            part = slice(offset, offset + FRAME)
            detection[part] = self._aec3(data[part], reference[part])
            content[part] = self._speex.cancel_echo(data[part].tolist(), reference[part].tolist())
        return detection, content

    def _aec3(self, frame: np.ndarray, reference: np.ndarray) -> np.ndarray:
        from livekit.rtc import AudioFrame

        self._apm.process_reverse_stream(AudioFrame(reference.tobytes(), SAMPLE_RATE, 1, FRAME))
        self._apm.set_stream_delay_ms(0)  # the timeline already pairs them; AEC3 finds the acoustic delay
        near = AudioFrame(frame.tobytes(), SAMPLE_RATE, 1, FRAME)
        self._apm.process_stream(near)
        return np.frombuffer(bytes(near.data), dtype=np.int16)

    def cancelled(self, chunks: Iterable[tuple[np.ndarray, float]]) -> Iterator[Heard]:
        """``cancel`` over a stream of (chunk, captured_at)."""
        for chunk, captured_at in chunks:
            heard = self.cancel(chunk, captured_at)
            if not isinstance(heard, tuple) and not len(heard):
                continue
            yield heard

