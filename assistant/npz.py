"""Arrays that ship in a pack as numpy ``.npz`` files (the safety model's weights, the sentence vectors): read
whole, or refused with a message that names the file and the fix."""

from __future__ import annotations

import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from zipfile import BadZipFile

import numpy as np

from .errors import BadInput

T = TypeVar("T")


def read(path: Path, what: str, fix: str, build: Callable[[Any], T]) -> T:
    """``build`` applied to the file's arrays (it may raise BadInput itself); BadInput naming the file when it is
    missing, damaged or not an ``.npz`` of the expected arrays."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return build(data)
    except BadInput:
        raise
    except (OSError, ValueError, KeyError, IndexError, TypeError, zlib.error, EOFError, BadZipFile) as error:
        raise BadInput(f"{path}: cannot read the {what} ({error}); {fix}") from None
