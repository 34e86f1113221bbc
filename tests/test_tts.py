"""Speech out with the real Piper voice and the real pyttsx3/espeak-ng engine; only the sound card is faked
(this machine has none)."""

from __future__ import annotations

import errno
import io
import threading
import time
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
import soundfile as sf
from fakes import voice_calls

from assistant import tts
from assistant.clock import FakeClock
from assistant.errors import AssistantError, BadInput
from assistant.messages import Utterance
from assistant.tts import (
    LOUD_LUFS,
    PEAK_CEILING_DB,
    TARGET_LUFS,
    EchoGuard,
    NeuralVoice,
    Speaker,
    SystemVoice,
    installed_voices,
    list_voices,
    loudness_lufs,
    piper_voice_path,
    split_into_chunks,
)

LONG_REPLY = (
    "Stretch your calf against the wall and hold it for thirty seconds while breathing slowly, "
    "then switch legs and repeat twice on each side, and drink some water with a pinch of salt "
    "if the cramps keep coming back after your workout today."
)


class FakeOutputStream:
    """Behaves like sounddevice.OutputStream in blocking mode: write() takes as long as the audio lasts."""

    opened: ClassVar[list[FakeOutputStream]] = []

    def __init__(self, samplerate: int) -> None:
        self.samplerate = samplerate
        self.blocks: list[np.ndarray] = []
        self.aborted = False
        self.closed = False
        FakeOutputStream.opened.append(self)

    def start(self) -> None:
        pass

    def write(self, data: np.ndarray) -> None:
        assert data.dtype == np.float32 and data.ndim == 2 and data.shape[1] == 1
        time.sleep(len(data) / self.samplerate)
        self.blocks.append(data.copy())

    def stop(self) -> None:
        pass

    def abort(self) -> None:
        self.aborted = True

    def close(self) -> None:
        self.closed = True

    @property
    def frames(self) -> int:
        return sum(len(b) for b in self.blocks)


@pytest.fixture(autouse=True)
def _fresh_streams() -> None:
    FakeOutputStream.opened = []


def _rms(audio: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(audio, dtype=np.float64))))


def test_reply_written_to_wav_is_speech_of_plausible_length(tmp_path: Path) -> None:
    speaker = Speaker(wav_out=tmp_path, play=False, stdout=io.StringIO())
    assert speaker.say("Why is my eye twitching today?")
    [path] = sorted(tmp_path.glob("*.wav"))
    assert path.name == "001-why-is-my-eye-twitching-today.wav"
    audio, rate = sf.read(path)
    assert audio.ndim == 1
    assert 0.8 < len(audio) / rate < 4.0  # six words at a speaking pace
    assert _rms(audio) > 0.02


def test_replies_are_numbered_in_order_and_continue_after_existing_files(tmp_path: Path) -> None:
    (tmp_path / "007-old.wav").write_bytes(b"")
    speaker = Speaker(wav_out=tmp_path, play=False, stdout=io.StringIO())
    speaker.say("Yes.")
    speaker.say(Utterance("No thanks."))
    assert sorted(p.name for p in tmp_path.glob("0*.wav")) == ["007-old.wav", "008-yes.wav", "009-no-thanks.wav"]


@pytest.mark.parametrize("voice", ["piper", "espeak"])
def test_slower_rate_gives_longer_speech(voice: str) -> None:
    text = "one two three four five six seven eight"
    durations = []
    for rate in (250, 120):
        audio, sample_rate = Speaker(voice=voice, rate=rate, play=False).synthesize(text)
        durations.append(len(audio) / sample_rate)
    assert durations[1] > 1.5 * durations[0]


def test_voices_are_listed_and_unknown_voice_is_a_clear_error() -> None:
    voices = list_voices()
    assert any(v.language == "en-us" for v in voices)
    Speaker(voice="en-us+f2", play=False)
    Speaker(voice="English (America)", play=False)
    with pytest.raises(BadInput, match="unknown voice 'elvish'"):
        Speaker(voice="elvish", play=False)


def test_rate_out_of_range_is_bad_input() -> None:
    with pytest.raises(BadInput, match="rate"):
        Speaker(rate=5, play=False)


