"""Whole-pipeline benchmark: response latency, resident memory and start-up time with the default engine.

    .venv/bin/python benchmarks/bench_latency.py [--repeats 3] [--startup-runs 5] [--json OUT]
    .venv/bin/python benchmarks/bench_latency.py --noise babble --snr 12 --startup-runs 0   # a noisy gym

``--noise`` puts one of the project's gym noises (``scripts/voices.py``) under the whole turn instead of
room tone, at ``--snr`` (speech active level to noise RMS, as the spoken set mixes), continuing after the
speech for up to ``NOISY_TAIL_S``: the endpointer has no silence to wait for, so this shows how long a
user in a noisy room waits for a turn to end.

Response latency runs the demo script's spoken turns (``assistant/samples``) through the real pipeline:
``MicrophoneTurns`` (noise suppression when the engine wants it, Silero endpointing) reads a fake
microphone that delivers each turn in real time (0.3 s of quiet room tone, the speech, then room tone),
``Conversation.hear`` recognises, matches, answers, and the default ``Speaker`` (with the pack's replies
made ahead and kept in the user's cache folder, as ``assistant listen`` does) synthesises the reply into
a fake output stream that plays in real time. The engine and the voice are the defaults (``--asr auto``,
no ``--voice``).
Latency is measured, not added: from the moment the last sample of speech has been "spoken" into the
microphone to the moment the first sample of the reply reaches the output stream, so it includes the
endpointer's trailing-silence window as a user waits through it. The engine reads each turn while it is
spoken (``LiveTurn``), so each turn also records the endpointing wait (end of speech to the turn's last
audio reaching the engine), the time from there to the dialogue's decision (what is left of recognition,
plus matching), and ``Exchange.response_ms`` (from the turn's last audio to the first reply sample).
The reply is cut after its first block (as a barge-in would) to keep the run short; that cannot change
when its first sample went out.

Each repeat is a fresh process, which also reports its resident memory (psutil RSS) once the
conversation is built and after all turns. Start-up to listening times the real command line,
``assistant listen --mode always --no-speakers``, from process start to its "Listening" line. The
installed size of ``.venv`` (``du -sm``) is reported beside them.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import threading
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any, cast

import numpy as np
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent / "scripts"))

from common import PYTHON, ROOT, command_line, machine, median, percentile, rss_mb, write_results

from assistant.asr.choose import open_engine
from assistant.audio.io import SAMPLE_RATE, load_audio
from assistant.audio.mic import AudioTurn, MicrophoneTurns
from assistant.audio.vad import live_endpointer
from assistant.cache import user_cache
from assistant.clock import FakeClock
from assistant.demo import read_script, samples_folder
from assistant.dialogue import Dialogue
from assistant.match import Matcher
from assistant.pack import load_pack
from assistant.replies import pack_replies
from assistant.session import Conversation, WakePhrase
from assistant.tts import Speaker

LEAD_S = 0.3
TAIL_S = 1.5
"""Room tone after the speech: longer than the endpointer's trailing-silence window."""
NOISY_LEAD_S = 2.0
"""Noise before the speech with ``--noise``: a noisy room is noisy before anyone speaks."""
NOISY_TAIL_S = 16.0
"""Noise after the speech with ``--noise``: longer than the longest turn the endpointer lets run (15 s)."""
ROOM_TONE_DBFS = -60.0
"""Quiet enough to be silence, loud enough that the voice activity detector is asked about every frame."""


class RealTimeMicrophone:
    """A ``RawInputStream`` stand-in: ``read`` hands out the audio no faster than it would be spoken."""

    def __init__(self, audio: np.ndarray, **_: Any) -> None:
        self.audio = audio
        self.position = 0
        self.started_at = 0.0

    def __enter__(self) -> RealTimeMicrophone:
        self.started_at = time.perf_counter()
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    def read(self, frames: int) -> tuple[bytes, bool]:
        chunk = self.audio[self.position : self.position + frames]
        self.position += len(chunk)
        wait = self.started_at + self.position / SAMPLE_RATE - time.perf_counter()
        if wait > 0:
            time.sleep(wait)
        return chunk.tobytes(), False

    def wall_time(self, sample: int) -> float:
        """When sample number ``sample`` was (or will be) spoken into the microphone."""
        return self.started_at + sample / SAMPLE_RATE


