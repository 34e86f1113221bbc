"""Vosk: a recogniser restricted to the pack's phrases, with an open-vocabulary second opinion.

The grammar pass hears commands reliably; when its result is weak ([unk], low word
confidence, nothing) the same audio goes through a recogniser without a grammar, so speech
the pack does not cover is transcribed as said and can be rejected downstream. Models
without an [unk] word (the grammar cannot say "none of these") get the second pass on
every turn, run alongside the first.
"""

from __future__ import annotations

import json
import logging
import time
import unicodedata
from pathlib import Path
from typing import Any

import vosk
from rapidfuzz import fuzz

from ..audio.io import SAMPLE_RATE
from ..errors import AssistantError
from ..messages import Transcript, Word
from ..pack import Pack
from . import grammar
from .base import Audio, HeldAudio, PartialCallback, chunks_of, final_transcript

_LOGGER = logging.getLogger(__name__)


UNKNOWN = "[unk]"

WEAK_WORD_CONFIDENCE = 0.7
"""A grammar result with a word below this is checked against the open-vocabulary pass."""

AGREEMENT = 60.0
"""Similarity (0-100) above which the open pass confirms the grammar result."""

UNSURE = 0.5
"""Mean word confidence below which the open pass is too unsure to overrule the grammar."""


def similarity(a: str, b: str) -> float:
    """How alike two transcripts sound, 0-100: spaces ignored, Hangul split into letters (jamo).

    Word boundaries differ between a grammar and an open pass ("아니요" / "아니 에 요"), and
    whole-syllable comparison would call near misses total misses.
    """
    return float(
        fuzz.ratio(unicodedata.normalize("NFD", a.replace(" ", "")), unicodedata.normalize("NFD", b.replace(" ", "")))
    )


def supports_grammar(model_path: Path) -> bool:
    """Runtime grammars need a model with a dynamic graph (HCLr.fst + Gr.fst), as small models have."""
    graph = model_path / "graph"
    return (graph / "HCLr.fst").is_file() and (graph / "Gr.fst").is_file()


def load_model(model_path: Path) -> vosk.Model:
    """Load a Vosk model, turning Vosk's bare exception into a message."""
    if not Path(model_path).is_dir():
        raise AssistantError(f"{model_path}: no such Vosk model folder")
    vosk.SetLogLevel(-2)  # Kaldi logs to stderr; missing words are reported by us instead
    try:
        return vosk.Model(str(model_path))
    except Exception as error:  # vosk raises a bare Exception("Failed to create a model")
        raise AssistantError(
            f"{model_path}: cannot load the Vosk model ({error}); is it a complete, unzipped model?"
        ) from None


def _words(result: dict[str, Any], offset_s: float = 0.0) -> list[Word]:
    return [
        Word(
            str(item["word"]),
            float(item["start"]) + offset_s,
            float(item["end"]) + offset_s,
            float(item.get("conf", 1.0)),
        )
        for item in result.get("result", [])
    ]


def _mean(words: list[Word]) -> float:
    return sum(w.confidence for w in words) / len(words) if words else 0.0


