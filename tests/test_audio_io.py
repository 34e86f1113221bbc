"""Audio input: formats, rates, channels, bad files, truncated and long files."""

from __future__ import annotations

import io
import os
import sys
import threading
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from asr_fixtures import sox

from assistant.audio.io import MAX_TURN_S, SAMPLE_RATE, iter_audio, load_audio, write_wav
from assistant.audio.mic import FileTurns
from assistant.errors import BadInput


def tone(path: Path, rate: int, channels: int = 1, seconds: float = 1.0, extra: tuple[str, ...] = ()) -> Path:
    sox("-n", "-r", str(rate), "-c", str(channels), "-b", "16", *extra, str(path), "synth", str(seconds), "sine", "440")
    return path


@pytest.mark.parametrize("rate", [8000, 11025, 16000, 22050, 44100, 48000])
def test_any_rate_becomes_16k_mono_int16(tmp_path: Path, rate: int) -> None:
    samples = load_audio(tone(tmp_path / f"t{rate}.wav", rate))
    assert samples.dtype == np.int16
    assert abs(len(samples) - SAMPLE_RATE) <= 16
    assert np.abs(samples).max() > 10000  # the tone survived resampling


@pytest.mark.parametrize("suffix", ["flac", "ogg"])
def test_flac_and_ogg(tmp_path: Path, suffix: str) -> None:
    samples = load_audio(tone(tmp_path / f"t.{suffix}", 44100, seconds=0.5))
    assert abs(len(samples) - SAMPLE_RATE // 2) <= 16


def test_stereo_is_mixed_to_mono(tmp_path: Path) -> None:
    left_only = tmp_path / "left.wav"
    sox("-n", "-r", "16000", "-c", "2", "-b", "16", str(left_only), "synth", "0.5", "sine", "440", "remix", "1", "0")
    left = sf.read(str(left_only), dtype="int16")[0][:, 0]
    mixed = load_audio(left_only)
    assert mixed.ndim == 1 and len(mixed) == len(left)
    # Half of the left channel: the channels were averaged, not one of them picked.
    assert np.allclose(mixed, left / 2, atol=1)


def test_write_then_load_round_trips(tmp_path: Path) -> None:
    samples = (np.sin(np.arange(8000) / 5) * 12000).astype(np.int16)
    write_wav(tmp_path / "r.wav", samples)
    assert np.array_equal(load_audio(tmp_path / "r.wav"), samples)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="no such audio file"):
        load_audio(tmp_path / "nope.wav")


def test_empty_file(tmp_path: Path) -> None:
    (tmp_path / "empty.wav").write_bytes(b"")
    with pytest.raises(BadInput, match="empty file"):
        load_audio(tmp_path / "empty.wav")


def test_header_only_file(tmp_path: Path) -> None:
    write_wav(tmp_path / "header.wav", np.zeros(0, dtype=np.int16))
    with pytest.raises(BadInput, match="no audio"):
        load_audio(tmp_path / "header.wav")


def test_non_audio_file(tmp_path: Path) -> None:
    (tmp_path / "notes.wav").write_text("these are my notes, not a recording\n" * 20)
    with pytest.raises(BadInput, match="not an audio file"):
        load_audio(tmp_path / "notes.wav")


def test_bad_input_is_exit_status_2(tmp_path: Path) -> None:
    with pytest.raises(BadInput) as caught:
        load_audio(tmp_path / "nope.wav")
    assert caught.value.exit_code == 2


def test_truncated_file_yields_what_it_can(tmp_path: Path) -> None:
    whole = tone(tmp_path / "whole.wav", 16000, seconds=2.0)
    data = whole.read_bytes()
    cut = tmp_path / "cut.wav"
    cut.write_bytes(data[: 44 + 16000 * 2])  # header still claims 2 s; 1 s is left
    samples = load_audio(cut)
    assert abs(len(samples) - SAMPLE_RATE) <= 16


def test_long_file_streams_in_bounded_memory(tmp_path: Path) -> None:
    long_file = tone(tmp_path / "long.flac", 44100, channels=2, seconds=300.0)
    tracemalloc.start()
    total = 0
    for chunk in iter_audio(long_file, chunk_ms=100):
        total += len(chunk)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert abs(total - 300 * SAMPLE_RATE) <= 64
    # Five minutes at 16 kHz int16 is 9.6 MB; streaming holds only a few blocks.
    assert peak < 2_000_000


def test_nan_and_inf_samples_become_silence_without_a_warning(tmp_path: Path) -> None:
    audio = np.full(16000, 0.25, dtype=np.float32)
    audio[1000:2000] = np.nan
    audio[3000], audio[4000] = np.inf, -np.inf
    sf.write(tmp_path / "odd.wav", audio, 16000, subtype="FLOAT")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy's RuntimeWarning would be printed on stderr
        samples = load_audio(tmp_path / "odd.wav")
    assert (samples[1000:2000] == 0).all()
    assert samples[3000] == 32767 and samples[4000] == -32768
    assert samples[100] == 8192


def test_a_file_turn_is_cut_at_the_maximum_turn_length(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    speech = load_audio(Path(__file__).parent.parent / "assistant" / "samples" / "01-eye.wav")
    write_wav(tmp_path / "long.wav", np.concatenate([speech] * int(np.ceil(75 * SAMPLE_RATE / len(speech)))))
    (turn,) = FileTurns([tmp_path / "long.wav"], denoise=False)
    heard = sum(len(chunk) for chunk in turn.chunks) / SAMPLE_RATE
    assert 20 < heard <= MAX_TURN_S == 30
    assert "long.wav: longer than 30 s; only its first 30 s are heard" in caplog.text


def test_audio_through_a_pipe_or_stdin_is_heard(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    wav = tone(tmp_path / "t.wav", 22050, seconds=0.5).read_bytes()
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    writer = threading.Thread(target=fifo.write_bytes, args=(wav,), daemon=True)
    writer.start()
    assert abs(len(load_audio(fifo)) - SAMPLE_RATE // 2) <= 16
    writer.join()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(wav)))
    assert abs(len(load_audio("-")) - SAMPLE_RATE // 2) <= 16


def test_a_device_is_read_up_to_a_bound_and_refused_plainly() -> None:
    with pytest.raises(BadInput, match=r"^/dev/zero: more than 20,000,000 bytes came through; give a file instead$"):
        load_audio("/dev/zero")
    with pytest.raises(BadInput, match=r"^/dev/null: nothing came through, no audio in it$"):
        load_audio("/dev/null")
