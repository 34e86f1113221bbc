"""The command line on typed input: JSON shapes, bad packs and bad questions give clear messages."""

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from assistant.cli import main

FIXTURES = Path(__file__).parent / "fixtures"
COFFEE = str(FIXTURES / "coffee_pack.yaml")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_pack_without_answers_reports_intent_and_slots(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "ask", "--json", "--intents", COFFEE, "large iced oat milk latte please")
    assert code == 0
    record = json.loads(out)
    assert set(record) >= {"text", "intent", "slots", "confidence", "answer", "follow_up"}
    assert record["intent"] == "order_coffee"
    assert record["slots"] == {"size": "large", "temperature": "iced", "milk": "oat milk", "drink": "latte"}


def test_out_of_domain_gives_null_intent(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "ask", "--json", "--intents", COFFEE, "what is the capital of peru")
    assert code == 0
    assert json.loads(out)["intent"] is None


def test_malformed_yaml_names_file_and_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text('language: en\nintents:\n  x:\n    data:\n      - sentences: ["a", \n  oops: [\n')
    code, out, err = run(capsys, "ask", "--intents", str(bad), "hello")
    assert code == 2
    assert f"{bad}:" in err and "malformed YAML" in err
    assert "Traceback" not in err


def test_a_pack_that_breaks_the_schema_names_the_file_and_line_of_the_part(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Not only YAML syntax: a part of the pack in the wrong shape is named where it is written, in the file
    of a folder pack that holds it."""
    folder = tmp_path / "pack"
    folder.mkdir()
    (folder / "a.yaml").write_text("language: en\nintents:\n  hi:\n    data:\n      - sentences: [hello]\n")
    (folder / "b.yaml").write_text("intents:\n  bye:\n    data:\n      - sentence: [goodbye]\n")
    code, out, err = run(capsys, "ask", "--intents", str(folder), "hello")
    assert code == 2 and not out
    assert f"{folder / 'b.yaml'}:4: intent 'bye': each data block needs a 'sentences' list" in err, err
    assert "Traceback" not in err


def test_unknown_list_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pack = tmp_path / "pack.yaml"
    pack.write_text("language: en\nintents:\n  stretch:\n    data:\n      - sentences: ['stretch my {limb}']\n")
    code, _, err = run(capsys, "ask", "--intents", str(pack), "stretch my leg")
    assert code == 2
    assert "unknown list {limb}" in err


def test_duplicate_key_names_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pack = tmp_path / "pack.yaml"
    pack.write_text(
        "language: en\nintents:\n  a:\n    data: [{sentences: [hi]}]\n  a:\n    data: [{sentences: [yo]}]\n"
    )
    code, _, err = run(capsys, "check-intents", str(pack))
    assert code == 2
    assert f"{pack}:5" in err and "duplicate key 'a'" in err


def test_missing_pack(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "ask", "--intents", "/nonexistent/pack.yaml", "hi")
    assert code == 2
    assert "no such intent pack" in err


def test_empty_question(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "ask", "--intents", COFFEE, "   ")
    assert code == 2
    assert "empty" in err


def test_huge_question_is_refused_fast(capsys: pytest.CaptureFixture[str]) -> None:
    started = time.perf_counter()
    code, _, err = run(capsys, "ask", "--intents", COFFEE, "latte " * 40_000)
    assert time.perf_counter() - started < 5
    assert code == 2
    assert "limit" in err


def test_eval_records_bad_lines_and_goes_on(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = tmp_path / "m.jsonl"
    manifest.write_text(
        '{"id": "1", "text": "small hot mocha oat milk no sugar decaf", "intent": "order_coffee",'
        ' "slots": {"size": "small"}}\n'
        "not json\n"
        '{"id": "3", "text": "what time is it", "intent": null}\n'
        '{"id": "4", "text": "cancel my order", "intent": "order_coffee"}\n'
    )
    results = tmp_path / "r.jsonl"
    code, out, _ = run(
        capsys, "eval", "--intents", COFFEE, "--manifest", str(manifest), "--out", str(results), "--json"
    )
    assert code == 0
    summary = json.loads(out)
    assert summary == {
        "n": 3,
        "intent_accuracy": pytest.approx(2 / 3, abs=1e-3),
        "command_acceptance": 0.5,
        "ood_false_accept_rate": 0.0,
        "errors": 1,
        "slot_errors": {},
    }
    lines = [json.loads(line) for line in results.read_text().splitlines()]
    assert len(lines) == 4
    assert {"id", "intent", "slots", "confidence"} <= set(lines[0])
    assert "error" in lines[1]


def test_no_traceback_from_the_real_command(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(":\n- [")
    result = subprocess.run(
        [sys.executable, "-m", "assistant", "ask", "--intents", str(bad), "hi"], capture_output=True, text=True
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
