"""Turn text test items into a reproducible spoken test set: several synthetic voices, gym noises, set SNRs.

    python scripts/make_spoken_set.py                       # tests/data/phrasings.jsonl + ood.jsonl -> .cache/spoken/
    python scripts/make_spoken_set.py items.jsonl --limit 20 --voices espeak-us,piper-joe --snr clean,12 --jobs 2

Input lines: {"id", "text", "intent", "slots"}. Output: OUT/audio/*.wav (16 kHz mono 16-bit) and
OUT/manifest.jsonl lines {"id", "audio", "intent", "slots", "text", "voice", "snr_db", "noise"} with
``audio`` relative to the manifest. Each item is spoken by ``--voices-per-item`` voices (rotated so all
voices are used equally), each once clean and once per SNR, the noise kind rotating too. The same
seed and options give byte-identical files; the output folder is rebuilt from scratch on every run.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))

import voices as vx

from assistant.audio.io import SAMPLE_RATE, write_wav
from assistant.errors import AssistantError, BadInput

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_INPUTS = (ROOT / "tests/data/phrasings.jsonl", ROOT / "tests/data/ood.jsonl")
DEFAULT_OUT = ROOT / ".cache/spoken"
DEFAULT_SNRS = "clean,24,18,12,6"
PAD_SECONDS = 0.4
"""Room tone before and after the speech, as a real recording has (and VAD needs)."""


@dataclass(frozen=True)
class Job:
    """One item spoken by one voice, and the noisy versions to make of it."""

    index: int
    """Position in the run (seeds this job's noise)."""
    item: dict[str, Any]
    """The text item."""
    voice: str
    """Voice name."""
    conditions: tuple[tuple[str | None, float | None], ...]
    """(noise kind, SNR dB) pairs; (None, None) is the clean version."""


def read_items(paths: Sequence[Path]) -> list[dict[str, Any]]:
    """Items from JSONL files; BadInput naming the file and line for anything malformed."""
    items: list[dict[str, Any]] = []
    seen: set[str] = set()
    for path in paths:
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as error:
            raise BadInput(f"{path}: cannot read ({error.strerror})") from None
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError as error:
                raise BadInput(f"{path}:{number}: not JSON ({error.msg})") from None
            if (
                not isinstance(item, dict)
                or not isinstance(item.get("id"), str)
                or not str(item.get("text", "")).strip()
            ):
                raise BadInput(f"{path}:{number}: needs a string 'id' and a non-empty 'text'")
            if item["id"] in seen:
                raise BadInput(f"{path}:{number}: duplicate id {item['id']!r}")
            seen.add(item["id"])
            items.append(item)
    return items


def parse_snrs(text: str) -> list[float | None]:
    """ "clean,24,12" -> [None, 24.0, 12.0]."""
    snrs: list[float | None] = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        if part == "clean":
            snrs.append(None)
            continue
        try:
            snrs.append(float(part))
        except ValueError:
            raise BadInput(f"--snr: {part!r} is neither a number of dB nor 'clean'") from None
    if not snrs:
        raise BadInput("--snr: give at least one SNR or 'clean'")
    return snrs


def plan(
    items: list[dict[str, Any]],
    voices: list[str],
    per_item: int,
    snrs: list[float | None],
    noises: list[str],
    seed: int,
) -> list[Job]:
    """Which voice says which item under which noise: seeded, balanced rotations."""
    rng = random.Random(seed)
    order = voices[:]
    rng.shuffle(order)
    noise_order = noises[:]
    rng.shuffle(noise_order)
    per_item = min(per_item, len(order))
    jobs: list[Job] = []
    for i, item in enumerate(items):
        for j in range(per_item):
            voice = order[(i * per_item + j) % len(order)]
            slot = len(jobs)
            conditions = tuple(
                (None, None) if snr is None else (noise_order[(slot + k) % len(noise_order)], snr)
                for k, snr in enumerate(snrs)
            )
            jobs.append(Job(len(jobs), item, voice, conditions))
    return jobs


_BED: np.ndarray | None = None
_SEED = 0


def _init_worker(bed: np.ndarray | None, seed: int) -> None:
    global _BED, _SEED
    _BED, _SEED = bed, seed


def render(job: Job, out: Path) -> tuple[list[dict[str, Any]], float]:
    """Speak one job and write its clean and noisy WAVs; manifest rows and seconds spent."""
    started = time.perf_counter()
    rng = np.random.default_rng([_SEED, job.index])
    speech = vx.synthesize(vx.VOICES[job.voice], str(job.item["text"]))
    pad = np.zeros(int(PAD_SECONDS * SAMPLE_RATE), np.float32)
    speech = np.concatenate([pad, speech, pad])
    rows = []
    for noise, snr in job.conditions:
        if noise is None or snr is None:
            audio, tag = speech, "clean"
        else:
            kind = vx.NOISES[noise]
            sound = kind(len(speech), rng, _BED) if noise == "babble" else kind(len(speech), rng)
            audio, tag = vx.mix_at_snr(speech, sound, snr), f"{noise}{snr:g}"
        name = f"{job.item['id']}--{job.voice}--{tag}.wav"
        write_wav(out / "audio" / name, audio)
        rows.append(
            {
                "id": f"{job.item['id']}--{job.voice}--{tag}",
                "audio": f"audio/{name}",
                "intent": job.item.get("intent"),
                "slots": job.item.get("slots") or {},
                "text": job.item["text"],
                "voice": job.voice,
                "snr_db": snr,
                "noise": noise,
            }
        )
    return rows, time.perf_counter() - started


def _render_star(args: tuple[Job, Path]) -> tuple[list[dict[str, Any]], float]:
    return render(*args)


def build(args: argparse.Namespace) -> int:
    """Run the whole generation; returns the number of WAVs written."""
    voice_list = vx.pick_voices(args.voices)
    if not voice_list:
        raise AssistantError("no synthetic voice is installed (espeak-ng, flite, festival or piper-tts)")
    noises = [n.strip() for n in args.noise.split(",") if n.strip()]
    unknown = [n for n in noises if n not in vx.NOISES]
    if unknown or not noises:
        raise BadInput(f"--noise: unknown {', '.join(unknown) or '(none given)'}; choose from {', '.join(vx.NOISES)}")
    snrs = parse_snrs(args.snr)
    items = read_items(args.inputs)[: args.limit] if args.limit else read_items(args.inputs)
    jobs = plan(items, [v.name for v in voice_list], args.voices_per_item, snrs, noises, args.seed)

    out: Path = args.out
    try:
        if (out / "audio").exists():
            shutil.rmtree(out / "audio")
        (out / "audio").mkdir(parents=True)
    except OSError as error:
        raise AssistantError(f"cannot write to {out}: {error.strerror or error}") from None

    bed = None
    if "babble" in noises and any(s is not None for s in snrs):
        talkers = [vx.VOICES[n] for n in vx.BABBLE_TALKERS if n in {v.name for v in vx.available_voices()}]
        bed = vx.babble_bed(talkers or voice_list, np.random.default_rng([args.seed, 2**31]))

    rows: list[dict[str, Any]] = []
    seconds: list[float] = []
    started = time.perf_counter()
    work = [(job, out) for job in jobs]
    try:
        if args.jobs > 1:
            with ProcessPoolExecutor(args.jobs, initializer=_init_worker, initargs=(bed, args.seed)) as pool:
                results = pool.map(_render_star, work, chunksize=4)
                for job_rows, spent in tqdm(results, total=len(work), unit="item", disable=args.quiet):
                    rows.extend(job_rows)
                    seconds.append(spent)
        else:
            _init_worker(bed, args.seed)
            for job, folder in tqdm(work, unit="item", disable=args.quiet):
                job_rows, spent = render(job, folder)
                rows.extend(job_rows)
                seconds.append(spent)
    except OSError as error:
        raise AssistantError(f"cannot write to {out}: {error.strerror or error}") from None

    manifest = out / "manifest.jsonl"
    manifest.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    if not args.quiet:
        wall = time.perf_counter() - started
        print(
            f"{len(rows)} WAVs from {len(jobs)} item-voice pairs in {wall:.1f} s "
            f"({wall / max(1, len(jobs)):.2f} s per pair, {np.mean(seconds) if seconds else 0:.2f} s of work each) "
            f"-> {manifest}",
            file=sys.stderr,
        )
    return len(rows)


def parser() -> argparse.ArgumentParser:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("inputs", nargs="*", type=Path, default=list(DEFAULT_INPUTS), help="JSONL text items")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default .cache/spoken)")
    p.add_argument("--voices", default="all", help=f"comma list of voices or 'all' (known: {', '.join(vx.VOICES)})")
    p.add_argument("--voices-per-item", type=int, default=2, help="voices that say each item (default 2)")
    p.add_argument(
        "--snr", default=DEFAULT_SNRS, help=f"comma list of SNRs in dB, 'clean' for none (default {DEFAULT_SNRS})"
    )
    p.add_argument("--noise", default=",".join(vx.NOISES), help="comma list of noise kinds (default: all)")
    p.add_argument("--limit", type=int, default=0, help="only the first N items")
    p.add_argument("--seed", type=int, default=1234, help="random seed (default 1234)")
    p.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    p.add_argument("--list-voices", action="store_true", help="print the voices installed here and exit")
    p.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: exit status 0, or 1/2 with one line on stderr."""
    args = parser().parse_args(argv)
    try:
        if args.list_voices:
            for voice in vx.available_voices():
                print(f"{voice.name:16} {voice.description}")
            return 0
        if args.voices_per_item < 1 or args.jobs < 1 or args.limit < 0:
            raise BadInput("--voices-per-item and --jobs must be at least 1, --limit not negative")
        build(args)
    except AssistantError as error:
        print(f"make_spoken_set: {error}", file=sys.stderr)
        return error.exit_code
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
