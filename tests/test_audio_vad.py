"""Endpointing with the Silero detector on synthetic speech."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from asr_fixtures import speak

from assistant.audio.io import SAMPLE_RATE, iter_audio, load_audio
from assistant.audio.vad import Endpointer, live_endpointer, speech_only


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


def _talkers(seconds: float, rng: np.random.Generator) -> np.ndarray:
    """Four espeak-ng voices talking at once, over and over: a room of other people (float, unit RMS)."""
    from fakes import spoken

    n = int(seconds * SAMPLE_RATE)
    room = np.zeros(n)
    lines = ("the bus was late again this morning", "we should paint the kitchen yellow", "my sister lives by the sea")
    for number, voice in enumerate(("en-us+m1", "en-gb", "en-us+f2", "en-us+m3")):
        track = np.concatenate([spoken(line, voice=voice).astype(np.float64) for line in lines] * 4)
        room += np.roll(np.resize(track, n), int(rng.integers(n))) * (0.7 + 0.1 * number)
    return room / np.sqrt(np.mean(room**2))


def _at(audio: np.ndarray, level: float) -> np.ndarray:
    """``audio`` scaled so that its loud half (the speaking part) has RMS ``level``."""
    frames = audio[: len(audio) // 512 * 512].astype(np.float64).reshape(-1, 512)
    loud = np.sort(np.sqrt(np.mean(frames**2, axis=1)))[len(frames) // 2 :]
    return audio * (level / np.sqrt(np.mean(loud**2)))


def test_a_turn_among_other_talkers_ends_when_the_user_stops() -> None:
    from fakes import spoken

    user = spoken("why is my eye twitching", voice="en-us")
    room = _talkers(14.0, np.random.default_rng(3)) * 600.0  # about -35 dBFS of other people talking
    start = 4 * SAMPLE_RATE
    stream = room.copy()
    stream[start : start + len(user)] += _at(user, 600.0 * 10 ** (12 / 20))  # the user, 12 dB above them
    stream = np.clip(stream, -32768, 32767).astype(np.int16)
    user_end = (start + len(user)) / SAMPLE_RATE

    def the_users(segments: list) -> list:
        return [s for s in segments if s.start_s < user_end and s.end_s + 0.6 > start / SAMPLE_RATE]

    (turn,) = the_users(feed_all(live_endpointer(), stream))
    assert not turn.cut and turn.end_s < user_end + 1.0
    # Without the gate the talkers keep the turn open to the limit: the user would wait for it.
    (ungated,) = the_users(feed_all(Endpointer(trailing_silence_ms=500, max_turn_s=8, above_talkers_db=None), stream))
    assert ungated.cut


def test_a_room_of_steady_noise_is_not_gated(tmp_path: Path) -> None:
    from fakes import pink_noise, spoken

    word = spoken("no", voice="en-us")
    room = pink_noise(6.0, 1.0, np.random.default_rng(5)).astype(np.float64)
    room *= 900.0 / np.sqrt(np.mean(room**2))
    start = 3 * SAMPLE_RATE
    stream = room.copy()
    stream[start : start + len(word)] += _at(word, 900.0 * 10 ** (6 / 20))  # a short word, 6 dB above the hum
    segments = feed_all(live_endpointer(), np.clip(stream, -32768, 32767).astype(np.int16))
    assert [round(s.start_s) for s in segments] == [3]


def test_live_a_quiet_room_is_not_gated_and_the_room_is_kept_when_listening_starts_again(tmp_path: Path) -> None:
    word = load_audio(speak(tmp_path, "pause", lead_s=0, tail_s=0))
    endpointer = live_endpointer()
    assert len(feed_all(endpointer, np.concatenate([silence(0.3), word, silence(1.0)]))) == 1
    endpointer.reset()  # push-to-talk: listening starts again in the same room
    assert len(feed_all(endpointer, np.concatenate([word, silence(1.0)]))) == 1
    long = load_audio(
        speak(tmp_path, "my calf is cramping and it really hurts what should I do now", lead_s=0, tail_s=0)
    )
    assert [s.cut for s in feed_all(live_endpointer(), np.concatenate([silence(0.5), long, silence(1.0)]))] == [False]
