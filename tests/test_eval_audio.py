"""`assistant eval` on spoken items: the demo's recordings through the real engine, a bad file among them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fakes import pocketsphinx

from assistant import cli
from assistant.demo import samples_folder


@pytest.fixture()
def shared_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    """The command line opens the already started PocketSphinx engine (start-up is not under test)."""
    monkeypatch.setattr("assistant.asr.choose.open_engine", lambda *args, **kwargs: pocketsphinx())


def test_eval_on_audio_items_adds_speech_figures_and_goes_on_past_a_bad_file(
    shared_engine: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    samples = samples_folder()
    bad = tmp_path / "not-audio.wav"
    bad.write_text("this is not a recording", encoding="utf-8")
    items = [
        {"id": "eye", "audio": str(samples / "01-eye.wav"), "intent": "eye_twitch", "text": "why is my eye twitching"},
        {"id": "cramp", "audio": str(samples / "08-cramp.wav"), "intent": "cramp_now", "slots": {"muscle": "calf"}},
        {"id": "bad", "audio": str(bad), "intent": "eye_twitch"},
    ]
    manifest = tmp_path / "manifest.jsonl"
    manifest.write_text("".join(json.dumps(item) + "\n" for item in items), encoding="utf-8")
    out = tmp_path / "results.jsonl"
    status = cli.main(["eval", "--manifest", str(manifest), "--out", str(out), "--json"])
    summary = json.loads(capsys.readouterr().out)
    assert status == 0
    assert summary["n"] == 2 and summary["errors"] == 1
    assert summary["command_acceptance"] == 1.0
    assert 0 <= summary["wer"] < 0.5  # one of the two items gave its reference text
    assert summary["rtf"] > 0 and summary["latency_ms_p95"] >= summary["latency_ms_p50"] > 0
    records = {r["id"]: r for r in map(json.loads, out.read_text(encoding="utf-8").splitlines())}
    assert records["cramp"]["slots"] == {"muscle": "calf"} and records["cramp"]["transcript"]
    assert 0 < records["eye"]["asr_confidence"] <= 1
    assert "error" in records["bad"]
