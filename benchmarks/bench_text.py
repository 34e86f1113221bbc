"""Text skill benchmark: accuracy on held-out phrasings, match latency, and `assistant ask` cold start.

    .venv/bin/python benchmarks/bench_text.py [--json]

Prints numbers; asserts nothing. The README quotes its output.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from assistant.evaluate import evaluate
from assistant.match import Matcher
from assistant.pack import load_pack

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
COFFEE = ROOT / "tests" / "fixtures" / "coffee_pack.yaml"
COFFEE_ORDERS = [
    "i would like a large oat milk latte iced with honey double shot please",
    "can i get a double shot hot grande with vanilla syrup almond milk mocha",
    "i want a small cappucino with whole milk extra hot no sugar decaf",
    "could i have a venti iced cold brew with caramel syrup skim milk triple shot",
    "medium flat white soy milk two sugars warm single shot",
    "cancel my order",
]


def percentiles(samples_ms: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(float(np.percentile(samples_ms, 50)), 3),
        "p95_ms": round(float(np.percentile(samples_ms, 95)), 3),
        "max_ms": round(max(samples_ms), 3),
    }


def time_matches(matcher: Matcher, texts: list[str], rounds: int) -> list[float]:
    samples = []
    for _ in range(rounds):
        for text in texts:
            started = time.perf_counter()
            matcher.match(text)
            samples.append((time.perf_counter() - started) * 1000)
    return samples


def texts_of(path: Path) -> list[str]:
    return [json.loads(line)["text"] for line in path.read_text().splitlines() if line.strip()]


def cold_start(runs: int) -> list[float]:
    exe = str(Path(sys.executable).with_name("assistant"))
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([exe, "ask", "why is my eye twitching"], check=True, capture_output=True)
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    results: dict[str, object] = {"machine": f"{platform.machine()}, {platform.python_version()}, {platform.node()}"}
    started = time.perf_counter()
    pack = load_pack()
    matcher = Matcher(pack)
    results["bundled_load_ms"] = round((time.perf_counter() - started) * 1000, 1)
    results["bundled_templates"] = matcher.template_count
    results["bundled_expansions"] = matcher.expansion_count()

    phrasings = DATA / "phrasings.jsonl"
    ood = DATA / "ood.jsonl"
    results["phrasings"] = evaluate(phrasings, matcher, progress=False)
    results["ood"] = evaluate(ood, matcher, progress=False)

    texts = texts_of(phrasings) + texts_of(ood)
    time_matches(matcher, texts, 1)  # warm caches as a running assistant would have them
    results["bundled_match"] = percentiles(time_matches(matcher, texts, args.rounds))

    started = time.perf_counter()
    coffee = Matcher(load_pack(COFFEE))
    results["coffee_load_ms"] = round((time.perf_counter() - started) * 1000, 1)
    results["coffee_expansions"] = coffee.expansion_count()
    results["coffee_match"] = percentiles(time_matches(coffee, COFFEE_ORDERS, args.rounds * 4))

    cold = cold_start(max(3, args.rounds))
    results["ask_cold_start_ms"] = {"median": round(statistics.median(cold), 1), "max": round(max(cold), 1)}

    if args.json:
        print(json.dumps(results, indent=2))
        return
    p, o = results["phrasings"], results["ood"]
    assert isinstance(p, dict) and isinstance(o, dict)
    print(f"machine                         {results['machine']}")
    print(
        f"held-out phrasings              n={p['n']} intent accuracy {p['intent_accuracy']:.1%}, "
        f"command acceptance {p['command_acceptance']:.1%}"
    )
    print(f"out-of-domain                   n={o['n']} false accepts {o['ood_false_accept_rate']:.1%}")
    print(
        f"bundled pack                    {results['bundled_templates']} templates, "
        f"{results['bundled_expansions']:,} sentences, loads in {results['bundled_load_ms']} ms"
    )
    print(f"bundled match latency           {results['bundled_match']}")
    print(
        f"coffee pack                     {results['coffee_expansions']:,} sentences, "
        f"loads in {results['coffee_load_ms']} ms"
    )
    print(f"coffee match latency            {results['coffee_match']}")
    print(f"`assistant ask` cold start      {results['ask_cold_start_ms']}")


if __name__ == "__main__":
    main()
