"""The speech engine interface: what every engine takes (a turn of audio) and gives (a ``Transcript``),
and the small helpers they share. Which engine listens is chosen in ``choose``."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from typing import Protocol

import numpy as np

from ..audio.io import SAMPLE_RATE
from ..messages import Transcript, Word

Audio = np.ndarray | Iterable[np.ndarray]
"""One turn of 16 kHz mono int16 audio: a whole array or chunks of it."""

PartialCallback = Callable[[Transcript], None]

CHUNK_SAMPLES = 1600
"""A whole array is fed to engines 100 ms at a time, as a microphone would."""


class SpeechEngine(Protocol):
    """A recogniser that turns one turn of audio into a ``Transcript``."""

    name: str
    """Engine name as it appears in ``Transcript.engine``."""
    noise_suppression: bool
    """Whether RNNoise in front helps this engine (measured per engine; BENCHMARKS.md)."""

    def transcribe(
        self,
        samples: Audio,
        expects: str | None = None,
        on_partial: PartialCallback | None = None,
    ) -> Transcript:
        """Recognise one turn; ``expects`` names the dialogue's waiting state (restricts what is listened for)."""
        ...

    def describe(self) -> str:
        """One line: engine, model, grammar size, anything the user should know."""
        ...


def chunks_of(samples: Audio) -> Iterator[np.ndarray]:
    """The turn as int16 chunks, whatever form it came in."""
    if isinstance(samples, np.ndarray):
        data = np.asarray(samples, dtype=np.int16)
        for start in range(0, len(data), CHUNK_SAMPLES):
            yield data[start : start + CHUNK_SAMPLES]
        return
    for chunk in samples:
        yield np.asarray(chunk, dtype=np.int16)


class HeldAudio:
    """The start of a turn kept for a second pass, up to ``limit_s`` seconds (beyond that the caller streams)."""

    def __init__(self, limit_s: float = 30.0) -> None:
        self.limit = int(limit_s * 16000)
        self.chunks: list[np.ndarray] = []
        self.samples = 0

    def add(self, chunk: np.ndarray) -> bool:
        """Keep ``chunk``; False once the limit is passed (the held audio should then be drained)."""
        self.chunks.append(chunk)
        self.samples += len(chunk)
        return self.samples <= self.limit

    def drain(self) -> list[np.ndarray]:
        """Hand over and forget the held chunks."""
        chunks, self.chunks, self.samples = self.chunks, [], 0
        return chunks


def final_transcript(
    engine: str,
    words: list[Word],
    confidence: float,
    samples_fed: int,
    end_of_audio: float,
    alternatives: tuple[str, ...] = (),
    fallback: str = "",
    second_pass: Callable[[], str] | None = None,
) -> Transcript:
    """A turn's final result, timed the same way for every engine (latency: end of audio to now)."""
    text = " ".join(w.word for w in words).lower()
    return Transcript(
        text=text,
        confidence=round(confidence if text else 0.0, 4),
        is_final=True,
        engine=engine,
        words=tuple(words),
        audio_s=samples_fed / SAMPLE_RATE,
        speech_end_s=words[-1].end_s if words else None,
        latency_ms=(time.perf_counter() - end_of_audio) * 1000.0,
        alternatives=tuple(a for a in alternatives if a and a != text),
        fallback=fallback if fallback != text else "",
        second_pass=second_pass,
    )
