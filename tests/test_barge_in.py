"""Barge-in: while the assistant talks, a user who speaks up cuts it off and is answered.

Real engine, matcher, dialogue and Piper voice; the sound card is a stand-in that takes audio in real time."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

from fakes import RealTimeOutput

from assistant.asr.choose import open_engine
from assistant.audio.mic import AudioTurn, FileTurns
from assistant.dialogue import Dialogue
from assistant.match import Matcher
from assistant.messages import Utterance
from assistant.pack import load_pack
from assistant.session import Conversation, WakePhrase
from assistant.tts import Speaker

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
    import threading

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
