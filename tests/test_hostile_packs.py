"""Hostile packs and manifests: devices, pipes, symlink loops, alias bombs, cycles, oversized and
pathological packs are refused (or checked) with one clear line, never a traceback or a hang."""

from __future__ import annotations

import os
import re
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from assistant import checks
from assistant.cli import main
from assistant.errors import MAX_MESSAGE_CHARS, BadInput
from assistant.pack import MAX_PACK_BYTES, load_pack, pack_from_dict

ASSISTANT = Path(sys.executable).parent / "assistant"
FIXTURES = Path(__file__).parent / "fixtures"
sys.path.insert(0, str(Path(__file__).parent.parent / "benchmarks"))

from bench_pack import generate_pack  # noqa: E402

CYCLIC_LISTS = """\
language: en
lists:
  a:
    values: ["x {b}"]
  b:
    values: ["y {a}"]
intents:
  go:
    data:
      - sentences: ["go {a}"]
"""


def alias_bomb(levels: int = 9) -> str:
    """The "billion laughs" in YAML: nine aliases of nine aliases of ... (9**9 strings once expanded)."""
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    names = "abcdefghijklmnop"
    for level in range(1, levels):
        lines.append(f"{names[level]}: &{names[level]} [" + ",".join([f"*{names[level - 1]}"] * 9) + "]")
    lines.append(f"intents: *{names[levels - 1]}")
    return "\n".join(lines) + "\n"


def test_a_device_or_a_pipe_as_a_pack_is_refused_without_reading_it(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="/dev/zero: not a regular file"):
        load_pack(Path("/dev/zero"))
    fifo = tmp_path / "pack.yaml"
    os.mkfifo(fifo)
    with pytest.raises(BadInput, match="not a regular file"):
        load_pack(fifo)  # no writer: reading it would wait forever


def test_a_manifest_that_is_a_pipe_or_a_device_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fifo = tmp_path / "items.jsonl"
    os.mkfifo(fifo)
    for manifest in (fifo, Path("/dev/zero")):
        assert main(["eval", "--manifest", str(manifest)]) == 2
        assert capsys.readouterr().err == (
            f"assistant: error: {manifest}: the manifest is not a regular file (a pipe or a device?)\n"
        )


def test_a_symlink_loop_is_named_as_such(tmp_path: Path) -> None:
    (tmp_path / "one").symlink_to(tmp_path / "two")
    (tmp_path / "two").symlink_to(tmp_path / "one")
    with pytest.raises(BadInput, match="a loop of symbolic links, not an intent pack"):
        load_pack(tmp_path / "one")


