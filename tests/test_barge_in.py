"""Barge-in: while the assistant talks, a user who speaks up cuts it off and is answered.

Real engine, matcher, dialogue and Piper voice; the sound card is a stand-in that takes audio in real time
(over a loudspeaker, one that plays into a simulated room the microphone hears, with echo cancellation)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import soxr
from fakes import FakeRoom, RealTimeOutput, room_path

from assistant.asr.choose import open_engine
from assistant.audio.echo import EchoCanceller
from assistant.audio.io import SAMPLE_RATE, load_audio
from assistant.audio.mic import AudioTurn, FileTurns, MicrophoneTurns
from assistant.dialogue import Dialogue
from assistant.match import Matcher
from assistant.messages import Turn, Utterance
from assistant.pack import load_pack
from assistant.session import Conversation, WakePhrase
from assistant.tts import Speaker, split_into_chunks

SAMPLES = Path(__file__).resolve().parent.parent / "assistant" / "samples"


def test_speaking_up_cuts_the_assistant_off() -> None:
    pack = load_pack()
    speaker = Speaker(play=True, output_stream=RealTimeOutput, print_unheard=False)
    spoken: list[tuple[str, bool]] = []
    say = speaker.say

    def recording_say(utterance: Utterance | str) -> bool:
        finished = say(utterance)
        spoken.append((utterance.text if isinstance(utterance, Utterance) else utterance, finished))
        return finished

    speaker.say = recording_say  # type: ignore[method-assign]
    conversation = Conversation(
        Matcher(pack), Dialogue(pack), open_engine("pocketsphinx", pack), speaker, WakePhrase("", "always")
    )

    def turns() -> Iterator[AudioTurn]:
        yield next(iter(FileTurns([SAMPLES / "01-eye.wav"])))  # "why is my eye twitching": a long answer
        deadline = time.monotonic() + 20
        while not speaker.is_speaking and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.5)
        yield next(iter(FileTurns([SAMPLES / "02-no.wav"])))  # "no thanks", said over the answer

    conversation.run(turns())
    answer = pack.behaviours["eye_twitch"].answer
    assert answer is not None
    assert spoken, "nothing was spoken"
    first_text, first_finished = spoken[0]
    assert first_text in answer.say and not first_finished  # the answer was cut off mid-sentence
    assert not any(text == pack.behaviours["eye_twitch"].follow_up.ask for text, _ in spoken)  # type: ignore[union-attr]
    assert spoken[-1][1]  # the reply to "no thanks" was spoken to the end
    assert conversation.dialogue.state.value == "idle"


def test_an_interview_ending_in_call_emergency_services_is_not_cut_off() -> None:

    from assistant.messages import Turn

    pack = load_pack()
    speaker = Speaker(play=True, output_stream=RealTimeOutput, print_unheard=False)
    conversation = Conversation(
        Matcher(pack), Dialogue(pack), open_engine("pocketsphinx", pack), speaker, WakePhrase("", "always")
    )
    by_urgency = {d.urgency: d for d in pack.dispositions.values()}
    finished: dict[int, list[bool]] = {}
    say = speaker.say

    for urgency in (3, 2):
        disposition = by_urgency[urgency]
        results: list[bool] = []
        finished[urgency] = results

        def recording_say(utterance: Utterance | str, results: list[bool] = results) -> bool:
            done = say(utterance)
            results.append(done)
            return done

        speaker.say = recording_say  # type: ignore[method-assign]
        turn = Turn(say=(disposition.say,), state="idle", disposition=disposition.id)
        talking = threading.Thread(target=conversation.speak, args=(turn,))
        talking.start()
        deadline = time.monotonic() + 20
        while not speaker.is_speaking and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.3)
        conversation.interrupt()  # the user (or the gym) speaks up over the advice
        talking.join(60)
    assert finished[3] == [True]  # "call emergency services now" is said to the end
    assert finished[2] == [False]  # "see a doctor soon" may be cut off, as any other reply


def active_level_db(audio: np.ndarray) -> float:
    """Active speech level: the mean power of the 10 ms frames within 30 dB of the loudest, in dB."""
    frames = audio[: len(audio) // 160 * 160].astype(np.float64).reshape(-1, 160)
    power = np.mean(frames**2, axis=1) + 1e-9
    return 10 * float(np.log10(np.mean(power[power >= power.max() / 1000])))


def echo_level_db(speaker: Speaker, text: str) -> float:
    """Active level of ``text`` said by ``speaker`` as the room's microphone hears it."""
    said = [speaker.synthesize(chunk) for chunk in split_into_chunks(text)]
    heard = [np.convolve(soxr.resample(audio, rate, SAMPLE_RATE) * 32767.0, room_path()) for audio, rate in said]
    return active_level_db(np.concatenate(heard))


