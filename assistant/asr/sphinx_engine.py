"""PocketSphinx: the small fallback engine, used when no neural model can be loaded.

Start-up writes (once per pack, into the cache) a dictionary of the pack's words and a trigram model of
the pack's phrases, one per waiting state of the dialogue. A restricted model always answers with
something close to its phrases, so each result is checked by its word posteriors (and in the yes/no
state by agreement with a free phone loop); an open-vocabulary decoder listens alongside in a child
process (sphinx_worker.py) and its reading is reported when the pack's reading is weak. The settings and
the measurements behind them are in DECISIONS.md ("Speech in: the PocketSphinx fallback").
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any, TypeAlias

import numpy as np
from pocketsphinx import Config, Decoder, get_model_path
from pocketsphinx.lm import ArpaBoLM
from rapidfuzz.distance import Levenshtein

from .. import cache
from ..audio.io import SAMPLE_RATE
from ..errors import AssistantError
from ..messages import Transcript, Word
from ..pack import Pack
from . import grammar
from .base import Audio, HeldAudio, PartialCallback, chunks_of, final_transcript
from .sphinx_worker import DecoderProcess

_LOGGER = logging.getLogger(__name__)

AnyDecoder: TypeAlias = "Decoder | DecoderProcess"
"""A decoder in this process or in a child process (the open-vocabulary one, see sphinx_worker.py)."""


FRAME_S = 0.01
"""PocketSphinx frames are 10 ms."""

PACK_SEARCH = "pack"
FILLERS = {"<s>", "</s>", "<sil>", "[NOISE]", "[SPEECH]", "[BREATH]", "[COUGH]", "[UM]", "[UH]", "[SMACK]"}

WEAK_WORD_POSTERIOR = 0.6
"""A grammar word with a lower posterior sends the turn to the open-vocabulary decoder (waiting states)."""

IDLE_WORD_POSTERIOR = 0.2
"""The same for the whole-pack model, whose many words make a forced reading less likely.

Tuned with benchmarks/tune_asr.py (espeak-ng and Piper voices, clean/12/6 dB): idle-state commands
heard 0.305 -> 0.326 and out-of-domain false accepts 2.3% -> 1.2%. In the small waiting-state models
0.2 let forced readings through ("my calf is cramping" as "i can't chest can't pain" when a yes or no
was expected), so they keep 0.6.
"""

PHONE_AGREEMENT = 0.3
"""Least similarity between the grammar result's phones and a free phone loop's phones.

A grammar always finds its closest phrase; a phone loop says what sounds were there. On
synthetic speech (flite) correct results scored 0.33-0.75 and forced ones 0-0.5 (most
below 0.3), so below this the turn goes to the open-vocabulary decoder.
"""

PHONE_SEARCH = "phone_loop"

OPEN_RESCUE = 0.6
"""A weak result stands when the open-vocabulary decoder heard nearly the same sounds in other words
("i have a crab in my side" for "i have a cramp in my side"); see the module docstring for its measurement."""


@dataclass(frozen=True)
class SphinxSettings:
    """Decoder and checking knobs (defaults chosen with benchmarks/tune_asr.py)."""

    language_weight: float = 6.5
    """PocketSphinx -lw: how strongly the pack language model outweighs the sounds."""
    insertion_penalty: float = 0.65
    """PocketSphinx -wip: below 1 discourages extra short words."""
    weak_word_posterior: float = WEAK_WORD_POSTERIOR
    """A word with a lower posterior makes a waiting state's result weak."""
    idle_word_posterior: float = IDLE_WORD_POSTERIOR
    """A word with a lower posterior makes the whole-pack result weak."""
    phone_agreement: float = PHONE_AGREEMENT
    """A result whose phones agree less than this with a phone loop is weak (0: no phone-loop check)."""
    phone_check_states: tuple[str | None, ...] = ("yes_no",)
    """Waiting states (None: idle) whose results the phone loop checks: a yes/no answer, since a forced
    "yes" would answer a triage question for the user (see DECISIONS.md)."""
    open_rescue: float = OPEN_RESCUE
    """A weak pack result is kept when the open-vocabulary reading's phones agree with its phones this much."""


