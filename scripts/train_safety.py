"""Train the pack's safety model (``assistant/safety_model.py``) and write its weights beside the pack.

    .venv/bin/python scripts/train_safety.py           # train, choose the threshold, write the weights
    .venv/bin/python scripts/train_safety.py --check   # exit 1 when the weights are out of date

What it learns from:
- sentences drawn from the pack's templates (emergencies as their intent, everything else calm), so
  the pack's own commands and questions stay calm;
- the safety sets written blind for development (``benchmarks/data/safety_probe*``, emergencies by kind
  and calm near misses), except the held-out pair ``HELD_OUT``, which only ``bench_safety.py`` reads;
- the typed phrasings and out-of-domain lines, all calm, except their held-out sets, and the everyday
  gym talk that ``tests/test_safety.py`` checks stays calm.

A multinomial logistic regression (scikit-learn) over the hashed features of ``safety_model.py``. The
threshold is chosen by cross-validation, each blind set predicted by a model trained without it: the
lowest chance at which the model's own alarms (beyond the matcher's) on calm lines stay within
``CALM_BUDGET`` of them. Training needs scikit-learn (a test dependency); hearing needs only numpy.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from assistant import safety_model  # noqa: E402
from assistant.errors import BadInput  # noqa: E402
from assistant.normalize import normalize  # noqa: E402
from assistant.pack import Pack, load_pack  # noqa: E402
from assistant.safety_model import CALM, SafetyModel  # noqa: E402
from assistant.sample import sample_pack  # noqa: E402

DATA = ROOT / "benchmarks" / "data"
SAFETY_SETS = (
    "safety_probe",
    "safety_probe_dev",
    "safety_probe_dev2",
    "safety_probe_dev3",
    "safety_probe_dev4",
    "safety_probe_dev5",
    "safety_probe_heldout5",
)
"""Blind pairs (``{stem}.jsonl`` emergencies by kind, ``{stem}_calm.jsonl`` calm near misses) learned from.
The first and the last were held out until the nineteenth session, which trained the model on them."""
HELD_OUT = "safety_probe_heldout6"
"""The pair no model is trained on: what ``bench_safety.py`` reports first."""
CALM_SETS = (
    "phrasings_blind_dev",
    "phrasings_blind_heldout",
    "phrasings_blind3_dev",
    "ood_blind_dev",
    "ood_blind3_dev",
    "ood_tuning",
)
"""Typed commands, questions and off-topic lines, all calm (their held-out thirds are left out)."""
PHRASINGS = ROOT / "tests" / "data" / "phrasings.jsonl"
"""Labelled phrasings of the pack's intents: emergencies as their intent, the rest calm."""
CALM_TALK = ROOT / "tests" / "data" / "calm_gym_talk.txt"
"""Everyday gym talk near the red flags, written by the sessions that wrote them: calm."""
KINDS = DATA / "safety_kinds.json"
"""Each kind in the blind sets -> the pack's emergency intent whose advice it needs."""
PACK_SAMPLES = 3000
SEED = 5
C = 4.0
"""Inverse strength of the L2 penalty (measured against 1 in the eighteenth session: 4 caught more)."""
LETTER_MIN_COUNT = 2
"""A letter piece counts only when at least this many training sentences hold it."""
FOLDS = 8
CALM_BUDGET = 0.005
"""At most this part of the cross-validated calm lines may be alarmed by the model beyond the matcher."""
THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.97, 0.99)


@dataclass(frozen=True)
class Example:
    text: str
    label: str
    """``CALM`` or an emergency intent."""
    group: str
    """The file it came from; cross-validation leaves out whole groups."""


def _jsonl(path: Path) -> list[dict[str, str]]:
    try:
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except (OSError, ValueError) as error:
        raise BadInput(f"{path}: cannot read ({error})") from None