def test_long_reply_is_split_into_short_chunks_played_in_order(tmp_path: Path) -> None:
    chunks = split_into_chunks(LONG_REPLY)
    assert len(chunks) >= 3
    assert all(len(c.split()) <= tts.MAX_CHUNK_WORDS for c in chunks)
    assert " ".join(chunks) == LONG_REPLY

    speaker = Speaker(wav_out=tmp_path, output_stream=FakeOutputStream)
    assert speaker.say(LONG_REPLY)
    stats = speaker.last_reply
    assert stats is not None and stats.chunks == tuple(chunks)
    assert len(stats.synthesis_s) == len(chunks)
    # Everything synthesised reached the output, in one stream, and matches the WAV written.
    [stream] = FakeOutputStream.opened
    [path] = tmp_path.glob("*.wav")
    written, _ = sf.read(path, dtype="float32")
    played = np.concatenate(stream.blocks)[:, 0]
    assert stream.frames == len(written) == stats.played_frames
    assert np.allclose(played, written, atol=1 / 16000)
    assert stats.first_audio_latency_s is not None


def test_sentences_and_overlong_runs_are_cut() -> None:
    assert split_into_chunks("Hold it. Breathe! Ready?") == ["Hold it.", "Breathe!", "Ready?"]
    words = " ".join(f"w{i}" for i in range(45))
    assert [len(c.split()) for c in split_into_chunks(words)] == [20, 20, 5]
    assert split_into_chunks("   ") == []
    assert [len(word) for word in " ".join(split_into_chunks("x" * 100)).split()] == [40, 40, 20]


def test_stop_from_another_thread_ends_playback_early() -> None:
    speaker = Speaker(output_stream=FakeOutputStream)
    seen_speaking = threading.Event()

    def barge_in() -> None:
        while speaker.last_reply is None or speaker.last_reply.played_frames == 0:
            time.sleep(0.01)
        if speaker.is_speaking:
            seen_speaking.set()
        time.sleep(0.4)
        speaker.stop()

    threading.Thread(target=barge_in, daemon=True).start()
    assert speaker.say(LONG_REPLY) is False
    assert seen_speaking.is_set()
    assert not speaker.is_speaking
    stats = speaker.last_reply
    assert stats is not None and not stats.completed
    [stream] = FakeOutputStream.opened
    assert stream.aborted and stream.closed
    # About 0.4 s of a ~12 s reply went out.
    assert stream.frames < 2.0 * stream.samplerate


def test_non_interruptible_reply_is_not_cut_off_by_plain_stop() -> None:
    speaker = Speaker(output_stream=FakeOutputStream)
    threading.Timer(0.2, speaker.stop).start()
    assert speaker.say(Utterance("Call emergency services now.", interruptible=False))
    assert not FakeOutputStream.opened[0].aborted


def test_speaking_event_is_set_only_while_talking() -> None:
    speaker = Speaker(output_stream=FakeOutputStream)
    during: list[bool] = []
    threading.Timer(0.3, lambda: during.append(speaker.speaking.is_set())).start()
    speaker.say("Hold the stretch for ten more seconds.")
    assert during == [True]
    assert not speaker.speaking.is_set()


def test_echo_guard_ignores_own_words_but_not_a_short_command() -> None:
    speaker = Speaker(output_stream=FakeOutputStream, clock=FakeClock())
    speaker.say("Say stop to end the routine. Hold your calf stretch now.")
    guard = speaker.echo_guard
    assert guard.is_echo("hold your calf stretch now")
    assert guard.is_echo("Say stop to end")
    assert not guard.is_echo("stop")
    assert not guard.is_echo("how long left")


def test_echo_guard_knows_its_own_words_across_sentences_and_a_whole_reply_half_heard() -> None:
    guard = EchoGuard(clock=FakeClock())
    guard.remember("Hi.")  # a reply is remembered sentence by sentence, as it is played
    guard.remember("I can help with muscle twitches, spasms, cramps and stretches.")
    assert guard.is_echo("hi i can help with muscle twitches")  # one run across both sentences
    assert guard.is_echo("i can help with muscle twitches spasms cramps and stretches")
    guard.remember("Okay, stopped.")
    assert guard.is_echo("okay stop")  # nearly the whole of what was said
    assert not guard.is_echo("stop")  # the user's own command over it
    guard.remember("Paused.")
    assert not guard.is_echo("pause")  # one word: only when it is exactly what was said
    assert not guard.is_echo("no thanks i'm fine")
    guard.remember("Along with the cramp, do you have chest pain or trouble breathing?")
    assert not guard.is_echo("I have chest pain")  # the user's answer, in the question's words
    assert not guard.is_echo("my calf is cramping")


