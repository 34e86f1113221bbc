"""A pack read and compiled for matching, kept between runs so that a command starts fast.

Reading the bundled pack's YAML and hassil templates and compiling the matcher takes about a second; the
pickled ``Matcher`` (its pack inside) loads in about 50 ms. An entry is keyed by the pack's files (names and
bytes, its safety model's weights too), where the pack lives, and the code that builds it (this package's
source, hassil's and rapidfuzz's versions, Python's), so any change builds a new one. Entries are checked on
load (``cache.damage``) and built again when damaged; when the cache cannot be read or written, the matcher is
built in memory.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import stat
import sys
from importlib import metadata
from pathlib import Path

from .cache import MANIFEST, damage, ensure, user_cache
from .errors import AssistantError
from .match import Matcher
from .pack import bundled_pack_path, pack_sources, read_pack

KEPT = 8
"""Entries kept; older ones (packs edited since, earlier versions of the code) are removed."""

NAME = "matcher.pickle"

_LOGGER = logging.getLogger(__name__)
_SOURCE = Path(__file__).resolve().parent


def load_matcher(path: Path | None = None, cache: Path | None = None, region: str | None = None) -> Matcher:
    """The matcher of the pack at ``path`` (the bundled one when None), its pack as ``matcher.pack`` with
    ``region``'s words in the replies (``Pack.localised``); from ``cache`` (default: the user's cache folder)
    when it was built before from the same files and code. A bad pack or region raises ``BadInput``."""
    matcher = _compiled(Path(path) if path is not None else bundled_pack_path(), cache)
    matcher.pack = matcher.pack.localised(region)  # kept with blanks: one entry serves every region
    return matcher


def _compiled(root: Path, cache: Path | None) -> Matcher:
    """The matcher of the pack at ``root``, its replies' blanks left blank: from the cache, or built."""
    try:
        key = _key(root)
    except (OSError, RuntimeError):  # unreadable, though the pack's own checks passed: build as if uncached
        key = None
    if key is None:  # a file that is not a regular one: load_pack says what is wrong
        return Matcher(read_pack(root))
    folder = (cache or user_cache("matchers")) / key
    if damage(folder, {NAME: None}) is None:
        try:
            matcher = pickle.loads((folder / NAME).read_bytes())
            if isinstance(matcher, Matcher):
                os.utime(folder / MANIFEST)  # recently used: kept by ``_prune``
                return matcher
        except Exception as error:  # noqa: BLE001 - any unpickling failure: build it again
            _LOGGER.warning("matcher cache %s unreadable (%s); building it again", folder, error)
        for name in (MANIFEST, NAME):
            (folder / name).unlink(missing_ok=True)
    matcher = Matcher(read_pack(root))
    try:
        ensure(folder, {NAME: None}, lambda: {NAME: pickle.dumps(matcher, protocol=pickle.HIGHEST_PROTOCOL)})
        _prune(folder.parent)
    except (AssistantError, OSError) as error:
        _LOGGER.info("matcher cache not written: %s", error)
    return matcher


def _key(root: Path) -> str | None:
    """What the compiled matcher depends on, hashed: the pack's files, where it is, and the code (None when a
    pack file is not a regular file)."""
    files = pack_sources(root)  # first: a missing pack or a loop of links is the user's to hear about
    digest = hashlib.sha256()
    for part in (sys.version, _version("hassil"), _version("rapidfuzz"), str(root.resolve())):
        digest.update(part.encode() + b"\0")
    for source in sorted(_SOURCE.rglob("*.py")):
        digest.update(source.relative_to(_SOURCE).as_posix().encode() + b"\0" + source.read_bytes())
    weights = sorted({w for file in files for w in file.parent.glob("*.npz")})  # a safety model sits beside
    for file in [*files, *weights]:
        try:
            if not stat.S_ISREG(file.stat().st_mode):
                return None
            digest.update(file.as_posix().encode() + b"\0" + file.read_bytes())
        except OSError:
            return None
    return digest.hexdigest()[:32]


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return ""


def _prune(folder: Path) -> None:
    """Keep the ``KEPT`` most recently used entries."""
    try:
        entries = sorted(
            (p for p in folder.iterdir() if (p / MANIFEST).is_file()),
            key=lambda p: (p / MANIFEST).stat().st_mtime,
            reverse=True,
        )
        for old in entries[KEPT:]:
            for file in old.iterdir():
                file.unlink()
            old.rmdir()
    except OSError as error:
        _LOGGER.info("matcher cache not pruned: %s", error)
