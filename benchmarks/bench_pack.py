"""What a large intent pack costs: peak memory and time to load it, build its matcher and check it.

    nice -n 10 .venv/bin/python benchmarks/bench_pack.py [--sizes 0.1 0.5 1] [--pack PATH ...] [--json OUT]

Packs of the given sizes (in MB) are generated with a seeded random generator in the bundled pack's
shape: many intents, each with a few blocks of templates full of alternatives, optional parts, list
and rule references, an answer citing a source, and shared lists and rules. Each intent has topic
words of its own, as real intents do, so the overlap check meets a realistic number of rivals.
``--pack`` measures given packs (a file or a folder) too. Each pack is loaded in a fresh process, as
``assistant check-intents`` does (load, ``Matcher``, checks), with the size limit lifted for sizes
above it, and then answers 1,000 sentences drawn from the pack's templates (every other one with a
word left out, for the fuzzy path), as the ``Matcher`` compiles word graphs when first needed. Peak
memory is the process's peak resident set less what it held after importing everything, "held" what
it holds after answering; times are CPU seconds per stage (steadier than wall-clock on a shared
machine; the process is single-threaded), with the wall-clock total beside them.

Prints a table; asserts nothing. DECISIONS.md quotes its output.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml
from common import PYTHON, ROOT, command_line, machine, write_results

from assistant.pack import pack_files

SHARED = {
    "openers": [
        "what is",
        "what's",
        "why is",
        "why do i get",
        "how do i stop",
        "tell me about",
        "can you explain",
        "is it normal to have",
        "should i worry about",
        "what causes",
        "how long does",
        "what helps with",
    ],
    "fillers": ["really", "so", "kind of", "a bit", "sort of", "very", "always", "sometimes", "again", "lately"],
    "verbs": ["is", "are", "keeps", "keep", "has been", "started", "feels", "feel", "gets", "got"],
    "closers": [
        "please",
        "help me",
        "what do i do",
        "what should i do",
        "now",
        "today",
        "after training",
        "after a run",
        "at night",
        "during squats",
    ],
    "determiners": ["a", "an", "the", "my", "this", "that", "some"],
}
SYLLABLES = ["ba", "ko", "ri", "mu", "te", "sa", "lo", "ne", "vi", "da", "po", "gu", "fe", "zi", "ha", "lu"]
RULES = {
    "my": "(my|the|me|mine)",
    "now": "(now|right now|again|today|at the moment)",
    "cramp_v": "(cramping|spasming|twitching|tightening|locking up|seizing up)",
}
MUSCLES = [
    "calf",
    "calves",
    "hamstring",
    "hamstrings",
    "quad",
    "quads",
    "thigh",
    "foot",
    "feet",
    "toe",
    "toes",
    "back",
    "lower back",
    "neck",
    "shoulder",
    "shoulders",
    "arm",
    "forearm",
    "hand",
    "hip",
    "glute",
    "glutes",
    "groin",
    "shin",
    "ankle",
    "side",
    "stomach",
    "abs",
    "chest",
    "eyelid",
]


def _word(rng: random.Random) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))


def _alternatives(rng: random.Random, choices: list[str], low: int, high: int) -> str:
    return "|".join(rng.sample(choices, min(len(choices), rng.randint(low, high))))


def _template(rng: random.Random, topic: list[str]) -> str:
    """One template: an opener, the intent's own words, shared filler, maybe a list and a rule."""
    parts = [f"[{_alternatives(rng, SHARED['openers'], 2, 6)}]"]
    if rng.random() < 0.5:
        parts.append(f"[{_alternatives(rng, SHARED['determiners'], 2, 4)}]")
    parts.append(f"({_alternatives(rng, topic, 1, 4)})")
    if rng.random() < 0.4:
        parts.append("<my> {muscle}")
    parts.append(f"({_alternatives(rng, SHARED['verbs'], 2, 5)})")
    if rng.random() < 0.5:
        parts.append(f"[{_alternatives(rng, SHARED['fillers'], 1, 3)}]")
    parts.append(f"({_alternatives(rng, topic, 1, 3)}|<cramp_v>)")
    if rng.random() < 0.5:
        parts.append("[<now>]")
    parts.append(f"[{_alternatives(rng, SHARED['closers'], 2, 5)}]")
    return " ".join(parts)


