"""Regenerate BENCHMARKS.md, its plots and README.md's headline figures from scratch: spoken set, real people,
text, speech and pipeline benchmarks.

    .venv/bin/python benchmarks/report.py                     # everything (the full spoken set)
    .venv/bin/python benchmarks/report.py --limit 48          # 48 text items, each spoken by 2 voices x 5 SNRs
    .venv/bin/python benchmarks/report.py --realspeech-json rs.json  # real people from an earlier run
    .venv/bin/python benchmarks/report.py --limit 48 --reuse --realspeech-json a.json --realspeech-json b.json
    .venv/bin/python benchmarks/report.py --limit 48 --reuse --waiting-json w.json --decode-json d.json
    .venv/bin/python benchmarks/report.py --limit 48 --reuse --safety-json s.json

Steps: (re)generate the seeded spoken set with scripts/make_spoken_set.py, then run bench_text.py,
bench_speech.py, bench_realspeech.py (unless ``--realspeech-json`` gives its results: one file per run, the
engines of several runs side by side), bench_latency.py, bench_waiting.py on the spoken set, bench_decode.py,
bench_safety.py on typed sentences, no audio, and bench_voice.py on the pack's replies (unless ``--waiting-json``
/ ``--decode-json`` / ``--safety-json`` / ``--voice-json`` give theirs), each in its own process, and write
``OUT/BENCHMARKS.md`` and ``OUT/benchmarks/plots/*.png``, and rewrite the table between
``<!-- figures:start -->`` and ``<!-- figures:end -->`` in ``OUT/README.md`` (the run stops before it starts if
they are missing). The targets hold the default engine (what ``--asr auto`` takes); the other engines present
are shown beside it. Timings are medians of ``--repeats`` runs. Raw results are kept in ``OUT/.cache/bench/``
(not committed); ``--reuse`` writes the report from them without measuring again.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from tqdm import tqdm  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_safety  # noqa: E402
import bench_voice  # noqa: E402
from bench_realspeech import DEFAULT_SET as REALSPEECH_SET  # noqa: E402
from bench_realspeech import noise_table, table  # noqa: E402
from common import PYTHON, ROOT, command_line, describe_machine, machine, median  # noqa: E402

from assistant.session import QUESTION_PAUSE_MS, REPLY_PAUSE_MS  # noqa: E402

HERE = Path(__file__).resolve().parent
ITEM_FILES = (ROOT / "tests" / "data" / "phrasings.jsonl", ROOT / "tests" / "data" / "ood.jsonl")
SEED = 1234
SNR_AXIS = {"6": 6.0, "12": 12.0, "18": 18.0, "24": 24.0, "clean": 30.0}
"""Where each condition sits on the chart's x axis: clean at the right, past the loudest noise."""
Results = tuple[dict[str, Any], dict[str, Any], dict[str, Any], dict[str, Any]]
"""Text, spoken-set, latency and real-people results, in that order."""
UNTARGETED = {
    "waiting": ("bench_waiting.py", "Replies in a waiting state"),
    "decode": ("bench_decode.py", "Where a turn's time goes"),
    "safety": ("bench_safety.py", "Safety net"),
    "voice": ("bench_voice.py", "Spoken replies"),
}
"""The benchmarks shown in sections of their own, outside the Targets table (the spoken replies' targets are
checked in their section): name -> (script, section title). A name's results are kept in
``OUT/.cache/bench/NAME.json``; ``--NAME-json`` takes them from another file."""
Untargeted = dict[str, dict[str, Any]]
"""Those benchmarks' results by name; ``missing`` (and nothing else) when there are none."""


def pick_items(limit: int) -> list[dict[str, Any]]:
    """The text items to speak: all, or ``limit`` of them spread evenly over intents and out-of-domain items."""
    groups = [
        [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        for path in ITEM_FILES
    ]
    if not limit:
        return [item for group in groups for item in group]
    in_domain, ood = groups
    ood_count = min(len(ood), max(1, round(limit * len(ood) / (len(in_domain) + len(ood)))))
    return spread(in_domain, max(0, limit - ood_count)) + spread(ood, ood_count)


def spread(items: list[dict[str, Any]], count: int) -> list[dict[str, Any]]:
    """``count`` items at even steps through ``items`` (the files are grouped by intent)."""
    if count >= len(items):
        return items
    step = len(items) / count if count else 0
    return [items[int(i * step)] for i in range(count)]


def run_step(name: str, argv: list[str], log: Path) -> None:
    """One benchmark process; its stderr goes to ``log``; AssistantError-style exit on failure."""
    with log.open("w", encoding="utf-8") as handle:
        done = subprocess.run(argv, cwd=ROOT, stdout=handle, stderr=subprocess.STDOUT, check=False)
    if done.returncode != 0:
        tail = log.read_text(encoding="utf-8", errors="replace")[-1500:]
        raise SystemExit(f"report: {name} failed (exit {done.returncode}); see {log}\n{tail}")


def text_results(cache: Path, repeats: int) -> dict[str, Any]:
    """bench_text.py ``repeats`` times; accuracy from the first run, timings as medians (kept in text.json)."""
    at_start = machine()
    runs = []
    for i in range(repeats):
        out = cache / f"text-{i}.json"
        with out.open("w", encoding="utf-8") as handle:
            done = subprocess.run([PYTHON, str(HERE / "bench_text.py"), "--json"], cwd=ROOT, stdout=handle, check=False)
        if done.returncode != 0:
            raise SystemExit("report: bench_text.py failed")
        runs.append(json.loads(out.read_text(encoding="utf-8")))
    combined = combine_text_runs(runs, at_start)
    (cache / REUSED["text"]).write_text(json.dumps(combined, indent=1), encoding="utf-8")
    return combined


REUSED = {"text": "text.json", "speech": "speech.json", "latency": "latency.json", "items": "items.jsonl"}
"""What ``--reuse`` reads back from ``OUT/.cache/bench/``: the results of the last run's steps."""


def reused_results(cache: Path, items: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Text, spoken-set and latency results of an earlier run, for ``--reuse``; SystemExit when one is missing
    or the run spoke other items than ``--limit`` picks now (its figures would be described wrongly)."""
    missing = [name for name in REUSED.values() if not (cache / name).is_file()]
    if missing:
        raise SystemExit(f"report: --reuse: no earlier results in {cache} ({', '.join(missing)} missing)")
    spoken = reused_items(cache)
    if spoken != items and not picked_from_the_files_before(spoken, items):
        raise SystemExit(
            f"report: --reuse: the earlier run spoke other items ({cache / REUSED['items']}); give its --limit"
        )
    text, speech, latency = (
        json.loads((cache / REUSED[name]).read_text(encoding="utf-8")) for name in ("text", "speech", "latency")
    )
    speech["command"] = relative_command(speech["command"])
    latency["command"] = relative_command(latency["command"])
    return text, speech, latency


def reused_items(cache: Path) -> list[dict[str, Any]]:
    """The text items the earlier run spoke (``OUT/.cache/bench/items.jsonl``)."""
    path = cache / REUSED["items"]
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def picked_from_the_files_before(spoken: list[dict[str, Any]], items: list[dict[str, Any]]) -> bool:
    """Whether ``spoken`` is as many items as ``--limit`` picks now, every one still in the item files: the
    same limit picked from the files as they were before items were added to them. The report then describes
    the items the run spoke."""
    current = {json.dumps(item, sort_keys=True) for item in pick_items(0)}
    return len(spoken) == len(items) and all(json.dumps(item, sort_keys=True) in current for item in spoken)


PLAIN = "bundled_match_without_meaning"
"""bench_text.py's timing of the matcher without its meaning stage."""


def combine_text_runs(runs: list[dict[str, Any]], ran_on: dict[str, Any]) -> dict[str, Any]:
    """bench_text.py's runs as one result: accuracy from the first run, timings as medians."""
    first = runs[0]
    return {
        **first,
        "bundled_match_p50_ms": median([r["bundled_match"]["p50_ms"] for r in runs]),
        "bundled_match_p95_ms": median([r["bundled_match"]["p95_ms"] for r in runs]),
        **{
            f"bundled_match_without_meaning_{q}_ms": median([r[PLAIN][f"{q}_ms"] for r in runs])
            for q in ("p50", "p95")
            if all(PLAIN in r for r in runs)
        },
        "coffee_match_p50_ms": median([r["coffee_match"]["p50_ms"] for r in runs]),
        "coffee_match_p95_ms": median([r["coffee_match"]["p95_ms"] for r in runs]),
        "ask_cold_start_median_ms": median([r["ask_cold_start_ms"]["median"] for r in runs]),
        "bundled_paths_ms": {
            path: {f"{q}_ms": median([r["bundled_paths"][path][f"{q}_ms"] for r in runs]) for q in ("p50", "p95")}
            for path in first.get("bundled_paths", {})
        },
        "repeats": len(runs),
        "ran_on": ran_on,
    }


def pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.1f}%"


def num(value: float | None, unit: str = "", digits: int = 0) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}{unit}"


