"""Endpointing with the Silero detector on synthetic speech."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from asr_fixtures import speak

from assistant.audio.io import SAMPLE_RATE, iter_audio, load_audio
from assistant.audio.vad import Endpointer, speech_only


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * SAMPLE_RATE), dtype=np.int16)


def feed_all(endpointer: Endpointer, samples: np.ndarray, chunk: int = 1000) -> list:
    segments = []
    for start in range(0, len(samples), chunk):
        segments += endpointer.feed(samples[start : start + chunk])
    return segments + endpointer.flush()


def test_two_turns_are_two_segments_with_times(tmp_path: Path) -> None:
    first = load_audio(speak(tmp_path, "my calf is cramping", lead_s=0, tail_s=0))
    second = load_audio(speak(tmp_path, "pause", lead_s=0, tail_s=0))
    stream = np.concatenate([silence(1.0), first, silence(1.5), second, silence(1.0)])
    segments = feed_all(Endpointer(trailing_silence_ms=500), stream)
    assert len(segments) == 2
    first_end = 1.0 + len(first) / SAMPLE_RATE
    # flite leaves a little silence around its speech, so times land within ~0.4 s of the file edges.
    assert abs(segments[0].start_s - 1.0) < 0.4
    assert abs(segments[0].end_s - first_end) < 0.4
    assert abs(segments[1].start_s - (first_end + 1.5)) < 0.4
    assert segments[0].end_s < segments[1].start_s
    assert not segments[0].cut


def test_short_pause_inside_a_turn_does_not_split_it(tmp_path: Path) -> None:
    word = load_audio(speak(tmp_path, "calf", lead_s=0, tail_s=0))
    stream = np.concatenate([silence(0.5), word, silence(0.25), word, silence(1.0)])
    assert len(feed_all(Endpointer(trailing_silence_ms=600), stream)) == 1


def test_click_shorter_than_min_speech_is_dropped() -> None:
    rng = np.random.default_rng(1)
    click = (rng.standard_normal(160) * 8000).astype(np.int16)
    stream = np.concatenate([silence(1.0), click, silence(1.0)])
    assert feed_all(Endpointer(min_speech_ms=200), stream) == []


def test_max_turn_length_cuts_a_long_turn(tmp_path: Path) -> None:
    sentence = load_audio(
        speak(tmp_path, "i have a cramp in my hamstring and it really hurts a lot", lead_s=0, tail_s=0)
    )
    segments = feed_all(Endpointer(max_turn_s=1.0, trailing_silence_ms=800), np.concatenate([sentence, silence(1.0)]))
    assert segments[0].cut
    assert len(segments[0].samples) <= 1.5 * SAMPLE_RATE


def test_ten_minutes_of_silence_give_no_speech(tmp_path: Path) -> None:
    from asr_fixtures import sox

    sox("-n", "-r", "16000", "-c", "1", "-b", "16", str(tmp_path / "quiet.wav"), "trim", "0", "600")
    started = time.perf_counter()
    assert list(speech_only(iter_audio(tmp_path / "quiet.wav"))) == []
    print(f"10 min of silence scanned in {time.perf_counter() - started:.2f} s")


def test_keep_trailing_ms_drops_most_of_the_closing_pause(tmp_path: Path) -> None:
    word = load_audio(speak(tmp_path, "pause", lead_s=0, tail_s=0))
    stream = np.concatenate([silence(0.5), word, silence(1.0)])
    whole = feed_all(Endpointer(trailing_silence_ms=500), stream)[0]
    trimmed = feed_all(Endpointer(trailing_silence_ms=500, keep_trailing_ms=100), stream)[0]
    assert trimmed.end_s == whole.end_s
    dropped = (len(whole.samples) - len(trimmed.samples)) / SAMPLE_RATE
    assert 0.3 < dropped < 0.5
