"""``assistant eval``: run a manifest of typed or spoken items and score intents and slots."""

from __future__ import annotations

import json
import os
import stat
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from rapidfuzz.distance import Levenshtein
from tqdm import tqdm

from .errors import AssistantError, BadInput
from .lines import LineSink
from .match import Matcher
from .messages import Transcript

Transcriber = Callable[[Path], Transcript]
"""Turns an audio file into a transcript (the speech engine, wired by the caller)."""


@dataclass
class ManifestItem:
    """One line of an eval manifest."""

    id: str
    """Item id."""
    intent: str | None
    """Expected intent; None means out of domain."""
    slots: dict[str, str] = field(default_factory=dict)
    """Expected slots (only these are checked)."""
    text: str | None = None
    """Typed input."""
    audio: Path | None = None
    """Spoken input (a path, relative to the manifest)."""
    reference: str | None = None
    """What was said, for word error rate (``text`` of an audio item)."""


def read_manifest(path: Path) -> Iterator[tuple[int, Any]]:
    """(line number, parsed item or the error message) for each non-empty line."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise BadInput(f"{path}: the manifest is not a regular file (a pipe or a device?)")
        handle = path.open(encoding="utf-8")
    except OSError as error:
        raise BadInput(f"{path}: cannot read manifest: {error.strerror}") from None
    number = 0
    with handle:
        try:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    yield number, _item(json.loads(line), path.parent)
                except (json.JSONDecodeError, ValueError, TypeError, KeyError) as error:
                    yield number, f"{path}:{number}: bad manifest line: {error}"
        except UnicodeDecodeError:
            raise BadInput(f"{path}:{number + 1}: the manifest is not UTF-8 text") from None


def _item(data: Any, base: Path) -> ManifestItem:
    if not isinstance(data, dict):
        raise ValueError("each line must be a JSON object")
    if "intent" not in data:
        raise KeyError("missing 'intent' (use null for out-of-domain items)")
    text, audio = data.get("text"), data.get("audio")
    if audio is None and not isinstance(text, str):
        raise ValueError("needs 'text' or 'audio'")
    audio_path = None
    if audio is not None:
        audio_path = Path(audio)
        if not audio_path.is_absolute():
            audio_path = base / audio_path
    return ManifestItem(
        id=str(data.get("id", "")),
        intent=data["intent"],
        slots={str(k): str(v) for k, v in (data.get("slots") or {}).items()},
        text=text if audio is None else None,
        audio=audio_path,
        reference=text if audio is not None else None,
    )


def word_errors(reference: str, hypothesis: str) -> tuple[int, int]:
    """(word edits, reference words) between two normalised texts."""
    ref, hyp = reference.split(), hypothesis.split()
    return Levenshtein.distance(ref, hyp), len(ref)


def evaluate(
    manifest: Path,
    matcher: Matcher,
    out: LineSink | None = None,
    transcribe: Transcriber | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Score every item; bad items are recorded as errors and the run goes on."""
    from .normalize import normalize

    n = correct = accepted = errors = 0
    in_domain = ood = ood_accepted = 0
    word_edits = ref_words = 0
    audio_seconds = compute_seconds = 0.0
    latencies: list[float] = []
    spoken = 0
    slot_checks: dict[str, int] = {}
    slot_misses: dict[str, list[tuple[str, str | None]]] = {}
    items = list(read_manifest(manifest))
    bar = tqdm(items, desc="eval", unit="item", disable=not progress or not sys.stderr.isatty(), file=sys.stderr)
    for number, item in bar:
        if isinstance(item, str):
            errors += 1
            print(f"assistant: {item}", file=sys.stderr)
            _write(out, {"line": number, "error": item})
            continue
        record: dict[str, Any] = {"id": item.id}
        try:
            if item.audio is not None:
                if transcribe is None:
                    raise AssistantError("audio items need a speech engine")
                spoken += 1
                started = time.perf_counter()
                transcript = transcribe(item.audio)
                compute_seconds += time.perf_counter() - started
                audio_seconds += transcript.audio_s
                if transcript.latency_ms is not None:
                    latencies.append(transcript.latency_ms)
                text = transcript.text
                record["transcript"] = text
                record["asr_confidence"] = transcript.confidence
                if item.reference is not None:
                    edits, count = word_errors(normalize(item.reference), normalize(text))
                    word_edits += edits
                    ref_words += count
            else:
                text = item.text or ""
                transcript = Transcript(text)
            match = matcher.match_heard(text, transcript)
        except AssistantError as error:
            errors += 1
            print(f"assistant: {manifest}:{number}: {error.message}", file=sys.stderr)
            record["error"] = error.message
            _write(out, record)
            continue
        n += 1
        intent_ok = match.intent == item.intent
        slots_ok = intent_ok and all(match.slots.get(k) == v for k, v in item.slots.items())
        slot_errors = []
        if item.intent is not None:
            for name, expected in item.slots.items():
                got = match.slots.get(name)
                slot_checks[name] = slot_checks.get(name, 0) + 1
                if got != expected:
                    slot_errors.append({"slot": name, "expected": expected, "got": got})
                    slot_misses.setdefault(name, []).append((expected, got))
        correct += intent_ok
        if item.intent is None:
            ood += 1
            ood_accepted += match.intent is not None
        else:
            in_domain += 1
            accepted += slots_ok
        record.update(
            {
                "intent": match.intent,
                "slots": match.slots,
                "confidence": round(match.confidence, 4),
                "expected_intent": item.intent,
                "expected_slots": item.slots,
                "correct": slots_ok if item.intent is not None else intent_ok,
                "slot_errors": slot_errors,
            }
        )
        _write(out, record)
    summary: dict[str, Any] = {
        "n": n,
        "intent_accuracy": round(correct / n, 4) if n else None,
        "command_acceptance": round(accepted / in_domain, 4) if in_domain else None,
        "ood_false_accept_rate": round(ood_accepted / ood, 4) if ood else None,
        "errors": errors,
        "slot_errors": {
            name: {"wrong": len(misses), "checked": slot_checks[name], "examples": _commonest(misses)}
            for name, misses in sorted(slot_misses.items())
        },
    }
    if spoken:
        summary["wer"] = round(word_edits / ref_words, 4) if ref_words else None
        summary["rtf"] = round(compute_seconds / audio_seconds, 4) if audio_seconds else None
        summary["latency_ms_p50"] = round(float(np.percentile(latencies, 50)), 1) if latencies else None
        summary["latency_ms_p95"] = round(float(np.percentile(latencies, 95)), 1) if latencies else None
    return summary


def _commonest(misses: list[tuple[str, str | None]], count: int = 3) -> list[dict[str, str | None]]:
    """The most frequent (expected, got) confusions of one slot, most frequent first."""
    return [{"expected": expected, "got": got} for (expected, got), _ in Counter(misses).most_common(count)]


def format_slot_errors(slot_errors: dict[str, Any]) -> list[str]:
    """One line per slot that came back wrong: how often, and its commonest confusions."""
    lines = []
    for name, errors in slot_errors.items():
        seen = ", ".join(f"{e['expected']!r} -> {e['got']!r}" for e in errors["examples"])
        lines.append(f"  {name}: {errors['wrong']} of {errors['checked']} wrong ({seen})")
    return lines


def _write(out: LineSink | None, record: dict[str, Any]) -> None:
    if out is not None:
        out.write(json.dumps(record) + "\n")
