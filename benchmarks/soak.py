"""Soak: a long stretch of gym audio (noise, silence, babble and spoken questions) through the real
listening loop, faster than real time, watching answers, memory, threads and open files.

    .venv/bin/python benchmarks/soak.py --minutes 30                  # PocketSphinx (the test's engine)
    .venv/bin/python benchmarks/soak.py --minutes 30 --engine auto    # the default engine (Whisper)

The microphone is a fake stream (``tests/fakes.py``) playing generated audio; everything
else is real: Silero endpointing, the speech engine, the matcher, the dialogue and the
default voice (written nowhere: ``Speaker(play=False)``). Built from a seed, so a run can be
repeated exactly. ``tests/test_soak.py`` runs a short form of the same soak.
"""

from __future__ import annotations

import argparse
import gc
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from common import rss_mb  # noqa: E402
from fakes import FakeMicrophone, babble, bundled_pack, mix, pink_noise, pocketsphinx, silence, spoken  # noqa: E402

from assistant.asr.base import SpeechEngine  # noqa: E402
from assistant.asr.choose import ENGINE_KINDS, open_engine  # noqa: E402
from assistant.audio.io import SAMPLE_RATE, load_audio  # noqa: E402
from assistant.audio.mic import AudioTurn, MicrophoneTurns  # noqa: E402
from assistant.demo import samples_folder  # noqa: E402
from assistant.dialogue import Dialogue  # noqa: E402
from assistant.match import Matcher  # noqa: E402
from assistant.session import Conversation, Exchange, WakePhrase  # noqa: E402
from assistant.tts import Speaker  # noqa: E402


@dataclass(frozen=True)
class Line:
    """Something said to the assistant in the soak, and the intent it must be answered with."""

    text: str
    intent: str
    voice: str
    """espeak-ng voice, or "sample:NAME" for a bundled recording (Piper's joe voice) of that sentence."""


RECORDED = (
    Line("why is my eye twitching", "eye_twitch", "sample:01-eye.wav"),
    Line("no thanks", "no", "sample:02-no.wav"),
)
"""A question and the answer to its follow-up, from the bundled demo recordings."""

ESPEAK = (
    Line("what causes muscle spasms", "spasm_causes", "en-us+klatt"),
    Line("no thanks", "no", "en-us+m1"),
    Line("how do I prevent cramps", "prevent_cramps", "en-us+klatt"),
    Line("no thanks", "no", "en-us+m1"),
)
"""The same kind of exchange voiced by espeak-ng (the voices PocketSphinx recognised best in a trial)."""

VOICE_SETS = {"recorded": RECORDED, "espeak": ESPEAK, "both": RECORDED + ESPEAK}

NOISE_RMS = 300.0
"""Gym background between exchanges (about -40 dBFS)."""
FLOOR_RMS = 12.0
"""Quiet room tone under the questions (about -68 dBFS; speech is about -20 dBFS)."""


def voiced(line: Line) -> np.ndarray:
    """The line as 16 kHz int16 audio."""
    if line.voice.startswith("sample:"):
        return load_audio(samples_folder() / line.voice.removeprefix("sample:"))
    return spoken(line.text, voice=line.voice, rate=140)


@dataclass(frozen=True)
class Said:
    """One line placed in the soak audio."""

    line: Line
    start_s: float
    end_s: float


@dataclass
class SoakAudio:
    """The microphone's whole input and where each line is in it."""

    samples: np.ndarray
    said: list[Said]

    @property
    def seconds(self) -> float:
        return len(self.samples) / SAMPLE_RATE


def make_audio(minutes: float, seed: int = 1, lines: tuple[Line, ...] = RECORDED) -> SoakAudio:
    """Silence, pink noise and babble, then a question and "no thanks" (``lines`` in pairs),
    until ``minutes`` are filled."""
    rng = np.random.default_rng(seed)
    voices = {line: voiced(line) for line in lines}
    parts: list[np.ndarray] = []
    said: list[Said] = []
    position = 0
    target = int(minutes * 60 * SAMPLE_RATE)
    pair = 0

    def add(audio: np.ndarray, line: Line | None = None) -> None:
        nonlocal position
        if line is not None:
            said.append(Said(line, position / SAMPLE_RATE, (position + len(audio)) / SAMPLE_RATE))
        parts.append(audio)
        position += len(audio)

    while position < target:
        exchange = lines[pair % len(lines) : pair % len(lines) + 2]
        pair += 2
        add(silence(rng.uniform(1.0, 4.0)))
        add(pink_noise(rng.uniform(2.0, 6.0), NOISE_RMS, rng))
        add(babble(rng.uniform(2.0, 5.0), NOISE_RMS, rng))
        add(pink_noise(1.0, FLOOR_RMS, rng))
        for line in exchange:
            speech = voices[line]
            add(mix(speech, pink_noise(len(speech) / SAMPLE_RATE + 0.1, FLOOR_RMS, rng)), line)
            add(pink_noise(rng.uniform(1.5, 3.0), FLOOR_RMS, rng))
    return SoakAudio(np.concatenate(parts), said)


