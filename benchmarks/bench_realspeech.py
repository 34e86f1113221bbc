"""Real people: the recordings of ``../shared/realspeech`` through every speech engine present, clean and in noise.

The Rhino grammar the recordings were collected for is converted into a hassil pack with the project's
own converter (``assistant.rhino``); each recording is heard as ``assistant eval`` hears a file and
scored by command acceptance (intent and every slot right). Noise generated here is mixed in at each
SNR, defined as the benchmark that published these recordings defines it: the loudest 2,048-sample
frame of speech against the loudest of noise. Recordings alternate between cafe noise (babble of
synthetic talkers over pink room tone) and kitchen noise (clatter). Prints a table; ``--json`` keeps
everything, and the mixed files and manifests stay in ``--out`` for ``assistant eval --intents``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))

import voices as vx
from common import ROOT, command_line, describe_machine, machine, open_bench_engine, rss_mb, write_results

from assistant.asr.base import SpeechEngine
from assistant.audio.io import SAMPLE_RATE, load_audio
from assistant.cli import _transcribe_file
from assistant.errors import AssistantError
from assistant.evaluate import evaluate
from assistant.match import Matcher
from assistant.pack import load_pack, read_yaml
from assistant.rhino import rhino_to_pack_dict, write_pack

DEFAULT_SET = ROOT.parent / "shared" / "realspeech"
DEFAULT_OUT = ROOT / ".cache" / "bench" / "realspeech"
FRAME = 2048
FRONT_ENDS: dict[str, list[bool | None]] = {"on": [True], "off": [False], "both": [False, True], "engine": [None]}
"""``--denoise``: RNNoise in front or not, per run of an engine (None: as the engine wants, as in use)."""


def loudest_frame_rms(audio: np.ndarray) -> float:
    """RMS of the loudest ``FRAME``-sample frame (the whole signal when shorter)."""
    usable = len(audio) // FRAME * FRAME
    frames = audio[:usable].reshape(-1, FRAME) if usable else audio.reshape(1, -1)
    return float(np.sqrt(np.mean(np.square(frames.astype(np.float64)), axis=1)).max())


def mix_peak_snr(speech: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """``speech`` + ``noise`` scaled so loudest speech frame / loudest noise frame is ``snr_db``."""
    gain = loudest_frame_rms(speech) / (loudest_frame_rms(noise) * 10 ** (snr_db / 20))
    mixed = speech.astype(np.float64) + gain * noise
    peak = float(np.max(np.abs(mixed)))
    return (mixed / peak * 0.98 if peak > 0.98 else mixed).astype(np.float32)


def build(set_dir: Path, out: Path, snrs: list[float], limit: int, seed: int) -> dict[str, Path]:
    """Write the converted pack and one manifest per condition ("clean", "24 dB", ...) into ``out``.

    Audio paths in the manifests are absolute: a manifest's relative paths are read from its own folder."""
    set_dir, out = set_dir.resolve(), out.resolve()
    labels = [json.loads(line) for line in (set_dir / "labels.jsonl").read_text(encoding="utf-8").splitlines() if line]
    labels = labels[:limit] if limit else labels
    out.mkdir(parents=True, exist_ok=True)
    write_pack(rhino_to_pack_dict(read_yaml(set_dir / "coffee_maker.yaml")), out / "coffee_pack.yaml")
    manifests = {"clean": out / "manifest-clean.jsonl"}
    _write_manifest(manifests["clean"], [dict(item, audio=str(set_dir / item["audio"])) for item in labels])
    if not snrs:
        return manifests
    rng = np.random.default_rng(seed)
    talkers = [v for v in vx.available_voices() if v.name in vx.BABBLE_TALKERS] or vx.available_voices()[:1]
    bed = vx.babble_bed(talkers, rng)
    for snr in snrs:
        name = f"{snr:g} dB"
        folder = out / f"snr{snr:g}"
        folder.mkdir(exist_ok=True)
        rows = []
        for index, item in enumerate(labels):
            target = folder / (Path(item["audio"]).stem + ".wav")
            if not target.exists():
                speech = load_audio(set_dir / item["audio"]).astype(np.float32) / 32768.0
                n = len(speech)
                noise = (
                    vx.babble(n, rng, bed) + 0.3 * vx.pink_noise(n, rng) if index % 2 == 0 else vx.gym_clatter(n, rng)
                )
                sf.write(target, mix_peak_snr(speech, noise, snr), SAMPLE_RATE, subtype="PCM_16")
            rows.append(dict(item, audio=str(target), noise="cafe" if index % 2 == 0 else "kitchen", snr_db=snr))
        manifests[name] = folder / "manifest.jsonl"
        _write_manifest(manifests[name], rows)
    return manifests


