"""The learned alarm beside the red flags: trained weights that are current with the pack, that load, hear
emergencies the red flags miss without alarming the pack's own sentences, are refused clearly when damaged,
and are acted on in every dialogue state, but not when they are the assistant's own advice heard back."""

from __future__ import annotations

import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from assistant.cli import main
from assistant.dialogue import Dialogue
from assistant.errors import BadInput
from assistant.match import KIND_SHARE, Matcher
from assistant.messages import Transcript
from assistant.pack import load_pack
from assistant.safety_model import CALM, SafetyModel, counts
from tests.damage import FILE_DAMAGE, copy_pack, damage, recompiled, refuse_setting
from tests.fakes import FakeClock

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import train_safety  # noqa: E402

PACK = load_pack()
MATCHER = Matcher(PACK)
WITHOUT = Matcher(PACK, learned=False)
assert PACK.safety_model is not None
MODEL = SafetyModel.load(PACK.safety_model.weights)


def _rows(stem: str) -> list[dict[str, str]]:
    path = ROOT / "benchmarks" / "data" / f"{stem}.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


LEARNED_ONLY = [
    row["text"]
    for stem in train_safety.SAFETY_SETS[1:4]
    for row in _rows(stem)
    if not PACK.is_emergency(WITHOUT.match(row["text"]).intent) and PACK.is_emergency(MATCHER.match(row["text"]).intent)
][:12]
"""Emergencies from the development sets that only the learned alarm hears (it was trained on them)."""


def test_the_shipped_weights_are_current_with_the_pack_and_the_training_sets() -> None:
    """Editing the pack's templates or a training set without training again fails here."""
    assert train_safety.main(["--check"]) == 0


def test_the_alarm_hears_what_the_red_flags_miss() -> None:
    assert len(LEARNED_ONLY) >= 6, LEARNED_ONLY


@pytest.mark.parametrize("state", ["idle", "mid-interview", "mid-routine", "routine paused"])
def test_what_only_the_alarm_hears_is_answered_as_an_emergency_in_every_state(state: str) -> None:
    setups = {
        "idle": [],
        "mid-interview": ["is twitching a sign of ALS", "no"],
        "mid-routine": ["my calf is cramping", "no"],
        "routine paused": ["my hamstring is cramping", "pause"],
    }
    for text in LEARNED_ONLY:
        dialogue = Dialogue(PACK, FakeClock())
        for turn in setups[state]:
            dialogue.handle(MATCHER.match(turn, dialogue.context()))
        match = MATCHER.match(text, dialogue.context())
        assert match.alarm is not None and match.alarm > MODEL.threshold, text
        turn = dialogue.handle(match)
        assert PACK.says_urgently(turn.say), (state, text, turn.say)
        assert "nine one one" in " ".join(turn.say).lower()


def test_the_packs_own_sentences_stay_calm() -> None:
    """Every labelled phrasing of a calm intent, and a thousand sentences drawn from the templates afresh."""
    from assistant.sample import sample_pack

    phrasings = [json.loads(line) for line in (ROOT / "tests" / "data" / "phrasings.jsonl").read_text().splitlines()]
    calm = [row["text"] for row in phrasings if not PACK.is_emergency(row["intent"])]
    calm += [s.text for s in sample_pack(PACK, 1000, seed=1919) if not PACK.is_emergency(s.intent)]
    alarmed = [text for text in calm if MODEL.hear(text).chance > MODEL.threshold]
    assert len(alarmed) <= len(calm) // 200, alarmed


def test_hearing_is_the_same_after_saving_and_loading(tmp_path: Path) -> None:
    path = tmp_path / "model.npz"
    MODEL.save(path)
    again = SafetyModel.load(path)
    for text in ("he collapsed and is not breathing", "my calf is cramping", "", "!!!"):
        assert again.hear(text) == MODEL.hear(text)


def test_letters_make_misheard_words_close() -> None:
    """Words that differ by a letter share most of their letter pieces, which is what lets the alarm hear
    a recogniser's "colapsed"."""
    _, right = counts("collapsed")
    _, wrong = counts("colapsed")
    assert len(set(right) & set(wrong)) >= len(set(right)) // 2


def test_nothing_said_is_calm() -> None:
    for text in ("", "   ", "?!", "um"):
        alarm = MODEL.hear(text)
        assert alarm.chance < MODEL.threshold, text