def generate_pack(size_bytes: int, seed: int = 0) -> str:
    """YAML text of a pack of about ``size_bytes``, in the bundled pack's shape."""
    rng = random.Random(seed)
    pack: dict[str, Any] = {
        "language": "en",
        "expansion_rules": RULES,
        "lists": {"muscle": {"values": MUSCLES}},
        "sources": {"src": {"title": "A public source", "url": "https://example.org/health"}},
        "intents": {},
    }
    text = yaml.safe_dump(pack, sort_keys=False, width=10_000)
    used: set[str] = set()
    while len(text.encode()) < size_bytes:
        index = len(pack["intents"])
        topic = []
        while len(topic) < 6:
            word = _word(rng)
            if word not in used:
                used.add(word)
                topic.append(word)
        blocks = [
            {"sentences": [_template(rng, topic) for _ in range(rng.randint(4, 10))]} for _ in range(rng.randint(1, 3))
        ]
        intent = {
            "data": blocks,
            "answer": {
                "say": " ".join(rng.choice(topic + SHARED["fillers"] + SHARED["verbs"]) for _ in range(35)) + ".",
                "sources": ["src"],
            },
        }
        chunk = yaml.safe_dump({"intents": {f"topic_{index}": intent}}, sort_keys=False, width=10_000)
        pack["intents"][f"topic_{index}"] = intent
        text += chunk.split("\n", 1)[1] if index else chunk
    return yaml.safe_dump(pack, sort_keys=False, width=10_000)


CHILD = """
import json, resource, sys, time
import psutil
from pathlib import Path
import assistant.pack
from assistant.checks import check_pack
from assistant.match import Matcher
from assistant.sample import sample_pack
size = sum(path.stat().st_size for path in assistant.pack.pack_files(Path(sys.argv[1])))
assistant.pack.MAX_PACK_BYTES = max(assistant.pack.MAX_PACK_BYTES, size)
base = psutil.Process().memory_info().rss
times = {}
wall = time.perf_counter()
started = time.process_time()
pack = assistant.pack.load_pack(Path(sys.argv[1]))
times["load_s"] = time.process_time() - started
started = time.process_time()
matcher = Matcher(pack)
times["matcher_s"] = time.process_time() - started
started = time.process_time()
problems = check_pack(pack, "p")
times["check_s"] = time.process_time() - started
times["wall_s"] = time.perf_counter() - wall
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
sentences = [sentence.text.split() for sentence in sample_pack(pack, 1000, seed=1)]
started = time.process_time()
for i, words in enumerate(sentences):
    matcher.match(" ".join(words[: len(words) // 2] + words[len(words) // 2 + 1 :] if i % 2 else words))
times["answer_s"] = time.process_time() - started
held = psutil.Process().memory_info().rss
print(json.dumps({**times, "templates": matcher.template_count, "intents": len(pack.behaviours),
                  "problems": len(problems), "peak_mb": (peak - base) / 2**20, "held_mb": (held - base) / 2**20}))
"""


def measure(path: Path) -> dict[str, Any]:
    """One pack loaded, compiled and checked in a fresh process: times per stage and peak memory."""
    done = subprocess.run(
        [PYTHON, "-c", CHILD, str(path)], capture_output=True, text=True, cwd=ROOT, check=False, timeout=3600
    )
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}"}
    return json.loads(done.stdout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sizes", type=float, nargs="*", default=[0.1, 0.5, 1.0], help="pack sizes in MB")
    parser.add_argument("--pack", type=Path, nargs="*", default=[], help="measure these packs too (file or folder)")
    parser.add_argument("--json", type=Path, help="write the results here too")
    args = parser.parse_args()
    rows = []
    print(
        f"{'pack MB':>8} {'intents':>8} {'templates':>9} {'load s':>7} {'matcher s':>9} {'check s':>8} "
        f"{'total s':>8} {'wall s':>7} {'peak MB':>8} {'MB per MB':>9} {'s per MB':>8} {'answer s':>8} "
        f"{'held MB':>7}  pack"
    )
    with tempfile.TemporaryDirectory() as folder:
        paths = list(args.pack)
        for size in args.sizes:
            paths.append(Path(folder) / f"pack_{size}.yaml")
            paths[-1].write_text(generate_pack(int(size * 1_000_000)))
        for path in paths:
            megabytes = sum(p.stat().st_size for p in pack_files(path)) / 1_000_000
            row = {
                "pack": str(path) if path in args.pack else "generated",
                "size_mb": round(megabytes, 3),
                **measure(path),
            }
            rows.append(row)
            if "error" in row:
                print(f"{megabytes:8.2f} failed: {row['error']}")
                continue
            total = row["load_s"] + row["matcher_s"] + row["check_s"]
            row["total_s"] = total
            print(
                f"{megabytes:8.2f} {row['intents']:8d} {row['templates']:9d} {row['load_s']:7.2f} "
                f"{row['matcher_s']:9.2f} {row['check_s']:8.2f} {total:8.2f} {row['wall_s']:7.2f} "
                f"{row['peak_mb']:8.0f} {row['peak_mb'] / megabytes:9.0f} {total / megabytes:8.1f} "
                f"{row['answer_s']:8.2f} {row['held_mb']:7.0f}  {row['pack']}",
                flush=True,
            )
    if args.json:
        write_results({"command": command_line(), "machine": machine(), "packs": rows}, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
