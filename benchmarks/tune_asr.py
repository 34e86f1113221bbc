"""Tune PocketSphinx settings on a small spoken set: command acceptance and OOD false accepts per dialogue state.

    python benchmarks/tune_asr.py --make                      # speak the subset once (.cache/tune_asr/)
    python benchmarks/tune_asr.py --configs defaults,lw9      # score configurations

The subset: every control and emergency phrasing, a share of the others, extra short commands and
out-of-domain items, said by two voices clean and at 24, 12 and 6 dB (seeded, scripts/make_spoken_set.py).
Each file is heard as `assistant eval` hears it, through the endpointer (the "raw-file" configuration
feeds the whole file instead).
Each item is heard in every dialogue state where it matters: its own intent's states, and every state
for out-of-domain items (a false accept) and a few out-of-state commands (a forced command). Two
worker processes at most (--jobs).
"""

from __future__ import annotations

import argparse
import collections
import json
import random
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assistant.asr import grammar  # noqa: E402
from assistant.asr.sphinx_engine import SphinxEngine, SphinxSettings  # noqa: E402
from assistant.audio.denoise import suppressed  # noqa: E402
from assistant.audio.io import load_audio  # noqa: E402
from assistant.audio.vad import Endpointer, speech_only  # noqa: E402
from assistant.match import Matcher  # noqa: E402
from assistant.pack import Pack, load_pack  # noqa: E402

OUT = ROOT / ".cache/tune_asr"
SHORT_COMMANDS = [
    ("yeah", "yes", {}),
    ("nope", "no", {}),
    ("pause", "pause", {}),
    ("stop", "stop", {}),
    ("how long left", "time_left", {}),
    ("call an ambulance", "emergency", {}),
    ("I can't breathe", "emergency", {}),
    ("chest pain", "emergency", {}),
    ("my calf is cramping", "cramp_now", {"muscle": "calf"}),
    ("hey coach my calf is cramping", "cramp_now", {"muscle": "calf"}),
]
BEFORE: dict[str, Any] = {
    "suppress_noise": False,
    "endpointer": {"lead_in_ms": 300, "keep_trailing_ms": None},
}
"""The front end before noise suppression."""
CONFIGS: dict[str, dict[str, Any]] = {
    "defaults": {},
    "no-rnnoise": {"suppress_noise": False},
    "idle-posterior0.6": {"idle_word_posterior": 0.6},
    "lw9": {"language_weight": 9.0},
    "wip0.3": {"insertion_penalty": 0.3},
    "raw-file": {"endpointer": None},
    "before": BEFORE,
}
"""Configurations by name: SphinxSettings fields, plus the front end (``suppress_noise``, ``endpointer``).
Those measured and dropped (open-vocabulary decoder, phone loop, batch CMN, dither, flat passes, fillprob) are in
DECISIONS.md."""


def make(seed: int, snrs: str, jobs: int) -> None:
    """Choose the items and speak them (two voices, clean and at each of ``snrs``)."""
    rng = random.Random(seed)
    rows = [json.loads(line) for line in (ROOT / "tests/data/phrasings.jsonl").read_text().splitlines() if line]
    ood = [json.loads(line) for line in (ROOT / "tests/data/ood.jsonl").read_text().splitlines() if line]
    by_intent: dict[str, list[dict[str, Any]]] = collections.defaultdict(list)
    for row in rows:
        by_intent[row["intent"]].append(row)
    pack = load_pack(ROOT / "intents/en")
    restricted = {i for state in pack.dialogue.expects for i in grammar.active_intents(pack, state)}
    picked: list[dict[str, Any]] = []
    for intent, items in by_intent.items():
        share = len(items) if intent in restricted and intent not in ("cramp_now", "start_stretch") else 1
        share = {"cramp_now": 14, "start_stretch": 10}.get(intent, share)
        picked += rng.sample(items, min(share, len(items)))
    picked += [{"id": f"x-{i}", "text": t, "intent": n, "slots": s} for i, (t, n, s) in enumerate(SHORT_COMMANDS)]
    picked += rng.sample(ood, 32)
    OUT.mkdir(parents=True, exist_ok=True)
    item_file = OUT / "items.jsonl"
    item_file.write_text("".join(json.dumps(p) + "\n" for p in picked), encoding="utf-8")
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts/make_spoken_set.py"),
            str(item_file),
            "--out",
            str(OUT / "set"),
            "--voices",
            "espeak-us,piper-joe",
            "--snr",
            snrs,
            "--jobs",
            str(jobs),
            "--seed",
            str(seed),
            "--quiet",
        ],
        check=True,
    )


def tasks(pack: Pack, rows: list[dict[str, Any]], seed: int, share: float) -> list[tuple[str | None, dict[str, Any]]]:
    """(state, item) pairs: each item in the states where it should be heard or rejected (``share`` of the files)."""
    rng = random.Random(seed)
    rows = [row for row in rows if rng.random() < share or row["id"].startswith("x-")]
    out: list[tuple[str | None, dict[str, Any]]] = [(None, row) for row in rows]
    base_ids = sorted({row["id"].split("--")[0] for row in rows if row["intent"] is not None})
    for state in pack.dialogue.expects:
        active = set(grammar.active_intents(pack, state))
        outside = {i for i in base_ids if not any(r["intent"] in active for r in rows if r["id"].startswith(i + "--"))}
        forced = set(rng.sample(sorted(outside), min(12, len(outside))))
        for row in rows:
            if row["intent"] is None or row["intent"] in active or row["id"].split("--")[0] in forced:
                out.append((state, row))
    return out