def cache_root() -> Path:
    """Where built grammars and dictionaries are kept (XDG_CACHE_HOME honoured)."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "gym-voice-assistant" / "pocketsphinx"


def _entry_word(line: str) -> str:
    """The word a CMU dictionary line spells, without its variant number ("read(2) R EH D" -> "read")."""
    return line.split(" ", 1)[0].split("(", 1)[0]


def _read_dictionary(path: Path, words: set[str]) -> tuple[list[str], set[str]]:
    """Lines of the CMU dictionary for ``words`` (with alternative pronunciations), and the words found."""
    lines: list[str] = []
    found: set[str] = set()
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            word = _entry_word(line)
            if word in words:
                lines.append(line if line.endswith("\n") else line + "\n")
                found.add(word)
    return lines, found


def _language_model(phrases: list[str]) -> str:
    """A small trigram model (ARPA text) of ``phrases``, built with PocketSphinx's own ArpaBoLM."""
    model = ArpaBoLM(text="\n".join(phrases), add_start=True)
    model.compute()
    out = io.StringIO()
    model.write(out)
    return out.getvalue()


SUFFIX_PHONES = {"ness": "N AH S", "ies": "IY Z", "ing": "IH NG", "es": "IH Z", "ed": "D", "s": "Z", "y": "IY"}
"""Endings a pack word may add to a dictionary word ("glutes", "spasmed", "hammies"), longest first."""


def _pronunciations(words: set[str], source: Path) -> dict[str, str]:
    """Phones for ``words``: the CMU dictionary's, else composed from dictionary pieces (see ``_compose``)."""
    wanted = set(words) | set("abcdefghijklmnopqrstuvwxyz")
    for word in words:
        wanted |= {word[:i] for i in range(2, len(word))} | {word[i:] for i in range(1, len(word) - 1)}
        wanted |= {word[:i] + "e" for i in range(2, len(word))} | {word[:i] + "y" for i in range(2, len(word))}
    found: dict[str, str] = {}
    with open(source, encoding="utf-8") as handle:
        for line in handle:
            head, _, phones = line.strip().partition(" ")
            if head in wanted and head not in found:
                found[head] = phones
    result = {word: found[word] for word in words if word in found}
    for word in sorted(words - set(result)):
        composed = _compose(word, found)
        if composed:
            result[word] = composed
    return result


def _compose(word: str, known: dict[str, str], depth: int = 0) -> str | None:
    """Phones for a word the dictionary lacks: an inflected dictionary word ("spasm" + "ed", "ham" + "my"),
    two dictionary words joined ("cool" + "down"), or for short abbreviations ("cns", "gp") its letters."""
    if word in known:
        return known[word]
    if depth > 2:
        return None
    if depth == 0 and (len(word) <= 3 or not any(v in word for v in "aeiouy")):
        letters = [known.get(letter) for letter in word]
        return " ".join(p for p in letters if p) if all(letters) else None
    for ending, phones in SUFFIX_PHONES.items():
        if not word.endswith(ending) or len(word) - len(ending) < 3:
            continue
        stem = word[: -len(ending)]
        for base in (stem, stem + "e", stem + "y", stem[:-1] if stem[-1] == stem[-2] else ""):
            if base in known:
                return known[base] + " " + phones
    for cut in sorted(range(2, len(word) - 1), key=lambda c: -min(c, len(word) - c)):
        head, tail = word[:cut], word[cut:]
        if head in known and len(tail) >= 3:
            rest = _compose(tail, known, depth + 1)
            if rest:
                return known[head] + " " + rest
    if word.endswith("e") and word[:-1] in known:
        return known[word[:-1]]  # a silent final e ("glute" as "glut")
    return None


def _dictionary_phones(decoder: AnyDecoder, words: list[Word]) -> list[str]:
    """The phones of ``words`` as ``decoder``'s dictionary spells them."""
    return [phone for w in words for phone in (decoder.lookup_word(w.word) or "").split()]


def _still_there(decoder: AnyDecoder) -> bool:
    """False for an open-vocabulary decoder whose process stopped during the turn (its reading is lost)."""
    return not isinstance(decoder, DecoderProcess) or decoder.alive


def _state_search(expects: str | None) -> str:
    return PACK_SEARCH if expects is None else f"expects_{expects}"


