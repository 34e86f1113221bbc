"""Built artefacts kept between runs (grammars, dictionaries): written whole, checked on load, rebuilt when damaged.

A cache entry is a folder of files plus ``entry.json``, written last, holding each file's size and
SHA-256. Files are written to a temporary file in the same folder and renamed into place, so a reader
never sees half a file; building is done under a file lock, so processes starting at once build an
entry once and the others wait for it. An entry that does not match its ``entry.json`` (a truncated
file, a disk that filled up) is rebuilt, with one warning.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from .errors import AssistantError

MANIFEST = "entry.json"
"""Written into an entry's folder after its files: name -> size and SHA-256."""

_LOGGER = logging.getLogger(__name__)


def user_cache(part: str) -> Path:
    """The folder for one kind of kept artefact: ``<XDG_CACHE_HOME or ~/.cache>/gym-voice-assistant/<part>``."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "gym-voice-assistant" / part


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename."""
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _digest(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def damage(folder: Path, names: Mapping[str, object]) -> str | None:
    """What is wrong with the entry in ``folder`` holding ``names``, or None when every file checks out."""
    try:
        recorded = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return f"no {MANIFEST}"
    except (OSError, ValueError) as error:
        return f"{MANIFEST} unreadable ({error})"
    if not isinstance(recorded, dict):
        return f"{MANIFEST} unreadable"
    for name in names:
        entry = recorded.get(name)
        path = folder / name
        if not isinstance(entry, dict) or not path.is_file():
            return f"{name} missing"
        if path.stat().st_size != entry.get("size") or _digest(path) != entry.get("sha256"):
            return f"{name} does not match its record"
    return None


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    with open(folder / ".lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def ensure(folder: Path, names: Mapping[str, object], build: Callable[[], Mapping[str, bytes]]) -> dict[str, Path]:
    """The files ``names`` of the cache entry ``folder``, built with ``build`` (name -> content) when the
    entry is missing or does not check out; returns name -> path."""
    paths = {name: folder / name for name in names}
    if damage(folder, names) is None:
        return paths
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with _locked(folder):
            problem = damage(folder, names)  # another process may have built it meanwhile
            if problem is None:
                return paths
            if problem != f"no {MANIFEST}" or any(path.exists() for path in paths.values()):
                _LOGGER.warning("cache %s is damaged (%s); building it again", folder, problem)
            (folder / MANIFEST).unlink(missing_ok=True)
            contents = build()
            for name, data in contents.items():
                write_atomic(folder / name, data)
            record = {
                name: {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()} for name, data in contents.items()
            }
            write_atomic(folder / MANIFEST, json.dumps(record, indent=1).encode())
    except OSError as error:
        raise AssistantError(f"cannot write the cache in {folder}: {error.strerror or error}") from None
    return paths
