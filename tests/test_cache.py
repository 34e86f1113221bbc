"""The build cache: processes starting at once on an empty cache, and damaged entries that heal."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from assistant import cache
from assistant.demo import samples_folder

ASSISTANT = Path(sys.executable).parent / "assistant"


def _ask(xdg: Path) -> subprocess.Popen[str]:
    """``assistant ask --audio`` on the eye-twitch recording with PocketSphinx, caching under ``xdg``."""
    return subprocess.Popen(
        [str(ASSISTANT), "ask", "--json", "--asr", "pocketsphinx", "--audio", str(samples_folder() / "01-eye.wav")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "XDG_CACHE_HOME": str(xdg)},
    )


def _finish(process: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=240)
    return process.returncode, out, err


def _entry(xdg: Path) -> Path:
    (folder,) = (xdg / "gym-voice-assistant" / "pocketsphinx").iterdir()
    return folder


def test_six_cold_starts_at_once_all_answer(tmp_path: Path) -> None:
    runs = [_finish(process) for process in [_ask(tmp_path) for _ in range(6)]]
    for status, out, err in runs:
        assert status == 0, err
        assert json.loads(out)["intent"] == "eye_twitch"
        assert "damaged" not in err
    assert not list(_entry(tmp_path).glob("*.tmp"))


@pytest.mark.parametrize("victim", ["pack.arpa", "pack.dict"])
def test_a_truncated_cache_file_is_rebuilt_with_one_warning(tmp_path: Path, victim: str) -> None:
    status, first, _ = _finish(_ask(tmp_path))
    assert status == 0
    path = _entry(tmp_path) / victim
    whole = path.read_bytes()
    path.write_bytes(whole[: len(whole) // 3])  # what a killed write or a full disk leaves
    status, out, err = _finish(_ask(tmp_path))
    assert status == 0, err
    assert json.loads(out)["intent"] == json.loads(first)["intent"] == "eye_twitch"
    assert [line for line in err.splitlines() if "cache" in line] == [
        f"cache {path.parent} is damaged ({victim} does not match its record); building it again"
    ]
    assert path.read_bytes() == whole
    status, _, err = _finish(_ask(tmp_path))
    assert status == 0 and "damaged" not in err


def test_ensure_builds_once_and_rebuilds_what_does_not_check_out(tmp_path: Path) -> None:
    builds: list[int] = []

    def build() -> dict[str, bytes]:
        builds.append(1)
        return {"a.txt": b"alpha", "b.txt": b"beta" * 100}

    names = {"a.txt": None, "b.txt": None}
    paths = cache.ensure(tmp_path / "entry", names, build)
    assert paths["b.txt"].read_bytes() == b"beta" * 100
    cache.ensure(tmp_path / "entry", names, build)
    assert len(builds) == 1
    paths["b.txt"].write_bytes(b"beta" * 99 + b"BETA")  # same size, other content
    assert cache.damage(tmp_path / "entry", names) == "b.txt does not match its record"
    cache.ensure(tmp_path / "entry", names, build)
    assert len(builds) == 2 and paths["b.txt"].read_bytes() == b"beta" * 100
    (tmp_path / "entry" / cache.MANIFEST).write_text("{")
    assert cache.damage(tmp_path / "entry", names) is not None
