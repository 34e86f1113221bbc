"""The open-vocabulary decoder in a child process: the same readings as in this one, and it survives its child."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from asr_fixtures import speak, tiny_pack
from pocketsphinx import Decoder

from assistant.asr.sphinx_engine import SphinxEngine
from assistant.asr.sphinx_worker import DecoderProcess
from assistant.audio.io import load_audio
from assistant.audio.vad import speech_only


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> SphinxEngine:
    folder = tmp_path_factory.mktemp("pack")
    return SphinxEngine(tiny_pack(folder), cache=folder / "cache")


def _heard(engine: SphinxEngine, decoder: Decoder | DecoderProcess, samples: np.ndarray) -> list[tuple]:
    """``decoder``'s words for ``samples``, streamed in the way the engine feeds its decoders."""
    engine._feed(decoder, [samples[i : i + 1600] for i in range(0, len(samples), 1600)])
    return [(s.word, s.start_frame, s.end_frame, round(float(s.prob), 6)) for s in decoder.seg()]


def test_the_child_hears_what_a_decoder_here_hears(engine: SphinxEngine, tmp_path: Path) -> None:
    assert engine.loaded()  # the decoders loading in the background (the child among them) are ready
    second = engine.open_decoder()
    assert isinstance(second, DecoderProcess) and second.alive
    here = Decoder(**engine._open_config)
    for said in ("what is the weather in paris", "my half is cramping"):
        samples = load_audio(speak(tmp_path, said))
        heard = _heard(engine, second, samples)
        assert heard == _heard(engine, here, samples)
        assert len(heard) >= 3  # words, not just silence
        words = [word for word, *_ in heard if not word.startswith("<") and word != "<sil>"]
        assert all(second.lookup_word(w.split("(")[0]) == here.lookup_word(w.split("(")[0]) for w in words)


class _NoChild(DecoderProcess):
    """A machine where no child process can be started."""

    def __init__(self, config: dict[str, Any]) -> None:
        raise OSError("no processes here")


def test_without_a_child_the_engine_decodes_here_and_hears_the_same(
    engine: SphinxEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr("assistant.asr.sphinx_engine.DecoderProcess", _NoChild)
    with caplog.at_level(logging.WARNING):
        same_here = SphinxEngine(engine.pack, cache=tmp_path / "cache")
        assert isinstance(same_here.open_decoder(), Decoder)
    assert "decoding in this one" in caplog.text
    for said in ("what is the weather in paris", "my calf is cramping", "i have a crab in my side"):
        samples = load_audio(speak(tmp_path, said))
        ours, theirs = engine.transcribe(samples), same_here.transcribe(samples)
        assert (ours.text, ours.confidence, ours.alternatives, ours.fallback) == (
            theirs.text,
            theirs.confidence,
            theirs.alternatives,
            theirs.fallback,
        )


def test_a_stopped_child_is_started_again(
    engine: SphinxEngine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    samples = load_audio(speak(tmp_path, "what is the weather in paris"))
    before = engine.transcribe(samples)
    first = engine.open_decoder()
    assert isinstance(first, DecoderProcess)
    first._process.kill()
    first._process.wait()
    with caplog.at_level(logging.WARNING):
        after = engine.transcribe(samples)
    assert engine.open_decoder() is not first and "again" in caplog.text
    assert (after.text, after.fallback) == (before.text, before.fallback)


def test_a_child_that_dies_mid_turn_leaves_the_pack_reading(
    engine: SphinxEngine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The turn in flight keeps the pack decoder's reading, with a warning; nothing raises."""
    samples = load_audio(speak(tmp_path, "what is the weather in paris"))
    second = engine.open_decoder()
    assert isinstance(second, DecoderProcess)

    def chunks():  # the child goes away halfway through the turn
        for start in range(0, len(samples), 1600):
            if start >= len(samples) // 2 and second.alive:
                second._process.kill()
                second._process.wait()
            yield samples[start : start + 1600]

    with caplog.at_level(logging.WARNING):
        result = engine.transcribe(chunks())
    assert "stopped" in caplog.text
    assert result.text and not result.fallback  # the pack reading ("why does ..."), not an empty open one
    assert engine.transcribe(samples).text  # the next turn has a decoder again


def test_a_bad_configuration_is_a_clear_error() -> None:
    with pytest.raises(RuntimeError, match="did not start"):
        DecoderProcess({"hmm": "/no/such/model", "loglevel": "FATAL"})


def test_speech_only_streams_a_long_file_in_pieces(tmp_path: Path) -> None:
    """Speech is handed on as it is heard (so decoding overlaps reading), not as one block at the end."""
    samples = load_audio(speak(tmp_path, "my calf is cramping and i need a stretch right now please"))
    pieces = list(speech_only(samples[i : i + 1600] for i in range(0, len(samples), 1600)))
    assert len(pieces) > 10 and max(len(p) for p in pieces) <= 1600
    assert sum(len(p) for p in pieces) >= 0.8 * len(samples)
