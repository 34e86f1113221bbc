"""The one audio loader: any file soundfile reads, as 16 kHz mono int16, whole or streamed."""

from __future__ import annotations

import logging
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

_LOGGER = logging.getLogger(__name__)

PathLike = str | Path


def _open(path: Path) -> sf.SoundFile:
    """Open ``path`` for reading or explain in one line why it cannot be used."""
    if not path.exists():
        raise BadInput(f"{path}: no such audio file")
    if path.is_dir():
        raise BadInput(f"{path}: is a folder, not an audio file")
    if path.stat().st_size == 0:
        raise BadInput(f"{path}: empty file, no audio in it")
    try:
        audio = sf.SoundFile(str(path))
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


def _to_int16(samples: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(samples * 32768.0), -32768, 32767).astype(np.int16)


def iter_audio(path: PathLike, chunk_ms: int = 100) -> Iterator[np.ndarray]:
    """Stream ``path`` as 16 kHz mono int16 chunks of about ``chunk_ms``, in bounded memory.

    A file cut short (a truncated download, a recording that was killed) yields what
    can be decoded; an unreadable one raises ``BadInput`` before anything is yielded.
    """
    path = Path(path)
    audio = _open(path)
    block = max(1, audio.samplerate * chunk_ms // 1000)
    resampler = (
        soxr.ResampleStream(audio.samplerate, SAMPLE_RATE, 1, dtype="float32")
        if audio.samplerate != SAMPLE_RATE
        else None
    )
    yielded = False
    with audio:
        try:
            for frames in audio.blocks(blocksize=block, dtype="float32", always_2d=True):
                mono = frames.mean(axis=1, dtype=np.float32) if frames.shape[1] > 1 else frames[:, 0]
                out = resampler.resample_chunk(mono) if resampler is not None else mono
                if len(out):
                    yielded = True
                    yield _to_int16(out)
        except (sf.LibsndfileError, RuntimeError) as error:
            if not yielded:
                raise BadInput(f"{path}: cannot decode the audio: {error}") from None
            _LOGGER.warning("%s: audio stops early (%s); using what was read", path, error)
    if resampler is not None:
        tail = resampler.resample_chunk(np.zeros(0, dtype=np.float32), last=True)
        if len(tail):
            yield _to_int16(tail)


def load_audio(path: PathLike) -> np.ndarray:
    """Read a whole file as 16 kHz mono int16 (use ``iter_audio`` for long files)."""
    chunks = list(iter_audio(path))
    return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int16)


def write_wav(path: PathLike, samples: np.ndarray, rate: int = SAMPLE_RATE) -> None:
    """Write int16 (or float in [-1, 1]) samples as a 16-bit PCM WAV file."""
    data = np.asarray(samples)
    if data.dtype.kind == "f":
        data = _to_int16(data)
    sf.write(str(path), data.astype(np.int16, copy=False), rate, subtype="PCM_16")


def seconds(samples: np.ndarray | int) -> float:
    """Duration of ``samples`` (an array or a count) at 16 kHz."""
    count = samples if isinstance(samples, int) else len(samples)
    return count / SAMPLE_RATE