class VoskEngine:
    """Speech engine on a Vosk model, biased towards the active pack."""

    name = "vosk"
    noise_suppression = True
    """As for PocketSphinx; not measured on an English model here."""

    def __init__(self, model_path: Path, pack: Pack, phrases_per_intent: int = grammar.PHRASES_PER_INTENT) -> None:
        self.model_path = Path(model_path)
        self.pack = pack
        self.phrases_per_intent = phrases_per_intent
        self.model = load_model(self.model_path)
        self.uses_grammar = supports_grammar(self.model_path)
        self.has_unknown = self.model.vosk_model_find_word(UNKNOWN) >= 0
        vocabulary = grammar.vocabulary(pack)
        self.missing_words: tuple[str, ...] = tuple(
            sorted(w for w in vocabulary if self.model.vosk_model_find_word(w) < 0)
        )
        self._grammars: dict[str | None, str] = {}
        if self.missing_words:
            _LOGGER.warning(
                "%d pack word(s) are not in the Vosk model and cannot be heard: %s",
                len(self.missing_words),
                ", ".join(self.missing_words[:20]),
            )

    def grammar_for(self, expects: str | None = None) -> str:
        """The JSON phrase list handed to ``KaldiRecognizer`` for this waiting state (cached)."""
        if expects not in self._grammars:
            phrase_list = grammar.phrases(self.pack, expects, self.phrases_per_intent)
            if self.has_unknown:
                phrase_list.append(UNKNOWN)
            # ensure_ascii=False: Vosk does not decode \\uXXXX escapes, so non-English words would all be "missing".
            self._grammars[expects] = json.dumps(phrase_list, ensure_ascii=False)
        return self._grammars[expects]

    def _recognizer(self, expects: str | None, open_vocabulary: bool) -> vosk.KaldiRecognizer:
        if open_vocabulary or not self.uses_grammar:
            recognizer = vosk.KaldiRecognizer(self.model, SAMPLE_RATE)
        else:
            recognizer = vosk.KaldiRecognizer(self.model, SAMPLE_RATE, self.grammar_for(expects))
        recognizer.SetWords(True)
        return recognizer

    def transcribe(
        self, samples: Audio, expects: str | None = None, on_partial: PartialCallback | None = None
    ) -> Transcript:
        """Recognise one turn (see module docstring for the two passes)."""
        recognizer = self._recognizer(expects, open_vocabulary=False)
        # Without [unk] a grammar result is always forced into a phrase: check every turn, in step.
        second = self._recognizer(expects, open_vocabulary=True) if self.uses_grammar and not self.has_unknown else None
        held = HeldAudio()
        results: list[dict[str, Any]] = []
        second_results: list[dict[str, Any]] = []
        fed = 0
        last_partial = ""
        for chunk in chunks_of(samples):
            data = chunk.tobytes()
            fed += len(chunk)
            current = ""
            if recognizer.AcceptWaveform(data):
                results.append(json.loads(recognizer.Result()))
            elif on_partial is not None:
                current = json.loads(recognizer.PartialResult()).get("partial", "")
            if on_partial is not None:
                # Vosk starts a new partial after each pause it finalises; the listener hears the turn so far.
                partial = " ".join(" ".join([*(r.get("text", "") for r in results), current]).split())
                if partial != last_partial:
                    last_partial = partial
                    on_partial(
                        Transcript(partial, confidence=0.0, is_final=False, engine=self.name, audio_s=fed / SAMPLE_RATE)
                    )
            if not self.uses_grammar:
                continue
            if second is not None:
                if second.AcceptWaveform(data):
                    second_results.append(json.loads(second.Result()))
            elif not held.add(chunk):
                # Too long to hold: run the open pass alongside from here on.
                second = self._recognizer(expects, open_vocabulary=True)
                for old in held.drain():
                    if second.AcceptWaveform(old.tobytes()):
                        second_results.append(json.loads(second.Result()))
        end_of_audio = time.perf_counter()
        results.append(json.loads(recognizer.FinalResult()))
        words = [w for result in results for w in _words(result)]
        confidence = _mean([w for w in words if w.word != UNKNOWN])
        weak = self.uses_grammar and (
            not self.has_unknown
            or not words
            or any(w.word == UNKNOWN for w in words)
            or min(w.confidence for w in words) < WEAK_WORD_CONFIDENCE
        )
        if weak and fed:
            if second is None:
                second = self._recognizer(expects, open_vocabulary=True)
                for old in held.drain():
                    if second.AcceptWaveform(old.tobytes()):
                        second_results.append(json.loads(second.Result()))
            second_results.append(json.loads(second.FinalResult()))
            open_words = [w for result in second_results for w in _words(result)]
            grammar_text = " ".join(w.word for w in words if w.word != UNKNOWN)
            open_text = " ".join(w.word for w in open_words)
            if grammar_text and open_words and similarity(grammar_text, open_text) >= AGREEMENT:
                confidence = max(confidence, _mean(open_words))
            elif grammar_text and open_words and _mean(open_words) < UNSURE:
                # The open pass is unsure too: no evidence against the grammar, but less certainty.
                confidence = min(confidence, 0.7)
            else:
                # The grammar was forced onto speech it does not cover: report what was said instead.
                words = open_words
                confidence = min(_mean(open_words), 0.5)
        words = [w for w in words if w.word != UNKNOWN]
        return final_transcript(self.name, words, confidence, fed, end_of_audio)

    def describe(self) -> str:
        """Engine, model and how recognition is biased."""
        mode = (
            "pack grammar + open vocabulary"
            if self.uses_grammar
            else "open vocabulary (this model has no runtime grammar)"
        )
        line = f"vosk ({self.model_path.name}, {mode})"
        if self.missing_words:
            shown = ", ".join(self.missing_words[:8]) + (" ..." if len(self.missing_words) > 8 else "")
            line += f"; {len(self.missing_words)} pack word(s) not in the model: {shown}"
        return line
