"""PocketSphinx: the small fallback engine, used when no neural model can be loaded.

Start-up writes (once per pack, into the cache) a dictionary of the pack's words and a trigram model of
the pack's phrases, one per waiting state of the dialogue. A restricted model always answers with
something close to its phrases, so a reading with a word it is unsure of (a low word posterior) is heard
again by an open-vocabulary decoder once the turn has ended: when that heard nearly the same sounds the
reading stands, otherwise the open reading is reported and the grammar's becomes a fallback (never for a
yes/no answer, where a forced "yes" would answer a triage question). That keeps out-of-domain speech out,
and lets a new question through while a reply is expected. The measurements behind this are in
DECISIONS.md ("Speech in: the PocketSphinx fallback").
"""

from __future__ import annotations

import hashlib
import io
import logging
import threading
import time
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import numpy as np
from pocketsphinx import Config, Decoder, get_model_path
from pocketsphinx.lm import ArpaBoLM
from rapidfuzz.distance import Levenshtein

from .. import cache
from ..audio.io import SAMPLE_RATE
from ..cache import user_cache
from ..errors import AssistantError
from ..messages import Transcript, Word
from ..pack import Pack
from . import grammar
from .base import Audio, HeldAudio, PartialCallback, chunks_of, final_transcript

_LOGGER = logging.getLogger(__name__)

FRAME_S = 0.01
"""PocketSphinx frames are 10 ms."""

PACK_SEARCH = "pack"
FILLERS = {"<s>", "</s>", "<sil>", "[NOISE]", "[SPEECH]", "[BREATH]", "[COUGH]", "[UM]", "[UH]", "[SMACK]"}


@dataclass(frozen=True)
class SphinxSettings:
    """Decoder and checking knobs (defaults chosen with benchmarks/tune_asr.py; DECISIONS.md)."""

    language_weight: float = 6.5
    """PocketSphinx -lw: how strongly the pack language model outweighs the sounds."""
    insertion_penalty: float = 0.65
    """PocketSphinx -wip: below 1 discourages extra short words."""
    idle_word_posterior: float = 0.2
    """When nothing is expected, a word with a lower posterior makes the reading unsure."""
    waiting_word_posterior: float = 0.6
    """The same in a waiting state, whose small models make a forced reading score higher."""
    no_fallback_states: tuple[str, ...] = ("yes_no",)
    """Waiting states where an unsure grammar reading is not kept as a fallback."""
    open_rescue: float = 0.6
    """An unsure reading stands when the open-vocabulary reading's phones agree with its phones this much
    ("i have a crab in my side" for "i have a cramp in my side")."""


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


def _dictionary_phones(decoder: Decoder, words: list[Word]) -> list[str]:
    """The phones of ``words`` as ``decoder``'s dictionary spells them."""
    return [phone for w in words for phone in (decoder.lookup_word(w.word) or "").split()]


def _state_search(expects: str | None) -> str:
    return PACK_SEARCH if expects is None else f"expects_{expects}"