def test_a_pack_over_the_size_limit_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_text("# padding\n" * (MAX_PACK_BYTES // 10 + 1) + (FIXTURES / "mini_pack.yaml").read_text())
    with pytest.raises(BadInput, match=f"the pack is {big.stat().st_size:,} bytes; the limit is 1,000,000"):
        load_pack(big)
    folder = tmp_path / "folder"
    folder.mkdir()
    for part in range(2):  # each file under the limit, together over it
        (folder / f"{part}.yaml").write_text("# padding\n" * (MAX_PACK_BYTES // 15))
    with pytest.raises(BadInput, match="the limit is 1,000,000"):
        load_pack(folder)


def test_an_alias_bomb_is_refused_with_a_short_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(alias_bomb())
    assert main(["check-intents", str(bomb)]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"assistant: error: {bomb}:1: malformed YAML: aliases expand the file by more than 10,000 values "
        "(an alias bomb?)\n"
    )


def test_a_few_shared_blocks_are_still_fine(tmp_path: Path) -> None:
    shared = tmp_path / "shared.yaml"
    shared.write_text(
        "language: en\nintents:\n  a:\n    data: &block\n      - sentences: ['go now', 'go']\n  b:\n    data: *block\n"
    )
    assert set(load_pack(shared).behaviours) == {"a", "b"}


def test_an_alias_that_contains_itself_is_refused(tmp_path: Path) -> None:
    loop = tmp_path / "loop.yaml"
    loop.write_text("intents: &x {a: *x}\n")
    with pytest.raises(BadInput, match="an alias refers to a value it is part of"):
        load_pack(loop)


def test_error_messages_are_one_short_line() -> None:
    error = BadInput("bad value: " + "x\ny " * 100_000)
    assert "\n" not in error.message and len(error.message) == MAX_MESSAGE_CHARS


@pytest.mark.parametrize(
    "argv",
    [
        ["check-intents", "{pack}"],
        ["ask", "--intents", "{pack}", "go x"],
        ["chat", "--intents", "{pack}"],
        ["ask", "--intents", "{pack}", "--audio", "{audio}"],
        ["listen", "--intents", "{pack}", "--input", "{audio}", "--no-speakers"],
    ],
    ids=lambda argv: argv[0] + (" --audio" if "--audio" in argv else ""),
)
def test_lists_in_a_cycle_are_named_and_every_command_refuses_them(
    tmp_path: Path, argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    pack = tmp_path / "cycle.yaml"
    pack.write_text(CYCLIC_LISTS)
    audio = Path(__file__).parent.parent / "assistant" / "samples" / "01-eye.wav"
    assert main([part.format(pack=pack, audio=audio) for part in argv]) == 2
    assert capsys.readouterr().err == (
        f"assistant: error: {pack}: lists and rules refer to each other in a cycle: {{a}} -> {{b}} -> {{a}}\n"
    )


def test_rules_in_a_cycle_are_named() -> None:
    data = {
        "language": "en",
        "expansion_rules": {"a": "x <b>", "b": "(y|z <c>)", "c": "<a>"},
        "intents": {"go": {"data": [{"sentences": ["go <a>"]}]}},
    }
    with pytest.raises(BadInput, match="in a cycle: <a> -> <b> -> <c> -> <a>"):
        pack_from_dict(data, "p")


def test_overlaps_are_only_tried_against_intents_that_have_the_words(monkeypatch: pytest.MonkeyPatch) -> None:
    """50 intents with words of their own and one pair that overlaps: each sentence meets only its rivals."""
    intents = {f"topic{i}": {"data": [{"sentences": [f"tell me about topic{i} (now|later)"]}]} for i in range(50)}
    intents["echo"] = {"data": [{"sentences": ["tell me about topic7 now"]}]}
    pack = pack_from_dict({"language": "en", "intents": intents}, "p")
    tried: list[int] = []
    real = checks.recognize_all

    def counting(text, subset, **kwargs):  # type: ignore[no-untyped-def]
        tried.append(len(subset.intents))
        return real(text, subset, **kwargs)

    monkeypatch.setattr(checks, "recognize_all", counting)
    problems = [str(p) for p in checks.check_pack(pack, "p")]
    assert problems == ["p: 'tell me about topic7 now' matches both 'topic7' and 'echo'"]
    assert tried and max(tried) <= 1
    tried.clear()
    alternation = "|".join(f"word{i}" for i in range(5_000))
    alone = pack_from_dict({"language": "en", "intents": {"go": {"data": [{"sentences": [f"go ({alternation})"]}]}}})
    assert checks.check_pack(alone, "p") == [] and tried == [0] * len(tried)  # nothing to compare with


def _limited(gigabytes: float) -> None:
    limit = int(gigabytes * 1024**3)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def test_check_intents_on_a_pack_of_millions_of_sentences_stays_small() -> None:
    """The coffee pack's six lists in any order: hassil's sampler expanded them all (out of memory)."""
    done = subprocess.run(
        [str(ASSISTANT), "check-intents", str(FIXTURES / "coffee_pack.yaml")],
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=lambda: _limited(2),
    )
    assert done.returncode == 0, done.stderr[-500:]
    assert done.stderr == "ok: 2 intents, 0 interviews, 0 routines, 0 regions\n"


def test_a_pack_just_under_the_size_limit_is_checked_in_bounded_memory(tmp_path: Path) -> None:
    """About 4,500 templates of the bundled pack's shape: the limit is one a real pack can reach and use
    (this one cost about 170 MB before template parts were shared, about 100 MB after)."""
    pack = tmp_path / "large.yaml"
    pack.write_text(generate_pack(MAX_PACK_BYTES - 20_000))
    assert MAX_PACK_BYTES - 20_000 <= pack.stat().st_size <= MAX_PACK_BYTES
    done = subprocess.run(
        [str(ASSISTANT), "check-intents", str(pack)],
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=lambda: _limited(1),
    )
    assert done.returncode == 0, done.stderr[-500:]
    assert re.fullmatch(r"ok: \d{3} intents, 0 interviews, 0 routines, 0 regions\n", done.stderr), done.stderr[-500:]
