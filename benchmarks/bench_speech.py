"""Spoken-set benchmark: every speech engine on the same recordings, scored by ``assistant eval``'s own code.

    .venv/bin/python benchmarks/bench_speech.py [--manifest .cache/spoken/manifest.jsonl] [--jobs 2] [--json OUT]
    .venv/bin/python benchmarks/bench_speech.py --engines whisper --keep EARLIER.json --json OUT

``--keep`` takes the engines this run does not run from an earlier run on the same recordings (a slow engine
whose code did not change need not be heard again); the results say which, and by what command.

Two passes. The accuracy pass recognises every recording with every installed engine (engines side by side,
``--jobs`` processes), then ``assistant.evaluate.evaluate`` scores the whole set and each slice of it (per
SNR, voice, voice x SNR, noise kind) from those transcripts. The timing pass runs ``evaluate`` with one live
engine (as in use) on a spread of ``--timing-items`` recordings, ``--repeats`` times, for the real-time
factor and the end-of-audio-to-intent latency (medians over repeats), so that parallel workers never
inflate a timing. A recording is heard as ``assistant eval`` hears it: one file, one turn, through the
silence gate, with noise suppression (RNNoise) in front only for the engines it helps (not Whisper).
Latency counts from the end of the turn's audio (what the endpointer hands over) to the matched intent,
so it is what comes on top of the endpointing window.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import time
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    FREE_WHISPER,
    ROOT,
    command_line,
    machine,
    median,
    open_bench_engine,
    spoken_rows,
    write_results,
)

from assistant.asr.base import SpeechEngine
from assistant.asr.choose import find_vosk_model, find_whisper_model
from assistant.asr.whisper_engine import bundled_model
from assistant.cli import _transcribe_file
from assistant.errors import AssistantError
from assistant.evaluate import evaluate
from assistant.match import Matcher
from assistant.messages import Transcript
from assistant.pack import load_pack

ENGINES = ("whisper", "pocketsphinx", "vosk")
SNR_ORDER = ("24", "18", "12", "6", "clean")
"""Noisiest last but one, clean last: the order the chart's x axis reads."""
NOISY = ("24", "18", "12", "6")


def snr_key(row: dict[str, Any]) -> str:
    """ "clean" or the SNR in dB as text ("24")."""
    return "clean" if row.get("snr_db") is None else f"{float(row['snr_db']):g}"


def engine_status(kind: str) -> tuple[bool, str]:
    """Whether ``kind`` can run here, and why not (the report prints the reason instead of numbers)."""
    if kind == "vosk" and find_vosk_model() is None:
        return False, "Vosk: no English model on this machine"
    if kind in ("whisper", FREE_WHISPER) and find_whisper_model() is None and bundled_model() is None:
        return False, "Whisper: no model on this machine (neither bundled nor installed)"
    return True, ""


def recognise(engine: SpeechEngine, matcher: Matcher, audio: Path) -> Transcript:
    """One recording as ``assistant eval`` hears it (noise suppression only for engines it helps); latency
    runs on to the matched intent."""
    transcript = _transcribe_file(engine, audio, bool(getattr(engine, "noise_suppression", True)))
    asked: list[bool] = []
    if transcript.second_pass is not None:  # made only when the matcher asks, as in use
        later = transcript.second_pass
        transcript = dataclasses.replace(transcript, second_pass=lambda: asked.append(True) or later())
    started = time.perf_counter()
    matcher.match_heard(transcript.text, transcript)
    match_ms = (time.perf_counter() - started) * 1000
    # The transcript goes to another process and is matched again there: its second pass is written out.
    fallback = transcript.fallback_text() if asked else transcript.fallback
    return dataclasses.replace(
        transcript, fallback=fallback, second_pass=None, latency_ms=(transcript.latency_ms or 0.0) + match_ms
    )


_WORKER: dict[str, Any] = {}


def _open_worker(kinds: tuple[str, ...]) -> None:
    pack = load_pack()
    _WORKER["matcher"] = Matcher(pack)
    _WORKER["engines"] = {kind: open_bench_engine(kind, pack) for kind in kinds}


def _recognise_all(audio: str) -> dict[str, dict[str, Any]]:
    """Every engine on one recording: transcript fields by engine."""
    out = {}
    for kind, engine in _WORKER["engines"].items():
        started = time.perf_counter()
        transcript = recognise(engine, _WORKER["matcher"], Path(audio))
        record = dataclasses.asdict(transcript)
        record.pop("words")
        record["compute_s"] = time.perf_counter() - started
        out[kind] = record
    return out


