"""Write a pack's sentence vectors (``assistant/meaning.py``): the vector of every sentence drawn from its templates.

    .venv/bin/python scripts/build_meaning.py                      # the bundled pack
    .venv/bin/python scripts/build_meaning.py --intents PATH       # another pack with a ``meaning`` setting
    .venv/bin/python scripts/build_meaning.py --check              # exit 1 when the vectors are out of date

The sentences are drawn from the pack's templates (``sample_pack``, fixed count and seed): its questions and
requests. Left out are emergencies (the red flags and the learned alarm hear those, and a likeness of meaning
is no warning sign) and the dialogue's controls (yes, stop, how long is left: short replies that the state
waiting for them judges; "what time is it" is like "what's the time" and means neither). Nothing written
for testing is used, so what the vectors know of the pack is what the pack itself says.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from assistant import meaning  # noqa: E402
from assistant.errors import BadInput  # noqa: E402
from assistant.pack import Pack, load_pack  # noqa: E402
from assistant.sample import sample_pack  # noqa: E402

SENTENCES = 3000
SEED = 5


def examples(pack: Pack) -> list[tuple[str, str]]:
    """(sentence, intent) pairs the vectors are made of, each sentence once, in drawing order."""
    seen: dict[str, str] = {}
    for sentence in sample_pack(pack, SENTENCES, seed=SEED):
        behaviour = pack.behaviours[sentence.intent]
        if not behaviour.emergency and behaviour.control is None and sentence.text.strip():
            seen.setdefault(sentence.text, sentence.intent)
    return list(seen.items())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--intents", type=Path, help="pack (YAML file or folder); the bundled one by default")
    parser.add_argument("--check", action="store_true", help="exit 1 when the vectors file is out of date")
    args = parser.parse_args(argv)
    try:
        pack = load_pack(args.intents) if args.intents else load_pack()
        settings = pack.meaning
        if settings is None:
            print("build_meaning: the pack has no 'meaning' setting (vectors file and threshold)", file=sys.stderr)
            return 2
        pairs = examples(pack)
        wanted = meaning.fingerprint(pairs)
        if args.check:
            current = meaning.MeaningIndex.load(settings.vectors, settings.threshold)
            if current.fingerprint != wanted:
                print(f"{settings.vectors} is out of date: run scripts/build_meaning.py", file=sys.stderr)
                return 1
            print(f"{settings.vectors} is up to date ({len(current.intents)} sentences)")
            return 0
        model = meaning.encoder()
        vectors = np.stack([model.embed(text) for text, _ in pairs])
    except BadInput as error:
        print(f"build_meaning: {error}", file=sys.stderr)
        return 2
    index = meaning.MeaningIndex(
        vectors=vectors.astype(np.float16),
        intents=tuple(intent for _, intent in pairs),
        texts=tuple(text for text, _ in pairs),
        threshold=settings.threshold,
        fingerprint=wanted,
    )
    index.save(settings.vectors)
    print(f"wrote {settings.vectors}: {len(pairs)} sentences of {len(set(index.intents))} intents")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
