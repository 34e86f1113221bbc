"""Speech out: pyttsx3 (espeak-ng) synthesis, interruptible playback, and WAV capture of every reply.

A reply is cut into short chunks; chunk n+1 is synthesised while chunk n plays, so the first sound
comes fast, and ``stop()`` from another thread (barge-in) ends the talking within one audio block.
The ``speaking`` event and the ``EchoGuard`` let the listener ignore the assistant's own voice.
"""

from __future__ import annotations

import errno
import io
import queue
import re
import shutil
import sys
import tempfile
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TextIO

import numpy as np
import soundfile as sf

from .clock import Clock, SystemClock
from .errors import AssistantError, BadInput
from .messages import Utterance
from .normalize import normalize

MAX_CHUNK_WORDS = 20
"""Longest chunk synthesised at once: short enough that the first one starts playing quickly."""

BLOCK_FRAMES = 1024
"""Frames handed to the output per write: ``stop()`` takes effect within one block (~50 ms)."""

DEFAULT_VOICE = "en-us"
"""American English: the language the intent pack is written in."""

RATE_RANGE = (80, 450)
"""Speaking rates (words per minute) espeak-ng produces intelligibly."""

_SENTENCE_END_RE = re.compile(r"(?<=[.!?;:])\s+")
_CLAUSE_END_RE = re.compile(r"(?<=,)\s+")
_SLUG_RE = re.compile(r"[^a-z0-9]+")
_NUMBERED_WAV_RE = re.compile(r"^(\d{3,})-")


class OutputStream(Protocol):
    """The part of ``sounddevice.OutputStream`` the speaker uses (a fake stands in when there is no device)."""

    def start(self) -> None: ...

    def write(self, data: np.ndarray) -> Any: ...

    def stop(self) -> None: ...

    def abort(self) -> None: ...

    def close(self) -> None: ...


OutputStreamFactory = Callable[[int], OutputStream]
"""Opens an output stream for mono float32 audio at the given sample rate."""


@dataclass(frozen=True)
class VoiceInfo:
    """One voice the speech engine offers."""

    id: str
    """Engine voice id ("gmw/en-us"); a variant may be appended when choosing ("gmw/en-us+f2")."""
    name: str
    """Human name ("English (America)")."""
    language: str
    """Language code ("en-us")."""
    gender: str | None = None
    """"Male", "Female" or None when the engine does not say."""


@dataclass
class ReplyStats:
    """What happened while speaking one reply (for latency measurement and tests)."""

    text: str
    """The reply as given."""
    chunks: tuple[str, ...] = ()
    """The chunks it was cut into."""
    synthesis_s: list[float] = field(default_factory=list)
    """Wall time spent synthesising each chunk, in order."""
    started_at: float | None = None
    """Clock time ``say`` was called."""
    first_audio_at: float | None = None
    """Clock time the first sample was handed to the output device (None when nothing was played)."""
    played_frames: int = 0
    """Frames handed to the output device."""
    completed: bool = False
    """True when the whole reply was spoken (or written) without being stopped."""
    wav_path: Path | None = None
    """Where the reply was written, with ``wav_out``."""

    @property
    def first_audio_latency_s(self) -> float | None:
        """Seconds from ``say`` to the first sample going out."""
        if self.started_at is None or self.first_audio_at is None:
            return None
        return self.first_audio_at - self.started_at


def split_into_chunks(text: str, max_words: int = MAX_CHUNK_WORDS) -> list[str]:
    """Cut text into sentences, then clauses, then runs of at most ``max_words`` words."""
    chunks: list[str] = []
    for sentence in _SENTENCE_END_RE.split(text.strip()):
        for clause in _split_long(sentence, max_words):
            if clause.strip():
                chunks.append(clause.strip())
    return chunks


def _split_long(sentence: str, max_words: int) -> list[str]:
    if len(sentence.split()) <= max_words:
        return [sentence]
    parts: list[str] = []
    current: list[str] = []
    for clause in _CLAUSE_END_RE.split(sentence):
        words = clause.split()
        if current and len(current) + len(words) > max_words:
            parts.append(" ".join(current))
            current = []
        current.extend(words)
        while len(current) > max_words:
            parts.append(" ".join(current[:max_words]))
            current = current[max_words:]
    if current:
        parts.append(" ".join(current))
    return parts