def transcribe_everything(
    rows: list[dict[str, Any]], kinds: tuple[str, ...], jobs: int
) -> dict[str, dict[str, Transcript]]:
    """Audio path -> Transcript, per engine, recognised by ``jobs`` processes."""
    paths = [row["path"] for row in rows]
    results: dict[str, dict[str, Transcript]] = {kind: {} for kind in kinds}
    bar = tqdm(total=len(paths), desc=f"speech ({'+'.join(kinds)})", unit="rec", file=sys.stderr)
    if jobs > 1:
        with ProcessPoolExecutor(jobs, initializer=_open_worker, initargs=(kinds,)) as pool:
            for path, record in zip(paths, pool.map(_recognise_all, paths, chunksize=2), strict=False):
                _keep(results, path, record)
                bar.update()
    else:
        _open_worker(kinds)
        for path in paths:
            _keep(results, path, _recognise_all(path))
            bar.update()
    bar.close()
    return results


def _keep(results: dict[str, dict[str, Transcript]], path: str, record: dict[str, dict[str, Any]]) -> None:
    for kind, fields in record.items():
        fields = dict(fields)
        fields.pop("compute_s")
        results[kind][path] = Transcript(**fields)


def write_manifest(rows: Iterable[dict[str, Any]], folder: Path, name: str) -> Path:
    """A manifest of ``rows`` with absolute audio paths, for ``evaluate``."""
    path = folder / f"{name}.jsonl"
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps({**row, "audio": row["path"]}) + "\n")
    return path


def score(rows: list[dict[str, Any]], matcher: Matcher, heard: dict[str, Transcript], folder: Path) -> dict[str, Any]:
    """``evaluate`` on the whole set and on each slice, from transcripts already made."""

    def summary(subset: list[dict[str, Any]], name: str) -> dict[str, Any] | None:
        if not subset:
            return None
        result = evaluate(
            write_manifest(subset, folder, name), matcher, transcribe=lambda p: heard[str(p)], progress=False
        )
        result.pop("rtf", None)  # transcripts come from a cache here; the timing pass measures RTF
        return result

    snrs = [s for s in SNR_ORDER if any(snr_key(r) == s for r in rows)]
    voices = sorted({r["voice"] for r in rows})
    noises = sorted({r["noise"] for r in rows if r.get("noise")})
    by_snr = {s: summary([r for r in rows if snr_key(r) == s], f"snr-{s}") for s in snrs}
    noisy = [r["command_acceptance"] for s in NOISY if (r := by_snr.get(s)) and r["command_acceptance"] is not None]
    return {
        "overall": summary(rows, "all"),
        "noisy_acceptance_mean": round(sum(noisy) / len(noisy), 4) if noisy else None,
        "by_snr": by_snr,
        "by_voice": {v: summary([r for r in rows if r["voice"] == v], f"voice-{v}") for v in voices},
        "by_voice_snr": {
            v: {s: summary([r for r in rows if r["voice"] == v and snr_key(r) == s], f"vs-{v}-{s}") for s in snrs}
            for v in voices
        },
        "by_noise": {n: summary([r for r in rows if r.get("noise") == n], f"noise-{n}") for n in noises},
    }


def timing_rows(rows: list[dict[str, Any]], count: int) -> list[dict[str, Any]]:
    """An even spread of ``count`` recordings over the set (every SNR, voice and noise kind shows up)."""
    if count >= len(rows):
        return rows
    step = len(rows) / count
    return [rows[int(i * step)] for i in range(count)]


def time_engine(kind: str, rows: list[dict[str, Any]], repeats: int, folder: Path) -> dict[str, Any]:
    """RTF and end-of-audio-to-intent latency of one engine, median over repeats."""
    pack = load_pack()
    matcher = Matcher(pack)
    engine = open_bench_engine(kind, pack)
    manifest = write_manifest(rows, folder, f"timing-{kind}")
    recognise(engine, matcher, Path(rows[0]["path"]))  # a running assistant has its decoders warm
    runs = []
    for _ in tqdm(range(repeats), desc=f"timing {kind}", unit="run", file=sys.stderr):
        result = evaluate(manifest, matcher, transcribe=lambda p: recognise(engine, matcher, p), progress=False)
        runs.append({k: result[k] for k in ("rtf", "latency_ms_p50", "latency_ms_p95")})
    return {
        "recordings": len(rows),
        "repeats": repeats,
        "rtf": median([r["rtf"] for r in runs]),
        "latency_ms_p50": median([r["latency_ms_p50"] for r in runs]),
        "latency_ms_p95": median([r["latency_ms_p95"] for r in runs]),
        "runs": runs,
        "describe": engine.describe(),
    }