def verdict(target: Target) -> str:
    if not target.goal:
        return ""
    return "not measured" if target.ok is None else ("met" if target.ok else "**not met**")


def check(value: float | None, limit: float, at_least: bool = False) -> bool | None:
    if value is None:
        return None
    return value >= limit if at_least else value < limit


def at_most(value: float | None, limit: float) -> bool | None:
    return None if value is None else value <= limit


AUTO_ORDER = ("vosk", "whisper", "pocketsphinx")
"""``--asr auto``'s order of preference: the first engine present is the one a user hears with."""
ENGINE_NAMES = {"whisper": "Whisper", "pocketsphinx": "PocketSphinx", "vosk": "Vosk"}
ENGINE_COLOURS = {"whisper": "#ff7f0e", "pocketsphinx": "#1f77b4", "vosk": "#d62728"}
REAL_NOISY = ("24 dB", "18 dB", "12 dB", "6 dB")


def default_engine(speech: dict[str, Any]) -> str:
    """The engine ``--asr auto`` takes among those the spoken set ran (Whisper when none ran)."""
    present = [kind for kind, result in speech["engines"].items() if result.get("available")]
    return next((kind for kind in AUTO_ORDER if kind in present), "whisper")


def side_engines(speech: dict[str, Any]) -> list[str]:
    """The other engines that ran, shown beside the default one (not held to the targets)."""
    default = default_engine(speech)
    return [kind for kind, result in speech["engines"].items() if result.get("available") and kind != default]


def engine_name(kind: str) -> str:
    return ENGINE_NAMES.get(kind, kind)


def engine_result(speech: dict[str, Any], kind: str) -> dict[str, Any]:
    """One engine's spoken-set results, or an empty dict when it could not run."""
    result: dict[str, Any] = speech["engines"].get(kind, {})
    return result if result.get("available") else {}


def acceptance_at(speech: dict[str, Any], condition: str, kind: str) -> float | None:
    """An engine's command acceptance in one condition of the spoken set ("6", ..., "clean")."""
    value: float | None = (engine_result(speech, kind).get("by_snr", {}).get(condition) or {}).get("command_acceptance")
    return value


def real_acceptance(realspeech: dict[str, Any], label: str, condition: str) -> float | None:
    """An engine's command acceptance on the real recordings in one condition ("clean", "6 dB", ...)."""
    value: float | None = (realspeech.get("engines", {}).get(label, {}).get(condition) or {}).get("command_acceptance")
    return value


def real_noisy_mean(realspeech: dict[str, Any], label: str) -> float | None:
    """Mean command acceptance on the real recordings over 24/18/12/6 dB (None unless all four ran)."""
    values = [real_acceptance(realspeech, label, condition) for condition in REAL_NOISY]
    known = [v for v in values if v is not None]
    return round(sum(known) / len(known), 4) if known and len(known) == len(values) else None


def real_count(realspeech: dict[str, Any]) -> int | None:
    """How many real recordings were heard (clean), None when none were."""
    counts = [(r.get("clean") or {}).get("n") for r in realspeech.get("engines", {}).values()]
    return max((c for c in counts if isinstance(c, int)), default=None)


class Target(NamedTuple):
    """One row of the Targets table in BENCHMARKS.md; the README's headline table picks its rows by ``key``."""

    key: str
    name: str
    goal: str
    """Empty for a figure that is reported, not held to a target."""
    value: float | None
    shown: str
    ok: bool | None
    others: tuple[str, ...] = ()
    """The same figure for each of ``side_engines`` (empty when the figure is the default pipeline's only)."""


def plot_acceptance(speech: dict[str, Any], path: Path) -> None:
    """Command acceptance against SNR: a bold line per engine, a thin line per voice, clean at the right."""
    fig, ax = plt.subplots(figsize=(8, 5), dpi=110)
    notes = []
    for kind, result in speech["engines"].items():
        if not result.get("available"):
            notes.append(result["reason"])
            continue
        colour = ENGINE_COLOURS.get(kind, "#444444")
        ends = []
        for voice, by_snr in sorted(result["by_voice_snr"].items()):
            xs, ys = curve(by_snr)
            ax.plot(xs, ys, color=colour, alpha=0.25, linewidth=0.9)
            if xs:
                ends.append((ys[-1], xs[-1], voice))
        for y, x, voice in spaced_labels(ends, gap=3.2):
            ax.annotate(
                voice,
                (x, y),
                fontsize=6,
                color=colour,
                alpha=0.7,
                xytext=(4, 0),
                textcoords="offset points",
                va="center",
            )
        xs, ys = curve(result["by_snr"])
        label = f"{engine_name(kind)}, all voices (mean of 24-6 dB: {pct(result['noisy_acceptance_mean'])})"
        ax.plot(xs, ys, color=colour, linewidth=2.6, marker="o", label=label)
        annotate_points(ax, xs, ys, colour)
    ax.axhline(90, color="#2ca02c", linestyle="--", linewidth=1, label="target: 90% averaged over 24-6 dB")
    target_marker(ax, SNR_AXIS["clean"], 95, "target: 95% clean")
    snr_axis(ax, "gym noises: babble, clatter, treadmill, pink")
    ax.set_title(
        f"Spoken commands understood vs noise ({speech['recordings']} recordings, {len(speech['voices'])} voices)"
    )
    if notes:
        ax.text(0.02, 0.75, "\n".join(notes), transform=ax.transAxes, fontsize=8, color="#666666")
    ax.legend(loc="lower right", fontsize=8, frameon=False)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def target_marker(ax: Any, x: float, y: float, label: str) -> None:
    """A target at one point of a chart: a green triangle, in the legend as ``label``."""
    ax.plot([x], [y], marker="v", color="#2ca02c", markersize=9, linestyle="none", label=label)


def plot_realspeech(realspeech: dict[str, Any], path: Path) -> None:
    """Command acceptance of real people's recordings against SNR, a line per engine, with the targets."""
    fig, ax = plt.subplots(figsize=(8, 5), dpi=110)
    for label, result in realspeech.get("engines", {}).items():
        points = sorted(
            (SNR_AXIS[condition.removesuffix(" dB")], result[condition]["command_acceptance"] * 100)
            for condition in realspeech["conditions"]
            if condition.removesuffix(" dB") in SNR_AXIS and result.get(condition)
        )
        xs, ys = [p[0] for p in points], [p[1] for p in points]
        colour = ENGINE_COLOURS.get(label, "#444444")
        mean = real_noisy_mean(realspeech, label)
        name = engine_name(label)
        ax.plot(xs, ys, color=colour, linewidth=2.6, marker="o", label=f"{name} (mean of 24-6 dB: {pct(mean)})")
        annotate_points(ax, xs, ys, colour)
    ax.axhline(95, color="#2ca02c", linestyle="--", linewidth=1, label="target: 95% averaged over 24-6 dB")
    target_marker(ax, 6, 93, "target: 93% at 6 dB")
    target_marker(ax, SNR_AXIS["clean"], 97, "target: 97% clean")
    snr_axis(ax, "loudest-frame SNR; cafe and kitchen noise")
    ax.set_title(f"Real people's commands understood vs noise ({real_count(realspeech) or 0} recordings)")
    ax.legend(loc="lower right", fontsize=8, frameon=False)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def annotate_points(ax: Any, xs: list[float], ys: list[float], colour: str) -> None:
    for x, y in zip(xs, ys, strict=True):
        ax.annotate(
            f"{y:.0f}", (x, y), fontsize=8, color=colour, xytext=(0, 7), textcoords="offset points", ha="center"
        )


def snr_axis(ax: Any, noises: str) -> None:
    """The x axis every acceptance chart shares: 6 dB to clean, left to right."""
    ax.set_xticks(list(SNR_AXIS.values()), [f"{k} dB" if k != "clean" else "clean" for k in SNR_AXIS])
    ax.set_xlim(4, 34)
    ax.set_ylim(0, 103)
    ax.set_xlabel(f"Signal-to-noise ratio ({noises})")
    ax.set_ylabel("Command acceptance (%) - intent and slots right")
    ax.grid(True, alpha=0.3)
    ax.spines[["top", "right"]].set_visible(False)


def spaced_labels(ends: list[tuple[float, float, str]], gap: float) -> list[tuple[float, float, str]]:
    """Line-end labels (y, x, text) nudged apart so that no two are closer than ``gap`` on the y axis."""
    placed: list[tuple[float, float, str]] = []
    for y, x, text in sorted(ends):
        if placed and y - placed[-1][0] < gap:
            y = placed[-1][0] + gap
        placed.append((y, x, text))
    return placed


