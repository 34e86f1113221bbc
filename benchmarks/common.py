"""What every benchmark shares: the machine it ran on, the command that ran it, percentiles and medians."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shlex
import statistics
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import psutil

ROOT = Path(__file__).resolve().parent.parent
PYTHON = str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv" / "bin" / "python").exists() else sys.executable


def cpu_model() -> str:
    """The CPU's name from /proc/cpuinfo (the platform's processor string elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def machine() -> dict[str, Any]:
    """The machine a figure was measured on, and how busy it was (other work skews timings)."""
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    return {
        "platform": platform.platform(),
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "ram_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "load_avg_1m": round(load[0], 2),
    }


def describe_machine(info: dict[str, Any]) -> str:
    """One line for a report section."""
    return (
        f"{info['platform']}, {info['cpu']}, {info['cores']} cores, {info['ram_gb']} GB RAM, "
        f"Python {info['python']} (load average {info['load_avg_1m']} when it started)"
    )


def command_line(argv: Sequence[str] | None = None) -> str:
    """The command that is running, as it could be typed again from the repository root."""
    args = list(sys.argv if argv is None else argv)
    script = Path(args[0])
    if script.is_absolute():
        with contextlib.suppress(ValueError):
            args[0] = str(script.relative_to(ROOT))
    return " ".join(shlex.quote(a) for a in [".venv/bin/python", *args])


def percentile(samples: Sequence[float], q: float) -> float | None:
    """The q-th percentile, rounded to 0.1, or None without samples."""
    return round(float(np.percentile(samples, q)), 1) if len(samples) else None


def median(values: Sequence[float | None]) -> float | None:
    """Median of the values that were measured (None when none were)."""
    known = [v for v in values if v is not None]
    return round(float(statistics.median(known)), 4) if known else None


def rss_mb(pid: int | None = None) -> float:
    """Resident memory of a process (this one by default) and its child processes, in MiB."""
    process = psutil.Process(pid)
    total = process.memory_info().rss
    for child in process.children(recursive=True):
        with contextlib.suppress(psutil.NoSuchProcess):
            total += child.memory_info().rss
    return round(total / 2**20, 1)


def write_results(results: dict[str, Any], path: Path | None) -> None:
    """The results as JSON: into ``path`` when given (for report.py), else on stdout."""
    text = json.dumps(results, indent=2)
    if path is not None:
        path.write_text(text + "\n", encoding="utf-8")
    else:
        print(text)


def measure_and_print(
    script: str, measure: Callable[[], dict[str, Any]], table: Callable[[dict[str, Any]], str], keep: Path | None
) -> int:
    """A benchmark's main: ``measure``, print its ``table``, keep the results at ``keep`` when given; exit status
    0, or an ``AssistantError`` as one line naming ``script`` and its exit status."""
    from assistant.errors import AssistantError

    try:
        results = measure()
    except AssistantError as error:
        print(f"{script}: {error}", file=sys.stderr)
        return error.exit_code
    print(table(results))
    if keep is not None:
        write_results(results, keep)
    return 0


def spoken_rows(manifest: Path) -> list[dict[str, Any]]:
    """The spoken set's manifest lines (``scripts/make_spoken_set.py``), each with ``path``, its audio's
    absolute path; BadInput when the manifest does not read."""
    from assistant.errors import BadInput

    try:
        rows = [json.loads(line) for line in manifest.read_text(encoding="utf-8").splitlines() if line.strip()]
        for row in rows:
            row["path"] = str((manifest.parent / row["audio"]).resolve())
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise BadInput(f"{manifest}: cannot read the spoken set's manifest ({error})") from None
    return rows


FREE_WHISPER = "whisper-free"
"""An engine name the benchmarks add: Whisper hearing with its own readings only, not decoding into the
pack, to measure the pack decoder side by side."""


def open_bench_engine(kind: str, pack: Any, **options: Any) -> Any:
    """``assistant.asr.choose.open_engine``, plus ``FREE_WHISPER``."""
    from assistant.asr.choose import open_engine

    engine = open_engine("whisper" if kind == FREE_WHISPER else kind, pack, **options)
    if kind == FREE_WHISPER:
        engine.into_pack = False
    return engine
