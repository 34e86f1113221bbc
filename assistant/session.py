"""A spoken conversation: audio turns in, through recognition, matching and dialogue, speech out.

The session only passes messages along (``AudioTurn`` -> ``Transcript`` -> ``Match`` -> ``Turn`` ->
``Utterance``) and decides when a turn is addressed to the assistant (wake phrase, push-to-talk,
always listening); every stage does its own work.
"""

from __future__ import annotations

import contextlib
import json
import queue
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from rapidfuzz import fuzz

from .asr.base import SpeechEngine
from .audio.mic import AudioTurn
from .audio.vad import Endpointer
from .dialogue import Dialogue
from .errors import AssistantError
from .lines import LineFile
from .match import Matcher
from .memory import give_back_memory
from .messages import Match, Transcript, Turn, Utterance
from .normalize import normalize
from .tts import Speaker

LISTEN_MODES = ("wake", "always", "push")
"""wake: turns start with the wake phrase; always: every turn is for the assistant; push: Enter to talk."""

QUESTION_PAUSE_MS = 500
"""A pause this long ends a turn when the user may be asking anything (people pause mid-question)."""
REPLY_PAUSE_MS = 250
"""A pause this long ends a turn when a one- or two-word reply is expected (yes/no, routine commands)."""
COMPLETE_PAUSE_MS = 160
"""A pause this long ends a turn whose words so far already make a whole command (see ``COMPLETE``)."""
COMPLETE = 0.95
"""Match confidence of the words heard so far above which the turn counts as complete: only a
near-exact template phrase, so a question cut short ("why is my") never qualifies."""


@dataclass(frozen=True)
class Exchange:
    """One user turn and what the assistant did with it (for printing, logs and benchmarks)."""

    source: str
    """Where the audio came from."""
    transcript: Transcript
    """What the engine heard."""
    match: Match | None = None
    """What the matcher made of it (None when the turn was ignored)."""
    turn: Turn | None = None
    """What the dialogue answered (None when ignored)."""
    ignored: str | None = None
    """Why the turn was ignored ("nothing heard", "no wake phrase", "echo")."""
    response_ms: float | None = None
    """End of the user's audio to the first sample of the reply (or to the reply being ready)."""


class WakePhrase:
    """Decides whether a transcript is addressed to the assistant, and strips the wake phrase."""

    def __init__(self, phrase: str, mode: str = "wake", acknowledgement: str = "Yes?", threshold: float = 80.0) -> None:
        if mode not in LISTEN_MODES:
            raise AssistantError(f"unknown listening mode '{mode}'; choose {', '.join(LISTEN_MODES)}")
        self.phrase = normalize(phrase)
        self.mode = mode
        self.acknowledgement = acknowledgement
        """Said when the wake phrase comes alone."""
        self.threshold = threshold
        self.armed = False
        """True after the wake phrase was said alone: the next turn needs none."""

    def split(self, text: str) -> tuple[bool, str]:
        """Whether ``text`` starts with the wake phrase, and the words after it (changes nothing)."""
        words = normalize(text).split()
        size = len(self.phrase.split())
        head = " ".join(words[:size])
        has_phrase = bool(self.phrase) and fuzz.ratio(head, self.phrase) >= self.threshold
        return has_phrase, " ".join(words[size:]) if has_phrase else " ".join(words)

    def would_take(self, text: str, awaiting_reply: bool) -> str | None:
        """What ``addressed`` would return for ``text``, without arming (for partial transcripts)."""
        has_phrase, rest = self.split(text)
        return rest if self.mode != "wake" or awaiting_reply or self.armed or has_phrase else None

    def addressed(self, text: str, awaiting_reply: bool) -> str | None:
        """The text meant for the assistant, "" for the bare wake phrase, None when not addressed."""
        taken = self.would_take(text, awaiting_reply)
        if self.mode != "wake" or awaiting_reply or self.armed:
            self.armed = False
        elif taken == "":
            self.armed = True  # the wake phrase alone: the next turn needs none
        return taken


class SessionLog:
    """Opt-in log of the conversation as text only (never audio), one JSON line per turn."""

    def __init__(self, path: Path) -> None:
        self._file = LineFile(path, "the session log", append=True)

    def write(self, exchange: Exchange) -> None:
        record = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "heard": exchange.transcript.text,
            "intent": exchange.match.intent if exchange.match else None,
            "said": list(exchange.turn.say) if exchange.turn else [],
        }
        self._file.write(json.dumps(record) + "\n")

    def close(self) -> None:
        self._file.close()


