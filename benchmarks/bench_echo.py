"""Speaking up over the loudspeaker: the whole listening loop in a simulated room, echo cancellation off and on.

    .venv/bin/python benchmarks/bench_echo.py                      # 2 trials per condition, the default engine
    .venv/bin/python benchmarks/bench_echo.py --trials 3 --engine pocketsphinx
    .venv/bin/python benchmarks/bench_echo.py --passthrough-only   # only the nothing-playing check

A fake sound card plays into a room (``tests/fakes.py``, ``FakeRoom``): the reply reaches the fake microphone
40 ms later through a 120 ms reverberant tail, over a faint noise floor, in real time. The real speaker
(Piper, its kept replies), endpointer, engine, matcher and dialogue run as ``listen`` runs them. Each trial:
the assistant says its greeting (the help reply), the user asks "why is my eye twitching" (bundled
recording), and 3 s into the answer says "stop" or "pause" (bundled recordings) at +6, 0 or -6 dB against the
answer's echo (active speech level), or says nothing. Counted per condition: the word acted on (and the
answer cut off), and commands acted on that the user did not say (the assistant's own voice taken for a
command; the most important number).

Then every bundled recording and test fixture is heard through the microphone path with nothing playing,
the canceller on and off: the turns' audio and transcripts must be the same.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import soxr

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(1, str(Path(__file__).resolve().parent))

from common import command_line, machine, open_bench_engine  # noqa: E402
from fakes import FakeMicrophone, FakeRoom, room_path  # noqa: E402

from assistant.audio.echo import EchoCanceller  # noqa: E402
from assistant.audio.io import SAMPLE_RATE, load_audio  # noqa: E402
from assistant.audio.mic import MicrophoneTurns  # noqa: E402
from assistant.cache import user_cache  # noqa: E402
from assistant.dialogue import Dialogue  # noqa: E402
from assistant.match import Matcher  # noqa: E402
from assistant.messages import Turn, Utterance  # noqa: E402
from assistant.pack import load_pack  # noqa: E402
from assistant.session import Conversation, Exchange, WakePhrase  # noqa: E402
from assistant.tts import Speaker, split_into_chunks  # noqa: E402

SAMPLES = ROOT / "assistant" / "samples"
WORDS = {"stop": ("12-stop.wav", "stop"), "pause": ("09-pause.wav", "pause"), "none": (None, None)}
"""What the user says over the answer: recording and the intent it must be acted on as."""
LEVELS_DB = (6.0, 0.0, -6.0)
WORD_AFTER_S = 3.0
GREETING = Turn(say=("Hi.", "I can help with muscle twitches, spasms, cramps and stretches."), state="idle")
"""What the assistant says first (what it says to a turn it did not understand, less the apology)."""
SETTLE_S = 7.0
"""How long after the word the trial watches for what is acted on."""


def active_level_db(audio: np.ndarray) -> float:
    """Active speech level: the mean power of the 10 ms frames within 30 dB of the loudest, in dB."""
    frames = audio[: len(audio) // 160 * 160].astype(np.float64).reshape(-1, 160)
    power = np.mean(frames**2, axis=1) + 1e-9
    loud = power[power >= power.max() / 1000]
    return 10 * float(np.log10(np.mean(loud)))


def echo_level_db(speaker: Speaker, text: str, path: np.ndarray) -> float:
    """Active level of ``text`` said by ``speaker`` as the microphone hears it through ``path``."""
    parts = []
    for chunk in split_into_chunks(text):
        audio, rate = speaker.synthesize(chunk)
        parts.append(np.convolve(soxr.resample(audio, rate, SAMPLE_RATE) * 32767.0, path))
    return active_level_db(np.concatenate(parts))


def trial(
    engine: Any, pack: Any, path: np.ndarray, word: str, level_db: float, echo_on: bool, seed: int
) -> dict[str, Any]:
    """One run of the loop in the room; what was acted on."""
    matcher = Matcher(pack)
    room = FakeRoom(path, seconds=120.0, seed=seed)
    speaker = Speaker(play=True, output_stream=room.output, print_unheard=False, cache=user_cache("voice"))
    echo = EchoCanceller() if echo_on else None
    if echo is not None:
        speaker.on_played = echo.played
    spoken: list[tuple[str, bool, float]] = []
    say = speaker.say

    def recording_say(utterance: Utterance | str) -> bool:
        finished = say(utterance)
        spoken.append((utterance.text if isinstance(utterance, Utterance) else utterance, finished, time.monotonic()))
        return finished

    speaker.say = recording_say  # type: ignore[method-assign]
    acted: list[tuple[float, Exchange]] = []
    heard: list[str] = []

    def on_exchange(exchange: Exchange) -> None:
        heard.append(exchange.transcript.text)
        if exchange.turn is not None:
            acted.append((time.monotonic(), exchange))

    conversation = Conversation(
        matcher, Dialogue(pack), engine, speaker, WakePhrase("", "always"), on_exchange=on_exchange
    )
    microphone = MicrophoneTurns(stream_factory=room, denoise=bool(engine.noise_suppression), echo=echo)
    loop = threading.Thread(target=conversation.run, args=(microphone,), kwargs={"endpointer": microphone.endpointer})
    loop.start()
    conversation.speak(GREETING)
    time.sleep(0.5)
    room.say(load_audio(SAMPLES / "01-eye.wav"), time.monotonic() + 0.2)
    answer = pack.behaviours["eye_twitch"].answer
    assert answer is not None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        stats = speaker.last_reply
        if speaker.is_speaking and stats is not None and stats.first_audio_at is not None and stats.text in answer.say:
            break
        time.sleep(0.01)
    answer_at = speaker.last_reply.first_audio_at if speaker.last_reply is not None else None
    recording, intent = WORDS[word]
    word_at = (answer_at or time.monotonic()) + WORD_AFTER_S
    if recording is not None:
        speech = load_audio(SAMPLES / recording)
        target = echo_level_db(speaker, answer.say, path) + level_db
        gain = 10 ** ((target - active_level_db(speech)) / 20)
        room.say(np.clip(speech * gain, -32768, 32767), word_at)
    time.sleep(max(0.0, word_at + SETTLE_S - time.monotonic()))
    room.close()
    ended = time.monotonic()
    conversation.interrupt()
    loop.join(90)
    speaker.close()
    question = [e for _, e in acted if e.match is not None and e.match.intent == "eye_twitch"]
    word_acted = [e for t, e in acted if intent is not None and t >= word_at and e.match and e.match.intent == intent]
    others = [e for _, e in acted if not (e in question[:1] or e in word_acted[:1])]
    own = [e for e in others if e.match is not None and e.match.intent is not None]
    unclear = [e for e in others if e not in own]
    cut = any(text in answer.say and not finished and t < ended for text, finished, t in spoken)
    return {
        "asked": bool(question),
        "answer_started": answer_at is not None,
        "heard": bool(word_acted),
        "cut": cut,
        "own": [f"{e.transcript.text!r} -> {e.match.intent if e.match else None}" for e in own],
        "unclear": [e.transcript.text for e in unclear],
        "transcripts": heard,
    }


def loop_bench(engine: Any, pack: Any, trials: int, words: list[str], levels: list[float], ways: list[bool]) -> None:
    path = room_path()
    results: dict[tuple[bool, str, float], list[dict[str, Any]]] = defaultdict(list)
    for number in range(trials):
        for word in words:
            for level in levels if word != "none" else (0.0,):
                for echo_on in ways:
                    result = trial(engine, pack, path, word, level, echo_on, seed=number)
                    results[(echo_on, word, level)].append(result)
                    label = f"{'on ' if echo_on else 'off'} {word:5} {level:+.0f} dB #{number + 1}"
                    print(
                        f"  {label}: asked {result['asked']}, word acted on {result['heard']}, answer cut "
                        f"{result['cut']}, own voice acted on {result['own']}, answered as not understood "
                        f"{result['unclear']}; heard {result['transcripts']}",
                        flush=True,
                    )
    print(
        "\n| echo cancellation | word | user against the echo | word acted on | answer cut off | commands not said "
        "| not understood |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    totals: dict[bool, list[int]] = {way: [0, 0, 0, 0] for way in ways}
    for (echo_on, word, level), runs in sorted(results.items(), key=lambda item: (item[0][0], item[0][1], -item[0][2])):
        heard = sum(r["heard"] for r in runs)
        cut = sum(r["cut"] for r in runs)
        own = sum(len(r["own"]) for r in runs)
        total = totals[echo_on]
        total[0] += heard if word != "none" else 0
        total[1] += len(runs) if word != "none" else 0
        total[2] += own
        total[3] += len(runs)
        where = "-" if word == "none" else f"{level:+.0f} dB"
        unclear = sum(len(r["unclear"]) for r in runs)
        print(
            f"| {'on' if echo_on else 'off'} | {word} | {where} | {heard}/{len(runs)} | {cut}/{len(runs)} | {own} "
            f"| {unclear} |"
        )
    for echo_on, (words_heard, word_runs, not_said, all_runs) in totals.items():
        print(
            f"echo cancellation {'on' if echo_on else 'off'}: word acted on in {words_heard} of {word_runs} runs; "
            f"{not_said} commands acted on that were not said, in {all_runs} runs"
        )


def passthrough(engine: Any) -> None:
    """Every bundled recording and fixture through the microphone path, nothing playing, canceller on/off."""
    files = sorted(SAMPLES.glob("*.wav")) + sorted((ROOT / "tests" / "fixtures").rglob("*.wav"))
    same_audio = same_text = 0
    for path in files:
        audio = load_audio(path)
        padded = np.concatenate([np.zeros(SAMPLE_RATE, dtype=np.int16), audio, np.zeros(SAMPLE_RATE, dtype=np.int16)])
        outcomes = []
        for echo in (None, EchoCanceller()):
            microphone = MicrophoneTurns(
                stream_factory=FakeMicrophone(padded), denoise=bool(engine.noise_suppression), echo=echo
            )
            turns = []
            for turn in microphone:
                samples = np.concatenate(list(turn.chunks))
                turns.append((samples, engine.transcribe(samples).text))
            outcomes.append(turns)
        off, on = outcomes
        audio_same = len(off) == len(on) and all(np.array_equal(a[0], b[0]) for a, b in zip(off, on, strict=True))
        text_same = [t for _, t in off] == [t for _, t in on]
        same_audio += audio_same
        same_text += text_same
        print(
            f"  {path.relative_to(ROOT)}: {len(off)} turn(s), audio same {audio_same}, transcripts same {text_same}: "
            f"{[t for _, t in off]}",
            flush=True,
        )
    print(f"nothing playing: audio identical in {same_audio} of {len(files)} recordings, transcripts in {same_text}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", default="auto", help="speech engine (default: the default, auto)")
    parser.add_argument("--trials", type=int, default=2, help="trials per condition")
    parser.add_argument("--words", nargs="+", choices=sorted(WORDS), default=["stop", "pause", "none"])
    parser.add_argument("--levels", nargs="+", type=float, default=list(LEVELS_DB), help="user against the echo, dB")
    parser.add_argument("--echo-cancel", choices=("both", "on", "off"), default="both", help="which ways to run")
    parser.add_argument("--passthrough-only", action="store_true")
    parser.add_argument("--no-passthrough", action="store_true")
    args = parser.parse_args()
    print(command_line(), machine(), flush=True)
    pack = load_pack()
    engine = open_bench_engine(args.engine, pack)
    print(engine.describe(), flush=True)
    if not args.passthrough_only:
        ways = {"both": [False, True], "on": [True], "off": [False]}[args.echo_cancel]
        loop_bench(engine, pack, args.trials, args.words, args.levels, ways)
    if not args.no_passthrough:
        passthrough(engine)


if __name__ == "__main__":
    main()