def examples(pack: Pack) -> list[Example]:
    """Everything the model learns from, in a fixed order."""
    try:
        kinds = json.loads(KINDS.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise BadInput(f"{KINDS}: cannot read ({error})") from None
    out = [
        Example(s.text, s.intent if pack.is_emergency(s.intent) else CALM, "pack")
        for s in sample_pack(pack, PACK_SAMPLES, seed=SEED)
    ]
    for stem in SAFETY_SETS:
        out += [Example(row["text"], kinds[row["class"]], stem) for row in _jsonl(DATA / f"{stem}.jsonl")]
        out += [Example(row["text"], CALM, f"{stem}_calm") for row in _jsonl(DATA / f"{stem}_calm.jsonl")]
    for stem in CALM_SETS:
        out += [Example(row["text"], CALM, stem) for row in _jsonl(DATA / f"{stem}.jsonl")]
    try:
        talk = [line.strip() for line in CALM_TALK.read_text(encoding="utf-8").splitlines()]
    except OSError as error:
        raise BadInput(f"{CALM_TALK}: cannot read ({error.strerror})") from None
    out += [Example(line, CALM, "calm_gym_talk") for line in talk if line and not line.startswith("#")]
    for row in _jsonl(PHRASINGS):
        out.append(Example(row["text"], row["intent"] if pack.is_emergency(row["intent"]) else CALM, "phrasings"))
    unknown = {e.label for e in out} - {CALM, *(i for i in pack.intent_ids if pack.is_emergency(i))}
    if unknown:
        raise BadInput(f"training labels the pack has no emergency for: {', '.join(sorted(unknown))}")
    return out


def fingerprint(rows: list[Example]) -> str:
    """What the weights depend on: the examples and the settings."""
    settings = [safety_model.FORMAT, safety_model.BUCKETS, safety_model.LETTERS, C, LETTER_MIN_COUNT, FOLDS]
    settings += [CALM_BUDGET, THRESHOLDS]
    parts = [json.dumps(settings).encode()]
    parts += [json.dumps([e.text, e.label, e.group]).encode() for e in rows]
    return safety_model.fingerprint(parts)


def fit(rows: list[Example]) -> SafetyModel:
    """A model trained on ``rows``, threshold 0.5 (``choose_threshold`` sets it)."""
    from scipy.sparse import csr_matrix
    from sklearn.linear_model import LogisticRegression

    texts = [normalize(e.text) for e in rows]
    words: Counter[int] = Counter()
    letters: Counter[int] = Counter()
    for text in texts:
        w, c = safety_model.counts(text)
        words.update(w.keys())
        letters.update(c.keys())
    document_counts = dict(words)
    for bucket, n in letters.items():
        if n >= LETTER_MIN_COUNT:
            document_counts[bucket] = max(n, document_counts.get(bucket, 0))
    seen = np.array(sorted(document_counts), np.int64)
    idf = np.array([math.log((1 + len(texts)) / (1 + document_counts[b])) + 1 for b in seen], np.float32)
    classes = tuple(sorted({e.label for e in rows}, key=lambda c: (c != CALM, c)))
    blank = SafetyModel(
        classes, seen, idf, np.zeros((len(seen), len(classes)), np.float32), np.zeros(len(classes)), 0.5, ""
    )
    data: list[float] = []
    indices: list[int] = []
    pointers = [0]
    for text in texts:
        rows_filled, values = blank.features(text)
        indices.extend(rows_filled.tolist())
        data.extend(values.tolist())
        pointers.append(len(indices))
    matrix = csr_matrix((data, indices, pointers), shape=(len(texts), len(seen)))
    labels = [classes.index(e.label) for e in rows]
    regression = LogisticRegression(C=C, max_iter=3000, class_weight="balanced").fit(matrix, labels)
    weights = np.zeros((len(seen), len(classes)), np.float32)
    bias = np.zeros(len(classes), np.float32)
    weights[:, regression.classes_] = regression.coef_.T
    bias[regression.classes_] = regression.intercept_
    return replace(blank, weights=weights, bias=bias)


def choose_threshold(rows: list[Example], flagged: list[bool]) -> tuple[float, list[str]]:
    """The threshold, and a report of the cross-validated counts behind it. ``flagged``: per example,
    whether the pack's matcher alone gives it emergency advice."""
    from sklearn.model_selection import GroupKFold

    groups = [e.group for e in rows]
    blind = np.array([g != "pack" for g in groups])
    chances = np.zeros(len(rows))
    for train, test in GroupKFold(n_splits=FOLDS).split(rows, groups=groups):
        keep = [i for i in train] + [i for i in test if not blind[i]]  # the pack's samples always learned
        model = fit([rows[i] for i in sorted(set(keep))])
        for i in test:
            if blind[i]:
                chances[i] = model.hear(rows[i].text).chance
    emergency = np.array([e.label != CALM for e in rows]) & blind
    calm = np.array([e.label == CALM for e in rows]) & blind
    matcher = np.array(flagged)
    report = [
        f"cross-validated over {FOLDS} folds: {int(emergency.sum())} blind emergencies, {int(calm.sum())} calm lines",
        f"  matcher alone: {int((matcher & emergency).sum())} caught, {int((matcher & calm).sum())} calm alarmed",
    ]
    chosen = THRESHOLDS[-1]
    for t in THRESHOLDS:
        heard = matcher | (chances > t)
        extra = int((heard & calm).sum() - (matcher & calm).sum())
        report.append(f"  threshold {t}: {int((heard & emergency).sum())} caught, {extra} more calm alarmed")
        if extra <= CALM_BUDGET * calm.sum() and chosen == THRESHOLDS[-1]:
            chosen = t
    report.append(f"chosen: {chosen} (model's own calm alarms at most {CALM_BUDGET:.1%} of calm lines)")
    return chosen, report


def weights_path(pack: Pack) -> Path:
    if pack.safety_model is None:
        raise BadInput("the pack names no safety model ('safety_model: {weights: ..., unsure: ...}')")
    return pack.safety_model.weights


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="exit 1 when the weights are out of date")
    args = parser.parse_args(argv)
    try:
        pack = load_pack()
        path = weights_path(pack)
        rows = examples(pack)
        wanted = fingerprint(rows)
        if args.check:
            have = SafetyModel.load(path).fingerprint if path.exists() else "(none)"
            if have != wanted:
                print(f"{path}: out of date with the pack and the training sets; run scripts/train_safety.py")
                return 1
            print(f"{path}: up to date")
            return 0
        try:
            import sklearn  # noqa: F401
        except ImportError:
            print("train_safety: training needs scikit-learn: .venv/bin/pip install -e '.[test]'", file=sys.stderr)
            return 2
        from assistant.match import Matcher

        matcher = Matcher(pack, learned=False)
        flagged = [pack.is_emergency(matcher.match(e.text).intent) for e in rows]
        threshold, report = choose_threshold(rows, flagged)
        print("\n".join(report))
        model = replace(fit(rows), threshold=threshold, fingerprint=wanted)
        model.save(path)
        print(f"{path}: {len(model.seen):,} features, {len(model.classes)} classes, {len(rows):,} examples")
        return 0
    except BadInput as error:
        print(f"train_safety: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
