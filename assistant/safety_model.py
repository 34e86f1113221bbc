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
from dataclasses import dataclass
from pathlib import Path
from zipfile import BadZipFile

import numpy as np

from .errors import BadInput
from .normalize import normalize

BUCKETS = 1 << 18
"""Hashed feature space: words and letter pieces share it; collisions cost little at this size."""

LETTERS = (3, 5)
"""Lengths of the letter pieces taken from each word, padded with a space at either end."""

FORMAT = 1
"""Version of the weights file; a file of another version is refused."""


def _word_keys(tokens: list[str]) -> Iterable[str]:
    yield from tokens
    yield from (f"{a} {b}" for a, b in zip(tokens, tokens[1:], strict=False))


def _letter_keys(tokens: list[str]) -> Iterable[str]:
    low, high = LETTERS
    for token in tokens:
        padded = f" {token} "
        for n in range(low, high + 1):
            if n > len(padded):
                break
            for start in range(len(padded) - n + 1):
                yield "#" + padded[start : start + n]


def _bucket(key: str) -> int:
    return zlib.crc32(key.encode("utf-8")) % BUCKETS


def counts(normalized: str) -> tuple[Counter[int], Counter[int]]:
    """Bucket counts of a normalised sentence's word features and of its letter features."""
    tokens = normalized.split()
    return Counter(map(_bucket, _word_keys(tokens))), Counter(map(_bucket, _letter_keys(tokens)))


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

    def features(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """The rows of ``seen`` that ``text`` (normalised here) fills, and its values there."""
        rows: dict[int, float] = {}
        for block in counts(normalize(text)):
            buckets = np.fromiter(block, np.int64, len(block))
            at = np.minimum(np.searchsorted(self.seen, buckets), len(self.seen) - 1)
            known = self.seen[at] == buckets
            values = {
                int(row): (1.0 + math.log(block[int(b)])) * float(self.idf[row])
                for row, b in zip(at[known], buckets[known], strict=True)
            }
            # Each block scaled to unit length, over the buckets the training saw.
            norm = math.sqrt(sum(v * v for v in values.values()))
            for row, v in values.items():
                rows[row] = rows.get(row, 0.0) + v / norm
        return np.fromiter(rows, np.int64, len(rows)), np.fromiter(rows.values(), np.float64, len(rows))

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
        try:
            with np.load(path, allow_pickle=False) as data:
                if int(data["format"]) != FORMAT or int(data["buckets"]) != BUCKETS:
                    raise BadInput(f"{path}: a safety model of another format; {fix}")
                model = cls(
                    classes=tuple(str(c) for c in data["classes"]),
                    seen=data["seen"].astype(np.int64),
                    idf=data["idf"],
                    weights=data["weights"],
                    bias=data["bias"],
                    threshold=float(data["threshold"]),
                    fingerprint=str(data["fingerprint"]),
                )
        except BadInput:
            raise
        except (OSError, ValueError, KeyError, IndexError, TypeError, zlib.error, EOFError, BadZipFile) as error:
            raise BadInput(f"{path}: cannot read the safety model ({error}); {fix}") from None
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