def heed_emergencies(
    engine: SpeechEngine, matcher: Matcher, lock: contextlib.AbstractContextManager[object] | None = None
) -> None:
    """Let ``engine`` (if it reads a waiting state's turn short first, as Whisper does) keep that read when
    ``matcher`` takes it for an emergency, so the advice does not wait for a second read; ``lock`` guards
    the matcher when other threads use it too."""
    if not hasattr(engine, "alarm"):
        return
    guard = lock or contextlib.nullcontext()

    def alarm(readings: tuple[str, ...], expects: str) -> bool:
        with guard:
            return matcher.alarmed(readings, {"expects": expects})

    engine.alarm = alarm


class Conversation:
    """Runs spoken turns through the pipeline and speaks the replies.

    ``on_exchange`` hears of each turn once, before its reply is spoken (so without ``response_ms``);
    ``on_reply`` of each reply as it starts to be spoken.
    """

    def __init__(
        self,
        matcher: Matcher,
        dialogue: Dialogue,
        engine: SpeechEngine,
        speaker: Speaker,
        wake: WakePhrase,
        on_exchange: Callable[[Exchange], None] | None = None,
        on_reply: Callable[[Turn], None] | None = None,
        log: SessionLog | None = None,
    ) -> None:
        self.matcher = matcher
        self.dialogue = dialogue
        self.engine = engine
        self.speaker = speaker
        self.wake = wake
        self.on_exchange = on_exchange
        self.on_reply = on_reply
        self.log = log
        self._lock = threading.RLock()
        self._cut_off = threading.Event()
        """Set by ``interrupt``: the reply being spoken says nothing more."""
        self._voice: queue.Queue[Turn | None] | None = None
        """Replies waiting to be spoken while ``run`` listens on (None: speak in the caller's thread)."""
        heed_emergencies(engine, matcher, self._lock)

    def hear(self, audio: AudioTurn) -> Exchange:
        """Recognise one spoken turn, act on it and speak the reply."""
        with self._lock:
            expects = self.dialogue.expects
        try:
            transcript = self.engine.transcribe(audio.chunks, expects=expects, on_partial=self._completeness(audio))
        except AssistantError:
            raise
        except Exception as error:  # noqa: BLE001 - one turn the engine chokes on must not end the conversation
            reason = f"speech engine failed ({type(error).__name__}: {error})"
            print(f"assistant: {reason}; please say that again", file=sys.stderr, flush=True)
            exchange = Exchange(audio.source, Transcript(text="", engine=self.engine.name), ignored=reason)
        else:
            exchange = self._act(audio.source, transcript, time.perf_counter())
        if exchange.turn is None and self.on_exchange is not None:
            self.on_exchange(exchange)  # acted-on turns were reported before their reply was spoken
        if self.log is not None and exchange.turn is not None:
            self.log.write(exchange)
        if exchange.turn is None:
            give_back_memory()  # nothing to say: idle now (a reply gives memory back once spoken)
        return exchange

    def _completeness(self, audio: AudioTurn) -> Callable[[Transcript], None]:
        """A partial-transcript listener that lets a live turn end sooner once its words make a whole
        command, and restores the usual pause when more words change that."""

        def on_partial(partial: Transcript) -> None:
            with self._lock:
                text = self.wake.would_take(partial.text, awaiting_reply=self.dialogue.expects is not None)
                # Templates alone: cues, red flags and meaning never give a confidence near COMPLETE, and the
                # meaning stage's encoder would take the cores from the decode still running.
                found = None
                if text:
                    context = self.dialogue.context()
                    found = self.matcher.match_exact(text, context) or self.matcher.match_fuzzy(text, context)
                complete = found is not None and found.confidence >= COMPLETE
            audio.end_sooner(COMPLETE_PAUSE_MS if complete else None)

        return on_partial

    def _act(self, source: str, transcript: Transcript, heard_at: float) -> Exchange:
        if not transcript.text:
            return Exchange(source, transcript, ignored="nothing heard")
        if self.speaker.echo_guard.is_echo(transcript.text):
            return Exchange(source, transcript, ignored="echo")
        with self._lock:
            text = self.wake.addressed(transcript.text, awaiting_reply=self.dialogue.expects is not None)
            if text is None:
                return Exchange(source, transcript, ignored="no wake phrase")
            if not text:
                # The wake phrase alone: acknowledge, and take the next turn without one.
                match = Match(text=transcript.text, normalized="", intent=None)
                turn = Turn(say=(self.wake.acknowledgement,), state=self.dialogue.state.value)
            else:
                match = self.matcher.match_heard(text, transcript, self.dialogue.context())
                guard = self.speaker.echo_guard
                if (match.red_flag is not None and guard.said_recently(match.red_flag)) or (
                    match.alarm is not None and guard.mostly_said(match.normalized)
                ):
                    # Its own emergency advice, heard back in words the echo guard did not place.
                    return Exchange(source, transcript, match, ignored="echo")
                if match.intent is None and self.is_talking:
                    # Unclear sound while the assistant talks is most likely its own voice or the gym.
                    return Exchange(source, transcript, match, ignored="not understood while talking")
                if match.intent is not None:
                    self.interrupt()  # barge-in: a user who speaks up is heard, not talked over
                turn = self.dialogue.handle(match)
        if self.on_exchange is not None:
            self.on_exchange(Exchange(source, transcript, match, turn))
        # End of the user's audio: the engine's own latency plus what happened since it answered.
        engine_ms = transcript.latency_ms or 0.0
        first_audio = self._say(turn)
        ready = first_audio if first_audio is not None else time.perf_counter()
        response_ms = engine_ms + (ready - heard_at) * 1000
        return Exchange(source, transcript, match, turn, response_ms=response_ms)

    def speak(self, turn: Turn) -> float | None:
        """Speak a turn's sentences; returns the perf-counter time of the first sample, if any was played."""
        if self.on_reply is not None:
            self.on_reply(turn)
        first: float | None = None
        interruptible = not self._urgent(turn)
        self._cut_off.clear()
        with self._lock:
            self.dialogue.talking(True)
        try:
            for sentence in turn.say:
                if interruptible and self._cut_off.is_set():
                    break
                started = time.perf_counter()
                self.speaker.say(Utterance(sentence, interruptible=interruptible))
                stats = self.speaker.last_reply
                if first is None and stats is not None and stats.first_audio_latency_s is not None:
                    first = started + stats.first_audio_latency_s
        finally:
            with self._lock:
                self.dialogue.talking(False)
        give_back_memory()
        return first

    @property
    def turn_pause_ms(self) -> int:
        """How long a pause should end the user's next turn, given what the assistant waits for."""
        return REPLY_PAUSE_MS if self.dialogue.expects in ("yes_no", "routine") else QUESTION_PAUSE_MS

    @property
    def is_talking(self) -> bool:
        """True while a reply is being spoken or waits to be."""
        return self.speaker.is_speaking or (self._voice is not None and not self._voice.empty())

    def interrupt(self) -> None:
        """Stop talking now and drop replies not yet spoken (emergency advice is never cut off)."""
        if self._voice is not None:
            kept: list[Turn | None] = []
            with contextlib.suppress(queue.Empty):
                while True:
                    turn = self._voice.get_nowait()
                    if turn is None or self._urgent(turn):
                        kept.append(turn)
            for turn in kept:
                self._voice.put(turn)
        self._cut_off.set()
        self.speaker.stop()

    def _urgent(self, turn: Turn) -> bool:
        """Whether the turn says emergency advice (``Pack.says_urgently``): not cut off, said louder."""
        return self.matcher.pack.says_urgently(turn.say)

    def _say(self, turn: Turn) -> float | None:
        if self._voice is None:
            return self.speak(turn)
        self._voice.put(turn)
        return None

    def run_due(self) -> list[Turn]:
        """Speak whatever the dialogue has due now (routine holds, counts, next steps)."""
        with self._lock:
            turns = self.dialogue.poll()
        for turn in turns:
            self._say(turn)
        return turns

    def run(
        self, turns: Iterable[AudioTurn], stop: threading.Event | None = None, endpointer: Endpointer | None = None
    ) -> None:
        """Hear every turn while replies are spoken in the background, so "stop" can cut them off;
        a ticker speaks routine timings between turns. With the microphone's ``endpointer``, turns
        end sooner when a short reply is expected."""
        # Once listening (loading it earlier took the cores from start-up): the sentence encoder, in the
        # background, before a question in words the pack does not have needs it.
        self.matcher.prepare()
        stop = stop or threading.Event()
        self._voice = queue.Queue()
        failed: list[AssistantError] = []
        voice = threading.Thread(
            target=self._speak_queued, args=(self._voice, stop, failed), name="speech-out", daemon=True
        )
        ticker = threading.Thread(target=self._tick, args=(stop,), name="routine-clock", daemon=True)
        voice.start()
        ticker.start()
        try:
            for audio in turns:
                if stop.is_set():
                    break
                self.hear(audio)
                if endpointer is not None:
                    endpointer.set_trailing_silence(self.turn_pause_ms)
        finally:
            stop.set()
            ticker.join(timeout=2)
            self._voice.put(None)
            voice.join(timeout=60)
            self._voice = None
        if failed:
            raise failed[0]

    def _speak_queued(
        self, replies: queue.Queue[Turn | None], stop: threading.Event, failed: list[AssistantError]
    ) -> None:
        while (turn := replies.get()) is not None:
            try:
                self.speak(turn)
            except AssistantError as error:
                # E.g. --wav-out on a full disk: end the session with the message, in the listening thread.
                failed.append(error)
                stop.set()
                return

    def _tick(self, stop: threading.Event) -> None:
        while not stop.is_set():
            with self._lock:
                wait = self.dialogue.next_event_in()
            stop.wait(0.25 if wait is None else min(max(wait, 0.02), 0.25))
            if not stop.is_set():
                self.run_due()
