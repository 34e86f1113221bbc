"""Shared helpers for the audio and speech-recognition tests: a tiny pack and synthetic speech."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from assistant.pack import Pack, load_pack

TINY_PACK = """
language: en
intents:
  cramp_now:
    data:
      - sentences:
          - "my {muscle} is cramping"
          - "[i have a] cramp in my {muscle}"
    routine: {kind: relief, slot: muscle, default: calf}
  twitch:
    data:
      - sentences:
          - "why (is|does) my {muscle} (twitch|twitching)"
  yes:
    data: [{sentences: ["yes", "yeah", "sure", "yes please"]}]
    control: yes
  no:
    data: [{sentences: ["no", "nope", "no thanks"]}]
    control: no
  pause:
    data: [{sentences: ["pause", "wait", "hold on"]}]
    control: pause
  resume:
    data: [{sentences: ["resume", "continue", "go on"]}]
    control: resume
  stop:
    data: [{sentences: ["stop", "cancel"]}]
    control: stop
  chest_pain:
    data: [{sentences: ["[i have] chest pain", "i can't breathe"]}]
    emergency: true
lists:
  muscle:
    values:
      - calf
      - {in: "(hamstring|back of my thigh)", out: hamstring}
      - thigh
      - foot
dialogue:
  expects:
    yes_no: [yes, no, stop]
    routine: [pause, resume, stop]
"""


def tiny_pack(tmp_path: Path) -> Pack:
    """The tiny pack above, loaded through the real loader."""
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY_PACK, encoding="utf-8")
    return load_pack(path)


def speak(tmp_path: Path, text: str, voice: str = "flite", lead_s: float = 0.3, tail_s: float = 0.6) -> Path:
    """Synthesise ``text`` into a 16 kHz WAV padded with silence.

    ``voice`` "flite" uses flite's slt voice (clear US English); anything else is an
    espeak-ng voice name such as "ko" or "en-us".
    """
    tool = "flite" if voice == "flite" else "espeak-ng"
    if shutil.which(tool) is None or shutil.which("sox") is None:
        pytest.skip(f"{tool} and sox are needed to make test speech")
    stem = f"{'_'.join(text.split())[:40]}-{voice}"
    raw = tmp_path / f"{stem}-raw.wav"
    out = tmp_path / f"{stem}.wav"
    if tool == "flite":
        subprocess.run(["flite", "-voice", "slt", "-t", text, "-o", str(raw)], check=True)
    else:
        subprocess.run(["espeak-ng", "-v", voice, "-w", str(raw), text], check=True)
    sox(str(raw), "-r", "16000", "-c", "1", "-b", "16", str(out), "pad", str(lead_s), str(tail_s))
    return out


def sox(*args: str) -> None:
    """Run sox (skipping the test when it is missing)."""
    if shutil.which("sox") is None:
        pytest.skip("sox is needed to make test audio")
    subprocess.run(["sox", *args], check=True)