class RealTimeOutput:
    """An ``OutputStream`` stand-in that plays in real time and notes when its first sample arrives."""

    def __init__(self, rate: int, first_write: list[float], on_first: Any) -> None:
        self.rate = rate
        self.first_write = first_write
        self.on_first = on_first
        self.due = 0.0

    def start(self) -> None:
        self.due = time.perf_counter()

    def write(self, data: np.ndarray) -> None:
        now = time.perf_counter()
        if not self.first_write:
            self.first_write.append(now)
            self.on_first()
        self.due = max(self.due, now) + len(data) / self.rate
        time.sleep(max(0.0, self.due - time.perf_counter()))

    def stop(self) -> None:
        return None

    def abort(self) -> None:
        return None

    def close(self) -> None:
        return None


def trimmed_speech(path: Path) -> np.ndarray:
    """A recording without its leading and trailing silence, so the end of speech is known exactly."""
    import voices

    audio = load_audio(path).astype(np.float32) / 32768.0
    return np.asarray(np.rint(voices.trim_silence(audio) * 32767), dtype=np.int16)


def room_tone(seconds: float, rng: np.random.Generator) -> np.ndarray:
    """Quiet pink noise."""
    import voices

    noise = voices.pink_noise(int(seconds * SAMPLE_RATE), rng) * 10 ** (ROOM_TONE_DBFS / 20) * 32767
    return np.asarray(np.rint(noise), dtype=np.int16)


class NoisyRoom:
    """The gym noise ``kind`` under every turn, at ``snr_db`` below each turn's speech (seeded)."""

    def __init__(self, kind: str, snr_db: float, rng: np.random.Generator) -> None:
        import voices

        self.kind, self.snr_db, self.rng, self.voices = kind, snr_db, rng, voices
        talkers = [v for v in voices.available_voices() if v.name in voices.BABBLE_TALKERS] if kind == "babble" else []
        self.bed = voices.babble_bed(talkers, rng) if kind == "babble" else None

    def around(self, speech: np.ndarray, said: bool = True) -> tuple[np.ndarray, int]:
        """``NOISY_LEAD_S`` of noise, the speech with noise under it, then ``NOISY_TAIL_S`` of noise; and where
        the speech ends (samples); with ``said`` False, the noise alone (as loud as it would be)."""
        lead, tail = int(NOISY_LEAD_S * SAMPLE_RATE), int(NOISY_TAIL_S * SAMPLE_RATE)
        make = self.voices.NOISES[self.kind]
        n = lead + len(speech) + tail
        noise = make(n, self.rng, self.bed) if self.bed is not None else make(n, self.rng)
        voiced = speech.astype(np.float32) / 32768.0
        gain = self.voices.active_rms(voiced) / (self.voices.rms(noise) * 10 ** (self.snr_db / 20))
        mixed = gain * noise
        if said:
            mixed[lead : lead + len(speech)] += voiced
        peak = float(np.max(np.abs(mixed)))
        mixed = mixed / peak * 0.98 if peak > 0.98 else mixed
        return np.asarray(np.rint(mixed * 32767), dtype=np.int16), lead + len(speech)


