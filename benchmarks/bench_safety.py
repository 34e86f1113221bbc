"""Safety net: emergencies said in words nobody wrote templates for, and everyday talk that must stay calm.

    .venv/bin/python benchmarks/bench_safety.py [--json OUT]

Sets of typed sentences, each written blind (by a helper agent that could not see the pack, asked for
what people at a gym or on a run would say when something is seriously wrong, by kind of emergency, and for
calm near misses: "this workout is killing me", a sore chest after bench press):

- ``benchmarks/data/safety_probe_heldout6.jsonl`` / ``safety_probe_heldout6_calm.jsonl`` (144 + 96): held
  out. Written in the nineteenth session; no template or red flag was written from it and the learned alarm
  never trained on it (``scripts/train_safety.py``, ``HELD_OUT``). What this benchmark reports first.
- The development sets, shown for comparison, not as a measure: the red flags were written from them and the
  learned alarm trains on them. ``safety_probe_dev`` (120 + 80), ``safety_probe_dev2`` (240 + 160, wider
  words: slang, British and American, bystanders, signs that never name the condition), ``safety_probe_dev3``
  (120 + 80, clots, muscle breakdown, bleeding and heatstroke), ``safety_probe_dev4`` and ``_dev5`` (240 + 160
  each, every kind, told mostly without naming it), and two pairs held out until the nineteenth session, then
  trained on: ``safety_probe`` (144 + 96, the first held out) and ``safety_probe_heldout5`` (144 + 96).

Each sentence goes through the bundled pack's matcher (as ``assistant ask`` hears it) three ways: templates
only; with the pack's red flags; with the red flags and the learned alarm (as the assistant runs). Printed per
set: emergencies that get emergency advice (any emergency intent), those that get the advice for their own
kind (``data/safety_kinds.json``), and calm lines that get emergency advice. Prints numbers; asserts nothing.
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
    "held out": "safety_probe_heldout6",
    "first held out (trained on since)": "safety_probe",
    "second held out (trained on since)": "safety_probe_heldout5",
    "dev": "safety_probe_dev",
    "second dev": "safety_probe_dev2",
    "third dev, four kinds": "safety_probe_dev3",
    "fourth dev": "safety_probe_dev4",
    "fifth dev": "safety_probe_dev5",
}
KINDS = DATA / "safety_kinds.json"
"""Each kind of emergency in the sets -> the pack's intent whose advice it should get."""


def lines(path: Path) -> list[dict[str, Any]]:
    try:
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except (OSError, ValueError) as error:
        raise BadInput(f"{path}: cannot read ({error})") from None


def score(pack: Pack, matcher: Matcher, stem: str) -> dict[str, Any]:
    own = json.loads(KINDS.read_text(encoding="utf-8"))
    emergencies = lines(DATA / f"{stem}.jsonl")
    calm = lines(DATA / f"{stem}_calm.jsonl")
    kinds: Counter[str] = Counter()
    any_advice: Counter[str] = Counter()
    own_advice: Counter[str] = Counter()
    for item in emergencies:
        intent = matcher.match(item["text"]).intent
        kinds[item["class"]] += 1
        any_advice[item["class"]] += pack.is_emergency(intent)
        own_advice[item["class"]] += intent == own.get(item["class"])
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
    matchers = {
        "as it runs": Matcher(pack),
        "with red flags": Matcher(pack, learned=False),
        "templates only": Matcher(pack, red_flags=False, learned=False),
    }
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
    held = results["sets"]["held out"]["as it runs"]
    out.append("")
    out.append("Held out, as it runs, by kind (emergency advice / own advice / sentences):")
    out.append(", ".join(f"{k} {v['emergency_advice']}/{v['own_advice']}/{v['n']}" for k, v in held["by_kind"].items()))
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", type=Path, help="keep the results here")
    args = parser.parse_args(argv)
    return measure_and_print("bench_safety.py", measure, table, args.json)


if __name__ == "__main__":
    sys.exit(main())