def test_echo_guard_forgets_after_its_window() -> None:
    clock = FakeClock()
    guard = EchoGuard(window_s=2.0, clock=clock)
    guard.remember("no thanks")
    assert guard.is_echo("no thanks")
    clock.advance(10.0)
    assert not guard.is_echo("no thanks")


def test_no_audio_device_prints_once_and_keeps_writing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sounddevice as sd

    def no_device(*args: object, **kwargs: object) -> None:
        raise sd.PortAudioError("Error querying device -1")

    monkeypatch.setattr(sd, "query_devices", no_device)
    out, err = io.StringIO(), io.StringIO()
    speaker = Speaker(wav_out=tmp_path, stdout=out, stderr=err)
    speaker.say("Yes.")
    speaker.say("No.")
    assert err.getvalue().count("\n") == 1 and "no audio output device" in err.getvalue()
    assert out.getvalue() == "Yes.\nNo.\n"
    assert len(list(tmp_path.glob("*.wav"))) == 2


def test_engine_that_cannot_start_prints_replies_and_carries_on() -> None:
    out, err = io.StringIO(), io.StringIO()
    speaker = Speaker(voice="espeak", driver="no_such_driver", output_stream=FakeOutputStream, stdout=out, stderr=err)
    assert speaker.say("Drink some water.") is False
    assert speaker.say("Stretch gently.") is False
    assert out.getvalue() == "Drink some water.\nStretch gently.\n"
    assert err.getvalue().count("\n") == 1 and "speech engine unavailable" in err.getvalue()


def test_engine_failing_mid_session_prints_reply_and_recovers(monkeypatch: pytest.MonkeyPatch) -> None:
    out, err = io.StringIO(), io.StringIO()
    speaker = Speaker(voice="espeak", output_stream=FakeOutputStream, stdout=out, stderr=err)
    assert isinstance(speaker.voice, SystemVoice)
    engine = speaker.voice.engine
    real_run = engine.runAndWait

    def broken() -> None:
        raise RuntimeError("espeak crashed")

    monkeypatch.setattr(engine, "runAndWait", broken)
    assert speaker.say("First reply.") is False
    assert speaker.say("Second reply.") is False
    assert "espeak crashed" in err.getvalue() and err.getvalue().count("\n") == 1
    assert out.getvalue() == "First reply.\nSecond reply.\n"
    monkeypatch.setattr(engine, "runAndWait", real_run)
    assert speaker.say("Third reply.")
    assert "Third" not in out.getvalue()


def test_wav_out_under_a_file_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    with pytest.raises(AssistantError, match="cannot write spoken replies to .*not-a-dir"):
        Speaker(wav_out=blocker / "replies", play=False)


def test_disk_full_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    speaker = Speaker(wav_out=tmp_path, play=False, stdout=io.StringIO())
    monkeypatch.setattr(tts.sf, "write", full)
    with pytest.raises(AssistantError, match="disk full"):
        speaker.say("This will not fit.")
    assert list(tmp_path.iterdir()) == []


# ----- the voice: Piper by default, espeak-ng as the system voice and the fallback


def test_replies_are_spoken_by_piper_unless_a_system_voice_is_asked_for(tmp_path: Path) -> None:
    piper = Speaker(play=False, wav_out=tmp_path / "piper", stdout=io.StringIO())
    assert isinstance(piper.voice, NeuralVoice) and "Piper voice en_US-joe-medium" in piper.describe()
    espeak = Speaker(voice="espeak", play=False, wav_out=tmp_path / "espeak", stdout=io.StringIO())
    assert isinstance(espeak.voice, SystemVoice) and "espeak-ng voice gmw/en-us" in espeak.describe()
    named = Speaker(voice=f"piper:{piper_voice_path()}", play=False)
    assert isinstance(named.voice, NeuralVoice)
    for speaker in (piper, espeak):
        assert speaker.say("Drink some water.")
    # Different voices, so different sounds for the same words.
    [a] = (tmp_path / "piper").glob("*.wav")
    [b] = (tmp_path / "espeak").glob("*.wav")
    assert sf.read(a)[0].shape != sf.read(b)[0].shape


def test_installed_voices_list_piper_first_then_the_system_voices() -> None:
    voices = installed_voices()
    assert voices[0].id == "piper" and voices[0].engine == "piper" and voices[0].language == "en-us"
    assert any(v.engine == "pyttsx3" and v.language == "en-us" for v in voices[1:])


