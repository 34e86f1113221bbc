"""Whole-pipeline conversations: spoken turns (a synthetic voice) -> PocketSphinx -> matcher -> dialogue ->
pyttsx3 replies written as WAV files. Only the microphone and the sound card are absent; time in routines
runs on a fake clock."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from assistant.asr.choose import open_engine
from assistant.audio.io import write_wav
from assistant.audio.mic import FileTurns
from assistant.clock import FakeClock
from assistant.dialogue import Dialogue
from assistant.match import Matcher
from assistant.pack import Pack, load_pack
from assistant.session import Conversation, Exchange, WakePhrase
from assistant.tts import Speaker

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
import voices as vx  # noqa: E402

VOICE = "piper-joe"
STARTS = {
    "twitch_check": "is twitching a sign of ALS",
    "cramp_check": "should I see a doctor about my cramps",
    "calf_check": "my calf is cramping",
    "belly_check": "my stomach is cramping",
    "back_check": "my back is spasming",
}
"""A spoken question that leads into each interview of the bundled pack (the last three: the check before a
relief routine, which holds the dispositions only a check reaches)."""


@pytest.fixture(scope="module")
def pack() -> Pack:
    return load_pack()


@pytest.fixture(scope="module")
def engine(pack: Pack):  # type: ignore[no-untyped-def]
    return open_engine("pocketsphinx", pack)


@pytest.fixture(scope="module")
def recordings(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """Speak a sentence once per test module, with a little silence around it as a microphone hears it."""
    folder = tmp_path_factory.mktemp("turns")
    voice = vx.pick_voices(VOICE)[0]
    made: dict[str, Path] = {}

    def record(text: str) -> Path:
        if text not in made:
            speech = vx.synthesize(voice, text)
            pad = np.zeros(int(0.3 * 16000), dtype=np.float32)
            audio = np.concatenate([pad, speech, pad])
            path = folder / f"{len(made):03d}.wav"
            write_wav(path, (np.clip(audio, -1, 1) * 32767).astype(np.int16))
            made[text] = path
        return made[text]

    return record


class Session:
    """A conversation wired like `assistant listen --input`, with the replies kept for checking."""

    def __init__(self, pack: Pack, engine, record, wav_out: Path) -> None:  # type: ignore[no-untyped-def]
        self.clock = FakeClock()
        self.record = record
        self.exchanges: list[Exchange] = []
        self.conversation = Conversation(
            Matcher(pack),
            Dialogue(pack, self.clock),
            engine,
            Speaker(wav_out=wav_out, play=False, print_unheard=False),
            WakePhrase(pack.dialogue.wake_phrase, "always"),
            on_exchange=self.exchanges.append,
        )
        self.wav_out = wav_out

    def say(self, text: str) -> Exchange:
        exchange = self.conversation.hear(next(iter(FileTurns([self.record(text)]))))
        assert exchange.ignored is None, f"{text!r} was heard as {exchange.transcript.text!r} ({exchange.ignored})"
        return exchange

    def wait(self, seconds: float) -> list[str]:
        said = []
        for turn in self.conversation.dialogue.advance(seconds):
            self.conversation.speak(turn)
            said.extend(turn.say)
        return said

    @property
    def state(self) -> str:
        return self.conversation.dialogue.state.value


def test_the_conversation_lets_its_engine_keep_an_emergency_it_reads_short(pack: Pack, tmp_path: Path) -> None:
    """An engine that reads a waiting state's turn short first (Whisper) keeps that read when the conversation's
    matcher takes it for an emergency; engines without one are left as they are."""

    class ShortReader:
        alarm = None

    class FullReader:
        pass

    engine, other = ShortReader(), FullReader()
    for listener in (engine, other):
        Conversation(
            Matcher(pack),
            Dialogue(pack, FakeClock()),
            listener,  # type: ignore[arg-type]
            Speaker(wav_out=tmp_path, play=False, print_unheard=False),
            WakePhrase(pack.dialogue.wake_phrase, "always"),
        )
    assert engine.alarm is not None
    assert engine.alarm(("someone collapsed",), "routine")
    assert not engine.alarm(("yes",), "yes_no")
    assert not hasattr(other, "alarm")


@pytest.fixture
def session(pack: Pack, engine, recordings, tmp_path: Path) -> Session:  # type: ignore[no-untyped-def]
    return Session(pack, engine, recordings, tmp_path / "replies")


def paths_to(pack: Pack, interview_id: str, disposition: str) -> list[list[str]]:
    """Every yes/no answer sequence through an interview that ends in ``disposition``."""
    interview = pack.triage[interview_id]
    found: list[list[str]] = []

    def walk(question_id: str, answers: list[str]) -> None:
        question = interview.questions[question_id]
        for word, action in (("yes", question.yes), ("no", question.no)):
            if action.disposition == disposition:
                found.append([*answers, word])
            elif action.next:
                walk(action.next, [*answers, word])

    walk(interview.start, [])
    return found


def test_every_disposition_is_reached_by_voice(pack: Pack, session: Session) -> None:
    reached = set()
    for disposition in pack.dispositions:
        routes = [(iid, path) for iid in STARTS for path in paths_to(pack, iid, disposition)]
        assert routes, f"no interview leads to {disposition}"
        interview_id, answers = min(routes, key=lambda route: len(route[1]))
        opening = session.say(STARTS[interview_id])
        assert opening.turn is not None and session.state == "triage", opening
        for answer in answers:
            exchange = session.say(answer)
        assert exchange.turn is not None
        assert exchange.turn.disposition == disposition, (answers, [e.transcript.text for e in session.exchanges])
        assert session.state == "idle"
        reached.add(disposition)
    assert reached == set(pack.dispositions)
    replies = sorted(session.wav_out.glob("*.wav"))
    assert len(replies) >= len(session.exchanges)
    audio, rate = sf.read(replies[-1])
    assert rate > 8000 and len(audio) > rate * 0.5 and np.abs(audio).max() > 0.05


def test_cramp_becomes_a_guided_stretch_with_pause_and_resume(session: Session) -> None:
    start = session.say("my calf is cramping")
    assert start.match is not None and start.match.intent == "cramp_now"
    assert start.match.slots == {"muscle": "calf"}
    assert session.state == "triage"  # first the check for a clot
    assert session.say("no").match.intent == "no"  # type: ignore[union-attr]
    assert session.state == "routine"
    session.wait(12)
    asked = session.say("how many seconds left")
    assert asked.match is not None and asked.match.intent == "time_left"
    assert asked.turn is not None and "18 seconds" in " ".join(asked.turn.say)

    assert session.say("pause").match.intent == "pause"  # type: ignore[union-attr]
    assert session.state == "paused"
    assert session.wait(60) == []  # nothing is said and the hold does not run out while paused

    resumed = session.say("resume")
    assert resumed.match is not None and resumed.match.intent == "resume"
    assert session.state == "routine"
    assert "18 seconds" in " ".join(resumed.turn.say)  # type: ignore[union-attr]
    later = session.wait(30)
    assert any("release" in line.lower() for line in later)


def test_emergency_phrase_mid_routine_wins(session: Session) -> None:
    session.say("my calf is cramping")
    session.say("no")
    session.wait(5)
    assert session.state == "routine"
    exchange = session.say("call an ambulance")
    assert exchange.match is not None and exchange.match.intent == "emergency"
    assert exchange.turn is not None and "emergency" in " ".join(exchange.turn.say).lower()
    assert session.state == "idle"
    assert session.wait(60) == []  # the routine is over


def test_crisis_words_mid_routine_get_a_crisis_line(session: Session) -> None:
    session.say("my hamstring is cramping")
    session.wait(5)
    assert session.state == "routine"
    exchange = session.say("I want to kill myself")
    assert exchange.match is not None and exchange.match.intent == "crisis", exchange.transcript.text
    assert exchange.turn is not None and "nine eight eight" in " ".join(exchange.turn.say)
    assert session.state == "idle"
    assert session.wait(60) == []


def test_memory_is_given_back_after_a_reply_and_after_an_ignored_turn(
    session: Session, recordings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    import assistant.session as session_module

    given: list[str] = []
    monkeypatch.setattr(session_module, "give_back_memory", lambda: given.append(session.state) or True)
    session.say("why is my eye twitching")
    assert given, "a spoken reply gave no memory back"
    spoken = len(given)
    quiet = tmp_path / "quiet.wav"
    write_wav(quiet, np.zeros(16000, dtype=np.int16))
    exchange = session.conversation.hear(next(iter(FileTurns([quiet]))))
    assert exchange.turn is None
    assert len(given) == spoken + 1, "an ignored turn gave no memory back"
