"""Voice the demo's user turns into the short WAVs shipped in assistant/samples/.

    python scripts/make_demo_audio.py                 # Piper joe, from assistant/samples/demo_turns.txt
    python scripts/make_demo_audio.py --voice espeak-us

Each line of the turn list is ``NN-name<TAB>text``; each becomes ``NN-name.wav``: 16 kHz mono 16-bit,
one clear voice with a little silence either side so voice activity detection sees a start and an end.
Old turn WAVs not in the list are removed, so the folder always matches the list.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))

import voices as vx

from assistant.audio.io import SAMPLE_RATE, write_wav
from assistant.demo import read_script
from assistant.errors import AssistantError

SAMPLES = Path(__file__).resolve().parent.parent / "assistant" / "samples"
PAD_SECONDS = 0.25
"""Silence before and after each turn."""


def read_turns(path: Path) -> list[tuple[str, str]]:
    """(name, text) pairs from a turn list, one recording per distinct name."""
    turns = {turn.name: turn.text for turn in read_script(path, require_audio=False)}
    return list(turns.items())


def make(turns: list[tuple[str, str]], out: Path, voice: vx.Voice) -> list[Path]:
    """Write one WAV per turn and remove turn WAVs that are no longer listed."""
    pad = np.zeros(int(PAD_SECONDS * SAMPLE_RATE), np.float32)
    written = []
    try:
        for name, text in turns:
            path = out / f"{name}.wav"
            write_wav(path, np.concatenate([pad, vx.synthesize(voice, text), pad]))
            written.append(path)
        for stale in out.glob("[0-9][0-9]-*.wav"):
            if stale not in written:
                stale.unlink()
    except OSError as error:
        raise AssistantError(f"cannot write demo audio to {out}: {error.strerror or error}") from None
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: exit status 0, or 1/2 with one line on stderr."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--turns", type=Path, default=SAMPLES / "demo_turns.txt", help="turn list (NN-name<TAB>text)")
    p.add_argument("--out", type=Path, default=SAMPLES, help="where the WAVs go (default assistant/samples)")
    p.add_argument("--voice", default="piper-joe", help="voice from scripts/voices.py (default piper-joe)")
    args = p.parse_args(argv)
    try:
        [voice] = vx.pick_voices(args.voice)
        paths = make(read_turns(args.turns), args.out, voice)
    except AssistantError as error:
        print(f"make_demo_audio: {error}", file=sys.stderr)
        return error.exit_code
    total = sum(p.stat().st_size for p in paths)
    print(f"{len(paths)} turns, {total / 1024:.0f} KB -> {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
