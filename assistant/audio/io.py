"""The one audio loader: any file soundfile reads, as 16 kHz mono int16, whole or streamed."""

from __future__ import annotations

import io
import logging
import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from ..errors import BadInput

SAMPLE_RATE = 16000
"""Rate every stage after audio input works at."""

MIN_RATE = 8000
MAX_RATE = 48000

MAX_TURN_S = 30.0
"""A file is heard as one spoken turn of at most this many seconds; the rest is left unheard, with a
warning (a question takes a few seconds; the microphone's endpointer cuts live turns at 15 s)."""

MAX_PIPED_BYTES = 20_000_000
"""Audio arriving through a pipe or on stdin is read into memory, up to this much (about 10 minutes of
16 kHz 16-bit mono): libsndfile needs to seek in a file, which a pipe cannot."""

_LOGGER = logging.getLogger(__name__)

PathLike = str | Path


def _piped(path: Path) -> io.BytesIO:
    """What arrives through a pipe, a device or stdin ("-"), read into memory (see ``MAX_PIPED_BYTES``)."""
    try:
        if str(path) == "-":
            data = sys.stdin.buffer.read(MAX_PIPED_BYTES + 1)
        else:
            with open(path, "rb") as handle:
                data = handle.read(MAX_PIPED_BYTES + 1)
    except OSError as error:
        raise BadInput(f"{path}: cannot read: {error.strerror}") from None
    if len(data) > MAX_PIPED_BYTES:
        raise BadInput(f"{path}: more than {MAX_PIPED_BYTES:,} bytes came through; give a file instead")
    if not data:
        raise BadInput(f"{path}: nothing came through, no audio in it")
    return io.BytesIO(data)


def _open(path: Path) -> sf.SoundFile:
    """Open ``path`` (a file, a pipe or a device, or "-" for stdin) or explain in one line why it cannot be used."""
    source: str | io.BytesIO = str(path)
    try:
        mode = os.stat(path).st_mode if str(path) != "-" else stat.S_IFIFO
    except OSError as error:
        if not path.is_symlink() and not path.exists():
            raise BadInput(f"{path}: no such audio file") from None
        raise BadInput(f"{path}: cannot read: {error.strerror}") from None
    if stat.S_ISDIR(mode):
        raise BadInput(f"{path}: is a folder, not an audio file")
    if stat.S_ISREG(mode):
        if path.stat().st_size == 0:
            raise BadInput(f"{path}: empty file, no audio in it")
    else:
        source = _piped(path)
    try:
        audio = sf.SoundFile(source)
    except (sf.LibsndfileError, RuntimeError, TypeError) as error:
        raise BadInput(f"{path}: not an audio file this program can read (WAV, FLAC, OGG, MP3): {error}") from None
    if audio.frames == 0:
        audio.close()
        raise BadInput(f"{path}: holds no audio (only a header)")
    if not MIN_RATE <= audio.samplerate <= MAX_RATE:
        rate = audio.samplerate
        audio.close()
        raise BadInput(f"{path}: sample rate {rate} Hz is outside {MIN_RATE}-{MAX_RATE} Hz")
    return audio


def to_int16(samples: np.ndarray) -> np.ndarray:
    """Float samples in [-1, 1] as 16-bit PCM, clipped; NaN taken as silence and infinities as full scale."""
    if not np.isfinite(samples).all():
        samples = np.nan_to_num(samples, nan=0.0, posinf=1.0, neginf=-1.0)  # a float file may hold NaN or Inf
    return np.clip(np.rint(samples * 32768.0), -32768, 32767).astype(np.int16)


def iter_audio(path: PathLike, chunk_ms: int = 100, max_s: float | None = None) -> Iterator[np.ndarray]:
    """Stream ``path`` as 16 kHz mono int16 chunks of about ``chunk_ms``, in bounded memory.

    A file cut short (a truncated download, a recording that was killed) yields what
    can be decoded; an unreadable one raises ``BadInput`` before anything is yielded.
    With ``max_s``, reading stops after that many seconds, with a warning when there was more.
    """
    path = Path(path)
    audio = _open(path)
    block = max(1, audio.samplerate * chunk_ms // 1000)
    frames_left = round(max_s * audio.samplerate) if max_s is not None else None
    resampler = (
        soxr.ResampleStream(audio.samplerate, SAMPLE_RATE, 1, dtype="float32")
        if audio.samplerate != SAMPLE_RATE
        else None
    )
    yielded = False
    with audio:
        try:
            for frames in audio.blocks(blocksize=block, dtype="float32", always_2d=True):
                if frames_left is not None:
                    if frames_left <= 0:
                        _LOGGER.warning("%s: longer than %g s; only its first %g s are heard", path, max_s, max_s)
                        break
                    frames = frames[:frames_left]
                    frames_left -= len(frames)
                mono = frames.mean(axis=1, dtype=np.float32) if frames.shape[1] > 1 else frames[:, 0]
                out = resampler.resample_chunk(mono) if resampler is not None else mono
                if len(out):
                    yielded = True
                    yield to_int16(out)
        except (sf.LibsndfileError, RuntimeError) as error:
            if not yielded:
                raise BadInput(f"{path}: cannot decode the audio: {error}") from None
            _LOGGER.warning("%s: audio stops early (%s); using what was read", path, error)
    if resampler is not None:
        tail = resampler.resample_chunk(np.zeros(0, dtype=np.float32), last=True)
        if len(tail):
            yield to_int16(tail)


def load_audio(path: PathLike) -> np.ndarray:
    """Read a whole file as 16 kHz mono int16 (use ``iter_audio`` for long files)."""
    chunks = list(iter_audio(path))
    return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int16)


def write_wav(path: PathLike, samples: np.ndarray, rate: int = SAMPLE_RATE) -> None:
    """Write int16 (or float in [-1, 1]) samples as a 16-bit PCM WAV file."""
    data = np.asarray(samples)
    if data.dtype.kind == "f":
        data = to_int16(data)
    sf.write(str(path), data.astype(np.int16, copy=False), rate, subtype="PCM_16")


def seconds(samples: np.ndarray | int) -> float:
    """Duration of ``samples`` (an array or a count) at 16 kHz."""
    count = samples if isinstance(samples, int) else len(samples)
    return count / SAMPLE_RATE
