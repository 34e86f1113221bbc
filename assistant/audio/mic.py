"""Spoken turns from a microphone (sounddevice + endpointing) or from files (one file, one turn)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ..clock import Clock, SystemClock
from ..errors import AssistantError, BadInput
from .denoise import suppressed
from .echo import EchoCanceller
from .io import MAX_TURN_S, SAMPLE_RATE, iter_audio
from .vad import FRAME_SAMPLES, Endpointer, Heard, LiveTurn, live_endpointer, speech_only

_LOGGER = logging.getLogger(__name__)

Device = int | str | None


@dataclass(frozen=True)
class AudioTurn:
    """One spoken turn, ready for a speech engine."""

    source: str
    """Where it came from: the device name or the file path."""
    chunks: Iterable[np.ndarray]
    """16 kHz mono int16 audio in order. A file turn streams from disk and can be read once; a
    microphone turn is a ``LiveTurn`` that hands out audio while the user is still speaking."""
    start_s: float = 0.0
    """Start of speech, seconds from the start of the source."""

    @property
    def end_s(self) -> float | None:
        """End of speech, seconds from the start of the source, once known."""
        return self.chunks.end_s if isinstance(self.chunks, LiveTurn) else None

    @property
    def cut(self) -> bool:
        """True when the speaker went on past the maximum turn length."""
        return isinstance(self.chunks, LiveTurn) and self.chunks.cut

    def end_sooner(self, pause_ms: int | None) -> None:
        """Let a live turn end after a shorter pause (the listener knows it is complete)."""
        if isinstance(self.chunks, LiveTurn):
            self.chunks.end_sooner(pause_ms)


@dataclass(frozen=True)
class InputDevice:
    """A sound input device, as ``assistant devices`` lists it."""

    index: int
    """PortAudio device index (what ``--device`` takes, or a part of the name)."""
    name: str
    """Device name."""
    channels: int
    """Input channels."""
    default_rate: float
    """The device's default sample rate in Hz."""
    is_default: bool = False
    """True for the system's default input."""


class RawStream(Protocol):
    """The part of ``sounddevice.RawInputStream`` we use (tests pass a fake)."""

    def __enter__(self) -> RawStream: ...

    def __exit__(self, *exc: Any) -> Any: ...

    def read(self, frames: int) -> tuple[Any, bool]: ...


StreamFactory = Callable[..., RawStream]


def _sounddevice() -> Any:
    """Import sounddevice, which fails when the PortAudio library is missing."""
    try:
        import sounddevice
    except OSError as error:
        raise AssistantError(f"no sound input: {error} (install PortAudio, e.g. apt install libportaudio2)") from None
    return sounddevice


def list_devices() -> list[InputDevice]:
    """Input devices PortAudio can see."""
    sd = _sounddevice()
    try:
        devices = sd.query_devices()
        default_in = sd.default.device[0]
    except sd.PortAudioError as error:
        raise AssistantError(f"cannot list sound devices: {error}") from None
    return [
        InputDevice(
            index=index,
            name=str(info["name"]),
            channels=int(info["max_input_channels"]),
            default_rate=float(info["default_samplerate"]),
            is_default=index == default_in,
        )
        for index, info in enumerate(devices)
        if info["max_input_channels"] > 0
    ]


def _portaudio_error() -> type[BaseException]:
    """sounddevice's error type, or OSError when PortAudio is missing (an injected stream still works)."""
    try:
        import sounddevice
    except OSError:
        return OSError
    return sounddevice.PortAudioError  # type: ignore[no-any-return]