# ----- routing: which emergency's advice


def _toy(classes: tuple[str, ...], word: str, toward: dict[str, float]) -> SafetyModel:
    """A model of one word: ``word`` pushes each class of ``toward`` by its weight; every class starts even."""
    (words, _) = counts(word)
    (bucket,) = words
    seen = np.array([bucket], np.int64)
    weights = np.array([[toward.get(c, 0.0) for c in classes]], np.float32)
    return SafetyModel(classes, seen, np.ones(1, np.float32), weights, np.zeros(len(classes), np.float32), 0.9, "")


def test_the_alarm_names_the_kind_only_when_most_of_its_chance_is_on_it() -> None:
    classes = (CALM, "seizure", "bleeding")
    matcher = Matcher(PACK)
    sure = _toy(classes, "zorblax", {"seizure": 12.0})
    matcher._alarm = (sure, "emergency")
    found = matcher.match("zorblax")
    assert found.intent == "seizure" and found.template is not None and found.template.startswith("safety model")
    classes = (CALM, "seizure", "bleeding", "faint")
    torn = _toy(classes, "zorblax", {"seizure": 12.0, "bleeding": 12.0, "faint": 12.0})
    assert torn.hear("zorblax").share < KIND_SHARE
    matcher._alarm = (torn, "emergency")
    assert matcher.match("zorblax").intent == "emergency"
    below = replace(torn, threshold=0.999999)
    matcher._alarm = (below, "emergency")
    assert not PACK.is_emergency(matcher.match("zorblax").intent)


def test_a_sentence_a_template_says_exactly_is_not_second_guessed() -> None:
    matcher = Matcher(PACK)
    matcher._alarm = (_toy((CALM, "seizure"), "twitching", {"seizure": 20.0}), "emergency")
    assert matcher.match("why is my eye twitching").intent == "eye_twitch"


# ----- its own advice heard back


def test_its_own_advice_heard_back_is_echo_but_the_users_words_are_acted_on() -> None:
    """Some of the pack's replies alarm the model ("a high fever, confusion or a fit is an emergency"); a
    misheard stretch of one, coming back through the microphone, must not start emergency advice. Shown with a
    model that hears "towel" as bleeding, so the advice's own words are the alarm."""
    from assistant.asr.choose import open_engine
    from assistant.session import Conversation, WakePhrase
    from assistant.tts import Speaker

    advice = PACK.behaviours["bleeding"].answer
    assert advice is not None
    clock = FakeClock()
    speaker = Speaker(play=False, print_unheard=False, clock=clock)
    matcher = Matcher(PACK)
    matcher._alarm = (_toy((CALM, "bleeding"), "towel", {"bleeding": 20.0}), "emergency")
    conversation = Conversation(
        matcher, Dialogue(PACK, clock), open_engine("pocketsphinx", PACK), speaker, WakePhrase("", "always")
    )
    speaker.echo_guard.remember(advice.say)
    heard_back = "press hard on the wound with a clean towel or cloth or you're hand"  # a word misheard
    assert not speaker.echo_guard.is_echo(heard_back)
    match = matcher.match(heard_back)
    assert match.alarm is not None and match.intent == "bleeding" and match.red_flag is None
    assert conversation._act("mic", Transcript(heard_back), time.perf_counter()).ignored == "echo"
    users = conversation._act("mic", Transcript("grab a towel theres so much"), time.perf_counter())
    assert users.ignored is None and users.turn is not None and users.match is not None
    assert users.match.intent == "bleeding"
    clock.advance(60.0)  # long after the advice: the same words are the user's
    later = conversation._act("mic", Transcript(heard_back), time.perf_counter())
    assert later.turn is not None and later.ignored is None


def test_other_readings_of_the_speech_do_not_raise_the_learned_alarm() -> None:
    """The alarm hears the recogniser's best reading; a beam's next-best readings can only match templates
    and red flags, so one odd hypothesis cannot turn a calm turn into emergency advice."""
    primary = "what's the weather on mars"
    for text in LEARNED_ONLY:
        heard = Transcript(primary, alternatives=(text,))
        assert not PACK.is_emergency(MATCHER.match_heard(primary, heard).intent), text


# ----- bad weights, bad settings


