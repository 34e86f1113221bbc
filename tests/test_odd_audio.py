"""Odd audio: clipping, DC offset, low and high rates, a one-sample file and a two-hour file are handled
in bounded time and memory, through the same path `assistant ask --audio` uses."""

from __future__ import annotations

import resource
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from assistant.asr.choose import open_engine
from assistant.audio.io import load_audio
from assistant.audio.mic import FileTurns
from assistant.match import Matcher
from assistant.pack import load_pack

SAMPLES = Path(__file__).resolve().parent.parent / "assistant" / "samples"


@pytest.fixture(scope="module")
def hear():  # type: ignore[no-untyped-def]
    pack = load_pack()
    engine = open_engine("pocketsphinx", pack)
    matcher = Matcher(pack)

    def heard(path: Path) -> tuple[str, str | None]:
        turn = next(iter(FileTurns([path])))
        text = engine.transcribe(turn.chunks).text
        return text, matcher.match(text).intent

    return heard


def speech() -> tuple[np.ndarray, int]:
    audio, rate = sf.read(SAMPLES / "08-cramp.wav", dtype="float32")
    return audio, rate


def test_clipped_speech_is_handled(hear, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    audio, rate = speech()
    clipped = np.clip(audio * 8.0, -1.0, 1.0)  # hard clipping, as a shouted phrase into a near mic
    sf.write(tmp_path / "clipped.wav", clipped, rate)
    text, _ = hear(tmp_path / "clipped.wav")
    assert text  # heard as speech; what PocketSphinx makes of 18 dB of clipping is a benchmark matter


def test_dc_offset_is_harmless(hear, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    audio, rate = speech()
    sf.write(tmp_path / "dc.wav", np.clip(audio + 0.2, -1.0, 1.0), rate)
    assert hear(tmp_path / "dc.wav")[1] == "cramp_now"


@pytest.mark.parametrize(("rate", "channels"), [(8000, 1), (48000, 2)])
def test_low_and_high_rates(hear, tmp_path: Path, rate: int, channels: int) -> None:  # type: ignore[no-untyped-def]
    """Both are converted; 8 kHz (telephone band) is heard as speech, 48 kHz stereo is understood."""
    audio, source_rate = speech()
    import soxr

    resampled = soxr.resample(audio, source_rate, rate)
    data = np.stack([resampled] * channels, axis=1) if channels > 1 else resampled
    path = tmp_path / f"{rate}.wav"
    sf.write(path, data, rate)
    assert load_audio(path).dtype == np.int16
    text, intent = hear(path)
    assert text
    if rate >= 16000:
        assert intent == "cramp_now"


def test_one_sample_file_is_nothing_heard(hear, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "one.wav"
    sf.write(path, np.array([0.5], dtype=np.float32), 16000)
    assert hear(path) == ("", None)


def test_two_hour_file_streams_in_bounded_memory(hear, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "two-hours.wav"
    rate = 8000
    with sf.SoundFile(path, "w", samplerate=rate, channels=1, subtype="PCM_16") as out:
        rng = np.random.default_rng(3)
        block = rate * 60
        for _ in range(120):
            out.write((rng.standard_normal(block) * 1e-5).astype(np.float32))  # near-silent room
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert hear(path) == ("", None)
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mb < 100  # the file is 110 MB of samples (460 MB once resampled to 16 kHz floats)