def _write_manifest(path: Path, rows: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")


def run_engine(
    kind: str, manifests: dict[str, Path], pack_path: Path, denoise: bool | None, whisper_model: Path | None = None
) -> dict[str, Any]:
    """Every condition through one engine; per-condition summaries from ``assistant.evaluate``.

    ``denoise`` None: RNNoise in front when the engine wants it, as the command line decides.
    ``whisper_model``: a Whisper model folder instead of the bundled tiny.en.
    """
    pack = load_pack(pack_path)
    started = time.perf_counter()
    engine: SpeechEngine = open_bench_engine(kind, pack, whisper_model=whisper_model)
    load_s = time.perf_counter() - started
    if denoise is None:
        denoise = bool(getattr(engine, "noise_suppression", True))
    matcher = Matcher(pack)
    results: dict[str, Any] = {"engine": engine.describe(), "load_s": round(load_s, 2), "denoise": denoise}
    for name, manifest in manifests.items():
        model = f"-{whisper_model.name}" if whisper_model is not None and kind.startswith("whisper") else ""
        kept = manifest.with_name(f"results-{kind}{model}{'-denoised' if denoise else ''}.jsonl")
        with open(kept, "w") as out:
            summary = evaluate(
                manifest, matcher, out, transcribe=lambda path: _transcribe_file(engine, path, denoise), progress=False
            )
        summary["by_noise"] = by_noise(manifest, kept)
        results[name] = summary
        accepted = summary["command_acceptance"]
        print(
            f"  {kind:12} {name:6} acceptance {'n/a' if accepted is None else f'{accepted:.1%}'}  "
            f"rtf {summary.get('rtf')}  errors {summary['errors']}",
            file=sys.stderr,
            flush=True,
        )
    results["rss_mb"] = round(rss_mb(), 1)
    return results


def by_noise(manifest: Path, kept: Path) -> dict[str, float]:
    """Command acceptance per kind of noise ("cafe", "kitchen"), from a condition's per-recording results."""
    rows = [json.loads(line) for line in manifest.read_text(encoding="utf-8").splitlines() if line]
    results = [json.loads(line) for line in kept.read_text(encoding="utf-8").splitlines() if line]
    right: dict[str, list[bool]] = {}
    for row, result in zip(rows, results, strict=True):
        if "noise" in row and "correct" in result:
            right.setdefault(row["noise"], []).append(bool(result["correct"]))
    return {noise: round(sum(values) / len(values), 4) for noise, values in right.items()}


def noise_table(results: dict[str, dict[str, Any]], conditions: list[str]) -> str:
    """Command acceptance per engine, noisy condition and kind of noise."""
    noisy = [c for c in conditions if c != "clean"]
    kinds = sorted({kind for r in results.values() for c in noisy for kind in (r[c].get("by_noise") or {})})
    head = ["engine", "noise", *noisy]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for label, result in results.items():
        for kind in kinds:
            cells = [
                f"{result[c]['by_noise'][kind]:.1%}" if kind in (result[c].get("by_noise") or {}) else "-"
                for c in noisy
            ]
            lines.append("| " + " | ".join([label, kind, *cells]) + " |")
    return "\n".join(lines)


def table(results: dict[str, dict[str, Any]], conditions: list[str]) -> str:
    """Command acceptance per engine and condition, with the mean over the noisy conditions."""
    noisy = [c for c in conditions if c != "clean"]
    head = ["engine", *conditions] + (["mean of noisy"] if noisy else []) + ["RTF"]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for label, result in results.items():
        cells = [f"{result[c]['command_acceptance']:.1%}" for c in conditions]
        if noisy:
            cells.append(f"{np.mean([result[c]['command_acceptance'] for c in noisy]):.1%}")
        rtfs = [result[c].get("rtf") for c in conditions if result[c].get("rtf") is not None]
        cells.append(f"{np.mean(rtfs):.3f}" if rtfs else "-")
        lines.append("| " + " | ".join([label, *cells]) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Entry point: prints the table; exit 2 when the recordings are missing."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", type=Path, default=DEFAULT_SET, help="the real-speech folder (labels.jsonl)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where mixed audio and manifests go")
    parser.add_argument(
        "--engines",
        default="whisper,vosk,pocketsphinx",
        help="comma list; absent ones are skipped (whisper-free: Whisper without decoding into the pack)",
    )
    parser.add_argument("--snr", default="24,18,12,6", help="comma list of SNRs in dB ('' for clean only)")
    parser.add_argument("--limit", type=int, default=0, help="only the first N recordings")
    parser.add_argument("--seed", type=int, default=2024, help="noise seed")
    parser.add_argument(
        "--denoise",
        choices=tuple(FRONT_ENDS),
        default="off",
        help="RNNoise in front (engine: where the engine wants it, as in use)",
    )
    parser.add_argument("--whisper-model", type=Path, help="a Whisper model folder instead of the bundled tiny.en")
    parser.add_argument("--no-clean", action="store_true", help="only the noisy conditions (another run hears clean)")
    parser.add_argument("--json", type=Path, help="write every figure here")
    args = parser.parse_args(argv)
    if not (args.set / "labels.jsonl").is_file():
        print(f"bench_realspeech: no recordings at {args.set} (labels.jsonl missing)", file=sys.stderr)
        return 2
    snrs = [float(s) for s in args.snr.split(",") if s.strip()]
    info = machine()
    command = command_line(None if argv is None else [__file__, *argv])
    print(f"Ran on: {describe_machine(info)}. Command: `{command}`", flush=True)
    manifests = build(args.set, args.out, snrs, args.limit, args.seed)
    count = len(manifests["clean"].read_text(encoding="utf-8").splitlines())
    if args.no_clean and snrs:
        del manifests["clean"]
    conditions = list(manifests)
    results: dict[str, dict[str, Any]] = {}
    for kind in [k.strip() for k in args.engines.split(",") if k.strip()]:
        for denoise in FRONT_ENDS[args.denoise]:
            model = args.whisper_model if kind.startswith("whisper") else None
            label = kind + (f" ({model.name})" if model else "") + (" + RNNoise" if denoise else "")
            try:
                results[label] = run_engine(kind, manifests, args.out / "coffee_pack.yaml", denoise, model)
            except AssistantError as error:
                print(f"  {kind}: skipped ({error.message})", file=sys.stderr)
    print(f"\nReal people, {count} recordings: command acceptance")
    print(table(results, conditions))
    print(noise_table(results, conditions))
    write_results({"machine": info, "command": command, "conditions": conditions, "engines": results}, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