def one_run(turn_limit: int, whole_replies: bool, noise: str | None = None, snr_db: float = 12.0) -> dict[str, Any]:
    """Build the default pipeline, speak the demo turns into it (in room tone, or in ``noise`` at ``snr_db``),
    return per-turn timings and RSS."""
    started = time.perf_counter()
    pack = load_pack()
    engine = open_engine("auto", pack)
    first_write: list[float] = []
    speaker_box: list[Speaker] = []

    def cut_reply() -> None:
        if not whole_replies and speaker_box:
            speaker_box[0].stop()

    speaker = Speaker(
        output_stream=lambda rate: RealTimeOutput(rate, first_write, cut_reply),
        print_unheard=False,
        cache=user_cache("voice"),
    )
    speaker_box.append(speaker)
    speaker.prepare(pack.emergency_advice(), [reply.text for reply in pack_replies(pack)])
    decided: list[float] = []
    matcher = Matcher(pack)
    conversation = Conversation(
        matcher,
        Dialogue(pack, FakeClock()),
        engine,
        speaker,
        WakePhrase("", "always"),
        on_reply=lambda _turn: decided.append(time.perf_counter()),
    )
    endpointer = live_endpointer()  # as MicrophoneTurns makes one
    denoise = bool(getattr(engine, "noise_suppression", True))  # as the command line decides
    ready_s = time.perf_counter() - started
    rss_start = rss_mb()
    matcher.prepare()  # as `assistant listen` does once listening: the sentence encoder loads in the background

    rng = np.random.default_rng(2024)
    room = NoisyRoom(noise, snr_db, rng) if noise else None
    if room is not None:  # the assistant has been listening to the room before anyone speaks to it
        endpointer.feed(room.around(trimmed_speech(samples_folder() / "01-eye.wav"), said=False)[0])
        endpointer.flush()
    script = read_script(samples_folder() / "demo_turns.txt")
    script = script[:turn_limit] if turn_limit else script
    turns = []
    for demo_turn in tqdm(script, desc="turns", unit="turn", file=sys.stderr, leave=False):
        speech = trimmed_speech(demo_turn.audio)
        if room is not None:
            audio, spoken_to = room.around(speech)
        else:
            lead = room_tone(LEAD_S, rng)
            audio, spoken_to = np.concatenate([lead, speech, room_tone(TAIL_S, rng)]), len(lead) + len(speech)
        microphone = RealTimeMicrophone(audio)
        listening = MicrophoneTurns(endpointer=endpointer, stream_factory=lambda m=microphone, **_: m, denoise=denoise)
        heard = cast(Generator[AudioTurn, None, None], iter(listening))
        turn = next(heard, None)
        speech_end = microphone.wall_time(spoken_to)
        if turn is None:
            turns.append({"name": demo_turn.name, "heard": None})
            continue
        del first_write[:], decided[:]
        exchange = conversation.hear(turn)
        heard.close()
        endpointer.flush()
        endpointer.set_trailing_silence(conversation.turn_pause_ms)  # as Conversation.run does
        reply_at = first_write[0] if first_write else None
        decided_at = decided[0] if decided else None
        pipeline_ms = exchange.response_ms
        # The engine reads the turn while it is spoken; its last audio arrives when the endpointer ends it.
        turn_over_at = reply_at - pipeline_ms / 1000 if reply_at is not None and pipeline_ms is not None else None
        turns.append(
            {
                "name": demo_turn.name,
                "said": demo_turn.text,
                "heard": exchange.transcript.text,
                "intent": exchange.match.intent if exchange.match else None,
                "ignored": exchange.ignored,
                "endpointing_ms": _ms(turn_over_at, speech_end),
                "intent_ms": _ms(decided_at, turn_over_at),
                "pipeline_ms": round(pipeline_ms, 1) if pipeline_ms is not None else None,
                "response_ms": _ms(reply_at, speech_end),
            }
        )
        if demo_turn.wait_s:
            conversation.dialogue.advance(demo_turn.wait_s)
    speaker.close()
    return {
        "engine": engine.describe(),
        "denoise": denoise,
        "voice": speaker.describe(),
        "ready_s": round(ready_s, 2),
        "rss_start_mb": rss_start,
        "rss_after_turns_mb": rss_mb(),
        # The highest resident size the process reached (Linux counts ru_maxrss in KiB).
        "rss_peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "turns": turns,
    }


def _ms(later: float | None, earlier: float | None) -> float | None:
    return round((later - earlier) * 1000, 1) if later is not None and earlier is not None else None