class SphinxEngine:
    """Speech engine on PocketSphinx's bundled US English model, restricted to the pack."""

    name = "pocketsphinx"
    noise_suppression = True
    """RNNoise in front hears more commands in noise (DECISIONS.md)."""

    def __init__(
        self,
        pack: Pack,
        cache: Path | None = None,
        open_vocabulary: bool = True,
        settings: SphinxSettings | None = None,
    ) -> None:
        self.pack = pack
        self.settings = settings or SphinxSettings()
        self.model_dir = Path(get_model_path("en-us"))
        started = time.perf_counter()
        self.files = self._build(cache if cache is not None else cache_root())
        self._common: dict[str, Any] = {"hmm": str(self.model_dir / "en-us"), "loglevel": "FATAL"}
        """Options every decoder of this engine shares."""
        # No flat second pass: it runs after the turn has ended, where it costs latency (DECISIONS.md).
        config = Config(
            dict=str(self.files["dict"]),
            lm=None,
            lw=self.settings.language_weight,
            wip=self.settings.insertion_penalty,
            fwdflat=False,
            **self._common,
        )
        try:
            self.decoder = Decoder(config)
            for search, path in self.files.items():
                if search != "dict":
                    self.decoder.add_lm_file(search, str(path))
        except (RuntimeError, ValueError) as error:
            raise AssistantError(
                f"PocketSphinx could not load the pack grammar ({error}); cache: {self.files['dict'].parent}"
            ) from None
        self.decoder.add_allphone_file(PHONE_SEARCH, str(self.model_dir / "en-us-phone.lm.bin"))
        self.decoder.activate_search(PACK_SEARCH)
        # Live cepstral mean normalisation carries over from turn to turn; starting each turn from
        # the same estimate keeps one noisy or odd turn from spoiling the next ones.
        self._cmn_start = self.decoder.get_cmn()
        self.start_s = time.perf_counter() - started
        self._open: AnyDecoder | None = None
        self._open_config: dict[str, Any] = {}
        self._open_ready = threading.Event()
        self._loaded = threading.Event()
        self._phones: Decoder | None = None
        """A phone-loop decoder that listens alongside the pack decoder, so the phone check is ready
        when the turn ends (loaded in the background; until then the check decodes the held audio)."""
        threading.Thread(
            target=self._load_helpers, args=(open_vocabulary,), name="pocketsphinx-helpers", daemon=True
        ).start()

    def _build(self, cache_folder: Path) -> dict[str, Path]:
        """Write (or reuse) the pack dictionary and grammars; returns search name -> file, plus "dict"."""
        states: list[str | None] = [None, *self.pack.dialogue.expects]
        phrase_sets = {state: grammar.phrases(self.pack, state) for state in states}
        wake = " ".join(grammar.spoken_words(self.pack.dialogue.wake_phrase or "", self.pack.intents.language))
        if wake:
            # The listener strips the wake phrase, so it is heard alone and in front of any idle phrase.
            phrase_sets[None] = [wake, *phrase_sets[None], *(f"{wake} {p}" for p in phrase_sets[None])]
        vocabulary = grammar.vocabulary(self.pack) | set(wake.split())
        source = self.model_dir / "cmudict-en-us.dict"
        key = hashlib.sha256(
            repr(
                (
                    sorted(phrase_sets.items(), key=lambda kv: str(kv[0])),
                    sorted(vocabulary),
                    version("pocketsphinx"),
                    source.stat().st_size,
                    _compose.__doc__,
                    cache.MANIFEST,
                )
            ).encode()
        ).hexdigest()[:16]
        names = {"pack.dict": "dict", **{f"{_state_search(s)}.arpa": _state_search(s) for s in states}, "known.txt": ""}

        def build() -> dict[str, bytes]:
            lines, known = _read_dictionary(source, vocabulary)
            composed = _pronunciations(vocabulary - known, source)
            lines += [f"{word} {phones}\n" for word, phones in sorted(composed.items())]
            known |= set(composed)
            built = {"pack.dict": "".join(lines), "known.txt": "\n".join(sorted(known))}
            for state, phrase_list in phrase_sets.items():
                usable = [p for p in phrase_list if all(w in known for w in p.split())]
                built[f"{_state_search(state)}.arpa"] = _language_model(usable or ["<unk>"])
            return {name: text.encode() for name, text in built.items()}

        paths = cache.ensure(cache_folder / key, names, build)
        known = set(paths.pop("known.txt").read_text(encoding="utf-8").split())
        files = {names[name]: path for name, path in paths.items()}
        self.missing_words = tuple(sorted(vocabulary - known))
        if self.missing_words:
            # Said once by describe() (and `assistant check`), not on every start.
            _LOGGER.debug("pack words without a pronunciation: %s", ", ".join(self.missing_words))
        return files

    def _start(self, decoder: AnyDecoder) -> None:
        decoder.set_cmn(self._cmn_start)
        decoder.start_utt()

    def _load_helpers(self, open_vocabulary: bool) -> None:
        try:
            self._load_helper_decoders(open_vocabulary)
        finally:
            self._loaded.set()

    def _load_helper_decoders(self, open_vocabulary: bool) -> None:
        try:
            if open_vocabulary:
                self._open_config = {**self._common, "fwdflat": False}
                self._open = self._open_vocabulary_decoder(self._open_config)
        finally:
            self._open_ready.set()
        if self.settings.phone_agreement <= 0 or not self.settings.phone_check_states:
            return
        try:
            phones = Decoder(
                allphone=str(self.model_dir / "en-us-phone.lm.bin"),
                lw=self.settings.language_weight,
                wip=self.settings.insertion_penalty,
                **self._common,
            )
        except RuntimeError as error:
            _LOGGER.warning("phone-loop PocketSphinx decoder unavailable: %s", error)
        else:
            self._phones = phones

    def _open_vocabulary_decoder(self, config: dict[str, Any]) -> AnyDecoder | None:
        """The open-vocabulary decoder: in a child process (the second core), else in this one."""
        try:
            return DecoderProcess(config)
        except (RuntimeError, OSError) as error:
            _LOGGER.warning("open-vocabulary decoder process unavailable (%s); decoding in this one", error)
        try:
            return Decoder(**config)
        except RuntimeError as error:
            _LOGGER.warning("open-vocabulary PocketSphinx decoder unavailable: %s", error)
            return None

    def loaded(self, timeout_s: float = 10.0) -> bool:
        """Wait until the decoders that load in the background are ready; False if ``timeout_s`` passed first."""
        return self._loaded.wait(timeout_s)

    def open_decoder(self, timeout_s: float = 5.0) -> AnyDecoder | None:
        """The full-vocabulary decoder (waits for the background load)."""
        self._open_ready.wait(timeout_s)
        return self._usable_open()

    def _usable_open(self) -> AnyDecoder | None:
        """The open-vocabulary decoder, started again if its process has stopped."""
        if isinstance(self._open, DecoderProcess) and not self._open.alive:
            _LOGGER.warning("starting the open-vocabulary decoder again")
            self._open = self._open_vocabulary_decoder(self._open_config)
        return self._open

    def _result(self, decoder: AnyDecoder) -> list[Word]:
        frame_rate = FRAME_S
        words = []
        for segment in decoder.seg() or ():
            word = segment.word.split("(", 1)[0]
            if word in FILLERS or word.startswith("+"):
                continue
            words.append(
                Word(
                    word.lower(),
                    segment.start_frame * frame_rate,
                    (segment.end_frame + 1) * frame_rate,
                    min(1.0, float(segment.prob)),
                )
            )
        return words

    def phone_agreement(self, chunks: list[np.ndarray], words: list[Word], listened: Decoder | None = None) -> float:
        """Similarity in [0, 1] of the dictionary phones of ``words`` and a phone loop's reading of ``chunks``
        (or the reading of ``listened``, a phone-loop decoder that heard the turn alongside)."""
        expected = _dictionary_phones(self.decoder, words)
        if listened is not None:
            listened.end_utt()
        elif not chunks:
            return 0.0
        else:
            listened = self.decoder
            listened.activate_search(PHONE_SEARCH)
            self._feed(listened, chunks)
        if not expected:
            return 0.0
        heard = [s.word for s in (listened.seg() or []) if s.word != "SIL" and not s.word.startswith("+")]
        return float(Levenshtein.normalized_similarity(expected, heard))

    def _feed(self, decoder: AnyDecoder, chunks: list[np.ndarray]) -> None:
        """One utterance of ``chunks``, streamed."""
        self._start(decoder)
        for chunk in chunks:
            decoder.process_raw(chunk.tobytes(), False, False)
        decoder.end_utt()

    def _checks_phones(self, expects: str | None) -> bool:
        return self.settings.phone_agreement > 0 and expects in self.settings.phone_check_states

    def _weak(self, words: list[Word], confidence: float, expects: str | None) -> bool:
        least = self.settings.idle_word_posterior if expects is None else self.settings.weak_word_posterior
        return not words or confidence < least

    def transcribe(
        self, samples: Audio, expects: str | None = None, on_partial: PartialCallback | None = None
    ) -> Transcript:
        """Recognise one turn with the grammar of ``expects`` (or the whole pack), falling back to open vocabulary.

        The turn is decoded as it streams in (a live turn while the user speaks), with the checking decoders
        listening alongside, so little is left to do when it ends.
        """
        search = _state_search(expects)
        search = search if search in self.files else PACK_SEARCH
        return self._streamed(chunks_of(samples), search, expects, on_partial)

    def _open_reading(
        self, second: AnyDecoder, words: list[Word], confidence: float, expects: str | None
    ) -> tuple[list[Word], float, tuple[str, ...], str]:
        """For a weak result ``words``: kept when the open-vocabulary reading sounds nearly the same (their
        phones agree at least ``open_rescue``), else the open reading (speech outside the grammar).
        Returns words, confidence, alternatives and fallback (see ``Transcript``): a kept result carries
        the open reading as an alternative, so keeping it never hides an emergency or a command the open
        reading would have been heard as; an open reading carries the grammar's as a fallback, except in
        the states the phone loop checks (a forced "yes" there would answer a triage question)."""
        open_words = self._result(second)
        if [w.word for w in open_words] == [w.word for w in words]:
            return words, confidence, (), ""
        if words and self._phone_similarity(words, open_words, second) >= self.settings.open_rescue:
            return words, confidence, (" ".join(w.word for w in open_words),), ""
        # Report what was said, too unsure to pass for a command.
        open_confidence = min(0.5, sum(w.confidence for w in open_words) / len(open_words)) if open_words else 0.0
        fallback = "" if expects in self.settings.phone_check_states else " ".join(w.word for w in words)
        return open_words, open_confidence, (), fallback

    def _phone_similarity(self, words: list[Word], open_words: list[Word], second: AnyDecoder) -> float:
        """Similarity in [0, 1] of the dictionary phones of the pack reading and of the open reading."""
        ours = _dictionary_phones(self.decoder, words)
        theirs = _dictionary_phones(second, open_words)
        return float(Levenshtein.normalized_similarity(ours, theirs)) if ours else 0.0

    def _open_caught_up(self, chunks: list[np.ndarray]) -> AnyDecoder | None:
        """The open-vocabulary decoder, in an utterance that has heard ``chunks`` (None if unavailable)."""
        second = self.open_decoder()
        if second is not None:
            self._start(second)
            for chunk in chunks:
                second.process_raw(chunk.tobytes(), False, False)
        return second

    def _streamed(
        self, chunks: Iterable[np.ndarray], search: str, expects: str | None, on_partial: PartialCallback | None
    ) -> Transcript:
        self.decoder.activate_search(search)
        check_phones = self._checks_phones(expects)
        phones = self._phones if check_phones else None
        # The open-vocabulary decoder listens alongside too, so a weak turn is settled as soon as it ends
        # instead of being decoded again.
        second = self._usable_open() if self._open_ready.is_set() else None
        listeners = [decoder for decoder in (self.decoder, phones, second) if decoder is not None]
        for decoder in listeners:
            self._start(decoder)
        held = HeldAudio()
        fed = 0
        last_partial = ""
        for chunk in chunks:
            data = chunk.tobytes()
            fed += len(chunk)
            for decoder in listeners:
                decoder.process_raw(data, False, False)
            if on_partial is not None:
                hypothesis = self.decoder.hyp()
                partial = hypothesis.hypstr if hypothesis is not None else ""
                if partial != last_partial:
                    last_partial = partial
                    on_partial(
                        Transcript(partial, confidence=0.0, is_final=False, engine=self.name, audio_s=fed / SAMPLE_RATE)
                    )
            if not held.add(chunk):
                # Too long to hold for a second pass: decode it openly alongside from here on.
                old_chunks = held.drain()
                if second is None:
                    second = self._open_caught_up(old_chunks)
                    if second is not None:
                        listeners.append(second)
        end_of_audio = time.perf_counter()
        self.decoder.end_utt()
        words = self._result(self.decoder)
        confidence = min((w.confidence for w in words), default=0.0)
        weak = self._weak(words, confidence, expects)
        if not weak and check_phones and (phones is not None or held.chunks):
            agreement = self.phone_agreement(held.chunks, words, listened=phones)
            weak = agreement < self.settings.phone_agreement
        elif phones is not None:
            phones.end_utt()
        alternatives: tuple[str, ...] = ()
        fallback = ""
        if weak and fed:
            if second is None:
                second = self._open_caught_up(held.drain())
            if second is not None:
                second.end_utt()
                if _still_there(second):
                    words, confidence, alternatives, fallback = self._open_reading(second, words, confidence, expects)
        elif second is not None:
            second.end_utt()
        return final_transcript(self.name, words, confidence, fed, end_of_audio, alternatives, fallback)

    def describe(self) -> str:
        """Engine, model and grammar size."""
        line = f"pocketsphinx (en-us, pack language models for {len(self.files) - 1} state(s) + open vocabulary)"
        if self.missing_words:
            line += (
                f"; {len(self.missing_words)} pack word(s) not in its dictionary: {', '.join(self.missing_words[:8])}"
            )
        return line
