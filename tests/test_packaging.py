"""Packaging and command-line conventions: the wheel carries the pack and the demo audio, an installed
copy works away from the source tree, and every command follows the usual conventions."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from assistant.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent
SUBCOMMANDS = ["ask", "eval", "check-intents", "chat", "listen", "demo", "devices", "models"]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (found,) = out.glob("*.whl")
    return found


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel installed into a folder of its own (its dependencies come from the test venv)."""
    target = tmp_path_factory.mktemp("site")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
        check=True,
        capture_output=True,
    )
    return target


def run_installed(target: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(target)}
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=300)


def test_wheel_carries_pack_and_demo_audio(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    pack_files = {name for name in names if name.startswith("assistant/intents/en/") and name.endswith(".yaml")}
    assert len(pack_files) >= 5
    assert "assistant/samples/demo_turns.txt" in names
    script = (ROOT / "assistant" / "samples" / "demo_turns.txt").read_text()
    for line in script.splitlines():
        if line.strip() and not line.startswith("#"):
            assert f"assistant/samples/{line.split(chr(9))[0]}.wav" in names
    assert not any("muscle-twitching-and-spasms" in name for name in names)


def test_installed_copy_answers_from_outside_the_source_tree(installed: Path, tmp_path: Path) -> None:
    where = run_installed(installed, "-c", "import assistant; print(assistant.__file__)", cwd=tmp_path)
    assert where.stdout.strip().startswith(str(installed))
    result = run_installed(installed, "-m", "assistant", "ask", "--json", "why is my eye twitching", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    assert record["intent"] == "eye_twitch"
    assert record["answer"]


def test_installed_copy_plays_the_demo(installed: Path, tmp_path: Path) -> None:
    result = run_installed(
        installed, "-m", "assistant", "demo", "--no-speakers", "--wav-out", str(tmp_path / "replies"), cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert "coach:" in result.stdout
    assert len(list((tmp_path / "replies").glob("*.wav"))) > 5


@pytest.mark.parametrize("command", [[], *([name] for name in SUBCOMMANDS)])
def test_help_everywhere(command: list[str]) -> None:
    parser = build_parser()
    with pytest.raises(SystemExit) as exit_info:
        parser.parse_args([*command, "--help"])
    assert exit_info.value.code == 0


def test_version_and_usage_errors() -> None:
    version = subprocess.run([sys.executable, "-m", "assistant", "--version"], capture_output=True, text=True)
    assert version.returncode == 0 and version.stdout.startswith("assistant ")
    unknown = subprocess.run([sys.executable, "-m", "assistant", "dance"], capture_output=True, text=True)
    assert unknown.returncode == 2
    assert unknown.stdout == "" and "invalid choice" in unknown.stderr


def test_json_stays_on_stdout_with_notices_on_stderr(tmp_path: Path) -> None:
    audio = ROOT / "assistant" / "samples" / "01-eye.wav"
    result = subprocess.run(
        [sys.executable, "-m", "assistant", "ask", "--json", "--audio", str(audio)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)  # nothing but the JSON object on stdout
    assert {"transcript", "asr", "latency_ms"} <= set(record)


def test_problem_exit_status_is_1(tmp_path: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    (models / "vosk-model-small-en-us-0.15.zip.part").write_bytes(b"half")
    result = subprocess.run(
        [sys.executable, "-m", "assistant", "models", "verify", "--models-dir", str(models)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert "unfinished download" in result.stdout + result.stderr


def test_the_asr_option_offers_exactly_the_engines_open_engine_knows() -> None:
    from assistant.asr.choose import ENGINE_KINDS

    for command in ("listen", "demo", "ask"):
        parser = build_parser()
        for kind in ENGINE_KINDS:
            assert parser.parse_args([command, "--asr", kind]).asr == kind
        with pytest.raises(SystemExit):
            parser.parse_args([command, "--asr", "siri"])
