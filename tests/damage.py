"""Damaging a copy of the bundled pack's ``.npz`` files, for the tests that check how each is refused."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from assistant import compiled
from assistant.errors import BadInput
from assistant.match import Matcher
from assistant.pack import bundled_pack_path, pack_from_dict, read_pack

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


def refuse_setting(key: str, setting: object, message: str) -> None:
    """The bundled pack with its ``key`` setting replaced by ``setting`` is refused, naming ``message``."""
    data = dict(read_pack().raw)  # the bundled pack's files as read_pack merged them
    data[key] = setting
    with pytest.raises(BadInput, match=message):
        pack_from_dict(data)


def recompiled(tmp_path: Path, edit: Callable[[Path], None]) -> Matcher:
    """A copy of the bundled pack compiled once, then ``edit``ed in its folder and loaded again: the matcher,
    after checking that the edit made a second compiled entry rather than reusing the first."""
    folder, cache = copy_pack(tmp_path), tmp_path / "cache"
    compiled.load_matcher(folder, cache)
    edit(folder)
    matcher = compiled.load_matcher(folder, cache)
    assert len([p for p in cache.iterdir() if p.is_dir()]) == 2
    return matcher
