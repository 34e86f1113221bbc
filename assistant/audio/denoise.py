"""Noise suppression before anything listens: RNNoise's recurrent network cleans the 16 kHz stream.

RNNoise (Xiph, the library the ``pyrnnoise`` wheel ships) works on 10 ms frames at 48 kHz, so the
stream is resampled up and back down with soxr's streaming resamplers; the state carries over from
chunk to chunk, so a microphone stream is cleaned as it arrives, 20 ms late (the network's frame
and the two resamplers). Measured with ``benchmarks/tune_asr.py`` on gym noises (babble, clatter,
treadmill, pink) against DeepFilterNet3 and partial suppression: the figures are in the docstring of
``assistant/asr/sphinx_engine.py``; the spoken-set figures in BENCHMARKS.md.

The library is bound here with ctypes (four C functions) rather than through ``import pyrnnoise``:
that import also loads its audio-file layer (audiolab, PyAV; measured 0.2-0.4 s), which start-up cannot afford.
"""

from __future__ import annotations

import ctypes
import importlib.util
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import overload

import numpy as np
import soxr

from ..errors import AssistantError
from .io import SAMPLE_RATE
from .vad import Heard, too_quiet

RNNOISE_RATE = 48000
"""The only rate RNNoise works at."""

_FloatPointer = ctypes.POINTER(ctypes.c_float)
_LIBRARY: ctypes.CDLL | None = None


def _library() -> ctypes.CDLL:
    """librnnoise from the installed ``pyrnnoise`` package, loaded once."""
    global _LIBRARY
    if _LIBRARY is None:
        spec = importlib.util.find_spec("pyrnnoise")
        folders = list(spec.submodule_search_locations or []) if spec is not None else []
        names = ("librnnoise.so", "librnnoise.dylib", "rnnoise.dll")  # as the pyrnnoise wheels name it
        found = [Path(folder) / name for folder in folders for name in names if (Path(folder) / name).is_file()]
        if not found:
            raise AssistantError("noise suppression needs the pyrnnoise package (pip install pyrnnoise)")
        try:
            library = ctypes.CDLL(str(found[0]))
        except OSError as error:
            raise AssistantError(f"cannot load RNNoise from {found[0]}: {error}") from None
        library.rnnoise_create.restype = ctypes.c_void_p
        library.rnnoise_create.argtypes = [ctypes.c_void_p]
        library.rnnoise_destroy.restype = None
        library.rnnoise_destroy.argtypes = [ctypes.c_void_p]
        library.rnnoise_get_frame_size.restype = ctypes.c_int
        library.rnnoise_process_frame.restype = ctypes.c_float
        library.rnnoise_process_frame.argtypes = [ctypes.c_void_p, _FloatPointer, _FloatPointer]
        _LIBRARY = library
    return _LIBRARY


class NoiseSuppressor:
    """One stream's noise suppressor: 16 kHz int16 chunks in, the same audio cleaned out.

    Output lags input by the resamplers' delay plus at most one RNNoise frame; ``flush`` hands
    out the rest at the end of a stream. Not thread-safe: one stream, one suppressor.
    """

    _state: int | None = None

    def __init__(self) -> None:
        self._lib = _library()
        self._frame = int(self._lib.rnnoise_get_frame_size())
        self._state = self._lib.rnnoise_create(None)
        if not self._state:
            raise AssistantError("RNNoise could not start (out of memory?)")
        self._up = soxr.ResampleStream(SAMPLE_RATE, RNNOISE_RATE, 1, dtype="float32")
        self._down = soxr.ResampleStream(RNNOISE_RATE, SAMPLE_RATE, 1, dtype="float32")
        self._pending = np.zeros(0, dtype=np.float32)
        self._out = np.empty(self._frame, dtype=np.float32)

    def process(self, chunk: np.ndarray, last: bool = False) -> np.ndarray:
        """Clean ``chunk`` (int16, 16 kHz); what comes back may be a little shorter or longer."""
        high = self._up.resample_chunk(np.asarray(chunk, dtype=np.float32), last=last)
        data = np.concatenate([self._pending, high]) if len(self._pending) else high
        if last and len(data) % self._frame:
            data = np.concatenate([data, np.zeros(self._frame - len(data) % self._frame, dtype=np.float32)])
        whole = len(data) // self._frame * self._frame
        self._pending = data[whole:].copy()
        cleaned = np.empty(whole, dtype=np.float32)
        out_pointer = self._out.ctypes.data_as(_FloatPointer)
        for offset in range(0, whole, self._frame):
            frame = np.ascontiguousarray(data[offset : offset + self._frame])
            self._lib.rnnoise_process_frame(self._state, out_pointer, frame.ctypes.data_as(_FloatPointer))
            cleaned[offset : offset + self._frame] = self._out
        low = self._down.resample_chunk(cleaned, last=last)
        return np.clip(np.rint(low), -32768, 32767).astype(np.int16)

    def flush(self) -> np.ndarray:
        """The audio still held back, at the end of a stream."""
        return self.process(np.zeros(0, dtype=np.int16), last=True)

    def close(self) -> None:
        if self._state:
            self._lib.rnnoise_destroy(self._state)
            self._state = None

    def __del__(self) -> None:
        self.close()


def _nonempty(chunk: np.ndarray) -> Iterator[np.ndarray]:
    if len(chunk):
        yield chunk


@overload
def suppressed(chunks: Iterable[np.ndarray]) -> Iterator[np.ndarray]: ...


@overload
def suppressed(chunks: Iterable[Heard]) -> Iterator[Heard]: ...


def suppressed(chunks: Iterable[Heard]) -> Iterator[Heard]:
    """``chunks`` with the noise taken out, as a stream, every sample kept in order.

    Near-silent chunks pass as they are, without the network: ten minutes of a silent file are
    read in seconds. The suppressor starts afresh after such a stretch. The echo canceller's
    (detection, content) pairs pass as they are too: its filters have cleaned them.
    """
    suppressor: NoiseSuppressor | None = None
    try:
        for chunk in chunks:
            # The endpointer's own floor: nothing to clean. The echo canceller's pairs come cleaned already.
            if isinstance(chunk, tuple) or too_quiet(chunk):
                if suppressor is not None:
                    yield from _nonempty(suppressor.flush())
                    suppressor.close()
                    suppressor = None
                if isinstance(chunk, tuple):
                    yield chunk
                else:
                    yield from _nonempty(chunk)
                continue
            if suppressor is None:
                suppressor = NoiseSuppressor()
            yield from _nonempty(suppressor.process(chunk))
        if suppressor is not None:
            yield from _nonempty(suppressor.flush())
    finally:
        if suppressor is not None:
            suppressor.close()
