"""Noise suppression (RNNoise) before the endpointer and the engine: noise goes down, speech stays,
the stream is cleaned the same however it is cut, and a command in loud noise is still heard."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fakes import babble, bundled_pack, pink_noise, pocketsphinx, silence

from assistant.audio import denoise
from assistant.audio.denoise import NoiseSuppressor, suppressed
from assistant.audio.io import SAMPLE_RATE, load_audio, write_wav
from assistant.audio.mic import FileTurns
from assistant.demo import samples_folder
from assistant.errors import AssistantError
from assistant.match import Matcher


def rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(samples.astype(np.float64)))))


@pytest.fixture()
def calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The chunk sizes the network is given (it is still run)."""
    given: list[int] = []
    process = NoiseSuppressor.process

    def counted(self: NoiseSuppressor, chunk: np.ndarray, last: bool = False) -> np.ndarray:
        given.append(len(chunk))
        return process(self, chunk, last)

    monkeypatch.setattr(NoiseSuppressor, "process", counted)
    return given


def cleaned(samples: np.ndarray, chunk: int = 1600) -> np.ndarray:
    return np.concatenate(list(suppressed(samples[i : i + chunk] for i in range(0, len(samples), chunk))))


@pytest.mark.parametrize("noise", [pink_noise, babble])
def test_noise_alone_is_turned_down_by_more_than_20_db(noise) -> None:
    loud = noise(3.0, 1000, np.random.default_rng(3))
    out = cleaned(loud)
    assert len(out) == len(loud)
    settled = SAMPLE_RATE // 2  # the network's first half second learns the noise
    assert rms(out[settled:]) < rms(loud[settled:]) / 10


def test_speech_comes_through_at_its_level() -> None:
    speech = load_audio(samples_folder() / "08-cramp.wav")
    out = cleaned(speech)
    assert len(out) == len(speech)
    assert 0.7 < rms(out) / rms(speech) < 1.3
    # The same waveform, a little late (the network's frame and the resamplers): under 50 ms.
    x, y = speech.astype(np.float64), out.astype(np.float64)
    lag = max(range(SAMPLE_RATE // 20), key=lambda k: float(np.dot(x[: len(x) - k], y[k:])))
    assert np.corrcoef(x[: len(x) - lag], y[lag:])[0, 1] > 0.95


def test_file_turns_without_denoise_hand_over_the_file_as_it_is(tmp_path: Path) -> None:
    speech = np.concatenate([silence(0.2), load_audio(samples_folder() / "09-pause.wav")])
    write_wav(tmp_path / "pause.wav", speech)
    turn = next(iter(FileTurns([tmp_path / "pause.wav"], skip_silence=False, denoise=False)))
    assert np.array_equal(np.concatenate(list(turn.chunks)), speech)


def test_how_the_stream_is_cut_does_not_change_what_comes_out() -> None:
    speech = load_audio(samples_folder() / "01-eye.wav")
    speech = speech + pink_noise(len(speech) / SAMPLE_RATE, 60, np.random.default_rng(5)).astype(np.int16)
    assert np.array_equal(cleaned(speech, 160), cleaned(speech, 4000))


def test_near_silence_passes_untouched_without_the_network(calls: list[int]) -> None:
    quiet = np.random.default_rng(2).integers(-3, 4, SAMPLE_RATE * 60).astype(np.int16)  # a minute, -80 dBFS
    assert np.array_equal(cleaned(quiet), quiet)
    assert calls == []
    # Speech after the quiet stretch is cleaned, and every sample comes out in order.
    loud = pink_noise(1.0, 1000, np.random.default_rng(4))
    out = cleaned(np.concatenate([quiet, loud, quiet]))
    assert len(out) == 2 * len(quiet) + len(loud) and calls
    assert np.array_equal(out[: len(quiet)], quiet)
    assert rms(out[len(quiet) + SAMPLE_RATE // 2 : len(quiet) + len(loud)]) < rms(loud) / 10


def test_an_empty_stream_gives_nothing() -> None:
    assert list(suppressed([])) == []
    assert len(NoiseSuppressor().flush()) == 0


def test_missing_rnnoise_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(denoise, "_LIBRARY", None)
    monkeypatch.setattr(denoise.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(AssistantError, match="pip install pyrnnoise"):
        NoiseSuppressor()


def test_a_question_in_babble_at_6_db_is_heard_after_suppression(tmp_path: Path) -> None:
    # Without suppression this mix was heard as "fist sized they'll get fat" (measured when written).
    speech = load_audio(samples_folder() / "03-als.wav")
    speech = np.concatenate([silence(0.5), speech, silence(0.6)])
    noise = babble(len(speech) / SAMPLE_RATE, 1.0, np.random.default_rng(11)).astype(np.float64)
    noise *= rms(speech[SAMPLE_RATE // 2 : -SAMPLE_RATE // 2]) / rms(noise) / 10 ** (6 / 20)
    path = tmp_path / "als-babble6.wav"
    write_wav(path, np.clip(speech + noise, -32768, 32767).astype(np.int16))
    pack = bundled_pack()
    turn = next(iter(FileTurns([path])))
    transcript = pocketsphinx().transcribe(turn.chunks)
    match = Matcher(pack).match_heard(transcript.text, transcript)
    assert match.intent == "als_worry", transcript.text


@pytest.mark.parametrize("flag", [[], ["--no-denoise"]])
def test_ask_audio_cleans_the_file_unless_told_not_to(
    flag: list[str], calls: list[int], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from assistant import cli

    monkeypatch.setattr("assistant.asr.choose.open_engine", lambda *args, **kwargs: pocketsphinx())
    status = cli.main(
        ["ask", "--json", "--asr", "pocketsphinx", *flag, "--audio", str(samples_folder() / "08-cramp.wav")]
    )
    out = capsys.readouterr().out
    assert status == 0 and '"transcript"' in out
    assert bool(calls) is not bool(flag)
