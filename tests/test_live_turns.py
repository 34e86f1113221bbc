"""Turns read while they are spoken: the engine gets audio before the user has finished, and a turn
whose words already make a whole command ends after a shorter pause."""

from __future__ import annotations

import numpy as np
import pytest
from fakes import ClockedOutput, FakeMicrophone, bundled_pack, pocketsphinx, silence

from assistant.audio.io import load_audio
from assistant.audio.mic import MicrophoneTurns
from assistant.audio.vad import FRAME_S, Endpointer
from assistant.clock import FakeClock
from assistant.demo import samples_folder
from assistant.dialogue import Dialogue
from assistant.match import Matcher
from assistant.session import COMPLETE_PAUSE_MS, QUESTION_PAUSE_MS, Conversation, Exchange, WakePhrase
from assistant.tts import Speaker

RATE = 16000


def sample(name: str) -> np.ndarray:
    return load_audio(samples_folder() / name)


def speech_of(name: str) -> np.ndarray:
    """A sample recording without its lead-in and trailing quiet (10 ms frames above -44 dBFS)."""
    audio = sample(name)
    frames = audio[: len(audio) // 160 * 160].astype(np.float64).reshape(-1, 160)
    loud = np.flatnonzero(np.sqrt(np.mean(frames**2, axis=1)) > 200)
    return audio[loud[0] * 160 : (loud[-1] + 1) * 160]


def test_a_live_turn_hands_out_audio_before_the_speaker_finishes() -> None:
    speech = sample("01-eye.wav")
    microphone = FakeMicrophone(np.concatenate([silence(0.5), speech, silence(1.5)]))
    turns = iter(MicrophoneTurns(stream_factory=microphone))
    turn = next(turns)
    read_when_first_chunk_arrived = microphone.position
    chunks = list(turn.chunks)
    assert read_when_first_chunk_arrived < RATE * 0.5 + len(speech) / 2  # well before the end of speech
    assert turn.end_s is not None and not turn.cut
    assert sum(len(c) for c in chunks) == sum(len(c) for c in turn.chunks)  # readable again once over
    assert next(turns, None) is None


def test_an_unread_turn_is_read_to_its_end_before_the_next() -> None:
    speech = sample("04-no.wav")
    audio = np.concatenate([silence(0.5), speech, silence(1.2), speech, silence(1.2)])
    turns = list(MicrophoneTurns(stream_factory=FakeMicrophone(audio)))
    assert len(turns) == 2
    assert all(t.end_s is not None for t in turns)
    assert turns[0].end_s is not None and turns[0].end_s < turns[1].start_s


def test_end_sooner_ends_the_open_turn_after_the_shorter_pause() -> None:
    speech = speech_of("04-no.wav")
    pause = silence(0.35)  # shorter than the usual window, longer than the sooner one
    audio = np.concatenate([silence(0.5), speech, pause, speech, silence(1.0)])
    usual = list(Endpointer(trailing_silence_ms=500).live_turns([audio]))
    assert len(usual) == 1

    endpointer = Endpointer(trailing_silence_ms=500)
    sooner = []
    for turn in endpointer.live_turns([audio]):
        turn.end_sooner(160)
        sooner.append(turn)
        list(turn)
    assert len(sooner) == 2


def _turn_length_after_speech(conversation: Conversation, audio: np.ndarray, speech_end: int) -> float:
    microphone = FakeMicrophone(audio)
    turns = iter(MicrophoneTurns(stream_factory=microphone))  # kept: the stream is open while it lives
    turn = next(turns)
    conversation.hear(turn)
    assert turn.end_s is not None
    return microphone.position / RATE - speech_end / RATE


def test_a_whole_command_ends_the_turn_sooner_than_a_question_pause() -> None:
    pack = bundled_pack()
    exchanges: list[Exchange] = []
    talk = Conversation(
        Matcher(pack),
        Dialogue(pack),
        pocketsphinx(),
        Speaker(play=False, print_unheard=False),
        WakePhrase(pack.dialogue.wake_phrase, "always"),
        on_exchange=exchanges.append,
    )
    left = speech_of("11-left.wav")  # "how much longer"
    lead = silence(0.5)
    waited = _turn_length_after_speech(talk, np.concatenate([lead, left, silence(2.0)]), len(lead) + len(left))
    assert exchanges[-1].match is not None and exchanges[-1].match.intent == "time_left"
    # Without the shorter pause the turn runs about QUESTION_PAUSE_MS past the speech.
    assert COMPLETE_PAUSE_MS / 1000 - 2 * FRAME_S <= waited < (COMPLETE_PAUSE_MS + QUESTION_PAUSE_MS) / 2000


def test_a_stretch_hold_is_timed_from_the_end_of_the_spoken_instruction() -> None:
    pack = bundled_pack()
    clock = FakeClock()
    dialogue = Dialogue(pack, clock)
    speaker = Speaker(output_stream=lambda rate: ClockedOutput(rate, clock), print_unheard=False)
    talk = Conversation(Matcher(pack), dialogue, pocketsphinx(), speaker, WakePhrase("", "always"))
    turn = dialogue.handle(Matcher(pack).match("my hamstring is cramping"))
    assert turn.state == "routine"
    due_in = dialogue.next_event_in()
    assert due_in is not None
    started = clock.now()
    talk.speak(turn)
    speaker.close()
    assert clock.now() - started > 2.0  # the instruction took a few seconds to say
    assert dialogue.next_event_in() == pytest.approx(due_in)