def list_voices(driver: str | None = None) -> list[VoiceInfo]:
    """Voices the speech engine offers; AssistantError when the engine cannot start."""
    return _voices(_open_engine(driver))


def _open_engine(driver: str | None) -> Any:
    try:
        import pyttsx3

        engine = pyttsx3.init(driver)
    except Exception as error:  # pyttsx3 raises anything from ImportError to RuntimeError
        raise AssistantError(f"speech engine unavailable: {error or type(error).__name__}") from error
    _silence_save_notice(engine)
    return engine


def _silence_save_notice(engine: Any) -> None:
    # pyttsx3's espeak driver prints "Audio saved to ..." on stdout after every save_to_file.
    module = sys.modules.get(type(engine.proxy._driver).__module__)
    if module is not None:
        vars(module)["print"] = lambda *args, **kwargs: None


def _voices(engine: Any) -> list[VoiceInfo]:
    return [
        VoiceInfo(
            id=v.id,
            name=v.name,
            language=(v.languages[0] if v.languages else ""),
            gender=v.gender,
        )
        for v in engine.getProperty("voices")
    ]


def resolve_voice(wanted: str, voices: list[VoiceInfo]) -> str:
    """Engine voice id for a voice given by id, short id, language or name, keeping any "+variant".

    Raises BadInput for a voice the engine does not have.
    """
    base, plus, variant = wanted.partition("+")
    key = base.strip().lower()
    for voice in voices:
        if key in (voice.id.lower(), voice.id.lower().rsplit("/", 1)[-1], voice.language.lower(), voice.name.lower()):
            return voice.id + plus + variant
    english = ", ".join(sorted(v.id.rsplit("/", 1)[-1] for v in voices if v.language.startswith("en")))
    raise BadInput(f"unknown voice {wanted!r}; English voices: {english} (variants like en-us+f2 also work)")


def _slug(text: str, words: int = 6) -> str:
    return _SLUG_RE.sub("-", " ".join(text.lower().split()[:words])).strip("-")[:48] or "reply"


class EchoGuard:
    """Recognises transcripts that are the assistant hearing itself.

    A transcript is an echo when, within ``window_s`` of the assistant speaking, it equals something
    just said, or is a run of at least ``min_words`` words from it. Short commands ("stop") are
    only ignored when they were the whole of what was said, so barge-in keeps working.
    """

    def __init__(self, window_s: float = 3.0, min_words: int = 3, clock: Clock | None = None) -> None:
        self.window_s = window_s
        self.min_words = min_words
        self._clock = clock or SystemClock()
        self._recent: list[tuple[float, str]] = []
        self._lock = threading.Lock()

    def remember(self, text: str) -> None:
        """Note that ``text`` is being said now."""
        with self._lock:
            self._recent.append((self._clock.now(), normalize(text)))

    def is_echo(self, heard: str) -> bool:
        """True when ``heard`` is what the assistant itself just said."""
        words = normalize(heard)
        if not words:
            return False
        now = self._clock.now()
        with self._lock:
            # Keep what is still inside the window: a reply's chunks are remembered as they start.
            self._recent = [(t, said) for t, said in self._recent if now - t <= self.window_s + _seconds(said)]
            recent = [said for _, said in self._recent]
        for said in recent:
            if words == said:
                return True
            if len(words.split()) >= self.min_words and f" {words} " in f" {said} ":
                return True
        return False


def _seconds(text: str) -> float:
    # Rough speaking time of a chunk at ~150 words per minute, so long chunks stay remembered while playing.
    return len(text.split()) * 0.4


