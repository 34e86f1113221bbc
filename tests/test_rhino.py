"""Picovoice Rhino contexts become packs that say exactly what the context says."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.cli import main
from assistant.errors import BadInput
from assistant.match import Matcher
from assistant.pack import load_pack
from assistant.rhino import load_rhino_pack, rhino_to_pack_dict

REALSPEECH = Path(__file__).resolve().parents[2] / "shared" / "realspeech"

CONTEXT = """\
context:
  expressions:
    setAlarm:
      - "[set, make] (me) [an, the] alarm for $pv.TwoDigitInteger:hour @oclock (please, thanks)"
      - "wake me (up) at $pv.TwoDigitInteger:hour"
    playSound:
      - "play [the, some] $sound:sound (sound)"
  slots:
    sound:
      - "rain"
      - "heavy rain"
      - "ocean waves"
  macros:
    oclock:
      - "o'clock"
      - "sharp"
"""


@pytest.fixture()
def context_file(tmp_path: Path) -> Path:
    path = tmp_path / "alarm.yaml"
    path.write_text(CONTEXT, encoding="utf-8")
    return path


def test_choices_optionals_slots_and_macros_become_hassil_templates(context_file: Path) -> None:
    import yaml

    pack = rhino_to_pack_dict(yaml.safe_load(CONTEXT))
    assert pack["intents"]["setAlarm"]["data"][0]["sentences"] == [
        "(set|make) [me] (an|the) alarm for {pv.TwoDigitInteger:hour} <oclock> [please|thanks]",
        "wake me [up] at {pv.TwoDigitInteger:hour}",
    ]
    assert pack["lists"]["sound"] == {"values": ["rain", "heavy rain", "ocean waves"]}
    assert pack["lists"]["pv.TwoDigitInteger"] == {"range": {"from": 0, "to": 99}}
    assert pack["expansion_rules"] == {"oclock": "(o'clock|sharp)"}


@pytest.mark.parametrize(
    ("text", "intent", "slots"),
    [
        ("make the alarm for 7 o'clock thanks", "setAlarm", {"hour": "7"}),
        ("set me an alarm for twelve sharp", "setAlarm", {"hour": "12"}),
        ("wake me up at 6", "setAlarm", {"hour": "6"}),
        ("play some heavy rain sound", "playSound", {"sound": "heavy rain"}),
        ("play the rain", "playSound", {"sound": "rain"}),
    ],
)
def test_the_loaded_pack_understands_what_the_context_says(
    context_file: Path, text: str, intent: str, slots: dict[str, str]
) -> None:
    match = Matcher(load_rhino_pack(context_file)).match(text)
    assert (match.intent, match.slots) == (intent, slots)


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("play $noise:sound", "unknown slot type"),
        ("play [the, some sound", "unbalanced"),
        ("play the) sound", "unbalanced"),
        ("play @loud", "unknown macro"),
        ("play, rain", "comma outside brackets"),
        ("play {sound}", "which Rhino does not define"),
    ],
)
def test_malformed_expressions_are_reported(tmp_path: Path, expression: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(f'context:\n  expressions:\n    x:\n      - "{expression}"\n  slots: {{sound: [rain]}}\n')
    with pytest.raises(BadInput, match=message):
        load_rhino_pack(path)


def test_a_file_that_is_not_a_context_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "pack.yaml"
    path.write_text("intents: {}\n")
    with pytest.raises(BadInput, match="not a Rhino context"):
        load_rhino_pack(path)


def test_import_rhino_writes_a_pack_the_other_commands_load(
    context_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "alarm_pack.yaml"
    assert main(["import-rhino", str(context_file), "-o", str(out)]) == 0
    assert "2 intents, 3 templates" in capsys.readouterr().err
    match = Matcher(load_pack(out)).match("wake me at 9")
    assert (match.intent, match.slots) == ("setAlarm", {"hour": "9"})
    assert main(["import-rhino", str(tmp_path / "missing.yaml"), "-o", str(out)]) == 2


@pytest.mark.skipif(not REALSPEECH.exists(), reason=f"{REALSPEECH} is absent (the real-speech development set)")
def test_the_realspeech_labels_use_the_converted_packs_values() -> None:
    pack = load_rhino_pack(REALSPEECH / "coffee_maker.yaml")
    lists = pack.intents.slot_lists
    labels = [json.loads(line) for line in (REALSPEECH / "labels.jsonl").read_text().splitlines() if line.strip()]
    assert labels
    for label in labels:
        assert label["intent"] in pack.intents.intents
        for slot, value in label["slots"].items():
            assert value in {v.value_out for v in lists[slot].values}, (slot, value)  # type: ignore[attr-defined]