@dataclass
class Figures:
    """What a soak run measured."""

    audio_s: float = 0.0
    wall_s: float = 0.0
    turns: int = 0
    asked: int = 0
    answered_right: int = 0
    wrong: list[str] = field(default_factory=list)
    extra_turns: list[str] = field(default_factory=list)
    """Turns found where no line was said (noise or babble taken for speech), with what was made of them."""
    rss_mb: list[tuple[float, float]] = field(default_factory=list)
    """(audio seconds, resident MB) samples."""
    threads: tuple[int, int] = (0, 0)
    fds: tuple[int, int] = (0, 0)


@dataclass(frozen=True)
class Heard:
    """Where a turn was heard (the harness keeps only this, not the turn's audio)."""

    start_s: float
    end_s: float | None


def run_soak(audio: SoakAudio, sample_every_s: float = 30.0, engine: SpeechEngine | None = None) -> Figures:
    """Play ``audio`` through MicrophoneTurns -> Conversation.run and measure (PocketSphinx unless ``engine``)."""
    process = psutil.Process()
    pack = bundled_pack()
    engine = engine if engine is not None else pocketsphinx()
    speaker = Speaker(play=False, print_unheard=False)
    exchanges: list[Exchange] = []
    turns: list[Heard] = []
    figures = Figures(audio_s=audio.seconds)
    conversation = Conversation(
        Matcher(pack),
        Dialogue(pack),
        engine,
        speaker,
        WakePhrase(pack.dialogue.wake_phrase, "always"),
        on_exchange=exchanges.append,
    )
    microphone = FakeMicrophone(audio.samples)
    listening = MicrophoneTurns(stream_factory=microphone)
    next_sample = 0.0

    def tracked() -> Iterator[AudioTurn]:
        nonlocal next_sample
        for turn in listening:
            if turn.start_s >= next_sample:
                gc.collect()
                figures.rss_mb.append((turn.start_s, rss_mb()))
                next_sample = turn.start_s + sample_every_s
            yield turn
            turns.append(Heard(turn.start_s, turn.end_s))  # heard by now, so its end is known

    gc.collect()
    threads_before, fds_before = threading.active_count(), process.num_fds()
    started = time.perf_counter()
    conversation.run(tracked())
    figures.wall_s = time.perf_counter() - started
    gc.collect()
    figures.rss_mb.append((audio.seconds, rss_mb()))
    figures.threads = (threads_before, threading.active_count())
    figures.fds = (fds_before, process.num_fds())
    figures.turns = len(turns)
    _score(audio, turns, exchanges, figures)
    speaker.close()
    return figures


def _score(audio: SoakAudio, turns: list[Heard], exchanges: list[Exchange], figures: Figures) -> None:
    """Pair each line said with the turn that holds it, and check its intent."""
    figures.asked = len(audio.said)
    claimed: set[int] = set()
    for said in audio.said:
        index = next(
            (i for i, t in enumerate(turns) if t.start_s < said.end_s and (t.end_s or t.start_s) > said.start_s), None
        )
        if index is None or index >= len(exchanges):
            figures.wrong.append(f"{said.start_s:.1f}s {said.line.text!r}: no turn heard")
            continue
        claimed.add(index)
        exchange = exchanges[index]
        intent = exchange.match.intent if exchange.match is not None else None
        if intent == said.line.intent and exchange.turn is not None and exchange.turn.say:
            figures.answered_right += 1
        else:
            heard = exchange.transcript.text
            figures.wrong.append(
                f"{said.start_s:.1f}s {said.line.text!r}: heard {heard!r} -> {intent} ({exchange.ignored})"
            )
    for index, exchange in enumerate(exchanges):
        if index not in claimed:
            intent = exchange.match.intent if exchange.match is not None else None
            figures.extra_turns.append(f"{turns[index].start_s:.1f}s heard {exchange.transcript.text!r} -> {intent}")


def report(figures: Figures) -> str:
    """The figures as printed by the benchmark."""
    lines = [
        f"audio            {figures.audio_s / 60:.1f} min",
        f"wall time        {figures.wall_s:.1f} s ({figures.audio_s / max(figures.wall_s, 1e-9):.1f}x real time)",
        f"turns heard      {figures.turns}",
        f"lines said       {figures.asked}, answered with the right intent {figures.answered_right}",
        f"threads          {figures.threads[0]} -> {figures.threads[1]}",
        f"open fds         {figures.fds[0]} -> {figures.fds[1]}",
        "RSS (MB) by audio minute: " + ", ".join(f"{seconds / 60:.0f}:{mb:.0f}" for seconds, mb in figures.rss_mb),
    ]
    lines += [f"  wrong: {w}" for w in figures.wrong[:20]]
    lines += [f"  extra: {e}" for e in figures.extra_turns[:20]]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0, help="audio time to feed (default 30)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--every", type=float, default=60.0, help="seconds of audio between RSS samples")
    parser.add_argument("--voices", choices=tuple(VOICE_SETS), default="both", help="who says the questions")
    parser.add_argument("--engine", choices=ENGINE_KINDS, default="pocketsphinx", help="speech engine (as --asr)")
    args = parser.parse_args()
    made = time.perf_counter()
    audio = make_audio(args.minutes, args.seed, VOICE_SETS[args.voices])
    print(f"made {audio.seconds / 60:.1f} min of audio in {time.perf_counter() - made:.1f} s", flush=True)
    engine = open_engine(args.engine, bundled_pack())  # start-up is not part of the soak
    print(f"engine: {engine.describe()}", flush=True)
    print(report(run_soak(audio, args.every, engine)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
