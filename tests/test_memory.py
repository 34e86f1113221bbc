"""Memory given back between turns."""

from __future__ import annotations

import ctypes
import ctypes.util

import psutil

from assistant.memory import give_back_memory


def test_freed_c_memory_goes_back_to_the_system() -> None:
    """What the C heap freed stays resident until given back (glibc keeps it for reuse)."""
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    libc.malloc.restype = ctypes.c_void_p
    libc.free.argtypes = [ctypes.c_void_p]
    blocks = [libc.malloc(4096) for _ in range(50_000)]  # 200 MB in blocks below the mmap threshold
    for block in blocks:
        ctypes.memset(block, 1, 4096)
    pin = blocks.pop()  # the heap's top stays in use, so freeing the rest cannot shrink it by itself
    for block in blocks:
        libc.free(block)
    process = psutil.Process()
    held = process.memory_info().rss
    assert give_back_memory()
    given_back = held - process.memory_info().rss
    libc.free(pin)
    assert given_back > 150 * 2**20, f"only {given_back / 2**20:.0f} MB given back"