def curve(by_snr: dict[str, Any]) -> tuple[list[float], list[float]]:
    """x (SNR axis) and y (acceptance %) for the conditions that have in-domain items."""
    points = [
        (SNR_AXIS[s], r["command_acceptance"] * 100)
        for s, r in by_snr.items()
        if r is not None and r.get("command_acceptance") is not None and s in SNR_AXIS
    ]
    points.sort()
    return [p[0] for p in points], [p[1] for p in points]


def plot_latency(speech: dict[str, Any], latency: dict[str, Any], path: Path) -> None:
    """p50 and p95 of each latency of the default engine; the response latency with its targets."""
    timing = engine_result(speech, default_engine(speech)).get("timing", {})
    rows = [
        (
            "End of audio → intent\n(spoken set, engine + match)",
            timing.get("latency_ms_p50"),
            timing.get("latency_ms_p95"),
            None,
        ),
        ("Endpointing wait\n(end of speech → turn handed over)", latency.get("endpointing_ms_p50"), None, None),
        (
            "Hand-over → reply decided\n(live pipeline: decode + match)",
            latency.get("intent_ms_p50"),
            latency.get("intent_ms_p95"),
            None,
        ),
        (
            "End of speech → first reply sample\n(live, incl. endpointing)",
            latency.get("response_ms_p50"),
            latency.get("response_ms_p95"),
            900,
        ),
    ]
    fig, ax = plt.subplots(figsize=(8, 5), dpi=110)
    ys = list(range(len(rows)))[::-1]
    for y, (_label, p50, p95, target) in zip(ys, rows, strict=True):
        if p95 is not None:
            ax.barh(y, p95, height=0.55, color="#aec7e8", label="p95" if y == ys[0] else None)
            ax.text(p95, y - 0.18, f" p95 {p95:.0f}", va="center", fontsize=8)
        if p50 is not None:
            ax.barh(y, p50, height=0.3, color="#1f77b4", label="p50" if y == ys[0] else None)
            ax.text(p50, y + 0.18, f" p50 {p50:.0f}", va="center", fontsize=8)
        if target is not None:
            ax.plot([target, target], [y - 0.35, y + 0.35], color="#2ca02c", linewidth=2, label="target (p95)")
    p50_target = 600
    ax.plot(
        [p50_target, p50_target],
        [ys[-1] - 0.35, ys[-1] + 0.35],
        color="#2ca02c",
        linestyle=":",
        linewidth=2,
        label="target (p50)",
    )
    ax.set_yticks(ys, [r[0] for r in rows], fontsize=8)
    ax.set_xlabel("milliseconds")
    ax.set_title(f"Latency percentiles, {engine_name(default_engine(speech))} (median of repeated runs)")
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(True, axis="x", alpha=0.3)
    ax.legend(fontsize=8, frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=4)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def target_rows(
    text: dict[str, Any], speech: dict[str, Any], latency: dict[str, Any], realspeech: dict[str, Any]
) -> list[Target]:
    """Every target with its measured figure for the default engine (the other engines beside it): the Targets
    table of BENCHMARKS.md and the README's headline table."""
    default, sides = default_engine(speech), side_engines(speech)

    def per_engine(
        key: str,
        name: str,
        goal: str,
        figure: Callable[[str], float | None],
        ok: Callable[[float | None], bool | None],
        shown: Callable[[float | None], str] = pct,
    ) -> Target:
        value = figure(default)
        return Target(key, name, goal, value, shown(value), ok(value), tuple(shown(figure(k)) for k in sides))

    def spoken(kind: str, *path: str) -> float | None:
        found: Any = engine_result(speech, kind)
        for step in path:
            found = (found or {}).get(step)
        return found if isinstance(found, (int, float)) else None

    phr, ood = text["phrasings"], text["ood"]
    count = real_count(realspeech)
    return [
        per_engine(
            "real_clean",
            f"Real people ({count or 0} recordings): command acceptance, clean",
            "≥ 97%",
            lambda kind: real_acceptance(realspeech, kind, "clean"),
            lambda value: check(value, 0.97, at_least=True),
        ),
        per_engine(
            "real_noisy",
            "Real people: command acceptance, mean of 24/18/12/6 dB",
            "≥ 95%",
            lambda kind: real_noisy_mean(realspeech, kind),
            lambda value: check(value, 0.95, at_least=True),
        ),
        per_engine(
            "real_6db",
            "Real people: command acceptance at 6 dB",
            "≥ 93%",
            lambda kind: real_acceptance(realspeech, kind, "6 dB"),
            lambda value: check(value, 0.93, at_least=True),
        ),
        per_engine(
            "spoken_clean",
            "Synthetic spoken set: command acceptance, clean",
            "≥ 95%",
            lambda kind: acceptance_at(speech, "clean", kind),
            lambda value: check(value, 0.95, at_least=True),
        ),
        per_engine(
            "spoken_noisy",
            "Synthetic spoken set: command acceptance, mean of 24/18/12/6 dB",
            "≥ 90%",
            lambda kind: spoken(kind, "noisy_acceptance_mean"),
            lambda value: check(value, 0.90, at_least=True),
        ),
        per_engine(
            "spoken_ood",
            "Synthetic spoken set: out-of-domain false accepts (all SNRs)",
            "≤ 3%",
            lambda kind: spoken(kind, "overall", "ood_false_accept_rate"),
            lambda value: at_most(value, 0.03),
        ),
        per_engine(
            "rtf",
            "Real-time factor: front end, recognition and matching (one engine on the machine)",
            "≤ 0.15",
            lambda kind: spoken(kind, "timing", "rtf"),
            lambda value: at_most(value, 0.15),
            lambda value: num(value, digits=3),
        ),
        Target(
            "response_p50",
            "End of speech → first reply sample p50, endpointing included",
            "≤ 600 ms",
            latency.get("response_ms_p50"),
            num(latency.get("response_ms_p50"), " ms"),
            at_most(latency.get("response_ms_p50"), 600),
        ),
        Target(
            "response_p95",
            "End of speech → first reply sample p95, endpointing included",
            "≤ 900 ms",
            latency.get("response_ms_p95"),
            num(latency.get("response_ms_p95"), " ms"),
            at_most(latency.get("response_ms_p95"), 900),
        ),
        Target(
            "memory",
            "Resident memory, the highest of the runs (default engine and voice)",
            "≤ 450 MB",
            latency.get("rss_peak_mb"),
            num(latency.get("rss_peak_mb"), " MiB"),
            at_most(latency.get("rss_peak_mb"), 450),
        ),
        Target(
            "startup",
            "Start-up to listening (`assistant listen`)",
            "≤ 1.5 s",
            latency.get("startup_to_listening_s"),
            num(latency.get("startup_to_listening_s"), " s", 2),
            at_most(latency.get("startup_to_listening_s"), 1.5),
        ),
        Target(
            "venv",
            "Installed size of `.venv` (`du -sm`)",
            "",
            latency.get("venv_mib"),
            num(latency.get("venv_mib"), " MiB"),
            None,
        ),
        Target(
            "text_intent",
            "Text: top-1 intent accuracy (held-out phrasings)",
            "≥ 95%",
            phr["intent_accuracy"],
            pct(phr["intent_accuracy"]),
            check(phr["intent_accuracy"], 0.95, at_least=True),
        ),
        Target(
            "text_ood",
            "Text: OOD false accepts",
            "≤ 5%",
            ood["ood_false_accept_rate"],
            pct(ood["ood_false_accept_rate"]),
            at_most(ood["ood_false_accept_rate"], 0.05),
        ),
        Target(
            "bundled_match_p95",
            "Text: match p95, bundled pack",
            "< 2 ms",
            text["bundled_match_p95_ms"],
            num(text["bundled_match_p95_ms"], " ms", 2),
            check(text["bundled_match_p95_ms"], 2),
        ),
        Target(
            "coffee_match_p95",
            "Text: match p95, coffee pack (million-expansion)",
            "< 10 ms",
            text["coffee_match_p95_ms"],
            num(text["coffee_match_p95_ms"], " ms", 2),
            check(text["coffee_match_p95_ms"], 10),
        ),
        Target(
            "ask_cold_start",
            "`assistant ask` cold start (median)",
            "< 1 s",
            text["ask_cold_start_median_ms"],
            num(text["ask_cold_start_median_ms"], " ms"),
            check(text["ask_cold_start_median_ms"], 1000),
        ),
    ]


README_START = "<!-- figures:start -->"
README_END = "<!-- figures:end -->"


