"""Replies heard in the state that waits for them: the spoken set's short answers, decoded and matched as
the dialogue hears them when it has asked a question, runs a routine or waits for a muscle.

    .venv/bin/python benchmarks/bench_waiting.py --manifest .cache/bench/spoken/manifest.jsonl
    .venv/bin/python benchmarks/bench_waiting.py --engine pocketsphinx --json out.json

``bench_speech.py`` hears every recording as a first turn, with nothing pending. In use, "pause", "nope"
or "my calf" are said while the dialogue waits for them, and the engine is told so (Whisper's prompt and
pack decoder, PocketSphinx's grammar are narrowed to the pack's ``dialogue.expects`` for that state) and so
is the matcher (its context). Each recording of the manifest whose intent is a reply of a waiting state is
heard in the first state that lists it; the emergencies and out-of-domain lines are heard in the routine
state, where a workout is, since an emergency must still win there and small talk must not pause the
stretch. Printed: per group, right of clean and of noisy recordings (intent right; slots too where the
item has them; out-of-domain right when turned away), and the time from a turn's whole audio to its match
(a file is heard at once, so there is no endpointing in it; the engine as the conversation wires it, which
keeps a short read that the matcher takes for an emergency).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from common import ROOT, command_line, machine, measure_and_print, open_bench_engine, percentile, spoken_rows
from tqdm import tqdm

from assistant.cli import _file_turn
from assistant.match import Matcher
from assistant.pack import Pack, load_pack
from assistant.session import heed_emergencies

STATES = {"yes_no": "follow_up", "routine": "routine", "muscle": "choose_muscle"}
"""Waiting state -> the dialogue state it is waited for in (the matcher's context)."""


def waiting_state(pack: Pack, intent: str | None) -> tuple[str, str] | None:
    """(group, waiting state) a recording of ``intent`` is heard in, or None when it is not measured here."""
    if intent is None:
        return "out of domain", "routine"
    if pack.is_emergency(intent):
        return "emergency", "routine"
    for expects, replies in pack.dialogue.expects.items():
        if intent in replies and expects in STATES:
            return f"replies, {expects}", expects
    return None


def run(manifest: Path, kind: str) -> dict[str, Any]:
    pack = load_pack()
    matcher = Matcher(pack)
    engine = open_bench_engine(kind, pack)
    heed_emergencies(engine, matcher)  # as the conversation does
    denoise = bool(getattr(engine, "noise_suppression", True))
    items = [(row, waiting_state(pack, row.get("intent"))) for row in spoken_rows(manifest)]
    right: dict[str, dict[str, list[bool]]] = defaultdict(lambda: defaultdict(list))
    misses: list[dict[str, Any]] = []
    took: dict[str, list[float]] = defaultdict(list)
    """Per group, each turn's time from its whole audio to the match, ms."""
    started = time.perf_counter()
    for row, found in tqdm(items, desc=f"waiting ({kind})", unit="rec", file=sys.stderr):
        if found is None:
            continue
        group, expects = found
        turn = _file_turn(Path(row["path"]), denoise)
        heard_at = time.perf_counter()
        transcript = engine.transcribe(turn.chunks, expects=expects)
        match = matcher.match_heard(transcript.text, transcript, {"state": STATES[expects], "expects": expects})
        took[group].append((time.perf_counter() - heard_at) * 1000)
        ok = match.intent == row["intent"] and all(match.slots.get(k) == v for k, v in (row.get("slots") or {}).items())
        right[group]["clean" if row.get("snr_db") is None else "noisy"].append(ok)
        if not ok:
            misses.append({"id": row.get("id"), "expects": expects, "heard": transcript.text, "got": match.intent})
    groups = {
        group: {condition: {"right": sum(oks), "n": len(oks)} for condition, oks in sorted(by.items())}
        for group, by in sorted(right.items())
    }
    return {
        "command": command_line(),
        "machine": machine(),
        "engine": engine.describe(),
        "groups": groups,
        "ms": {group: _spread(ms) for group, ms in sorted(took.items())},
        "seconds": round(time.perf_counter() - started, 1),
        "misses": misses,
    }


def _spread(ms: list[float]) -> dict[str, float]:
    return {"p50": round(percentile(ms, 50) or 0.0, 1), "p95": round(percentile(ms, 95) or 0.0, 1)}


def table(results: dict[str, Any]) -> str:
    lines = [
        f"engine: {results['engine']}",
        "",
        "| heard in its waiting state | clean | noisy | audio to match, p50 | p95 |",
        "| --- | --- | --- | --- | --- |",
    ]
    for group, by in results["groups"].items():
        cells = [f"{by[c]['right']}/{by[c]['n']}" if c in by else "" for c in ("clean", "noisy")]
        ms = results.get("ms", {}).get(group)
        times = [f"{ms['p50']:,.0f} ms", f"{ms['p95']:,.0f} ms"] if ms else ["", ""]
        lines.append(f"| {group} | {cells[0]} | {cells[1]} | {times[0]} | {times[1]} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--manifest", type=Path, default=ROOT / ".cache" / "spoken" / "manifest.jsonl")
    parser.add_argument("--engine", default="whisper", help="whisper (default) or pocketsphinx")
    parser.add_argument("--json", type=Path, help="also write the results (and each miss) here")
    args = parser.parse_args(argv)
    return measure_and_print("bench_waiting", lambda: run(args.manifest, args.engine), table, args.json)


if __name__ == "__main__":
    raise SystemExit(main())