class Speaker:
    """Speaks replies through pyttsx3 and the sound card, and/or writes them to WAV files.

    ``say`` blocks until the reply has been spoken or ``stop()`` (from another thread) cuts it off.
    Engine failures never raise from ``say``: the reply is printed and one line goes to stderr.
    An unwritable ``wav_out`` raises AssistantError.
    """

    def __init__(
        self,
        voice: str | None = None,
        rate: int | None = None,
        wav_out: Path | None = None,
        play: bool = True,
        device: int | str | None = None,
        *,
        driver: str | None = None,
        output_stream: OutputStreamFactory | None = None,
        print_unheard: bool = True,
        clock: Clock | None = None,
        stdout: TextIO | None = None,
        stderr: TextIO | None = None,
    ) -> None:
        if rate is not None and not RATE_RANGE[0] <= rate <= RATE_RANGE[1]:
            raise BadInput(f"speaking rate {rate} is out of range {RATE_RANGE[0]}-{RATE_RANGE[1]} words per minute")
        self.rate = rate
        self.wav_out = Path(wav_out) if wav_out is not None else None
        self.print_unheard = print_unheard
        self.speaking = threading.Event()
        """Set while the assistant is talking: the mic loop gates or raises its VAD threshold on it."""
        self._clock = clock or SystemClock()
        self.echo_guard = EchoGuard(clock=self._clock)
        """Tells the listener which transcripts are the assistant's own voice."""
        self.last_reply: ReplyStats | None = None
        """Figures for the latest reply."""
        self._stdout = stdout
        self._stderr = stderr
        self._stop = threading.Event()
        self._interruptible = True
        self._engine_lock = threading.Lock()
        self._reported: set[str] = set()
        self._next_number = 1
        self._tmpdir: Path | None = None

        if self.wav_out is not None:
            self._prepare_wav_out(self.wav_out)

        self._engine: Any = None
        self.voice: str | None = None
        try:
            self._engine = _open_engine(driver)
            self._tmpdir = Path(tempfile.mkdtemp(prefix="assistant-tts-"))
            weakref.finalize(self, shutil.rmtree, self._tmpdir, ignore_errors=True)
        except (AssistantError, OSError) as error:
            self._report("engine", f"{error}; replies will be printed instead of spoken")
            self._engine = None
        if self._engine is not None:
            self.voice = resolve_voice(voice or DEFAULT_VOICE, _voices(self._engine))

        self._open_output: OutputStreamFactory | None = None
        if play:
            self._open_output = output_stream or self._sounddevice_output(device)

    @property
    def is_speaking(self) -> bool:
        """True while a reply is being spoken."""
        return self.speaking.is_set()

    def say(self, utterance: Utterance | str) -> bool:
        """Speak a reply (and write it to ``wav_out``); True when it was spoken to the end."""
        if isinstance(utterance, str):
            utterance = Utterance(utterance)
        text = " ".join(utterance.text.split())
        stats = ReplyStats(text=text, chunks=tuple(split_into_chunks(text)), started_at=self._clock.now())
        self.last_reply = stats
        if not stats.chunks:
            stats.completed = True
            return True
        self._stop.clear()
        self._interruptible = utterance.interruptible
        self.speaking.set()
        try:
            audio, rate = self._speak_chunks(stats)
        finally:
            self.speaking.clear()
        heard = stats.played_frames > 0
        if not heard and self.print_unheard:
            print(text, file=self._stdout or sys.stdout, flush=True)
        if audio and self.wav_out is not None:
            stats.wav_path = self._write_reply(np.concatenate(audio), rate, text)
        stats.completed = not self._stop.is_set() and (len(audio) == len(stats.chunks))
        return stats.completed

    def stop(self, force: bool = False) -> None:
        """End the talking at once (barge-in); a non-interruptible reply only stops when ``force``."""
        if self._interruptible or force:
            self._stop.set()

    def synthesize(self, text: str) -> tuple[np.ndarray, int]:
        """Synthesise text to mono float32 samples and their rate; AssistantError when the engine fails."""
        if self._engine is None or self._tmpdir is None:
            raise AssistantError("speech engine unavailable")
        path = self._tmpdir / "chunk.wav"
        with self._engine_lock:
            try:
                path.unlink(missing_ok=True)
                # espeak-ng only applies a new rate after a voice is set, so set both every time.
                self._engine.setProperty("voice", self.voice)
                if self.rate is not None:
                    self._engine.setProperty("rate", self.rate)
                self._engine.save_to_file(text, str(path))
                self._engine.runAndWait()
                audio, rate = sf.read(path, dtype="float32", always_2d=False)
            except Exception as error:
                raise AssistantError(f"speech engine failed: {error or type(error).__name__}") from error
        if audio.ndim > 1:
            audio = audio.mean(axis=1)
        return audio, int(rate)

    def close(self) -> None:
        """Stop talking and remove temporary files."""
        self.stop(force=True)
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None

    def __enter__(self) -> Speaker:  # noqa: PYI034 - Self needs Python 3.11
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _speak_chunks(self, stats: ReplyStats) -> tuple[list[np.ndarray], int]:
        """Synthesise chunks in order, feeding each to the player thread as soon as it is ready."""
        audio: list[np.ndarray] = []
        rate = 0
        player: threading.Thread | None = None
        pending: queue.Queue[tuple[str, np.ndarray, int] | None] = queue.Queue()
        try:
            for chunk in stats.chunks:
                if self._stop.is_set():
                    break
                started = self._clock.now()
                try:
                    samples, rate = self.synthesize(chunk)
                except AssistantError as error:
                    self._report("engine", f"{error}; replies will be printed instead of spoken")
                    break
                stats.synthesis_s.append(self._clock.now() - started)
                audio.append(samples)
                if self._open_output is None:
                    self.echo_guard.remember(chunk)
                    continue
                if player is None:
                    player = threading.Thread(target=self._play, args=(pending, stats), daemon=True)
                    player.start()
                pending.put((chunk, samples, rate))
        finally:
            pending.put(None)
            if player is not None:
                player.join()
        return audio, rate

    def _play(self, pending: queue.Queue[tuple[str, np.ndarray, int] | None], stats: ReplyStats) -> None:
        """Player thread: write chunks to one output stream block by block, aborting on ``stop()``."""
        assert self._open_output is not None
        stream: OutputStream | None = None
        stream_rate = 0
        item = pending.get()
        try:
            while item is not None:
                chunk, samples, rate = item
                self.echo_guard.remember(chunk)
                if stream is None or rate != stream_rate:
                    if stream is not None:
                        stream.stop()
                        stream.close()
                    stream, stream_rate = self._open_output(rate), rate
                    stream.start()
                for start in range(0, len(samples), BLOCK_FRAMES):
                    if self._stop.is_set():
                        stream.abort()
                        return
                    if stats.first_audio_at is None:
                        stats.first_audio_at = self._clock.now()
                    block = samples[start : start + BLOCK_FRAMES]
                    stream.write(np.ascontiguousarray(block, dtype=np.float32).reshape(-1, 1))
                    stats.played_frames += len(block)
                item = pending.get()
            if stream is not None:
                stream.stop()
        except Exception as error:  # noqa: BLE001 - a device that vanished mid-reply must not end the session
            self._report("device", f"audio output failed ({error}); replies will be printed instead")
            self._open_output = None
            self._stop.set()
        finally:
            if stream is not None:
                stream.close()

    def _sounddevice_output(self, device: int | str | None) -> OutputStreamFactory | None:
        try:
            import sounddevice as sd

            sd.query_devices(device, kind="output")
        except Exception:  # noqa: BLE001 - no PortAudio library, no output device, or a bad device name
            where = f" {device!r}" if device is not None else ""
            self._report("device", f"no audio output device{where}; replies will be written/printed only")
            return None

        def open_stream(samplerate: int) -> OutputStream:
            stream: OutputStream = sd.OutputStream(samplerate=samplerate, channels=1, dtype="float32", device=device)
            return stream

        return open_stream

    def _prepare_wav_out(self, folder: Path) -> None:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            numbers = [int(m.group(1)) for p in folder.iterdir() if (m := _NUMBERED_WAV_RE.match(p.name))]
        except OSError as error:
            raise AssistantError(f"cannot write spoken replies to {folder}: {error.strerror or error}") from error
        self._next_number = max(numbers, default=0) + 1

    def _write_reply(self, audio: np.ndarray, rate: int, text: str) -> Path:
        assert self.wav_out is not None
        path = self.wav_out / f"{self._next_number:03d}-{_slug(text)}.wav"
        # Encoded in memory, written by Python: libsndfile reports a full disk only as "System error".
        buffer = io.BytesIO()
        try:
            sf.write(buffer, audio, rate, format="WAV", subtype="PCM_16")
            path.write_bytes(buffer.getvalue())
        except (OSError, sf.LibsndfileError) as error:
            path.unlink(missing_ok=True)
            reason = "disk full" if getattr(error, "errno", None) == errno.ENOSPC else str(error)
            raise AssistantError(f"cannot write spoken reply to {path}: {reason}") from error
        self._next_number += 1
        return path

    def _report(self, kind: str, message: str) -> None:
        """One line on stderr, once per kind of problem."""
        if kind not in self._reported:
            self._reported.add(kind)
            print(f"assistant: {message}", file=self._stderr or sys.stderr, flush=True)


__all__ = [
    "EchoGuard",
    "OutputStream",
    "ReplyStats",
    "Speaker",
    "VoiceInfo",
    "list_voices",
    "resolve_voice",
    "split_into_chunks",
]
