"""Small typed messages passed one way between pipeline stages.

audio -> ``Transcript`` (asr) -> ``Match`` (match) -> ``Turn`` (dialogue) -> ``Utterance`` (tts)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Word:
    """One recognised word with timing."""

    word: str
    """The word as the recogniser spelled it."""
    start_s: float
    """Start time in seconds from the start of the turn."""
    end_s: float
    """End time in seconds from the start of the turn."""
    confidence: float = 1.0
    """Recogniser confidence in [0, 1]."""


@dataclass(frozen=True)
class Transcript:
    """What a speech engine heard in one turn (or so far, when partial)."""

    text: str
    """Recognised text, lower case, no punctuation; empty when nothing was heard."""
    confidence: float = 1.0
    """Engine confidence in [0, 1]."""
    is_final: bool = True
    """False for a partial result while the user is still speaking."""
    engine: str = "text"
    """Which engine produced it ("vosk", "pocketsphinx", "text")."""
    words: tuple[Word, ...] = ()
    """Per-word timings when the engine gives them."""
    audio_s: float = 0.0
    """Seconds of audio consumed for this turn."""
    speech_end_s: float | None = None
    """Where in the audio the speech ended (seconds), when known."""
    latency_ms: float | None = None
    """Wall time from end of audio (or end of speech) to this final result."""
    alternatives: tuple[str, ...] = ()
    """Other readings of the same speech that the engine overruled (an open-vocabulary reading); an
    emergency in any of them wins, and one that matches almost exactly stands in for a reading not understood."""
    fallback: str = ""
    """A reading held to the pack's own sentences (a restricted grammar's, or Whisper decoding into the pack): it stands
    in when ``text`` is not understood and it matches a command almost exactly, but never as an emergency
    (a grammar answers with one of its phrases, whatever was said)."""
    second_pass: Callable[[], str] | None = field(default=None, repr=False, compare=False)
    """Makes ``fallback`` when it is asked for (Whisper decoding into the pack costs a second or so, and is
    needed only when ``text`` is not understood); "" when there is none."""

    def fallback_text(self) -> str:
        """``fallback``, made by ``second_pass`` if that is how this engine gives it."""
        if self.fallback or self.second_pass is None:
            return self.fallback
        return self.second_pass()


@dataclass(frozen=True)
class Match:
    """The intent the matcher found in a piece of text."""

    text: str
    """The text as given."""
    normalized: str
    """The text after normalisation (what was matched)."""
    intent: str | None
    """Intent id, or None when not understood."""
    slots: dict[str, str] = field(default_factory=dict)
    """Slot name -> canonical value."""
    confidence: float = 0.0
    """Calibrated confidence in [0, 1]."""
    closest: str | None = None
    """Best intent even when below the threshold (to offer "did you mean"); None when nothing comes close
    (``match.CLOSEST_FLOOR``)."""
    template: str | None = None
    """The template sentence that matched best (for debugging and checks)."""
    red_flag: str | None = None
    """The warning sign (normalised words) this emergency was heard by, when no template said it."""
    alarm: float | None = None
    """The pack's learned alarm's chance that this is an emergency, when that alarm gave the intent."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "text": self.text,
            "intent": self.intent,
            "slots": dict(self.slots),
            "confidence": round(self.confidence, 4),
        }


@dataclass(frozen=True)
class Turn:
    """What the dialogue manager decided to do with one user turn."""

    say: tuple[str, ...]
    """Sentences to speak, in order, each short enough for one breath."""
    state: str
    """Dialogue state after the turn ("idle", "follow_up", "triage", "routine", ...)."""
    expects: str | None = None
    """What the assistant waits for next ("yes_no", "routine") or None."""
    intent: str | None = None
    """The intent acted on (None when not understood)."""
    slots: dict[str, str] = field(default_factory=dict)
    """Slots acted on."""
    disposition: str | None = None
    """Set when a triage interview ended: its disposition id."""
    sources: tuple[str, ...] = ()
    """Source ids behind what was said."""


@dataclass(frozen=True)
class Utterance:
    """One chunk of speech out."""

    text: str
    """Text to speak."""
    interruptible: bool = True
    """Whether "stop" may cut it off (emergency advice is not cut off)."""