class SphinxEngine:
    """Speech engine on PocketSphinx's bundled US English model, restricted to the pack."""

    name = "pocketsphinx"
    noise_suppression = True
    """RNNoise in front hears more commands in noise (DECISIONS.md)."""

    def __init__(self, pack: Pack, cache: Path | None = None, settings: SphinxSettings | None = None) -> None:
        self.pack = pack
        self.settings = settings or SphinxSettings()
        self.model_dir = Path(get_model_path("en-us"))
        started = time.perf_counter()
        self.files = self._build(cache if cache is not None else user_cache("pocketsphinx"))
        model = str(self.model_dir / "en-us")
        # No flat second pass: it runs after the turn has ended, where it costs latency (DECISIONS.md).
        config = Config(
            hmm=model,
            dict=str(self.files["dict"]),
            lm=None,
            lw=self.settings.language_weight,
            wip=self.settings.insertion_penalty,
            fwdflat=False,
            loglevel="FATAL",
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
        self.decoder.activate_search(PACK_SEARCH)
        # Live cepstral mean normalisation carries over from turn to turn; starting each turn from
        # the same estimate keeps one noisy or odd turn from spoiling the next ones.
        self._cmn_start = self.decoder.get_cmn()
        self.start_s = time.perf_counter() - started
        self._open: Decoder | None = None
        """The open-vocabulary decoder (PocketSphinx's own English model), loaded in the background."""
        self._open_ready = threading.Event()
        threading.Thread(target=self._load_open, args=(model,), name="pocketsphinx-open", daemon=True).start()

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

    def _start(self, decoder: Decoder) -> None:
        decoder.set_cmn(self._cmn_start)
        decoder.start_utt()

    def _load_open(self, model: str) -> None:
        try:
            self._open = Decoder(hmm=model, fwdflat=False, loglevel="FATAL")
        except RuntimeError as error:
            _LOGGER.warning("open-vocabulary PocketSphinx decoder unavailable: %s", error)
        finally:
            self._open_ready.set()

    def open_decoder(self, timeout_s: float = 5.0) -> Decoder | None:
        """The open-vocabulary decoder (waits for the background load; None if it did not load)."""
        self._open_ready.wait(timeout_s)
        return self._open

    def _result(self, decoder: Decoder) -> list[Word]:
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

    def _feed(self, decoder: Decoder, chunks: list[np.ndarray]) -> None:
        """One utterance of ``chunks``, streamed."""
        self._start(decoder)
        for chunk in chunks:
            decoder.process_raw(chunk.tobytes(), False, False)
        decoder.end_utt()

    def transcribe(
        self, samples: Audio, expects: str | None = None, on_partial: PartialCallback | None = None
    ) -> Transcript:
        """Recognise one turn with the grammar of ``expects`` (or the whole pack), as it streams in (a live
        turn while the user speaks); an unsure reading is heard again openly when the turn has ended."""
        search = _state_search(expects)
        self.decoder.activate_search(search if search in self.files else PACK_SEARCH)
        self._start(self.decoder)
        held: HeldAudio | None = HeldAudio()
        fed = 0
        last_partial = ""
        for chunk in chunks_of(samples):
            fed += len(chunk)
            self.decoder.process_raw(chunk.tobytes(), False, False)
            if on_partial is not None:
                hypothesis = self.decoder.hyp()
                partial = hypothesis.hypstr if hypothesis is not None else ""
                if partial != last_partial:
                    last_partial = partial
                    on_partial(
                        Transcript(partial, confidence=0.0, is_final=False, engine=self.name, audio_s=fed / SAMPLE_RATE)
                    )
            if held is not None and not held.add(chunk):
                held = None  # too long to hear again: an unsure reading stays a fallback
        end_of_audio = time.perf_counter()
        self.decoder.end_utt()
        words = self._result(self.decoder)
        confidence = min((w.confidence for w in words), default=0.0)
        least = self.settings.idle_word_posterior if expects is None else self.settings.waiting_word_posterior
        if words and confidence >= least:
            return final_transcript(self.name, words, confidence, fed, end_of_audio)
        keep = "" if expects in self.settings.no_fallback_states else " ".join(w.word for w in words)
        second = self.open_decoder() if held is not None and fed else None
        if second is None:
            return final_transcript(self.name, [], 0.0, fed, end_of_audio, fallback=keep)
        self._feed(second, held.chunks if held is not None else [])
        words, confidence, alternatives, fallback = self._open_reading(second, words, confidence, keep)
        return final_transcript(self.name, words, confidence, fed, end_of_audio, alternatives, fallback)

    def _open_reading(
        self, second: Decoder, words: list[Word], confidence: float, keep: str
    ) -> tuple[list[Word], float, tuple[str, ...], str]:
        """For an unsure reading ``words``: kept when the open-vocabulary reading sounds nearly the same (their
        phones agree at least ``open_rescue``), else the open reading (speech outside the grammar).
        Returns words, confidence, alternatives and fallback (see ``Transcript``): a kept reading carries
        the open one as an alternative, so keeping it never hides an emergency or a command the open
        reading would have been heard as; an open reading carries ``keep`` (the grammar's, or nothing) as a
        fallback."""
        open_words = self._result(second)
        if [w.word for w in open_words] == [w.word for w in words]:
            return words, confidence, (), ""
        if words and self._phone_similarity(words, open_words, second) >= self.settings.open_rescue:
            return words, confidence, (" ".join(w.word for w in open_words),), ""
        # Report what was said, too unsure to pass for a command.
        open_confidence = min(0.5, sum(w.confidence for w in open_words) / len(open_words)) if open_words else 0.0
        return open_words, open_confidence, (), keep

    def _phone_similarity(self, words: list[Word], open_words: list[Word], second: Decoder) -> float:
        """Similarity in [0, 1] of the dictionary phones of the pack reading and of the open reading."""
        ours = _dictionary_phones(self.decoder, words)
        theirs = _dictionary_phones(second, open_words)
        return float(Levenshtein.normalized_similarity(ours, theirs)) if ours else 0.0

    def describe(self) -> str:
        """Engine, model and grammar size."""
        line = f"pocketsphinx (en-us, pack language models for {len(self.files) - 1} state(s) + open vocabulary)"
        if self.missing_words:
            line += (
                f"; {len(self.missing_words)} pack word(s) not in its dictionary: {', '.join(self.missing_words[:8])}"
            )
        return line