def startup_to_listening(runs: int) -> list[float]:
    """Seconds from starting ``assistant listen`` to its "Listening" line, per run."""
    exe = str(Path(PYTHON).with_name("assistant"))
    samples = []
    for _ in tqdm(range(runs), desc="start-up", unit="run", file=sys.stderr, leave=False):
        started = time.perf_counter()
        process = subprocess.Popen(
            [exe, "listen", "--mode", "always", "--no-speakers"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert process.stderr is not None
        timer = threading.Timer(120, process.kill)
        timer.start()
        seen = None
        for line in process.stderr:
            if line.startswith("Listening ("):
                seen = time.perf_counter() - started
                break
        process.kill()
        process.wait()
        timer.cancel()
        if seen is not None:
            samples.append(round(seen, 3))
    return samples


def installed_mib(folder: Path) -> float | None:
    """Disk space ``folder`` takes in MiB, as ``du -sm`` counts it (None when it cannot be measured)."""
    done = subprocess.run(["du", "-sm", str(folder)], capture_output=True, text=True, check=False)
    return float(done.stdout.split()[0]) if done.returncode == 0 and done.stdout.strip() else None


def summarise(runs: list[dict[str, Any]], startup: list[float]) -> dict[str, Any]:
    """Per-run percentiles, then the median over runs."""
    per_run = []
    for run in runs:
        answered = [t for t in run["turns"] if t.get("response_ms") is not None]
        per_run.append(
            {
                "response_ms_p50": percentile([t["response_ms"] for t in answered], 50),
                "response_ms_p95": percentile([t["response_ms"] for t in answered], 95),
                "endpointing_ms_p50": percentile([t["endpointing_ms"] for t in answered], 50),
                "intent_ms_p50": percentile([t["intent_ms"] for t in answered], 50),
                "intent_ms_p95": percentile([t["intent_ms"] for t in answered], 95),
                "pipeline_ms_p50": percentile([t["pipeline_ms"] for t in answered], 50),
                "pipeline_ms_p95": percentile([t["pipeline_ms"] for t in answered], 95),
                "answered": len(answered),
                "turns": len(run["turns"]),
            }
        )
    keys = per_run[0].keys() if per_run else ()
    return {
        **{key: median([r[key] for r in per_run]) for key in keys},
        "rss_start_mb": median([r["rss_start_mb"] for r in runs]),
        "rss_after_turns_mb": median([r["rss_after_turns_mb"] for r in runs]),
        "rss_peak_mb": max(r["rss_peak_mb"] for r in runs),
        "startup_to_listening_s": median(startup),
        "startup_runs": startup,
        "per_run": per_run,
    }


def main(argv: list[str] | None = None) -> int:
    """Run the repeats (each in a fresh process) and the start-up runs; print or write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="conversation runs, each in a fresh process")
    parser.add_argument("--turns", type=int, default=0, help="only the first N demo turns (default all)")
    parser.add_argument("--startup-runs", type=int, default=5, help="start-up measurements (median reported)")
    parser.add_argument("--whole-replies", action="store_true", help="play every reply to the end (slower)")
    parser.add_argument(
        "--noise", choices=("babble", "clatter", "pink", "treadmill"), help="a gym noise under every turn"
    )
    parser.add_argument("--snr", type=float, default=12.0, help="speech to --noise, dB (default 12)")
    parser.add_argument("--one-run", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--json", type=Path, help="write the results here instead of stdout")
    args = parser.parse_args(argv)
    if args.one_run:
        print(json.dumps(one_run(args.turns, args.whole_replies, args.noise, args.snr)))
        return 0
    results: dict[str, Any] = {"machine": machine(), "command": command_line(), "noise": args.noise}
    if args.noise:
        results["snr_db"] = args.snr
    runs = []
    for _ in tqdm(range(args.repeats), desc="latency runs", unit="run", file=sys.stderr):
        child = [PYTHON, __file__, "--one-run", "--turns", str(args.turns), "--snr", str(args.snr)]
        if args.noise:
            child += ["--noise", args.noise]
        if args.whole_replies:
            child.append("--whole-replies")
        done = subprocess.run(child, capture_output=True, text=True, cwd=ROOT, check=False)
        if done.returncode != 0:
            print(f"bench_latency: a run failed:\n{done.stderr[-2000:]}", file=sys.stderr)
            return 1
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    startup = startup_to_listening(args.startup_runs)
    results.update(summarise(runs, startup))
    results["engine"] = runs[0]["engine"] if runs else None
    results["denoise"] = runs[0]["denoise"] if runs else None
    results["voice"] = runs[0]["voice"] if runs else None
    results["runs"] = runs
    results["venv_mib"] = installed_mib(ROOT / ".venv")
    write_results(results, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
