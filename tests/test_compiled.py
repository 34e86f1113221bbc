"""Compiled matchers kept between runs: loaded when the pack and code are the same, built again when the pack
changes or the entry is damaged, and never in the way when the cache cannot be written or the pack is bad."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from assistant import compiled
from assistant.errors import BadInput
from assistant.match import Matcher

FIXTURE = Path(__file__).parent / "fixtures" / "mini_pack.yaml"
ASSISTANT = Path(sys.executable).parent / "assistant"


def _pack(tmp_path: Path) -> Path:
    folder = tmp_path / "pack"
    folder.mkdir(exist_ok=True)
    shutil.copy(FIXTURE, folder / "pack.yaml")
    return folder


def _entries(cache: Path) -> list[Path]:
    return sorted(p for p in cache.iterdir() if p.is_dir()) if cache.is_dir() else []


def test_the_second_load_comes_from_the_cache_and_matches_alike(tmp_path: Path, monkeypatch) -> None:
    pack, cache = _pack(tmp_path), tmp_path / "cache"
    first = compiled.load_matcher(pack, cache)
    (entry,) = _entries(cache)
    built, read_pack = [], compiled.read_pack
    monkeypatch.setattr(compiled, "read_pack", lambda *a: built.append(a) or read_pack(*a))
    second = compiled.load_matcher(pack, cache)
    assert not built and second is not first and _entries(cache) == [entry]
    for text in ("my eye keeps twitching", "yes", "what's the weather on mars"):
        assert second.match(text) == first.match(text)
    assert second.pack.intents.intents.keys() == first.pack.intents.intents.keys()


def test_an_edited_pack_gets_a_new_entry(tmp_path: Path) -> None:
    pack, cache = _pack(tmp_path), tmp_path / "cache"
    compiled.load_matcher(pack, cache)
    yaml = pack / "pack.yaml"
    yaml.write_text(yaml.read_text(encoding="utf-8").replace("Rest, drink water", "Rest, sip water"), "utf-8")
    matcher = compiled.load_matcher(pack, cache)
    assert len(_entries(cache)) == 2
    assert "sip water" in matcher.pack.dispositions["self_care"].say


def test_a_damaged_entry_is_built_again_with_one_warning(tmp_path: Path, caplog) -> None:
    pack, cache = _pack(tmp_path), tmp_path / "cache"
    compiled.load_matcher(pack, cache)
    (entry,) = _entries(cache)
    pickled = entry / compiled.NAME
    whole = pickled.read_bytes()
    pickled.write_bytes(whole[: len(whole) // 2])
    with caplog.at_level(logging.WARNING):
        matcher = compiled.load_matcher(pack, cache)
    assert [r.getMessage() for r in caplog.records] == [
        f"cache {entry} is damaged ({compiled.NAME} does not match its record); building it again"
    ]
    assert matcher.match("yes").intent is not None and pickled.read_bytes() == whole


def test_an_entry_that_holds_no_matcher_is_built_again(tmp_path: Path, caplog) -> None:
    pack, cache = _pack(tmp_path), tmp_path / "cache"
    compiled.load_matcher(pack, cache)
    (entry,) = _entries(cache)
    for file in (entry / "entry.json", entry / compiled.NAME):
        file.unlink()
    compiled.ensure(entry, {compiled.NAME: None}, lambda: {compiled.NAME: b"not a pickle"})  # checks out
    with caplog.at_level(logging.WARNING):
        matcher = compiled.load_matcher(pack, cache)
    assert len(caplog.records) == 1 and "unreadable" in caplog.records[0].getMessage()
    assert isinstance(matcher, Matcher) and (entry / compiled.NAME).read_bytes() != b"not a pickle"
    caplog.clear()
    assert compiled.load_matcher(pack, cache).match("yes") == matcher.match("yes") and not caplog.records


def test_a_cache_path_that_is_a_file_is_not_in_the_way(tmp_path: Path) -> None:
    pack, cache = _pack(tmp_path), tmp_path / "cache"
    cache.write_text("a file where the cache folder would be")
    assert compiled.load_matcher(pack, cache).match("yes").intent is not None


def test_a_bad_pack_is_said_as_without_the_cache(tmp_path: Path) -> None:
    pack, cache = _pack(tmp_path), tmp_path / "cache"
    (pack / "pack.yaml").write_text("intents: [\n", encoding="utf-8")
    with pytest.raises(BadInput, match="malformed YAML"):
        compiled.load_matcher(pack, cache)
    with pytest.raises(BadInput, match="no such intent pack"):
        compiled.load_matcher(tmp_path / "absent", cache)
    assert not _entries(cache)


def test_only_the_most_recently_used_entries_are_kept(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(compiled, "KEPT", 2)
    cache = tmp_path / "cache"
    packs = []
    for number in range(3):
        folder = tmp_path / f"pack{number}"
        folder.mkdir()
        shutil.copy(FIXTURE, folder / "pack.yaml")
        packs.append(folder)
    for pack in (packs[0], packs[1], packs[0], packs[2]):  # the first used again: the more recent of the two
        compiled.load_matcher(pack, cache)
        time.sleep(0.05)  # file times tick in steps of a few milliseconds; a small pack loads faster
    assert {p.name for p in _entries(cache)} == {compiled._key(packs[0]), compiled._key(packs[2])}


def test_the_command_line_answers_alike_from_a_cold_and_a_warm_cache(tmp_path: Path) -> None:
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "xdg")}
    runs = [
        subprocess.run([str(ASSISTANT), "ask", "my calf is cramping"], capture_output=True, text=True, env=env)
        for _ in range(2)
    ]
    assert [r.returncode for r in runs] == [0, 0] and runs[0].stdout == runs[1].stdout != ""
    assert len(list((tmp_path / "xdg" / "gym-voice-assistant" / "matchers").iterdir())) == 1