def _over_the_loudspeaker(word: str | None) -> tuple[list[str | None], bool]:
    """The eye-twitch answer played into a room whose microphone hears it (``FakeRoom``), echo cancellation on,
    and ``word`` (a bundled recording) said 3 s into it, 6 dB above the echo: the intents acted on after the
    question, and whether the answer was cut off."""
    pack = load_pack()
    answer = pack.behaviours["eye_twitch"].answer.say  # type: ignore[union-attr]
    room = FakeRoom(room_path(), seconds=60.0)
    speaker = Speaker(play=True, output_stream=room.output, print_unheard=False)
    echo = EchoCanceller()
    speaker.on_played = echo.played
    acted: list[str | None] = []
    finished: dict[str, bool] = {}
    say = speaker.say

    def recording_say(utterance: Utterance | str) -> bool:
        done = say(utterance)
        finished[utterance.text if isinstance(utterance, Utterance) else utterance] = done
        return done

    speaker.say = recording_say  # type: ignore[method-assign]
    conversation = Conversation(
        Matcher(pack),
        Dialogue(pack),
        open_engine("auto", pack),
        speaker,
        WakePhrase("", "always"),
        on_exchange=lambda exchange: acted.append(exchange.match.intent) if exchange.turn and exchange.match else None,
    )
    microphone = MicrophoneTurns(stream_factory=room, denoise=False, echo=echo)
    loop = threading.Thread(target=conversation.run, args=(microphone,), kwargs={"endpointer": microphone.endpointer})
    loop.start()
    greeting = ("Hi.", "I can help with muscle twitches, spasms, cramps and stretches.")
    conversation.speak(Turn(say=greeting, state="idle"))
    room.say(load_audio(SAMPLES / "01-eye.wav"), time.monotonic() + 0.5)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not (speaker.is_speaking and acted):
        time.sleep(0.01)
    started = speaker.last_reply.first_audio_at if speaker.last_reply is not None else None
    word_at = (started or time.monotonic()) + 3.0
    if word is not None:
        speech = load_audio(SAMPLES / word).astype(np.float64)
        room.say(speech * 10 ** ((echo_level_db(speaker, answer) + 6 - active_level_db(speech)) / 20), word_at)
    time.sleep(max(0.0, word_at + 6.0 - time.monotonic()))
    cut = any(not done for text, done in finished.items() if text in answer)  # the answer was cut off
    room.close()
    conversation.interrupt()
    loop.join(60)
    speaker.close()
    assert acted[:1] == ["eye_twitch"], acted
    return acted[1:], cut


def test_stop_over_the_loudspeaker_is_acted_on_with_echo_cancellation() -> None:
    """The word is heard through the echo and acts. How often is bench_echo.py's to measure: the canceller
    misreads the word now and then (DECISIONS.md, which is why it is off by default), and more often while a
    cold process is still loading, so up to three tries, each in a new room; none acting on "stop" fails."""
    outcomes = []
    for _ in range(3):
        acted, cut = _over_the_loudspeaker("12-stop.wav")
        outcomes.append((acted, cut))
        if acted[:1] == ["stop"] and cut:
            return
    raise AssertionError(f"'stop' said over the loudspeaker was not acted on in 3 tries: {outcomes}")


def test_the_loudspeaker_alone_is_not_taken_for_a_command() -> None:
    acted, cut = _over_the_loudspeaker(None)
    assert acted == [] and not cut