def readme_figures(
    text: dict[str, Any], speech: dict[str, Any], latency: dict[str, Any], realspeech: dict[str, Any]
) -> str:
    """The README's headline figures (a one-line note and a table), from the same rows as the Targets table:
    the default engine held to the targets, the other engines that ran in columns beside it."""
    t = {target.key: target for target in target_rows(text, speech, latency, realspeech)}
    p50, p95 = t["response_p50"], t["response_p95"]
    rows: list[tuple[str, Target | tuple[str, str]]] = [
        (f"Typed questions: top-1 intent on {text['phrasings']['n']} held-out phrasings", t["text_intent"]),
        (f"Typed questions: out-of-domain false accepts ({text['ood']['n']} items)", t["text_ood"]),
        (f"Match latency p95, bundled pack ({text['bundled_templates']} templates)", t["bundled_match_p95"]),
        (
            f"Match latency p95, {power_of_ten(text['coffee_expansions'])}-sentence coffee pack",
            t["coffee_match_p95"],
        ),
        ("`assistant ask` cold start, median", t["ask_cold_start"]),
        (f"Real people ({real_count(realspeech) or 0} recordings), clean", t["real_clean"]),
        ("Real people, mean of 24/18/12/6 dB", t["real_noisy"]),
        ("Real people, at 6 dB", t["real_6db"]),
        ("Synthetic spoken set, clean", t["spoken_clean"]),
        ("Synthetic spoken set, mean of 24/18/12/6 dB", t["spoken_noisy"]),
        ("Spoken out-of-domain false accepts", t["spoken_ood"]),
        ("Real-time factor (front end, recognition, matching)", t["rtf"]),
        (
            "End of speech to first reply sample, p50 / p95 (incl. endpointing)",
            (
                f"{p50.goal.removesuffix(' ms')} / {p95.goal.removeprefix('≤ ')}",
                f"{num(p50.value)} / {p95.shown}",
            ),
        ),
        ("Resident memory at its highest, default engine and voice", t["memory"]),
        ("Start-up to listening", t["startup"]),
        ("Installed size of `.venv`", t["venv"]),
    ]
    on = speech["machine"]
    cores = on.get("cores") or 1
    shared = ", shared with other work while it ran" if busiest_load(text, speech, latency) > cores / 2 else ""
    default, sides = default_engine(speech), side_engines(speech)
    lines = [
        f"Headline figures, written here by `benchmarks/report.py` ({on.get('cores')}-core {on.get('cpu')}{shared}):",
        "",
        "| What | Target | " + " | ".join([f"{engine_name(default)} (default)", *map(engine_name, sides)]) + " |",
        "| --- | --- | --- |" + " --- |" * len(sides),
    ]
    for what, figure in rows:
        if isinstance(figure, Target):
            goal, shown, others = figure.goal, figure.shown, figure.others or ("",) * len(sides)
        else:
            (goal, shown), others = figure, ("",) * len(sides)
        cells = [what, goal, shown, *others]
        lines.append("|" + "|".join(f" {cell} " if cell else " " for cell in cells) + "|")
    return "\n".join(lines)


