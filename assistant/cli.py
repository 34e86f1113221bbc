"""The ``assistant`` command line: wires the stages together and prints; no behaviour of its own."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from . import __version__
from .errors import AssistantError, BadInput
from .pack import Pack, load_pack

MAX_QUESTION_CHARS = 10_000
"""Typed questions longer than this are refused: no one says that much in one turn."""


def _pack(args: argparse.Namespace) -> Pack:
    return load_pack(Path(args.intents) if args.intents else None)


def _question(text: str) -> str:
    if not text.strip():
        raise BadInput("the question is empty: say or type what you want to know, e.g. 'why is my eye twitching'")
    if len(text) > MAX_QUESTION_CHARS:
        raise BadInput(f"the question is {len(text):,} characters long; the limit is {MAX_QUESTION_CHARS:,}")
    return text


def cmd_ask(args: argparse.Namespace) -> int:
    """Answer one typed (or spoken, with --audio) question."""
    from .dialogue import Dialogue
    from .match import Matcher

    pack = _pack(args)
    matcher = Matcher(pack)
    transcript = None
    if args.audio:
        from .speech import open_recognizer

        recognizer = open_recognizer(args, pack, announce=not args.json)
        transcript = recognizer.transcribe_file(Path(args.audio))
        text = transcript.text
    else:
        text = _question(" ".join(args.text))
    match = matcher.match(text)
    turn = Dialogue(pack).handle(match)
    behaviour = pack.behaviours.get(match.intent or "")
    answer = behaviour.answer.say if behaviour and behaviour.answer else " ".join(turn.say)
    follow_up = None
    if behaviour and behaviour.follow_up:
        follow_up = behaviour.follow_up.ask
    elif turn.expects is not None and turn.say:
        follow_up = turn.say[-1]
    if args.json:
        record: dict[str, Any] = {
            "text": text,
            "intent": match.intent,
            "slots": match.slots,
            "confidence": round(match.confidence, 4),
            "answer": answer,
            "follow_up": follow_up,
        }
        if transcript is not None:
            record.update({"transcript": transcript.text, "asr": transcript.engine, "latency_ms": transcript.latency_ms})
        print(json.dumps(record))
    else:
        if transcript is not None:
            print(f"heard: {transcript.text or '(nothing)'}", file=sys.stderr)
        print(" ".join(turn.say))
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    """Score a manifest of typed or spoken items."""
    from .evaluate import evaluate
    from .match import Matcher

    pack = _pack(args)
    recognizers: list[Any] = []

    def transcribe(path: Path) -> Any:
        # The speech engine starts only if the manifest holds audio items.
        if not recognizers:
            from .speech import open_recognizer

            recognizers.append(open_recognizer(args, pack, announce=not args.json))
        return recognizers[0].transcribe_file(path)

    out_handle = None
    if args.out:
        try:
            out_handle = open(args.out, "w", encoding="utf-8")
        except OSError as error:
            raise BadInput(f"{args.out}: cannot write results: {error.strerror}") from None
    try:
        summary = evaluate(Path(args.manifest), Matcher(pack), out_handle, transcribe)
    finally:
        if out_handle is not None:
            out_handle.close()
    if args.json:
        print(json.dumps(summary))
    else:
        for key, value in summary.items():
            print(f"{key:24} {value}")
    return 0


def cmd_check_intents(args: argparse.Namespace) -> int:
    """Validate a pack and print every problem found."""
    from .checks import check_pack
    from .match import Matcher

    path = Path(args.path) if args.path else (Path(args.intents) if args.intents else None)
    pack = load_pack(path)
    Matcher(pack)  # compiling finds unknown lists and rules
    problems = check_pack(pack, str(path or "bundled pack"))
    for problem in problems:
        print(problem)
    intents = len(pack.behaviours)
    if problems:
        print(f"{len(problems)} problem(s) in {intents} intents", file=sys.stderr)
        return 1
    print(f"ok: {intents} intents, {len(pack.triage)} interviews, {len(pack.routines)} routines", file=sys.stderr)
    return 0


def cmd_chat(args: argparse.Namespace) -> int:
    """Typed conversation: one turn per line on stdin."""
    from .dialogue import Dialogue
    from .match import Matcher

    pack = _pack(args)
    matcher = Matcher(pack)
    dialogue = Dialogue(pack)
    interactive = sys.stdin.isatty() and not args.json
    if interactive:
        print("Type a question (Ctrl-D to quit).", file=sys.stderr)
    for line in sys.stdin:
        text = line.strip()
        if not text:
            continue
        match = matcher.match(text[:MAX_QUESTION_CHARS], dialogue.context())
        turns = [dialogue.handle(match), *dialogue.poll()]
        for turn in turns:
            if args.json:
                print(
                    json.dumps(
                        {
                            "transcript": text,
                            "intent": turn.intent,
                            "slots": turn.slots,
                            "state": turn.state,
                            "say": list(turn.say),
                            "expects": turn.expects,
                        }
                    ),
                    flush=True,
                )
            else:
                print(" ".join(turn.say), flush=True)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--intents", metavar="PATH", help="intent pack (YAML file or folder) instead of the bundled one")
    speech = argparse.ArgumentParser(add_help=False)
    speech.add_argument("--asr", choices=("auto", "vosk", "pocketsphinx"), default="auto", help="speech engine")
    speech.add_argument("--vosk-model", metavar="PATH", help="folder of an unpacked Vosk model")

    parser = argparse.ArgumentParser(
        prog="assistant",
        description="Offline voice assistant for muscle twitches, spasms, cramps and guided stretches.",
    )
    parser.add_argument("--version", action="version", version=f"assistant {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    ask = sub.add_parser("ask", parents=[common, speech], help="answer one question")
    ask.add_argument("text", nargs="*", help="the question")
    ask.add_argument("--audio", metavar="FILE", help="a spoken question (WAV, FLAC, OGG)")
    ask.add_argument("--json", action="store_true", help="print one JSON object")
    ask.set_defaults(func=cmd_ask)

    ev = sub.add_parser("eval", parents=[common, speech], help="score a manifest of typed or spoken items")
    ev.add_argument("--manifest", required=True, metavar="FILE.jsonl")
    ev.add_argument("--out", metavar="RESULTS.jsonl", help="write one result line per item")
    ev.add_argument("--json", action="store_true", help="print the summary as JSON")
    ev.set_defaults(func=cmd_eval)

    check = sub.add_parser("check-intents", parents=[common], help="validate an intent pack")
    check.add_argument("path", nargs="?", help="pack file or folder (default: the bundled pack)")
    check.set_defaults(func=cmd_check_intents)

    chat = sub.add_parser("chat", parents=[common], help="typed conversation, one turn per line")
    chat.add_argument("--json", action="store_true", help="one JSON line per turn")
    chat.set_defaults(func=cmd_chat)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except AssistantError as error:
        print(f"assistant: error: {error.message}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
