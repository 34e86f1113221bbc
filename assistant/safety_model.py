"""A learned alarm beside the red flags: a linear model over words and letters that hears an emergency
told in words no red flag names ("his lips are going purple and he's not responding").

A sentence becomes hashed tf-idf features: its words and word pairs, and the three- to five-letter
pieces of each word (so "collapsed", "collapsing" and a misheard "colapsed" share most of them). A
logistic regression trained on the pack's own sentences and on sentences written blind for the purpose
(``scripts/train_safety.py``, scikit-learn) gives the chance that the sentence is an emergency; only
its weights ship with the pack, so hearing needs nothing but numpy.
"""

from __future__ import annotations

import hashlib
import math
import zlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from . import npz
from .errors import BadInput
from .normalize import normalize

BUCKETS = 1 << 18
"""Hashed feature space: words and letter pieces share it; collisions cost little at this size."""

LETTERS = (3, 5)
"""Lengths of the letter pieces taken from each word, padded with a space at either end."""

FORMAT = 1
"""Version of the weights file; a file of another version is refused."""


def _bucket(key: str) -> int:
    return zlib.crc32(key.encode("utf-8")) % BUCKETS


@lru_cache(maxsize=1 << 16)
def _letter_buckets(token: str) -> tuple[int, ...]:
    """The buckets of a word's letter pieces (" word " in pieces of ``LETTERS`` letters); a session says the
    same words again and again, so each is hashed once."""
    low, high = LETTERS
    padded = f" {token} "
    return tuple(
        _bucket("#" + padded[start : start + n])
        for n in range(low, min(high, len(padded)) + 1)
        for start in range(len(padded) - n + 1)
    )


@lru_cache(maxsize=1 << 16)
def _word_bucket(key: str) -> int:
    return _bucket(key)


def counts(normalized: str) -> tuple[Counter[int], Counter[int]]:
    """Bucket counts of a normalised sentence's word features (words and word pairs) and of its letter
    features."""
    tokens = normalized.split()
    words = Counter(map(_word_bucket, tokens))
    words.update(_word_bucket(f"{a} {b}") for a, b in zip(tokens, tokens[1:], strict=False))
    letters: Counter[int] = Counter()
    for token in tokens:
        letters.update(_letter_buckets(token))
    return words, letters


CALM = "calm"
"""The class of sentences that are no emergency."""


@dataclass(frozen=True)
class Alarm:
    """What the model heard in a sentence."""

    chance: float
    """The chance that the sentence tells of an emergency (one minus the chance it is calm)."""
    kind: str
    """The emergency it most likely is (an intent of the pack)."""
    share: float
    """The part of ``chance`` that falls on ``kind``: near 1 when the model is sure which emergency it is."""


@dataclass(frozen=True)
class SafetyModel:
    """The weights of a trained model and the threshold above which a sentence is an emergency."""

    classes: tuple[str, ...]
    """``CALM`` and the pack's emergency intents, in the order of ``weights``' columns."""
    seen: np.ndarray
    """The buckets the training sentences filled, sorted."""
    idf: np.ndarray
    """Per seen bucket, its inverse document frequency in the training sentences."""
    weights: np.ndarray
    """Per seen bucket (rows), its weight towards each class (columns)."""
    bias: np.ndarray
    """Per class."""
    threshold: float
    """Chance above which a sentence counts as an emergency, chosen by cross-validation when trained."""
    fingerprint: str
    """SHA-256 of what it was trained on (``scripts/train_safety.py``), to tell when it is out of date."""
    _row_of: np.ndarray = field(init=False, repr=False, compare=False)
    """Bucket -> its row in ``weights``, or -1 for a bucket the training never saw."""

    def __post_init__(self) -> None:
        row_of = np.full(BUCKETS, -1, np.int32)
        row_of[self.seen] = np.arange(len(self.seen), dtype=np.int32)
        object.__setattr__(self, "_row_of", row_of)

    def features(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """The rows of ``weights`` that ``text`` (normalised here) fills, and its values there (a row may come
        twice, where a word and a letter piece share a bucket: its values add up in the dot product)."""
        rows: list[np.ndarray] = []
        values: list[np.ndarray] = []
        for block in counts(normalize(text)):
            filled = self._row_of[np.fromiter(block.keys(), np.int64, len(block))]
            known = filled >= 0
            if not known.any():
                continue
            said = np.fromiter(block.values(), np.float64, len(block))[known]
            value = (1.0 + np.log(said)) * self.idf[filled[known]]
            rows.append(filled[known])
            values.append(value / math.sqrt(float(value @ value)))  # each block of unit length
        if not rows:
            return np.zeros(0, np.int64), np.zeros(0)
        return np.concatenate(rows), np.concatenate(values)

    def hear(self, text: str) -> Alarm:
        """What the model makes of ``text``."""
        rows, values = self.features(text)
        scores = self.bias.astype(np.float64) + values @ self.weights[rows].astype(np.float64)
        chances = np.exp(scores - scores.max())
        chances /= chances.sum()
        calm = self.classes.index(CALM)
        chance = 1.0 - float(chances[calm])
        chances[calm] = -1.0
        best = int(chances.argmax())
        return Alarm(chance, self.classes[best], float(chances[best]) / chance if chance > 0 else 0.0)

    def save(self, path: Path) -> None:
        np.savez_compressed(
            path,
            format=np.array(FORMAT),
            buckets=np.array(BUCKETS),
            classes=np.array(self.classes),
            seen=self.seen.astype(np.uint32),
            idf=self.idf.astype(np.float32),
            weights=self.weights.astype(np.float32),
            bias=self.bias.astype(np.float32),
            threshold=np.array(self.threshold),
            fingerprint=np.array(self.fingerprint),
        )

    @classmethod
    def load(cls, path: Path) -> SafetyModel:
        """The model in ``path``; BadInput naming the file when it is missing, damaged or of another kind."""
        fix = "train it again with scripts/train_safety.py"

        def build(data: Any) -> SafetyModel:
            if int(data["format"]) != FORMAT or int(data["buckets"]) != BUCKETS:
                raise BadInput(f"{path}: a safety model of another format; {fix}")
            return cls(
                classes=tuple(str(c) for c in data["classes"]),
                seen=data["seen"].astype(np.int64),
                idf=data["idf"],
                weights=data["weights"],
                bias=data["bias"],
                threshold=float(data["threshold"]),
                fingerprint=str(data["fingerprint"]),
            )

        model = npz.read(path, "safety model", fix, build)
        n = len(model.seen)
        if (
            CALM not in model.classes
            or model.weights.shape != (n, len(model.classes))
            or model.idf.shape != (n,)
            or model.bias.shape != (len(model.classes),)
            or not n
            or np.any(np.diff(model.seen) <= 0)
            or not np.all(np.isfinite(model.weights))
        ):
            raise BadInput(f"{path}: the safety model's parts do not fit together; {fix}")
        return model


def fingerprint(parts: Iterable[bytes]) -> str:
    """SHA-256 over the training inputs, in order."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(hashlib.sha256(part).digest())
    return digest.hexdigest()