def power_of_ten(count: int) -> str:
    """``count`` to the nearest lower power of ten, written 10¹²."""
    return "10" + str(len(str(int(count))) - 1).translate(str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹"))


def with_figures(readme: str, figures: str, name: str = "README.md") -> str:
    """``readme`` with everything between the figure markers replaced by ``figures``; nothing else changes."""
    start, end = readme.find(README_START), readme.find(README_END)
    if readme.count(README_START) != 1 or readme.count(README_END) != 1 or end < start:
        raise SystemExit(
            f"report: {name} needs one '{README_START}' line and, after it, one '{README_END}' line around "
            "the headline figures table; add them and run again"
        )
    return readme[: start + len(README_START)] + "\n\n" + figures.strip("\n") + "\n\n" + readme[end:]


def read_readme(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as error:
        raise SystemExit(f"report: cannot read {path} to write the headline figures into it: {error}") from None


def write_readme_figures(path: Path, figures: str) -> None:
    """Rewrite the figures between the README's markers, atomically (a temporary file, then a rename)."""
    updated = with_figures(read_readme(path), figures, str(path))
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(updated)
        os.chmod(temporary, path.stat().st_mode & 0o777)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def markdown(
    args: argparse.Namespace,
    items: list[dict[str, Any]],
    results: Results,
    untargeted: Untargeted,
    wall_s: float,
    plots: Path,
    out: Path,
) -> str:
    """The whole BENCHMARKS.md."""
    text, speech, latency, realspeech = results
    command = args.command
    targets = target_rows(*results)
    held = [t for t in targets if t.goal]
    met = sum(1 for t in held if t.ok)
    default, sides = default_engine(speech), side_engines(speech)
    in_domain = sum(1 for i in items if i.get("intent") is not None)
    since = "" if items == pick_items(args.limit) else " as they were when it was made; items have been added since"
    subset = (
        "the full spoken set"
        if not args.limit
        else f"a subset: {len(items)} of the {len(pick_items(0))} text items ({in_domain} in-domain phrasings and "
        f"{len(items) - in_domain} out-of-domain items, picked at even steps through tests/data/phrasings.jsonl "
        f"and tests/data/ood.jsonl{since})"
    )
    machine_line = describe_machine(speech["machine"])
    pass_min = speech.get("accuracy_pass_s", 0.0) / 60
    full = len(pick_items(0)) * 10  # two voices, clean and four SNRs
    rel_plots = plots.relative_to(out) if plots.is_relative_to(out) else plots
    side_heads = "".join(f" {engine_name(k)} |" for k in sides)
    lines = [
        "# Benchmarks",
        "",
        "Measured figures of the gym voice assistant, regenerated from scratch by one command:",
        "",
        "```sh",
        command,
        "```",
        "",
        (
            "It was written from the results the steps of an earlier run kept in `.cache/bench/` (`--reuse`); each "
            "section names the command that measured it."
            if args.reuse
            else f"It took {wall_s / 60:.1f} minutes."
        )
        + f" Spoken-set figures cover {subset}; each text item is spoken by "
        f"2 synthetic voices (rotated, seed {SEED}; {len(speech['voices'])} voices appear in the set), "
        f"once clean and once at each of 24, 18, 12 and 6 dB SNR with a gym noise "
        f"(babble, clatter, treadmill or pink, rotated): "
        f"{speech['recordings']} recordings, {speech['ood_recordings']} of them out of domain. "
        f"Real people: {real_scope(realspeech)}. "
        f"Timings are medians of {args.repeats} runs. Nothing here is asserted by the tests; the figures are "
        f"what this machine measured, met or not.",
        "",
        f"Machine: {describe_machine(speech['machine'] if args.reuse else machine())}."
        + busy_note(text, speech, latency, *realspeech.get("runs", []), *untargeted.values()),
        "",
        "## Targets",
        "",
        f"The targets hold the default pipeline: {engine_name(default)} (what `--asr auto` takes here) and the "
        "default voice. "
        + (
            f"{', '.join(map(engine_name, sides))} ran on the same recordings and "
            f"{'is' if len(sides) == 1 else 'are'} shown beside it, not held to the targets. "
            if sides
            else ""
        )
        + f"{met} of {len(held)} targets met.",
        "",
        f"| Target | Goal | {engine_name(default)} (default) | |{side_heads}",
        "| --- | --- | --- | --- |" + " --- |" * len(sides),
        *[
            "|"
            + "|".join(
                f" {c} " if c else " " for c in (t.name, t.goal, t.shown, verdict(t), *(t.others or ("",) * len(sides)))
            )
            + "|"
            for t in targets
        ],
        "",
    ]
    lines += realspeech_section(realspeech, rel_plots)
    lines += speech_section(speech, machine_line, rel_plots)
    if not untargeted["waiting"].get("missing"):
        lines += waiting_section(untargeted["waiting"])
    lines += latency_section(latency, rel_plots)
    if not untargeted["decode"].get("missing"):
        lines += decode_section(untargeted["decode"])
    lines += text_section(text)
    if not untargeted["safety"].get("missing"):
        lines += safety_section(untargeted["safety"])
    if not untargeted["voice"].get("missing"):
        lines += voice_section(untargeted["voice"])
    lines += [
        "## What is missing",
        "",
        *[
            f"- {r['reason']}: no figures are given for it rather than invented ones."
            + (
                " Put an English model under models/ (`assistant models download vosk-model-small-en-us-0.15`) "
                "and rerun; the report then shows it beside the others."
                if kind == "vosk"
                else ""
            )
            for kind, r in speech["engines"].items()
            if not r.get("available")
        ],
        *([f"- {realspeech['missing']}."] if realspeech.get("missing") else []),
        *[
            f"- Real people: {kind} heard the spoken set but was not run on the real recordings in the runs given "
            "(`--realspeech-json`), so its real-people figures are n/a here."
            for kind, r in speech["engines"].items()
            if r.get("available") and not realspeech.get("missing") and kind not in realspeech.get("engines", {})
        ],
        *[f"- {result['missing']}." for result in untargeted.values() if result.get("missing")],
        "- The spoken set's voices are synthetic (espeak-ng, flite, festival, Piper) and its noises are generated; "
        "real people are in the real-people section, on a coffee pack rather than this skill's.",
        "- The live-pipeline turns are the demo script's recordings (one Piper voice) in quiet room tone; "
        "noise is covered by the spoken-set and real-people passes only.",
        *(
            [
                "- " + subset[0].upper() + subset[1:] + " was used, to fit the time the engines currently need: "
                f"the accuracy pass took {pass_min:.1f} minutes for {speech['recordings']} recordings, so the full "
                f"set ({full} recordings) would take about {pass_min * full / max(1, speech['recordings']):.0f} "
                "minutes at this speed. The items used are listed in `.cache/bench/items.jsonl`; the full set "
                "is `.venv/bin/python benchmarks/report.py` without `--limit`."
            ]
            if args.limit
            else []
        ),
        "",
    ]
    return "\n".join(lines)


def real_scope(realspeech: dict[str, Any]) -> str:
    """The real-people pass in a few words, for the report's opening paragraph."""
    if realspeech.get("missing"):
        return f"not measured ({realspeech['missing']})"
    reused = " (results of earlier runs, reused)" if realspeech.get("reused") else ""
    conditions = ", ".join(c for c in realspeech["conditions"] if c != "clean")
    return f"{real_count(realspeech) or 0} recordings of real people, clean and at {conditions}{reused}"


def realspeech_section(realspeech: dict[str, Any], plots: Path) -> list[str]:
    """Every engine on the real recordings, per condition, with how the noise was made."""
    lines = ["## Real people (bench_realspeech.py)", ""]
    if realspeech.get("missing"):
        return [*lines, f"Not measured: {realspeech['missing']}.", ""]
    engines = realspeech["engines"]
    lines += [
        *(
            f"{', '.join(run['engines'])}"
            + (f" ({', '.join(run['conditions'])})" if run.get("conditions") != realspeech["conditions"] else "")
            + f": ran on {describe_machine(run['machine'])}. "
            f"Command: `{run.get('command') or 'not recorded'}`"
            + (f"; its results reused from `{run['path']}`" if run.get("path") else "")
            + "."
            for run in realspeech["runs"]
        ),
        "",
        f"{real_count(realspeech) or 0} of the {real_total()} recordings of `../shared/realspeech` (read its "
        "README): real people ordering coffee, labelled with intent and slots, and the Rhino grammar they were "
        "collected for, converted to a hassil pack by `assistant.rhino`. Each recording is heard as "
        "`assistant eval` hears a file, by every engine present one after another, and scored by "
        "`assistant.evaluate`: command acceptance is intent and every slot right.",
        "",
        "The noise is made here and mixed in, alternating by recording: cafe (babble of five synthetic talkers over "
        "pink room tone) and kitchen (clatter), seed 2024. SNR is defined as the benchmark that published the "
        "recordings defines it: the RMS of the loudest 2,048-sample frame of speech against the RMS of the "
        "loudest 2,048-sample frame of noise, in dB.",
        "",
        f"![Real people's command acceptance vs SNR]({plots / 'realspeech_vs_snr.png'})",
        "",
        table(engines, realspeech["conditions"]),
        "",
        "RTF: time to hear and match a recording over its length, mean over the conditions. By kind of noise "
        "(half the recordings each):",
        "",
        noise_table(engines, realspeech["conditions"]),
        "",
        "| Engine | Model | Noise suppression in front | Load | Resident memory after the run |",
        "| --- | --- | --- | --- | --- |",
        *[
            f"| {label} | {r.get('engine', '')} | {'RNNoise' if r.get('denoise') else 'none'} | "
            f"{num(r.get('load_s'), ' s', 2)} | {num(r.get('rss_mb'), ' MiB')} |"
            for label, r in engines.items()
        ],
        "",
    ]
    return lines


def real_total() -> int:
    """How many recordings the real-speech set holds (0 when it is not on this machine)."""
    labels = REALSPEECH_SET / "labels.jsonl"
    if not labels.is_file():
        return 0
    return sum(1 for line in labels.read_text(encoding="utf-8").splitlines() if line.strip())


def realspeech_results(args: argparse.Namespace, cache: Path) -> dict[str, Any]:
    """The real-people figures: from the ``--realspeech-json`` files when given (their engines side by side),
    else a fresh bench_realspeech.py run (every engine present, each with its own front end); ``runs`` says
    where each engine's figures came from, ``missing`` why there are none."""
    if args.realspeech_json:
        return merge_realspeech(args.realspeech_json)
    if not real_total():
        return {"missing": f"the real-speech recordings are not on this machine ({REALSPEECH_SET})"}
    result_json = cache / "realspeech.json"
    run_step(
        "bench_realspeech.py",
        [
            PYTHON,
            str(HERE / "bench_realspeech.py"),
            "--out",
            str(cache / "realspeech"),
            "--denoise",
            "engine",
            "--limit",
            str(args.realspeech_limit),
            "--json",
            str(result_json),
        ],
        cache / "realspeech.log",
    )
    fresh: dict[str, Any] = json.loads(result_json.read_text(encoding="utf-8"))
    fresh["runs"] = [
        {
            "machine": fresh["machine"],
            "command": relative_command(fresh["command"]),
            "conditions": fresh["conditions"],
            "engines": list(fresh["engines"]),
        }
    ]
    return fresh


def merge_realspeech(paths: list[Path]) -> dict[str, Any]:
    """bench_realspeech.py results of earlier runs as one: their engines side by side (an engine's conditions
    may come from several runs), each run's machine, command and conditions kept. Refused: an engine and
    condition given twice, an engine missing a condition another has, different numbers of recordings."""
    merged: dict[str, Any] = {"engines": {}, "runs": [], "reused": ", ".join(map(str, paths))}
    for path in paths:
        try:
            run: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as error:
            raise SystemExit(f"report: cannot read --realspeech-json {path}: {error}") from None
        merged.setdefault("machine", run["machine"])
        for label, result in run["engines"].items():
            engine = merged["engines"].setdefault(label, {})
            twice = [condition for condition in run["conditions"] if condition in engine]
            if twice:
                raise SystemExit(
                    f"report: --realspeech-json {path}: {label} at {', '.join(twice)} is in an earlier file too"
                )
            engine.update(result)
        merged["runs"].append(
            {
                **{k: run.get(k) for k in ("machine", "command", "conditions")},
                "engines": list(run["engines"]),
                "path": str(path),
            }
        )
    order = ["clean", *REAL_NOISY]
    named = dict.fromkeys(c for run in merged["runs"] for c in run["conditions"])
    merged["conditions"] = sorted(named, key=lambda c: order.index(c) if c in order else len(order))
    for label, engine in merged["engines"].items():
        missing = [condition for condition in merged["conditions"] if condition not in engine]
        if missing:
            raise SystemExit(f"report: the --realspeech-json files give {label} no {', '.join(missing)}")
    if len({real_count({"engines": {label: result}}) for label, result in merged["engines"].items()}) > 1:
        raise SystemExit("report: the --realspeech-json files heard different numbers of recordings")
    return merged


def untargeted_command(name: str, cache: Path, repeats: int, voice_limit: int = 0) -> list[str]:
    """The command that measures one of ``UNTARGETED`` into ``cache`` (replies on the spoken set kept there;
    the stages of a turn timed ``repeats`` times, as the other timings are; the safety net's typed sentences
    as they are; the voices' replies ``voice_limit`` of each kind when given, else bench_voice's sample)."""
    manifest = ["--manifest", str(cache / "spoken" / "manifest.jsonl")] if name == "waiting" else []
    options = [*manifest, "--repeats", str(repeats)] if name == "decode" else manifest
    if name == "voice" and voice_limit:
        options = ["--limit", str(voice_limit)]
    return [PYTHON, str(HERE / UNTARGETED[name][0]), *options, "--json", str(cache / f"{name}.json")]


def untargeted_results(args: argparse.Namespace, cache: Path) -> Untargeted:
    """Each of ``UNTARGETED``'s results: from its ``--NAME-json`` file when given, else measured now into
    ``cache``, or with ``--reuse`` read back from there; one not there is ``missing`` (a line of the report
    saying which command makes it) rather than the end of the report, as no target needs it."""
    results: Untargeted = {}
    for name, (script, title) in UNTARGETED.items():
        command = untargeted_command(name, cache, args.repeats, args.voice_limit)
        given: Path | None = getattr(args, f"{name}_json")
        path = given or cache / f"{name}.json"
        if given is None and not args.reuse:
            run_step(script, command, cache / f"{name}.log")
        if not path.is_file():
            results[name] = {
                "missing": f"{title} ({script}): not measured; `{relative_command(shlex.join(command))}` measures it"
            }
            continue
        try:
            result: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as error:
            raise SystemExit(f"report: cannot read {path}: {error}") from None
        results[name] = {**result, "command": relative_command(result["command"])}
    return results


def busiest_load(*results: dict[str, Any]) -> float:
    """The highest load average recorded as the results' sections started (0 when none was)."""
    loads = [r.get("ran_on", r.get("machine", {})).get("load_avg_1m") for r in results]
    return max((load for load in loads if isinstance(load, (int, float))), default=0.0)


def busy_note(*results: dict[str, Any]) -> str:
    """A warning when other work shared the CPU while timings were taken."""
    cores = machine()["cores"] or 1
    highest = busiest_load(*results)
    if highest <= cores / 2:
        return ""
    return (
        f" Other work shared the {cores} cores during the run (load average up to {highest} as sections started), "
        "so timings are pessimistic; the load is shown per section."
    )


def speech_provenance(speech: dict[str, Any], machine_line: str) -> str:
    """Where the spoken-set figures come from: the machine, the command, and any engine kept from an earlier run."""
    return f"Ran on: {machine_line}. Command: `{speech['command']}`." + "".join(
        f" {engine_name(kind)}'s figures are kept from an earlier run on the same recordings "
        f"(`{relative_command(command)}`)."
        for kind, command in speech.get("kept", {}).items()
    )


def speech_section(speech: dict[str, Any], machine_line: str, plots: Path) -> list[str]:
    lines = [
        "## Spoken commands (bench_speech.py)",
        "",
        speech_provenance(speech, machine_line),
        "",
        "Each recording is heard the way `assistant eval` hears a file (noise suppression by RNNoise for the "
        "engines it helps, none for Whisper; silence gate; then the engine) and scored "
        "by `assistant.evaluate.evaluate`. Command acceptance: intent and slots right, over in-domain items. "
        "Intent accuracy: over all items (an out-of-domain item is right when rejected). "
        f"The accuracy pass ran {speech['jobs']} recognition processes side by side; RTF and latency come from a "
        "separate pass with one engine at a time, as in use, over an even spread of the recordings; RTF is the "
        "time to load, clean up, recognise and match a recording over its length.",
        "",
        f"![Command acceptance vs SNR]({plots / 'acceptance_vs_snr.png'})",
        "",
    ]
    for kind, result in speech["engines"].items():
        if not result.get("available"):
            lines += [f"**{result['reason']}.**", ""]
            continue
        timing = result["timing"]
        lines += [
            f"### {kind}",
            "",
            f"{timing['describe']}.",
            "",
            f"Timing pass: {timing['recordings']} recordings, {timing['repeats']} runs: RTF {timing['rtf']}, end of "
            f"audio to intent p50 {timing['latency_ms_p50']} ms, p95 {timing['latency_ms_p95']} ms "
            f"(per run: {', '.join(str(r['rtf']) for r in timing['runs'])} RTF).",
            "",
            "| Condition | n | Command acceptance | Intent accuracy | OOD false accepts | WER | "
            "Latency p50 (parallel pass) | Latency p95 (parallel pass) |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for name, summary in [
            ("all", result["overall"]),
            *[(f"{s} dB" if s != "clean" else "clean", r) for s, r in result["by_snr"].items()],
        ]:
            lines.append(summary_row(name, summary))
        lines.append(f"| **mean of 24/18/12/6 dB** | | **{pct(result['noisy_acceptance_mean'])}** | | | | | |")
        lines += [
            "",
            "By noise kind (all SNRs of that noise):",
            "",
            "| Noise | n | Command acceptance | Intent accuracy | OOD false accepts | WER | Latency p50 | "
            "Latency p95 |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        lines += [summary_row(n, r) for n, r in result["by_noise"].items()]
        snrs = [s for s in result["by_snr"]]
        lines += [
            "",
            "Command acceptance by voice and SNR (n in-domain recordings per cell is small on a subset):",
            "",
            "| Voice | " + " | ".join(f"{s} dB" if s != "clean" else "clean" for s in snrs) + " | all | WER |",
            "| --- | " + " | ".join("---" for _ in snrs) + " | --- | --- |",
        ]
        for voice, cells in result["by_voice_snr"].items():
            overall = result["by_voice"][voice]
            lines.append(
                f"| {voice} | "
                + " | ".join(pct((cells.get(s) or {}).get("command_acceptance")) for s in snrs)
                + f" | {pct(overall['command_acceptance'])} | {pct(overall.get('wer'))} |"
            )
        lines += [
            "",
            "Latency per condition above was measured in the parallel accuracy pass, so it is only "
            "indicative; the one-recogniser timing pass is the one quoted in the targets.",
            "",
        ]
    return lines


def summary_row(name: str, summary: dict[str, Any] | None) -> str:
    if summary is None:
        return f"| {name} | 0 | | | | | | |"
    return (
        f"| {name} | {summary['n']} | {pct(summary['command_acceptance'])} | {pct(summary['intent_accuracy'])} | "
        f"{pct(summary['ood_false_accept_rate'])} | {pct(summary.get('wer'))} | "
        f"{num(summary.get('latency_ms_p50'), ' ms')} | {num(summary.get('latency_ms_p95'), ' ms')} |"
    )


def latency_section(latency: dict[str, Any], plots: Path) -> list[str]:
    runs = latency["runs"]
    turns = runs[0]["turns"] if runs else []
    return [
        "## Response latency, memory, start-up (bench_latency.py)",
        "",
        f"Ran on: {describe_machine(latency['machine'])}. Command: `{latency['command']}`. "
        f"Default engine: {latency['engine']}.",
        "",
        "The demo script's spoken turns go through the real pipeline: a fake microphone delivers each turn in real "
        "time into `MicrophoneTurns` (Silero endpointing; the trailing-silence window is set before each turn as "
        f"`Conversation.run` sets it: {QUESTION_PAUSE_MS} ms, or {REPLY_PAUSE_MS} ms when a yes/no or routine "
        "reply is expected, or after a shorter pause once the words so far make a whole command), "
        "`Conversation.hear` recognises while the turn is spoken, matches and answers, and the default `Speaker` "
        f"({latency.get('voice') or 'voice not recorded'}; emergency advice made ahead, as `assistant listen` "
        "does) plays into a fake real-time output stream. "
        + (
            "RNNoise cleans the microphone stream first, as it does for this engine in use. "
            if latency.get("denoise")
            else "No noise suppression in front, as in use for this engine. "
        )
        + "The endpointing window is measured, not added: "
        "response latency runs from the moment the last sample of speech entered the microphone to the first "
        "reply sample reaching the output. Each run is a fresh process.",
        "",
        f"![Latency percentiles]({plots / 'latency.png'})",
        "",
        "| Figure (median of runs) | p50 | p95 |",
        "| --- | --- | --- |",
        f"| End of speech → first reply sample | {num(latency['response_ms_p50'], ' ms')} | "
        f"{num(latency['response_ms_p95'], ' ms')} |",
        f"| of which endpointing wait (end of speech → turn ended) | {num(latency['endpointing_ms_p50'], ' ms')} | |",
        f"| Turn ended → reply decided (rest of decoding + match + dialogue) | "
        f"{num(latency['intent_ms_p50'], ' ms')} | {num(latency['intent_ms_p95'], ' ms')} |",
        f"| `Exchange.response_ms` (the session's own figure) | {num(latency['pipeline_ms_p50'], ' ms')} | "
        f"{num(latency['pipeline_ms_p95'], ' ms')} |",
        "",
        "`Exchange.response_ms` counts from the turn's last audio reaching the engine (decoding runs while the "
        "user speaks); the first row is what a user waits.",
        "",
        "Resident memory (psutil RSS of the process and its children, default engine and voice): "
        f"{num(latency['rss_start_mb'], ' MiB')} once the conversation "
        f"is built, {num(latency['rss_after_turns_mb'], ' MiB')} after {len(turns)} turns, "
        f"{num(latency.get('rss_peak_mb'), ' MiB')} at the highest (the most any run reached). "
        f"Start-up to listening (`assistant listen --mode always --no-speakers`, process start to its "
        f'"Listening" line): median {num(latency["startup_to_listening_s"], " s", 2)} over '
        f"{len(latency['startup_runs'])} runs ({', '.join(str(s) for s in latency['startup_runs'])} s). "
        f"Installed size of `.venv` (`du -sm`): {num(latency.get('venv_mib'), ' MiB')}.",
        "",
        "Turns of the first run:",
        "",
        "| Turn | Said | Heard | Intent | Endpointing | Decided | Response |",
        "| --- | --- | --- | --- | --- | --- | --- |",
        *[
            f"| {t['name']} | {t.get('said', '')} | {t.get('heard') or ''} | "
            f"{t.get('intent') or t.get('ignored') or '-'} | {num(t.get('endpointing_ms'), ' ms')} | "
            f"{num(t.get('intent_ms'), ' ms')} | {num(t.get('response_ms'), ' ms')} |"
            for t in turns
        ],
        "",
    ]


def untargeted_heading(name: str, result: dict[str, Any]) -> list[str]:
    """The title and provenance line every section of ``UNTARGETED`` opens with (the engine named when one
    heard audio)."""
    script, title = UNTARGETED[name]
    engine = f" Engine: {result['engine']}." if "engine" in result else ""
    return [
        f"## {title} ({script})",
        "",
        f"Ran on: {describe_machine(result['machine'])}. Command: `{result['command']}`.{engine}",
        "",
    ]


def waiting_section(waiting: dict[str, Any]) -> list[str]:
    """bench_waiting.py's groups: right of clean and of noisy recordings, each heard in the state that waits
    for it."""

    def cell(counts: dict[str, int] | None) -> str:
        return "" if counts is None else f"{counts['right']}/{counts['n']} ({pct(counts['right'] / counts['n'])})"

    return [
        *untargeted_heading("waiting", waiting),
        "The spoken-commands section hears every recording as a first turn, with nothing pending. In use, "
        '"pause", "nope" or "my calf" are said while the dialogue waits for them, and the engine (its prompt, '
        "pack decoder or grammar narrowed to the replies that state expects) and the matcher are told so. Here "
        "each of the spoken set's replies is heard in the first state that waits for it: yes_no after a yes/no "
        "question, routine while a routine runs, muscle when asked which muscle. Emergencies and out-of-domain "
        "lines are heard during a routine, where an emergency must still win and small talk must not pause the "
        "stretch. Right: intent right, and slots too where the item has them; an out-of-domain line is right "
        "when turned away. Noisy: the recordings at 24, 18, 12 and 6 dB.",
        "",
        "| Heard in its waiting state | Clean | Noisy |",
        "| --- | --- | --- |",
        *[
            f"| {group} | {cell(by.get('clean'))} | {cell(by.get('noisy'))} |"
            for group, by in waiting["groups"].items()
        ],
        "",
    ]


def decode_section(decode: dict[str, Any]) -> list[str]:
    """bench_decode.py's stages of hearing one turn, each timed on its own."""
    times = "once" if decode["repeats"] == 1 else f"{decode['repeats']} times"
    return [
        *untargeted_heading("decode", decode),
        f"The demo script's {decode['turns']} turns (one Piper voice, {decode['speech_s_mean']:.2f} s of audio a "
        f"turn on average) go through the stages of hearing a turn one after another, {times}, "
        "with nothing else running: the endpointer over the turn, Whisper's features, its encoder, the beam "
        "search, the matcher, and the second pass that decodes into the pack's sentences (in use only when no "
        "reading is understood; forced here). p50 and p95 are over every turn and repeat; the last column is "
        "the stage's time over the length of the turns it heard.",
        "",
        "| Stage | p50 | p95 | Time over the turn's length |",
        "| --- | --- | --- | --- |",
        *[
            f"| {stage} | {num(f['p50_ms'], ' ms')} | {num(f['p95_ms'], ' ms')} | {num(f['per_speech_s'], digits=3)} |"
            for stage, f in decode["stages"].items()
        ],
        "",
        "Whisper's encoder reads a 30-second window whatever the turn's length, so its cost does not shrink "
        "with the turn; the shorter windows' rows are shown for reference only (DECISIONS.md: the full window "
        "stays, as shorter ones cost commands in noise).",
        "",
    ]


def _without_meaning(text: dict[str, Any], label: str) -> str:
    """The same blind set through the matcher without its meaning stage, when the run measured it."""
    figures = text.get("blind_without_meaning", {}).get(label)
    if figures is None:
        return ""
    return (
        f" (without the meaning stage: {pct(figures['phrasings']['command_acceptance'])}; "
        f"{pct(figures['ood']['ood_false_accept_rate'])})"
    )


def safety_section(safety: dict[str, Any]) -> list[str]:
    """bench_safety.py's sets of typed emergencies and calm lines, three ways (as it runs, red flags without
    the learned alarm, templates only), in the table it prints."""
    return [
        *untargeted_heading("safety", safety),
        "Sets of typed sentences, each written blind by a helper agent that could not see the pack "
        "(emergencies said in words nobody wrote templates for, and everyday gym talk that must stay calm), go "
        "through the bundled pack's matcher as `assistant ask` hears them three ways: as the assistant runs "
        "(templates, red flags and the learned alarm of `scripts/train_safety.py`), with red flags but no "
        "learned alarm, and templates only. The held-out set is the measure: no template or red flag was "
        "written from it and the alarm never trained on it. The other sets are the ones the red flags were "
        "written from and the alarm trains on, shown for comparison only.",
        "",
        bench_safety.table(safety),
        "",
    ]


def voice_targets(voice: dict[str, Any]) -> list[Target]:
    """The spoken replies' targets, for the first voice of the run (the default one) and emergency advice; first
    audio against espeak-ng's, each voice as a session uses it (``Speaker.prepare`` run: Piper's replies kept on
    disk, espeak-ng's emergency advice begun in memory, its other replies made when said)."""
    default = next(iter(voice["voices"]))
    wer, first = voice["wer_percent"], voice["first_audio_ms"]

    def errors(condition: str) -> float | None:
        value = wer.get(f"{default}|all|{condition}")
        return None if value is None else value / 100

    lost = voice["emergency_first_instruction_lost"].get(f"{default}|5 dB")
    lost_count = None if lost is None else int(lost.split("/")[0])
    ours, theirs = first.get(f"{default}, made ahead"), first.get("espeak, made ahead")
    faster = None if ours is None or theirs is None else ours["p50"] <= theirs["p50"] and ours["p95"] <= theirs["p95"]
    shown = (
        "n/a"
        if ours is None or theirs is None
        else (
            f"{num(ours['p50'], digits=1)} / {num(ours['p95'], digits=1)} ms against "
            f"{num(theirs['p50'], digits=1)} / {num(theirs['p95'], digits=1)} ms"
        )
    )
    word_errors = (
        ("clean", f"{default} (default voice): word errors of the replies, clean", 0.08),
        ("5 dB", f"{default}: word errors of the replies at 5 dB", 0.25),
    )
    return [
        *[
            Target(
                f"voice_{condition}",
                name,
                f"≤ {limit:.0%}",
                errors(condition),
                pct(errors(condition)),
                at_most(errors(condition), limit),
            )
            for condition, name, limit in word_errors
        ],
        Target(
            "voice_critical",
            "Emergency advice: words of the number to call and of the first instruction lost at 5 dB",
            "none",
            lost_count,
            lost or "n/a",
            None if lost_count is None else lost_count == 0,
        ),
        Target(
            "voice_first_audio",
            f"First reply sample after `say`, p50 / p95: {default} against espeak-ng, each as a session uses it",
            "no slower",
            None,
            shown,
            faster,
        ),
    ]


def voice_section(voice: dict[str, Any]) -> list[str]:
    """bench_voice.py's word errors per voice and SNR, emergency advice on its own line, and its targets."""
    targets = voice_targets(voice)
    met = sum(1 for target in targets if target.ok)
    return [
        *untargeted_heading("voice", voice),
        "Replies of the bundled pack (a seeded sample of emergency advice and of the others), each said as "
        "`Speaker.say` says it (emergency advice louder, negations said in full), mixed with "
        "the project's gym noises at each SNR, and written down by Whisper tiny.en as a stand-in listener; "
        "word errors over the words of the replies. Piper draws its speech afresh each time, so a run's count "
        'of words lost moves by a few (DECISIONS.md, "Voice: Piper by default"). '
        f"{met} of {len(targets)} of the voice's targets met:",
        "",
        "| Target | Goal | Measured | |",
        "| --- | --- | --- | --- |",
        *[f"| {t.name} | {t.goal} | {t.shown} | {verdict(t)} |" for t in targets],
        "",
        bench_voice.report(voice).rsplit("\n\n", 1)[0],  # as it prints, less its command line (above)
        "",
    ]


def text_section(text: dict[str, Any]) -> list[str]:
    phr, ood = text["phrasings"], text["ood"]
    return [
        "## Typed questions (bench_text.py)",
        "",
        f"Ran on: {describe_machine(text['ran_on'])}. Command: `.venv/bin/python benchmarks/bench_text.py --json`, "
        f"{text['repeats']} runs (timings: medians).",
        "",
        "| Figure | Value |",
        "| --- | --- |",
        f"| Held-out phrasings (n={phr['n']}): top-1 intent accuracy | {pct(phr['intent_accuracy'])} |",
        f"| Held-out phrasings: command acceptance (intent and slots) | {pct(phr['command_acceptance'])} |",
        f"| Out-of-domain (n={ood['n']}): false accepts | {pct(ood['ood_false_accept_rate'])} |",
        *(
            f"| Phrasings written blind, {label} (n={figures['phrasings']['n']}): command acceptance; its "
            f"out-of-domain lines (n={figures['ood']['n']}): false accepts | "
            f"{pct(figures['phrasings']['command_acceptance'])}; {pct(figures['ood']['ood_false_accept_rate'])}"
            f"{_without_meaning(text, label)} |"
            for label, figures in text.get("blind", {}).items()
        ),
        f"| Bundled pack: {text['bundled_templates']} templates, {text['bundled_expansions']:,} sentences; "
        f"match p50 / p95 | {text['bundled_match_p50_ms']} / {text['bundled_match_p95_ms']} ms"
        + (
            f" (without the meaning stage: {text['bundled_match_without_meaning_p50_ms']} / "
            f"{text['bundled_match_without_meaning_p95_ms']} ms)"
            if "bundled_match_without_meaning_p95_ms" in text
            else ""
        )
        + " |",
        f"| Coffee pack: {text['coffee_expansions']:,} sentences; match p50 / p95 | {text['coffee_match_p50_ms']} / "
        f"{text['coffee_match_p95_ms']} ms |",
        f"| `assistant ask` cold start (median) | {num(text['ask_cold_start_median_ms'], ' ms')} |",
        *(
            f"| Bundled pack, {PATH_NAMES[path]} (n={text['bundled_paths'][path]['n']}): p50 / p95 | "
            f"{figures['p50_ms']} / {figures['p95_ms']} ms |"
            for path, figures in text.get("bundled_paths_ms", {}).items()
        ),
        *(
            f"| {n['n']} sentences sampled from the {name.replace('_', ' ')} pack's templates: intent and every slot "
            f"right, fuzzy path alone | {pct(n['match'])}, {pct(n['fuzzy_only'])} |"
            for name, n in text.get("sampled", {}).items()
        ),
        "",
    ]


PATH_NAMES = {
    "exact_placed": "hassil's exact recognition, sentence placed",
    "exact_not_placed": "hassil's exact recognition, sentence not placed",
    "fuzzy": "fuzzy alignment alone",
}


def main(argv: list[str] | None = None) -> int:
    """Run every step and write the report."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=0, help="text items to speak (0: all), spread evenly")
    parser.add_argument("--repeats", type=int, default=3, help="runs of every timing (median reported)")
    parser.add_argument(
        "--out",
        type=Path,
        default=ROOT,
        help="where BENCHMARKS.md and benchmarks/plots/ go; its README.md gets the figures",
    )
    parser.add_argument("--jobs", type=int, default=2, help="processes for the spoken set and the accuracy pass")
    parser.add_argument("--timing-items", type=int, default=24, help="recordings in the one-engine timing pass")
    parser.add_argument("--turns", type=int, default=0, help="demo turns per latency run (0: all)")
    parser.add_argument("--startup-runs", type=int, default=5, help="start-up measurements")
    parser.add_argument("--realspeech-limit", type=int, default=0, help="real-people recordings to hear (0: all 200)")
    parser.add_argument(
        "--voice-limit", type=int, default=0, help="replies of each kind the voices say (0: bench_voice.py's 10)"
    )
    parser.add_argument(
        "--realspeech-json",
        type=Path,
        action="append",
        help="take the real-people figures from this bench_realspeech.py --json file instead of running it "
        "(again for another run's engines, shown side by side)",
    )
    for name, (script, _title) in UNTARGETED.items():
        parser.add_argument(
            f"--{name}-json", type=Path, help=f"take this {script} --json file's results instead of running it"
        )
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="take the text, spoken-set, latency, waiting-state, decode, safety-net and voice results of the last "
        "run from .cache/bench/ instead of measuring (the last four are left out when they are not there)",
    )
    args = parser.parse_args(argv)
    args.command = command_line(None if argv is None else [__file__, *argv])
    if args.limit < 0 or args.realspeech_limit < 0 or args.voice_limit < 0 or args.repeats < 1 or args.jobs < 1:
        print("report: --limit must not be negative, --repeats and --jobs at least 1", file=sys.stderr)
        return 2
    given = [("realspeech", path) for path in args.realspeech_json or []]
    given += [(name, getattr(args, f"{name}_json")) for name in UNTARGETED]
    for name, path in given:
        if path is not None and not path.is_file():
            print(f"report: --{name}-json {path}: no such file", file=sys.stderr)
            return 2
    started = time.perf_counter()
    out: Path = args.out.resolve()
    cache = out / ".cache" / "bench"
    spoken = cache / "spoken"
    readme = out / "README.md"
    with_figures(read_readme(readme), "", str(readme))  # missing markers stop the run now, not after it
    plots = out / "benchmarks" / "plots"
    cache.mkdir(parents=True, exist_ok=True)
    plots.mkdir(parents=True, exist_ok=True)

    items = pick_items(args.limit)
    if args.reuse:
        text, speech, latency = reused_results(cache, items)
        items = reused_items(cache)  # what that run spoke, picked from the item files as they were then
        realspeech = realspeech_results(args, cache)
        results: Results = (text, speech, latency, realspeech)
        untargeted = untargeted_results(args, cache)
        write_report(args, items, results, untargeted, time.perf_counter() - started, plots, out)
        return 0
    (cache / REUSED["items"]).write_text("".join(json.dumps(i) + "\n" for i in items), encoding="utf-8")
    steps = tqdm(total=7, desc="report", unit="step", file=sys.stderr)

    steps.set_postfix_str("spoken set")
    run_step(
        "make_spoken_set.py",
        [
            PYTHON,
            str(ROOT / "scripts" / "make_spoken_set.py"),
            str(cache / REUSED["items"]),
            "--out",
            str(spoken),
            "--seed",
            str(SEED),
            "--jobs",
            str(args.jobs),
        ],
        cache / "spoken.log",
    )
    steps.update()
    steps.set_postfix_str("text")
    text = text_results(cache, args.repeats)
    steps.update()
    steps.set_postfix_str("speech")
    speech_json = cache / "speech.json"
    run_step(
        "bench_speech.py",
        [
            PYTHON,
            str(HERE / "bench_speech.py"),
            "--manifest",
            str(spoken / "manifest.jsonl"),
            "--jobs",
            str(args.jobs),
            "--repeats",
            str(args.repeats),
            "--timing-items",
            str(args.timing_items),
            "--json",
            str(speech_json),
        ],
        cache / "speech.log",
    )
    speech = json.loads(speech_json.read_text(encoding="utf-8"))
    speech["command"] = relative_command(speech["command"])
    steps.update()
    steps.set_postfix_str("real people")
    realspeech = realspeech_results(args, cache)
    steps.update()
    steps.set_postfix_str("latency")
    latency_json = cache / "latency.json"
    run_step(
        "bench_latency.py",
        [
            PYTHON,
            str(HERE / "bench_latency.py"),
            "--repeats",
            str(args.repeats),
            "--turns",
            str(args.turns),
            "--startup-runs",
            str(args.startup_runs),
            "--json",
            str(latency_json),
        ],
        cache / "latency.log",
    )
    latency = json.loads(latency_json.read_text(encoding="utf-8"))
    latency["command"] = relative_command(latency["command"])
    steps.update()
    steps.set_postfix_str("waiting states, decode stages, safety net, spoken replies")
    untargeted = untargeted_results(args, cache)
    steps.update()
    steps.set_postfix_str("report")
    results = (text, speech, latency, realspeech)
    write_report(args, items, results, untargeted, time.perf_counter() - started, plots, out)
    steps.update()
    steps.close()
    return 0


def write_report(
    args: argparse.Namespace,
    items: list[dict[str, Any]],
    results: Results,
    untargeted: Untargeted,
    wall_s: float,
    plots: Path,
    out: Path,
) -> None:
    """BENCHMARKS.md, its plots and the README's figures, from the steps' results."""
    text, speech, latency, realspeech = results
    plot_acceptance(speech, plots / "acceptance_vs_snr.png")
    plot_realspeech(realspeech, plots / "realspeech_vs_snr.png")
    plot_latency(speech, latency, plots / "latency.png")
    (out / "BENCHMARKS.md").write_text(markdown(args, items, results, untargeted, wall_s, plots, out), encoding="utf-8")
    readme = out / "README.md"
    write_readme_figures(readme, readme_figures(*results))
    print(f"wrote {out / 'BENCHMARKS.md'}, {plots}/*.png and the figures in {readme}", file=sys.stderr)


def relative_command(command: str) -> str:
    """A child's command line with paths inside the repository made relative."""
    return " ".join(shlex.quote(part.replace(str(ROOT) + "/", "")) for part in shlex.split(command))


if __name__ == "__main__":
    raise SystemExit(main())
