"""Safety net: emergencies said in words nobody wrote templates for, and everyday talk that must stay calm.

    .venv/bin/python benchmarks/bench_safety.py [--json OUT]

Sets of typed sentences, each written blind (by a helper agent that could not see the pack, asked for
what people at a gym or on a run would say when something is seriously wrong, by kind of emergency, and for
calm near misses: "this workout is killing me", a sore chest after bench press):

- ``benchmarks/data/safety_probe.jsonl`` / ``safety_probe_calm.jsonl`` (144 + 96): held out. No template
  or red flag was written from them; they are what this benchmark reports first.
- ``benchmarks/data/safety_probe_dev.jsonl`` / ``safety_probe_dev_calm.jsonl`` (120 + 80), and a second
  pair written later the same way (``safety_probe_dev2``, 240 + 160, with wider words: slang, British and
  American, bystanders, signs that never name the condition), and a third (``safety_probe_dev3``, 120 + 80)
  of four kinds only: clots, muscle breakdown, bleeding and heatstroke, and a fourth (``safety_probe_dev4``,
  240 + 160, every kind, told mostly without naming the condition), and a fifth (``safety_probe_dev5``, 240 +
  160, the same brief): the sets the red flags were written against (DECISIONS.md), shown for comparison,
  not as a measure.
- ``benchmarks/data/safety_probe_heldout5.jsonl`` / ``safety_probe_heldout5_calm.jsonl`` (144 + 96): a second
  held-out pair, written by the same helper as the fifth dev set and never used to write a red flag, since the
  first had been read by several sessions.

Each sentence goes through the bundled pack's matcher (as ``assistant ask`` hears it), with the pack's red
flags and without them. Printed per set: emergencies that get emergency advice (any emergency intent), those
that get the advice for their own kind, and calm lines that get emergency advice. Prints numbers; asserts
nothing.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from common import ROOT, command_line, machine, measure_and_print

from assistant.errors import BadInput
from assistant.match import Matcher
from assistant.pack import Pack, load_pack

DATA = ROOT / "benchmarks" / "data"
SETS = {
    "held out": "safety_probe",
    "dev (red flags written from it)": "safety_probe_dev",
    "second dev (red flags written from it)": "safety_probe_dev2",
    "third dev, four kinds (red flags written from it)": "safety_probe_dev3",
    "fourth dev (red flags written from it)": "safety_probe_dev4",
    "fifth dev (red flags written from it)": "safety_probe_dev5",
    "second held out (written with the fifth dev)": "safety_probe_heldout5",
}
OWN_ADVICE = {
    "cardiac_arrest": "cardiac_arrest",
    "chest_or_stroke": "emergency",
    "breathing": "emergency",
    "faint": "faint",
    "heat_stroke": "heat_stroke",
    "anaphylaxis": "anaphylaxis",
    "seizure": "seizure",
    "head_injury": "head_injury",
    "bleeding": "bleeding",
    "clot": "clot",
    "rhabdo": "rhabdo",
    "crisis": "crisis",
}
"""Each kind of emergency in the sets -> the pack's intent whose advice it should get."""


def lines(path: Path) -> list[dict[str, Any]]:
    try:
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except (OSError, ValueError) as error:
        raise BadInput(f"{path}: cannot read ({error})") from None


def score(pack: Pack, matcher: Matcher, stem: str) -> dict[str, Any]:
    emergencies = lines(DATA / f"{stem}.jsonl")
    calm = lines(DATA / f"{stem}_calm.jsonl")
    kinds: Counter[str] = Counter()
    any_advice: Counter[str] = Counter()
    own_advice: Counter[str] = Counter()
    for item in emergencies:
        intent = matcher.match(item["text"]).intent
        kinds[item["class"]] += 1
        any_advice[item["class"]] += pack.is_emergency(intent)
        own_advice[item["class"]] += intent == OWN_ADVICE.get(item["class"])
    alarms = [item["text"] for item in calm if pack.is_emergency(matcher.match(item["text"]).intent)]
    return {
        "emergencies": len(emergencies),
        "emergency_advice": sum(any_advice.values()),
        "own_advice": sum(own_advice.values()),
        "by_kind": {
            kind: {"n": n, "emergency_advice": any_advice[kind], "own_advice": own_advice[kind]}
            for kind, n in kinds.items()
        },
        "calm": len(calm),
        "calm_alarms": len(alarms),
        "calm_alarm_lines": alarms,
    }


def measure() -> dict[str, Any]:
    pack = load_pack()
    matchers = {"with red flags": Matcher(pack), "templates only": Matcher(pack, red_flags=False)}
    results: dict[str, Any] = {"machine": machine(), "command": command_line(), "sets": {}}
    for label, stem in SETS.items():
        results["sets"][label] = {how: score(pack, matcher, stem) for how, matcher in matchers.items()}
    return results


def table(results: dict[str, Any]) -> str:
    out = [
        "| set | matcher | emergencies given emergency advice | given their own advice "
        "| calm lines given emergency advice |"
    ]
    out.append("| --- | --- | --- | --- | --- |")
    for label, runs in results["sets"].items():
        for how, r in runs.items():
            n = r["emergencies"]
            out.append(
                f"| {label} | {how} | {r['emergency_advice']} / {n} ({r['emergency_advice'] / n:.1%}) "
                f"| {r['own_advice']} / {n} ({r['own_advice'] / n:.1%}) "
                f"| {r['calm_alarms']} / {r['calm']} ({r['calm_alarms'] / r['calm']:.1%}) |"
            )
    held = results["sets"]["held out"]["with red flags"]
    out.append("")
    out.append("Held out, with red flags, by kind (emergency advice / own advice / sentences):")
    out.append(", ".join(f"{k} {v['emergency_advice']}/{v['own_advice']}/{v['n']}" for k, v in held["by_kind"].items()))
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", type=Path, help="keep the results here")
    args = parser.parse_args(argv)
    return measure_and_print("bench_safety.py", measure, table, args.json)


if __name__ == "__main__":
    sys.exit(main())
