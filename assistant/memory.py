"""Memory the process no longer uses, given back to the system between turns."""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Callable


def _c_trim() -> Callable[[], None] | None:
    """glibc's ``malloc_trim``, or None where the C library has none (musl, macOS, Windows)."""
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        trim = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):
        return None
    return lambda: trim(0)


_TRIM = _c_trim()


def give_back_memory() -> bool:
    """Return the C heap's free pages to the system; False where the C library cannot.

    Whisper's decoder and the Piper voice allocate and free tens of MB a turn from several threads,
    and glibc keeps what was freed: resident size then climbs by a few hundred MB in the first minutes of a
    session. Called between turns, off the reply's critical path (about 10 ms).
    """
    if _TRIM is None:
        return False
    _TRIM()
    return True
