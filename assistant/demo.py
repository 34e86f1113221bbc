"""``assistant demo``: a scripted session from the sample user turns shipped in ``assistant/samples``.

Each line of ``demo_turns.txt`` is ``NAME<TAB>what is said[<TAB>seconds to let pass after it]``;
``NAME.wav`` beside it holds the spoken turn (voiced by ``scripts/make_demo_audio.py``). The turns go
through the whole pipeline: speech in, intent, dialogue, speech out. Time in routines runs on a fake
clock moved forward by the script, so a 30-second hold takes no real time.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from .errors import BadInput


@dataclass(frozen=True)
class DemoTurn:
    """One scripted user turn."""

    name: str
    """File stem of the recording."""
    text: str
    """What is said (for the reader; the pipeline hears the audio)."""
    wait_s: float
    """Seconds of routine time to let pass after the reply."""
    audio: Path
    """The recording."""


def samples_folder() -> Path:
    """Where the demo's recordings live (inside the installed package)."""
    return Path(str(files("assistant.samples")))


def read_script(script: Path, require_audio: bool = True) -> list[DemoTurn]:
    """The demo turns of a script file, checked for their recordings (``NAME.wav`` beside it)."""
    folder = script.parent
    try:
        lines = script.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise BadInput(f"{script}: cannot read the demo script: {error.strerror}") from None
    turns = []
    for number, line in enumerate(lines, 1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) < 2:
            raise BadInput(f"{script}:{number}: expected NAME<TAB>TEXT[<TAB>SECONDS]")
        try:
            wait = float(fields[2]) if len(fields) > 2 and fields[2].strip() else 0.0
        except ValueError:
            raise BadInput(f"{script}:{number}: seconds must be a number, not {fields[2]!r}") from None
        audio = folder / f"{fields[0]}.wav"
        if require_audio and not audio.is_file():
            raise BadInput(f"{audio}: recording missing (run scripts/make_demo_audio.py)")
        turns.append(DemoTurn(fields[0], fields[1], wait, audio))
    return turns