_ENGINE: SphinxEngine | None = None
_MATCHER: Matcher | None = None
_ENDPOINTER: dict[str, Any] | None = {}
"""Endpointer options for hearing a file as `assistant eval` hears it; None: the raw file."""
_SUPPRESS = True
"""Take the noise out first (RNNoise), as `assistant eval` and the microphone do."""


def _init(settings: dict[str, Any]) -> None:
    global _ENGINE, _MATCHER, _ENDPOINTER, _SUPPRESS
    settings = dict(settings)
    _ENDPOINTER = settings.pop("endpointer", {})
    _SUPPRESS = settings.pop("suppress_noise", True)
    pack = load_pack(ROOT / "intents/en")
    _ENGINE = SphinxEngine(pack, settings=SphinxSettings(**settings))
    _MATCHER = Matcher(pack)


def _run(task: tuple[str | None, dict[str, Any]]) -> dict[str, Any]:
    assert _ENGINE is not None and _MATCHER is not None
    state, row = task
    audio = load_audio(OUT / "set" / row["audio"])
    started = time.perf_counter()
    heard = list(suppressed([audio])) if _SUPPRESS else [audio]  # its time counted, as the endpointer's
    if _ENDPOINTER is None:
        transcript = _ENGINE.transcribe(heard, expects=state)
    else:
        # Through the silence gate, as `assistant eval` and the microphone hear a turn.
        transcript = _ENGINE.transcribe(list(speech_only(heard, Endpointer(max_turn_s=30.0, **_ENDPOINTER))), state)
    spent = time.perf_counter() - started
    match = _MATCHER.match_heard(transcript.text, transcript)
    ok = match.intent == row["intent"] and all(match.slots.get(k) == v for k, v in (row["slots"] or {}).items())
    return {
        "state": state or "idle",
        "id": row["id"],
        "voice": row["voice"],
        "snr": row["snr_db"],
        "intent": row["intent"],
        "heard": transcript.text,
        "got": match.intent,
        "confidence": round(match.confidence, 4),
        "asr_confidence": round(transcript.confidence, 4),
        "ok": ok,
        "spent": spent,
        "audio_s": transcript.audio_s,
        "latency_ms": transcript.latency_ms or 0.0,
    }


def score(pack: Pack, results: list[dict[str, Any]]) -> dict[str, Any]:
    """Acceptance per state, voice and SNR; OOD false accepts; forced commands; RTF and latency."""

    def rate(rows: list[dict[str, Any]], key: str = "ok") -> float:
        return round(sum(bool(r[key]) for r in rows) / len(rows), 3) if rows else float("nan")

    summary: dict[str, Any] = {}
    for state in ["idle", *pack.dialogue.expects]:
        active = set(grammar.active_intents(pack, None if state == "idle" else state))
        rows = [r for r in results if r["state"] == state]
        inside = [r for r in rows if r["intent"] in active]
        ood = [r for r in rows if r["intent"] is None]
        outside = [r for r in rows if r["intent"] is not None and r["intent"] not in active]
        summary[state] = {
            "accept": rate(inside),
            "ood_fa": rate([{"x": r["got"] is not None} for r in ood], "x"),
            "forced": rate([{"x": r["got"] is not None and not r["ok"]} for r in outside], "x"),
            "n": len(inside),
        }
    commands = [
        r
        for r in results
        if r["intent"] is not None
        and r["intent"] in grammar.active_intents(pack, None if r["state"] == "idle" else r["state"])
    ]
    summary["by_voice"] = {
        v: rate([r for r in commands if r["voice"] == v]) for v in sorted({r["voice"] for r in results})
    }
    snrs = sorted({r["snr"] for r in results}, key=lambda s: -1e9 if s is None else -s)
    summary["by_snr"] = {str(s): rate([r for r in commands if r["snr"] == s]) for s in snrs}
    summary["accept_all"] = rate(commands)
    summary["ood_fa_all"] = rate([{"x": r["got"] is not None} for r in results if r["intent"] is None], "x")
    summary["rtf"] = round(sum(r["spent"] for r in results) / sum(r["audio_s"] for r in results), 4)
    latencies = sorted(r["latency_ms"] for r in results)
    summary["latency_ms_p50"] = round(latencies[len(latencies) // 2], 1)
    summary["latency_ms_p95"] = round(latencies[int(len(latencies) * 0.95)], 1)
    return summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--make", action="store_true", help="(re)generate the spoken subset first")
    parser.add_argument("--configs", default="defaults", help=f"comma list of: {', '.join(CONFIGS)}")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--snr", default="clean,24,12,6", help="conditions spoken by --make (default clean,24,12,6)")
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--share", type=float, default=0.4, help="share of the spoken files to use (default 0.4)")
    args = parser.parse_args()
    if args.make or not (OUT / "set/manifest.jsonl").is_file():
        make(args.seed, args.snr, args.jobs)
    pack = load_pack(ROOT / "intents/en")
    rows = [json.loads(line) for line in (OUT / "set/manifest.jsonl").read_text().splitlines() if line]
    work = tasks(pack, rows, args.seed, args.share)
    for name in args.configs.split(","):
        started = time.perf_counter()
        with ProcessPoolExecutor(args.jobs, initializer=_init, initargs=(CONFIGS[name],)) as pool:
            results = list(pool.map(_run, work, chunksize=8))
        (OUT / f"results-{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in results))
        summary = score(pack, results)
        summary["wall_s"] = round(time.perf_counter() - started, 1)
        print(json.dumps({"config": name, **summary}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
