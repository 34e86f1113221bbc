"""Where a turn's time goes: each stage of hearing one turn with the default engine, timed on its own.

    .venv/bin/python benchmarks/bench_decode.py [--repeats 5] [--json OUT]

The demo's recordings (``assistant/samples``, one Piper voice, 0.4-2.1 s of speech) go through the stages
one after another with nothing else running: the endpointer (Silero) over the turn, Whisper's features,
its encoder, the rest of the decode (the 5-wide beam search with the pack's prompt), the matcher, and the
second pass that decodes into the pack's sentences (run only when no reading is understood; forced here by
handing it a reading the pack does not say). Whisper's encoder reads a 30-second window whatever the
turn's length, so it is also timed on shorter windows: the one lever on its cost, measured and not kept
for what it costs in noise (DECISIONS.md). The first reply sample comes from the voice cache (bench_voice).
Printed: per stage, p50 and p95 over every turn and repeat, and the time over the turn's length.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any, cast

import numpy as np
from common import command_line, machine, measure_and_print, percentile

from assistant.asr.choose import open_engine
from assistant.asr.whisper_engine import WhisperEngine, words_only
from assistant.audio.io import SAMPLE_RATE, load_audio
from assistant.audio.vad import Endpointer
from assistant.demo import read_script, samples_folder
from assistant.match import Matcher
from assistant.messages import Transcript
from assistant.pack import load_pack

WINDOWS_S = (30, 20, 15, 10)
"""Encoder windows timed: Whisper's own, and shorter ones (CTranslate2 accepts fewer frames)."""

NOT_SAID = "hmm"
"""A reading no pack sentence is, so the second pass runs in full."""


def timed(work: Callable[[], Any]) -> tuple[float, Any]:
    """(milliseconds, result) of one call."""
    started = time.perf_counter()
    result = work()
    return (time.perf_counter() - started) * 1000.0, result


def hear_all(endpointer: Endpointer, audio: np.ndarray) -> None:
    """The endpointer over a whole turn, as the microphone feeds it."""
    endpointer.feed(audio)
    endpointer.flush()


def run(repeats: int) -> dict[str, Any]:
    import ctranslate2

    pack = load_pack()
    engine = cast(WhisperEngine, open_engine("whisper", pack))
    matcher = Matcher(pack)
    turns = {turn.name: load_audio(turn.audio) for turn in read_script(samples_folder() / "demo_turns.txt")}
    stages: dict[str, list[float]] = {}
    speech_s: list[float] = []

    def note(stage: str, ms: float) -> None:
        stages.setdefault(stage, []).append(round(ms, 2))

    engine.decode(next(iter(turns.values())))  # the first call sets CTranslate2 up
    for _ in range(repeats):
        for audio in turns.values():
            speech_s.append(len(audio) / SAMPLE_RATE)
            note("endpointer (Silero), whole turn", timed(partial(hear_all, Endpointer(), audio))[0])
            ms, features = timed(partial(engine.features, audio.astype(np.float32) / 32768.0))
            note("Whisper features (log-mel)", ms)
            for seconds in WINDOWS_S:
                frames = seconds * 100
                window = np.zeros((1, features.shape[0], frames), dtype=np.float32)
                window[0, :, : min(frames, features.shape[1])] = features[:, :frames]
                batch = ctranslate2.StorageView.from_array(window)
                note(f"encoder, {seconds} s window", timed(partial(engine.model.encode, batch, to_cpu=False))[0])
            ms, reading = timed(partial(engine.decode, audio))
            note("whole decode (features, 30 s encoder, beam search)", ms)
            texts = [words_only(text) for text in reading.texts] or [""]
            heard = Transcript(texts[0], reading.confidence, engine=engine.name, alternatives=tuple(texts[1:]))
            note("matcher", timed(partial(matcher.match_heard, heard.text, heard))[0])
            forced = replace(reading, texts=(NOT_SAID,))
            note("second pass: decoding into the pack", timed(partial(engine.finish, forced))[0])
    beam = [
        whole - encoder - feature
        for whole, encoder, feature in zip(
            stages["whole decode (features, 30 s encoder, beam search)"],
            stages["encoder, 30 s window"],
            stages["Whisper features (log-mel)"],
            strict=True,
        )
    ]
    stages["beam search (whole decode less features and encoder)"] = [round(ms, 2) for ms in beam]
    return {
        "machine": machine(),
        "command": command_line(),
        "engine": engine.describe(),
        "turns": len(turns),
        "repeats": repeats,
        "speech_s_mean": round(float(np.mean(speech_s)), 3),
        "stages": {
            name: {
                "p50_ms": percentile(times, 50),
                "p95_ms": percentile(times, 95),
                "per_speech_s": round(float(np.sum(times)) / 1000.0 / float(np.sum(speech_s)), 4),
            }
            for name, times in stages.items()
        },
    }


def table(results: dict[str, Any]) -> str:
    lines = [
        f"{results['engine']}: {results['turns']} demo turns x {results['repeats']}, "
        f"{results['speech_s_mean']:.2f} s of audio a turn on average",
        "",
        "| stage | p50 | p95 | time over the turn's length |",
        "| --- | --- | --- | --- |",
    ]
    for name, figures in results["stages"].items():
        lines.append(
            f"| {name} | {figures['p50_ms']:.0f} ms | {figures['p95_ms']:.0f} ms | {figures['per_speech_s']:.3f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="times each turn goes through the stages")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        print("bench_decode: --repeats must be at least 1", file=sys.stderr)
        return 2
    return measure_and_print("bench_decode", lambda: run(args.repeats), table, args.json)


if __name__ == "__main__":
    raise SystemExit(main())