class MicrophoneTurns:
    """Iterate over spoken turns from a microphone.

    A device that disappears is reopened up to ``reopen_attempts`` times in a row; after
    that iteration ends with an ``AssistantError`` saying so. With ``echo``, every chunk goes through the
    echo canceller, stamped with when it was captured (``clock``'s time, as the speaker's).
    """

    def __init__(
        self,
        device: Device = None,
        endpointer: Endpointer | None = None,
        stream_factory: StreamFactory | None = None,
        reopen_attempts: int = 3,
        reopen_wait_s: float = 1.0,
        clock: Clock | None = None,
        on_notice: Callable[[str], None] | None = None,
        denoise: bool = True,
        echo: EchoCanceller | None = None,
    ) -> None:
        self.device = device
        self.echo = echo
        """Takes what the loudspeaker plays out of what the microphone hears (None: heard as it is)."""
        self.denoise = denoise
        """Take the noise out (RNNoise) before the endpointer and the speech engine hear the stream."""
        self.endpointer = endpointer if endpointer is not None else live_endpointer()
        self.stream_factory = stream_factory
        self.reopen_attempts = reopen_attempts
        self.reopen_wait_s = reopen_wait_s
        self.clock = clock if clock is not None else SystemClock()
        self.on_notice = on_notice if on_notice is not None else _LOGGER.warning
        self._from_now = threading.Event()

    def listen_from_now(self) -> None:
        """Drop what the microphone heard before this moment (push-to-talk: only speech after the key
        press counts). Takes effect at the next read, between turns."""
        self._from_now.set()

    @property
    def name(self) -> str:
        """How the device is called in messages."""
        return "default microphone" if self.device is None else f"microphone {self.device!r}"

    def _open(self) -> RawStream:
        factory = self.stream_factory
        if factory is None:
            factory = _sounddevice().RawInputStream
        try:
            return factory(
                samplerate=SAMPLE_RATE, channels=1, dtype="int16", device=self.device, blocksize=FRAME_SAMPLES
            )
        except ValueError as error:
            raise AssistantError(f"{self.name}: {error} (see `assistant devices`)") from None

    def __iter__(self) -> Iterator[AudioTurn]:
        """Turns as they start (each a ``LiveTurn`` read while spoken); a lost device is reopened."""
        failures = 0
        error_type = _portaudio_error()
        while True:
            lost: list[BaseException] = []
            try:
                with self._open() as stream:
                    captured = self._read(stream, error_type, lost)
                    heard: Iterator[Heard] = (
                        self.echo.cancelled(captured) if self.echo is not None else (chunk for chunk, _ in captured)
                    )
                    for turn in self.endpointer.live_turns(suppressed(heard) if self.denoise else heard):
                        failures = 0  # speech came through: the device works again
                        yield AudioTurn(str(self.name), turn, turn.start_s)
            except error_type as error:  # opening (or closing) the device failed
                lost.append(error)
            if not lost:
                return
            failures += 1
            if failures > self.reopen_attempts:
                raise AssistantError(f"{self.name} stopped working ({lost[0]}); check it is plugged in") from None
            self.on_notice(f"{self.name} stopped ({lost[0]}); reopening, attempt {failures} of {self.reopen_attempts}")
            self.clock.sleep(self.reopen_wait_s * failures)

    def _read(
        self, stream: RawStream, error_type: type[BaseException], lost: list[BaseException]
    ) -> Iterator[tuple[np.ndarray, float]]:
        """The stream's audio until it ends, each chunk with when its first sample was captured (now, less
        the chunk and what the device still holds unread); a device error ends it too and is put in
        ``lost`` (speech heard before the device went away is still a turn)."""
        while True:
            try:
                if self._from_now.is_set():
                    self._from_now.clear()
                    stale = int(getattr(stream, "read_available", 0))
                    if stale > 0:
                        stream.read(stale)
                    self.endpointer.reset(max(0, stale))
                data, overflowed = stream.read(FRAME_SAMPLES)
                unread = int(getattr(stream, "read_available", 0)) if self.echo is not None else 0
            except error_type as error:
                lost.append(error)
                return
            if overflowed:
                _LOGGER.debug("%s: input overflow, some audio was dropped", self.name)
            chunk = np.frombuffer(bytes(data), dtype=np.int16)
            if len(chunk) == 0:
                return
            yield chunk, self.clock.now() - (len(chunk) + unread) / SAMPLE_RATE


class FileTurns:
    """Each file is one spoken turn, streamed from disk; noise is taken out when ``denoise`` and
    silence skipped when ``skip_silence``, as the microphone's turns are. A turn is at most
    ``max_turn_s`` long. With ``on_unreadable``, a file that cannot be read is passed to it and
    skipped, so the files after it are still heard; without, its ``BadInput`` ends the iteration."""

    def __init__(
        self,
        paths: Sequence[str | Path],
        skip_silence: bool = True,
        denoise: bool = True,
        max_turn_s: float = MAX_TURN_S,
        on_unreadable: Callable[[BadInput], None] | None = None,
    ) -> None:
        self.paths = [Path(p) for p in paths]
        self.skip_silence = skip_silence
        self.denoise = denoise
        self.max_turn_s = max_turn_s
        self.on_unreadable = on_unreadable

    def __iter__(self) -> Iterator[AudioTurn]:
        for path in self.paths:
            chunks: Iterable[np.ndarray] = iter_audio(path, max_s=self.max_turn_s)
            # Opening here (first chunk) makes bad files fail at their turn, with their name.
            try:
                first = next(iter(chunks), None)  # type: ignore[call-overload]
            except BadInput as error:
                if self.on_unreadable is None:
                    raise
                self.on_unreadable(error)
                continue
            stream = _chain(first, chunks)
            if self.denoise:
                stream = suppressed(stream)
            yield AudioTurn(str(path), speech_only(stream) if self.skip_silence else stream)


def _chain(first: np.ndarray | None, rest: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
    if first is not None:
        yield first
    yield from rest