def _broken_voice(folder: Path) -> Path:
    model = folder / "broken.onnx"
    model.write_bytes(b"not an onnx model" * 100)
    voice = piper_voice_path()
    assert voice is not None
    (folder / "broken.onnx.json").write_text(Path(f"{voice}.json").read_text())
    return model


@pytest.mark.parametrize("problem", ["missing", "broken", "no config"])
def test_a_bad_voice_file_is_reported_and_espeak_speaks_instead(tmp_path: Path, problem: str) -> None:
    if problem == "missing":
        model, reason = tmp_path / "nowhere.onnx", "not found"
    elif problem == "broken":
        model, reason = _broken_voice(tmp_path), "does not load"
    else:
        model, reason = tmp_path / "lonely.onnx", "has no config file lonely.onnx.json"
        model.write_bytes(b"x")
    out, err = io.StringIO(), io.StringIO()
    speaker = Speaker(voice=f"piper:{model}", output_stream=FakeOutputStream, stdout=out, stderr=err)
    assert speaker.say("Stretch gently.")
    assert isinstance(speaker.voice, SystemVoice)
    assert err.getvalue().count("\n") == 1
    assert f"Piper voice {model} {reason}" in err.getvalue() and "speaking with espeak-ng instead" in err.getvalue()
    assert out.getvalue() == ""  # spoken, not printed
    assert FakeOutputStream.opened[0].frames > 0.5 * 22050


def test_piper_failing_mid_session_hands_the_reply_to_espeak(monkeypatch: pytest.MonkeyPatch) -> None:
    out, err = io.StringIO(), io.StringIO()
    speaker = Speaker(output_stream=FakeOutputStream, stdout=out, stderr=err)
    assert isinstance(speaker.voice, NeuralVoice)
    assert speaker.say("First reply.")
    model = speaker.voice._voice

    def crashed(*args: object, **kwargs: object) -> None:
        raise RuntimeError("onnxruntime: bad allocation")

    monkeypatch.setattr(model, "phoneme_ids_to_audio", crashed)
    assert speaker.say("Second reply, still heard.")
    assert speaker.say("Third reply.")
    assert isinstance(speaker.voice, SystemVoice)
    assert "bad allocation" in err.getvalue() and err.getvalue().count("\n") == 1
    assert out.getvalue() == ""
    assert [s.frames > 0 for s in FakeOutputStream.opened] == [True, True, True]


def test_the_first_chunk_plays_before_the_rest_is_synthesised() -> None:
    started: list[float] = []

    class Recording(FakeOutputStream):
        def write(self, data: np.ndarray) -> None:
            started.append(time.perf_counter())
            super().write(data)

    speaker = Speaker(output_stream=Recording)
    synthesised: list[float] = []
    real = speaker.synthesize

    def timed(text: str, urgent: bool = False) -> tuple[np.ndarray, int]:
        result = real(text, urgent)
        synthesised.append(time.perf_counter())
        return result

    speaker.synthesize = timed  # type: ignore[method-assign]
    assert speaker.say(LONG_REPLY)
    assert len(synthesised) >= 3
    assert started[0] < synthesised[-1]  # the user heard the start before the end existed


# ----- loudness


def test_loudness_meter_reads_the_standards_calibration_tone() -> None:
    # BS.1770: a 997 Hz sine at 0 dBFS peak reads -3.01 LUFS, whatever the sample rate.
    for rate in (16000, 22050, 48000):
        tone = np.sin(2 * np.pi * 997 * np.arange(3 * rate) / rate).astype(np.float32)
        assert loudness_lufs(tone, rate) == pytest.approx(-3.01, abs=0.05)
        assert loudness_lufs(tone * 0.1, rate) == pytest.approx(-23.01, abs=0.05)
    assert loudness_lufs(np.zeros(22050, np.float32), 22050) == float("-inf")


@pytest.mark.parametrize("voice", ["piper", "espeak"])
def test_every_voice_speaks_at_the_target_loudness_and_loud_is_louder(voice: str) -> None:
    text = "Stretch your calf against the wall and hold it for thirty seconds."
    normal, rate = Speaker(voice=voice, play=False).synthesize(text)
    loud, _ = Speaker(voice=voice, play=False, loudness_lufs=LOUD_LUFS).synthesize(text)
    assert loudness_lufs(normal, rate) == pytest.approx(TARGET_LUFS, abs=1.0)
    assert loudness_lufs(loud, rate) > loudness_lufs(normal, rate) + 4.0
    ceiling = 10 ** (PEAK_CEILING_DB / 20) + 1e-6
    assert np.max(np.abs(normal)) <= ceiling and np.max(np.abs(loud)) <= ceiling


