"""Files of text lines written as a run goes (the session log, eval results), kept whole when the disk fills.

Each line is written straight to the file (no buffer to lose at exit); a line that cannot be written
in full is taken back out, so the file ends with the last whole line, and the run ends with one message.
"""

from __future__ import annotations

import contextlib
import errno
import os
from pathlib import Path
from types import TracebackType
from typing import Protocol

from .errors import AssistantError, BadInput


class LineFile:
    """A text file written one whole line at a time."""

    def __init__(self, path: Path, what: str, append: bool = False) -> None:
        self.path = path
        """Where the lines go."""
        self.what = what
        """What the file holds, for messages ("the session log")."""
        try:
            self._file = open(path, "ab" if append else "wb", buffering=0)  # noqa: SIM115 - closed by close()
        except OSError as error:
            raise BadInput(f"{path}: cannot write {what}: {error.strerror}") from None
        self._whole = self._position()

    def _position(self) -> int | None:
        """Where the file ends now; None for a pipe or a terminal, which cannot be cut back."""
        try:
            return self._file.tell()
        except OSError:
            return None

    def write(self, line: str) -> int:
        """Write ``line`` (ending in a newline) in full, or raise ``AssistantError`` leaving the file as it was."""
        data = memoryview(line.encode("utf-8"))
        try:
            while data:
                data = data[self._file.write(data) or 0 :]
        except OSError as error:
            if self._whole is not None:
                with contextlib.suppress(OSError):
                    os.ftruncate(self._file.fileno(), self._whole)
            reason = "disk full" if error.errno == errno.ENOSPC else error.strerror
            raise AssistantError(
                f"{self.path}: cannot write {self.what}: {reason} (the lines written before are kept)"
            ) from None
        self._whole = self._position()
        return len(line)

    def close(self) -> None:
        """Close the file."""
        self._file.close()

    def __enter__(self) -> LineFile:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()


class LineSink(Protocol):
    """Where lines can be written: a ``LineFile`` or any text file."""

    def write(self, line: str, /) -> int:
        """Write ``line``."""
        ...
