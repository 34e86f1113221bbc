"""`assistant eval` says which slot came back wrong, what was expected and what was got."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.cli import main
from assistant.evaluate import evaluate
from assistant.match import Matcher
from assistant.pack import load_pack

COFFEE = Path(__file__).parent / "fixtures" / "coffee_pack.yaml"

ITEMS = [
    {
        "id": "right",
        "text": "can i get a large latte with oat milk",
        "intent": "order_coffee",
        "slots": {"size": "large"},
    },
    {
        "id": "two wrong",
        "text": "i want a small mocha with honey",
        "intent": "order_coffee",
        "slots": {"size": "large", "sweetener": "honey", "drink": "latte"},
    },
    {"id": "missing", "text": "i want a small mocha", "intent": "order_coffee", "slots": {"milk": "skim milk"}},
    {"id": "ood", "text": "what time is it", "intent": None},
]


@pytest.fixture()
def manifest(tmp_path: Path) -> Path:
    path = tmp_path / "items.jsonl"
    path.write_text("".join(json.dumps(item) + "\n" for item in ITEMS), encoding="utf-8")
    return path


def test_each_item_lists_its_slot_errors_and_the_summary_counts_them(manifest: Path, tmp_path: Path) -> None:
    results = tmp_path / "results.jsonl"
    with results.open("w", encoding="utf-8") as out:
        summary = evaluate(manifest, Matcher(load_pack(COFFEE)), out, progress=False)
    records = {r["id"]: r for r in map(json.loads, results.read_text().splitlines())}
    assert records["right"]["slot_errors"] == []
    assert records["two wrong"]["slot_errors"] == [
        {"slot": "size", "expected": "large", "got": "small"},
        {"slot": "drink", "expected": "latte", "got": "mocha"},
    ]
    assert records["missing"]["slot_errors"] == [{"slot": "milk", "expected": "skim milk", "got": None}]
    assert summary["slot_errors"] == {
        "drink": {"wrong": 1, "checked": 1, "examples": [{"expected": "latte", "got": "mocha"}]},
        "milk": {"wrong": 1, "checked": 1, "examples": [{"expected": "skim milk", "got": None}]},
        "size": {"wrong": 1, "checked": 2, "examples": [{"expected": "large", "got": "small"}]},
    }


def test_the_command_prints_the_slot_errors(manifest: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "--intents", str(COFFEE), "--manifest", str(manifest)]) == 0
    printed = capsys.readouterr().out
    assert "slot errors" in printed
    assert "  size: 1 of 2 wrong ('large' -> 'small')" in printed
    assert "  milk: 1 of 1 wrong ('skim milk' -> None)" in printed