def test_emergency_advice_is_said_louder_than_other_replies() -> None:
    text = "Call emergency services now, nine one one, nine nine nine or one one two."
    speaker = Speaker(play=False)
    normal, rate = speaker.synthesize(text)
    urgent, _ = speaker.synthesize(text, urgent=True)
    assert loudness_lufs(urgent, rate) > loudness_lufs(normal, rate) + 3.0
    assert np.max(np.abs(urgent)) <= 10 ** (PEAK_CEILING_DB / 20) + 1e-6


def test_negations_are_said_in_full(monkeypatch: pytest.MonkeyPatch) -> None:
    speaker = Speaker(play=False)
    made = voice_calls(speaker, monkeypatch)
    advice = "If it isn't better, don't wait. They can't, and it won't settle."
    speaker.synthesize(advice, urgent=True)
    speaker.synthesize(advice)
    assert made == ["If it is not better, do not wait. They cannot, and it will not settle."] * 2
    assert tts.negations_in_full("Don't drive. Can't breathe.") == "Do not drive. Cannot breathe."


# ----- text that is hard to speak


def test_symbols_only_and_empty_text_never_raise(tmp_path: Path) -> None:
    out = io.StringIO()
    speaker = Speaker(wav_out=tmp_path, play=False, stdout=out)
    assert speaker.say("")
    assert speaker.say("   ")
    speaker.say("... ?! ---")
    speaker.say("@#%&*")
    assert speaker.say("911")  # digits are read out
    assert list(tmp_path.glob("*911*.wav"))


def test_very_long_text_starts_speaking_and_can_be_stopped() -> None:
    text = " ".join([LONG_REPLY] * 300) + " " + "x" * 5000  # ~12,000 words and a 5,000-letter word
    speaker = Speaker(output_stream=FakeOutputStream)

    def barge_in() -> None:
        while speaker.last_reply is None or speaker.last_reply.played_frames == 0:
            time.sleep(0.01)
        speaker.stop()

    threading.Thread(target=barge_in, daemon=True).start()
    assert speaker.say(text) is False
    stats = speaker.last_reply
    assert stats is not None and stats.played_frames > 0
    assert len(stats.synthesis_s) < 10 < len(stats.chunks)  # the rest was never made
    assert max(len(c) for c in stats.chunks) <= tts.MAX_CHUNK_WORDS * (tts.MAX_WORD_CHARS + 1)


def test_a_long_first_sentence_starts_with_its_first_clause() -> None:
    text = "Please call emergency services now, nine one one in the US, or ask someone nearby to call. Stop."
    assert split_into_chunks(text) == [
        "Please call emergency services now,",
        "nine one one in the US, or ask someone nearby to call.",
        "Stop.",
    ]
    assert split_into_chunks("This could be an emergency, call now.")[0] == "This could be an emergency, call now."


def test_assistant_voices_marks_piper_as_the_default(capsys: pytest.CaptureFixture[str]) -> None:
    from assistant.cli import main

    assert main(["voices"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["*", "piper", "piper"]
    assert any(line.split()[:2] == ["gmw/en-us", "pyttsx3"] for line in lines)
    assert sum(line.startswith("*") for line in lines) == 1


def test_prepared_replies_start_without_waiting_for_the_voice(monkeypatch: pytest.MonkeyPatch) -> None:
    advice = "This could be an emergency. Call emergency services now."
    speaker = Speaker(output_stream=FakeOutputStream)
    speaker.prepare([advice, "   "]).join()
    made = voice_calls(speaker, monkeypatch)
    assert speaker.say(Utterance(advice, interruptible=False))
    assert made == ["Call emergency services now."]  # the first sentence was ready
    assert FakeOutputStream.opened[0].frames > 2 * 22050


def test_the_echo_guard_knows_a_warning_sign_it_said_also_when_spelt_apart() -> None:
    clock = FakeClock()
    guard = EchoGuard(clock=clock)
    guard.remember("This could be heatstroke, which is an emergency.")
    assert guard.said_recently("heat stroke")  # as Whisper writes it back
    assert guard.said_recently("heatstroke")
    assert not guard.said_recently("not breathing")
    clock.advance(60.0)
    assert not guard.said_recently("heat stroke")  # long since said