@pytest.mark.parametrize("kind", [*FILE_DAMAGE, "another format", "parts that do not fit", "not a number"])
def test_damaged_weights_are_a_clear_message_and_exit_status(
    tmp_path: Path, kind: str, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = copy_pack(tmp_path)

    def edit(parts: dict[str, np.ndarray]) -> None:
        if kind == "another format":
            parts["format"] = np.array(99)
        elif kind == "parts that do not fit":
            parts["idf"] = parts["idf"][:-1]
        else:
            parts["weights"] = parts["weights"].copy()
            parts["weights"][0, 0] = np.nan

    damage(folder / "safety_model.npz", kind, edit)
    with pytest.raises(BadInput, match="safety_model.npz"):
        Matcher(load_pack(folder))
    code = main(["ask", "--intents", str(folder), "my calf is cramping"])
    out, err = capsys.readouterr()
    assert code == 2 and "safety_model.npz" in err and "Traceback" not in err and not out


def test_weights_trained_for_another_pack_are_refused(tmp_path: Path) -> None:
    folder = copy_pack(tmp_path)
    weights = folder / "safety_model.npz"
    model = SafetyModel.load(weights)
    renamed = tuple("stampede" if c == "seizure" else c for c in model.classes)
    replace(model, classes=renamed).save(weights)
    with pytest.raises(BadInput, match="stampede"):
        Matcher(load_pack(folder))


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("yes", "must be a mapping"),
        ({"weights": "safety_model.npz", "unsure": "emergency", "extra": 1}, "unknown key 'extra'"),
        ({"weights": "../safety_model.npz", "unsure": "emergency"}, "must be a file name"),
        ({"weights": 3, "unsure": "emergency"}, "must be a file name"),
        ({"weights": "safety_model.npz", "unsure": "eye_twitch"}, "must name an emergency"),
        ({"weights": "safety_model.npz"}, "must name an emergency"),
    ],
)
def test_bad_settings_name_the_problem(setting: object, message: str) -> None:
    refuse_setting("safety_model", setting, message)


def test_a_pack_without_a_safety_model_hears_by_templates_and_red_flags_alone() -> None:
    pack = load_pack(ROOT / "tests" / "fixtures" / "mini_pack.yaml")
    assert pack.safety_model is None and Matcher(pack)._alarm is None


def test_new_weights_make_a_new_compiled_entry(tmp_path: Path) -> None:
    def stricter(folder: Path) -> None:
        weights = folder / "safety_model.npz"
        replace(SafetyModel.load(weights), threshold=0.999999).save(weights)

    matcher = recompiled(tmp_path, stricter)
    assert matcher._alarm is not None and matcher._alarm[0].threshold == 0.999999


# ----- training


def test_training_learns_the_examples_and_chooses_a_threshold_within_its_budget(monkeypatch) -> None:
    """Trained on a small draw of the examples, the model hears its emergencies above its calm lines, and the
    cross-validated threshold keeps its own calm alarms within the budget."""
    rows = train_safety.examples(PACK)
    rng = np.random.default_rng(7)
    small = [rows[i] for i in sorted(rng.choice(len(rows), 1500, replace=False))]
    model = train_safety.fit(small)
    emergencies = [model.hear(e.text).chance for e in small if e.label != CALM]
    calm = [model.hear(e.text).chance for e in small if e.label == CALM]
    assert np.mean(emergencies) > 0.8 and np.mean(calm) < 0.2
    monkeypatch.setattr(train_safety, "FOLDS", 3)
    flagged = [PACK.is_emergency(WITHOUT.match(e.text).intent) for e in small]
    threshold, report = train_safety.choose_threshold(small, flagged)
    assert threshold in train_safety.THRESHOLDS and report[-1].startswith(f"chosen: {threshold}")
    line = next(r for r in report if r.startswith(f"  threshold {threshold}:"))
    extra = int(line.split(",")[1].split()[0])
    blind_calm = sum(1 for e in small if e.label == CALM and e.group != "pack")
    assert extra <= train_safety.CALM_BUDGET * blind_calm or threshold == train_safety.THRESHOLDS[-1]


def test_training_without_scikit_learn_says_how_to_get_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "sklearn", None)  # import sklearn now raises ImportError
    assert train_safety.main([]) == 2
    err = capsys.readouterr().err
    assert "scikit-learn" in err and "pip install" in err and "Traceback" not in err
