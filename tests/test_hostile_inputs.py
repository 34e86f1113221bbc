"""A table of hostile inputs through every command that reads files (audio, packs, manifests, stdin):
each ends with exit status 1 or 2 and one line on stderr, no traceback, in bounded time and memory."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import threading
from pathlib import Path

import pytest

ASSISTANT = Path(sys.executable).parent / "assistant"
MEMORY_LIMIT = 3 * 1024**3
"""Address space each run may use (the speech engines load in well under it)."""
TIME_LIMIT_S = 120
"""Generous: every run here takes a few seconds."""

CASES: list[tuple[str, list[str], str | None]] = [
    # (name, arguments with {placeholders}, what stdin holds: a placeholder or None)
    ("audio: /dev/zero", ["ask", "--audio", "/dev/zero"], None),
    ("audio: a pipe of junk", ["ask", "--audio", "{fifo}"], None),
    ("audio: junk on stdin", ["ask", "--audio", "-"], "{junk}"),
    ("audio: nothing on stdin", ["ask", "--audio", "-"], "/dev/null"),
    ("audio: a symlink loop", ["ask", "--audio", "{loop}"], None),
    ("audio: a folder", ["ask", "--audio", "{folder}"], None),
    ("audio: an empty file", ["ask", "--audio", "{empty}"], None),
    ("audio: random bytes", ["ask", "--audio", "{junk}"], None),
    (
        "audio: random bytes as listen input",
        ["listen", "--input", "{junk}", "--no-speakers", "--asr", "pocketsphinx"],
        None,
    ),
    ("manifest: /dev/zero", ["eval", "--manifest", "/dev/zero"], None),
    ("manifest: a pipe", ["eval", "--manifest", "{fifo}"], None),
    ("manifest: only bad lines", ["eval", "--manifest", "{bad_manifest}"], None),
    ("manifest: a folder", ["eval", "--manifest", "{folder}"], None),
    ("manifest: random bytes", ["eval", "--manifest", "{junk}"], None),
    ("manifest: results to a full disk", ["eval", "--manifest", "{manifest}", "--out", "/dev/full"], None),
    ("pack: /dev/zero", ["check-intents", "/dev/zero"], None),
    ("pack: a pipe", ["check-intents", "{fifo}"], None),
    ("pack: a symlink loop", ["ask", "--intents", "{loop}", "hello"], None),
    ("pack: an alias bomb", ["ask", "--intents", "{bomb}", "hello"], None),
    ("pack: lists in a cycle", ["chat", "--intents", "{cycle}"], "/dev/null"),
    ("pack: over the size limit", ["check-intents", "{huge}"], None),
    ("pack: random bytes", ["check-intents", "{junk}"], None),
    ("pack: deep nesting", ["check-intents", "{deep}"], None),
    ("stdin: /dev/zero to chat", ["chat"], "/dev/zero"),
    ("stdin: not UTF-8 to chat", ["chat", "--json"], "{junk}"),
    ("models: /dev/zero as the folder", ["models", "verify", "--models-dir", "/dev/zero"], None),
    ("models: a symlink loop as the folder", ["models", "verify", "--models-dir", "{loop}"], None),
    ("demo: a folder without its script", ["demo", "--samples", "{folder}", "--no-speakers"], None),
]


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The hostile files, once for the table (the pipe is made per run)."""
    folder = tmp_path_factory.mktemp("hostile")
    files = {name: folder / name for name in ("junk", "empty", "loop", "folder", "bomb", "cycle", "huge", "deep")}
    files["junk"].write_bytes(bytes(range(256)) * 400 + os.urandom(100_000))
    files["empty"].write_bytes(b"")
    (folder / "loop2").symlink_to(files["loop"])
    files["loop"].symlink_to(folder / "loop2")
    files["folder"].mkdir()
    bomb = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    bomb += [f"{c}: &{c} [" + ",".join([f"*{p}"] * 9) + "]" for p, c in zip("abcdefgh", "bcdefghi", strict=True)]
    files["bomb"].write_text("\n".join([*bomb, "intents: *i"]) + "\n")
    files["cycle"].write_text(
        "lists:\n  a:\n    values: ['x {b}']\n  b:\n    values: ['y {a}']\n"
        "intents:\n  go:\n    data:\n      - sentences: ['go {a}']\n"
    )
    files["huge"].write_text("# padding\n" * 120_000)
    files["deep"].write_text(
        "intents:\n  go:\n    data:\n      - sentences: ['" + "(" * 5000 + "go" + ")" * 5000 + "']\n"
    )
    files["bad_manifest"] = folder / "bad.jsonl"
    files["bad_manifest"].write_text('{"text": "no intent"}\nnot json\n[1, 2]\n')
    files["manifest"] = folder / "items.jsonl"
    files["manifest"].write_text('{"text": "why is my eye twitching", "intent": "eye_twitch"}\n' * 5)
    return files


def _limits() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


@pytest.mark.parametrize(("name", "argv", "stdin"), CASES, ids=[case[0] for case in CASES])
def test_hostile_input_is_one_line_and_a_non_zero_exit(
    hostile: dict[str, Path], tmp_path: Path, name: str, argv: list[str], stdin: str | None
) -> None:
    places = {key: str(path) for key, path in hostile.items()}
    places["fifo"] = str(tmp_path / "fifo")
    os.mkfifo(places["fifo"])
    # Whoever opens the pipe gets junk; a command that refuses it without opening leaves the writer waiting.
    writer = threading.Thread(target=_feed, args=(places["fifo"], hostile["junk"].read_bytes()), daemon=True)
    writer.start()
    with open(stdin.format(**places) if stdin else os.devnull, "rb") as source:
        done = subprocess.run(
            [str(ASSISTANT), *(part.format(**places) for part in argv)],
            stdin=source,
            capture_output=True,
            timeout=TIME_LIMIT_S,
            preexec_fn=_limits,
            env={**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")},
        )
    _release(places["fifo"])
    err = done.stderr.decode("utf-8", "replace")
    assert done.returncode in (1, 2), err[-2000:]
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if line.startswith("assistant: error: ")]
    assert len(errors) == 1, err[-2000:]
    assert len(errors[0]) < 1200


def _feed(fifo: str, data: bytes) -> None:
    try:
        with open(fifo, "wb") as pipe:
            pipe.write(data)
    except OSError:
        pass  # the reader stopped early


def _release(fifo: str) -> None:
    """Open the pipe for reading once, so a writer nobody read from can finish."""
    descriptor = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    os.close(descriptor)