def run(manifest: Path, kinds: tuple[str, ...], jobs: int, timing_items: int, repeats: int) -> dict[str, Any]:
    """The whole benchmark as one JSON-ready dict."""
    if not manifest.is_file():
        raise AssistantError(f"{manifest}: no spoken set; make one with scripts/make_spoken_set.py")
    rows = spoken_rows(manifest)
    results: dict[str, Any] = {
        "machine": machine(),
        "command": command_line(),
        "manifest": str(manifest),
        "recordings": len(rows),
        "items": len({r["id"].split("--")[0] for r in rows}),
        "ood_recordings": sum(r["intent"] is None for r in rows),
        "voices": sorted({r["voice"] for r in rows}),
        "jobs": jobs,
        "engines": {},
    }
    ready = []
    for kind in kinds:
        ok, reason = engine_status(kind)
        if ok:
            ready.append(kind)
        else:
            results["engines"][kind] = {"available": False, "reason": reason}
    if not ready:
        return results
    started = time.perf_counter()
    heard = transcribe_everything(rows, tuple(ready), jobs)
    results["accuracy_pass_s"] = round(time.perf_counter() - started, 1)
    matcher = Matcher(load_pack())
    with tempfile.TemporaryDirectory(prefix="bench-speech-") as tmp:
        for kind in ready:
            scored = score(rows, matcher, heard[kind], Path(tmp))
            timing = time_engine(kind, timing_rows(rows, timing_items), repeats, Path(tmp))
            results["engines"][kind] = {"available": True, **scored, "timing": timing}
    results["engines"] = {kind: results["engines"][kind] for kind in kinds}  # in the order asked for
    return results


def keep_earlier(results: dict[str, Any], earlier_path: Path) -> None:
    """Add the engines of an earlier run on the same recordings that ``results`` did not run, noting in
    ``kept`` the command that measured each; AssistantError when that run heard other recordings."""
    try:
        earlier = json.loads(earlier_path.read_text(encoding="utf-8"))
        same = earlier["recordings"] == results["recordings"] and (
            Path(earlier["manifest"]).resolve() == Path(results["manifest"]).resolve()
        )
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise AssistantError(f"--keep {earlier_path}: not a bench_speech result ({error})") from None
    if not same:
        raise AssistantError(f"--keep {earlier_path}: that run heard other recordings than {results['manifest']}")
    kept = {**earlier.get("kept", {}), **results.get("kept", {})}
    for kind, result in earlier["engines"].items():
        if kind not in results["engines"]:
            results["engines"][kind] = result  # an engine not installed is said as missing, as it was then
            if result.get("available"):
                kept.setdefault(kind, earlier["command"])
    results["kept"] = {kind: command for kind, command in kept.items() if kind in results["engines"]}


def main(argv: list[str] | None = None) -> int:
    """Run and print (or write) the results as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--manifest", type=Path, default=ROOT / ".cache" / "spoken" / "manifest.jsonl")
    parser.add_argument(
        "--engines",
        default=",".join(ENGINES),
        help=f"comma list (default: {','.join(ENGINES)}; {FREE_WHISPER}: Whisper without decoding into the pack)",
    )
    parser.add_argument("--jobs", type=int, default=2, help="recognition processes for the accuracy pass")
    parser.add_argument("--timing-items", type=int, default=24, help="recordings in the one-engine timing pass")
    parser.add_argument("--repeats", type=int, default=3, help="timing-pass repeats (median reported)")
    parser.add_argument("--json", type=Path, help="write the results here instead of stdout")
    parser.add_argument("--keep", type=Path, help="take the engines not run now from this earlier result")
    args = parser.parse_args(argv)
    kinds = tuple(k.strip() for k in args.engines.split(",") if k.strip())
    unknown = [k for k in kinds if k not in (*ENGINES, FREE_WHISPER)]
    if unknown or args.jobs < 1 or args.repeats < 1 or args.timing_items < 1:
        print(f"bench_speech: bad options (unknown engines: {unknown})", file=sys.stderr)
        return 2
    try:
        results = run(args.manifest, kinds, args.jobs, args.timing_items, args.repeats)
        if args.keep is not None:
            keep_earlier(results, args.keep)
    except AssistantError as error:
        print(f"bench_speech: {error}", file=sys.stderr)
        return error.exit_code
    write_results(results, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
