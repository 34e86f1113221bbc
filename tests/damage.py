"""Damaging a copy of the bundled pack's ``.npz`` files, for the tests that check how each is refused."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np

from assistant.pack import bundled_pack_path

FILE_DAMAGE = ("missing", "empty", "half", "not numpy")
"""Damage done to the file as bytes; any other kind is done to its arrays by the test's own ``edit``."""


def copy_pack(tmp_path: Path) -> Path:
    """A copy of the bundled English pack's folder."""
    folder = tmp_path / "pack"
    shutil.copytree(bundled_pack_path() / "en", folder)
    return folder


def damage(path: Path, kind: str, edit: Callable[[dict[str, np.ndarray]], None]) -> None:
    """``path`` damaged one way: a ``FILE_DAMAGE`` kind, or its arrays changed by ``edit`` and saved again."""
    whole = path.read_bytes()
    if kind == "missing":
        path.unlink()
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "half":
        path.write_bytes(whole[: len(whole) // 2])
    elif kind == "not numpy":
        path.write_text("weights: yes\n")
    else:
        with np.load(path) as data:
            parts = dict(data)
        edit(parts)
        np.savez(path, **parts)
