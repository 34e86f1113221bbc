"""Echo cancellation: take what the loudspeaker plays out of what the microphone hears, so a user can
speak up over the assistant's own voice.

The speaker hands every block it plays to ``EchoCanceller.played``, stamped with when it is played; the
microphone stage passes each captured chunk through ``EchoCanceller.cancelled``, stamped with when it was
captured, and the canceller pairs the two by time (a listener that reads late stays paired). Two filters run
on the same pairing, in 10 ms frames: WebRTC's AEC3 (``livekit``) takes the echo far down but the user's
words with it while both sound, so it says *when* someone spoke: the frames it cannot take far down hold more
than the echo. Speex's multi-delay filter (``pyaec``) takes less echo out but keeps the words, so its output is
*what* was said: the audio the recogniser reads, and (in the frames AEC3 marks) what the endpointer's speech
detector hears. While nothing has been played for longer than the filters' tail, the microphone's audio
passes through untouched. Measured: DECISIONS.md, "Speaking up over the assistant's own
voice".
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import soxr

from .io import SAMPLE_RATE
from .vad import Heard, level_db

FRAME = SAMPLE_RATE // 100
"""Both filters work on 10 ms frames (AEC3 takes nothing else)."""

SPEEX_FILTER_SAMPLES = 4096
"""Speex's echo path length: 256 ms, room for the loudspeaker's latency and a room's reverberation."""

TAIL_S = 0.5
"""After this long with nothing played, the microphone passes through untouched (the echo has died away)."""

TIMELINE_S = 30.0
"""How much played audio is kept for pairing with a microphone that reads late."""

NEAR_END_DB = 20.0
"""A 10 ms frame from which AEC3 took less than this holds sound besides the echo: someone speaking. AEC3 takes
25-45 dB out of the echo alone once adapted; measured: DECISIONS.md, "Speaking up over the assistant's own
voice"."""

RESIDUE_GAIN = 0.1
"""Speex's output in frames AEC3 finds nothing but echo in is turned down this much (20 dB) before the
recogniser hears it: what is left of the reply there is garble it would read as words."""

WARM_UP_S = 5.0
"""Nothing heard over the first this-many seconds the loudspeaker plays counts as the user's speech: AEC3 is
still learning the room, and the echo it lets through was taken for commands (DECISIONS.md)."""

CONTIGUOUS_S = 0.02
"""A block stamped this close to the end of the last one follows it without a gap: stamps jitter by a sample
or two, and an echo path that seems to move by that much cannot be cancelled above 1 kHz."""

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
        self._played_until = -(1 << 62)
        self._lock = threading.Lock()
        self._next: int | None = None
        """Absolute sample index the next microphone chunk starts at (counted; stamps only re-anchor it)."""
        self._unfiltered = np.zeros(0, dtype=np.int16)
        """Microphone samples short of a whole filter frame."""
        self._unsaid = np.zeros(0, dtype=np.int16)
        """Microphone samples not handed on yet."""
        self._heard_playing = 0
        """Frames the filters have heard with something playing: until ``WARM_UP_S`` of them, AEC3 is still
        learning the room and its output says nothing about who spoke."""
        self._warm_up = round(WARM_UP_S * SAMPLE_RATE / FRAME)

    def played(self, samples: np.ndarray, rate: int, at: float) -> None:
        """The loudspeaker plays float ``samples`` at ``rate`` from ``at`` seconds (``time.monotonic``)."""
        audio = np.asarray(samples, dtype=np.float32)
        if rate != SAMPLE_RATE:
            audio = soxr.resample(audio, rate, SAMPLE_RATE)
        pcm = np.clip(np.rint(np.asarray(audio, dtype=np.float64) * 32767), -32768, 32767).astype(np.int16)
        if not len(pcm):
            return
        start = round(at * SAMPLE_RATE)
        if abs(start - self._played_until) <= CONTIGUOUS_S * SAMPLE_RATE:
            start = self._played_until  # a sound card plays its blocks back to back, whatever the stamps' jitter
        self._played_until = start + len(pcm)
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
        """One microphone chunk (int16), its first sample captured at ``captured_at`` seconds.

        While nothing sounds, the chunk itself (with any samples held back from the last one). Otherwise
        (detection, content) up to the last whole 10 ms frame (the rest comes with the next chunk). Where AEC3
        leaves sound the echo does not explain (it took less than ``NEAR_END_DB`` out of the frame, once it has
        heard ``WARM_UP_S`` of playing) both are Speex's output; elsewhere detection is silence and content
        Speex's output turned down by ``RESIDUE_GAIN``. The filters run on every frame
        either way, so they stay adapted to the room between replies.
        """
        stamped = round(captured_at * SAMPLE_RATE)
        if self._next is None or abs(stamped - self._next) > REANCHOR_S * SAMPLE_RATE:
            self._next = stamped
        start = self._next - len(self._unfiltered)
        self._next += len(chunk)
        chunk = np.asarray(chunk, dtype=np.int16)
        data = np.concatenate([self._unfiltered, chunk]) if len(self._unfiltered) else chunk
        whole = len(data) // FRAME * FRAME
        self._unfiltered = data[whole:].copy()
        detection, content = self._filtered(data[:whole], self.reference(start, whole))
        unsaid = np.concatenate([self._unsaid, chunk]) if len(self._unsaid) else chunk
        if not self._sounding(start + len(data) - len(unsaid), len(unsaid)):
            self._unsaid = np.zeros(0, dtype=np.int16)
            return unsaid
        ready = len(unsaid) - len(self._unfiltered)  # the samples not handed on yet that were filtered now
        self._unsaid = unsaid[max(0, ready) :].copy()
        return detection[whole - max(0, ready) :], content[whole - max(0, ready) :]

    def _filtered(self, audio: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(detection, content) of whole 10 ms frames of microphone ``audio`` and the ``reference`` played then."""
        detection = np.zeros_like(audio)
        content = np.empty_like(audio)
        for offset in range(0, len(audio), FRAME):
            part = slice(offset, offset + FRAME)
            content[part] = self._speex.cancel_echo(audio[part].tolist(), reference[part].tolist())
            taken_out = level_db(audio[part]) - level_db(self._aec3(audio[part], reference[part]))
            if np.any(reference[part]):
                self._heard_playing += 1
            if self._heard_playing < self._warm_up:
                continue
            if taken_out < NEAR_END_DB:
                detection[part] = content[part]
            else:
                content[part] = np.rint(content[part] * RESIDUE_GAIN).astype(np.int16)
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
            if len(heard[0] if isinstance(heard, tuple) else heard):
                yield heard
