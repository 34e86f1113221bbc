"""The ``assistant`` command line: wires the stages together and prints; no behaviour of its own."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from . import __version__
from .errors import AssistantError, BadInput
from .pack import Pack, load_pack, read_pack

if TYPE_CHECKING:
    from .lines import LineFile
    from .match import Matcher

MAX_QUESTION_CHARS = 10_000
"""Typed questions longer than this are refused: no one says that much in one turn."""

MAX_LINE_CHARS = 1_000_000
"""``chat`` stops at a line this long: past it, what arrives is not typed text."""


def _matcher(args: argparse.Namespace) -> Matcher:
    """The matcher of ``--intents`` (or the bundled pack), kept compiled between runs; its pack is ``.pack``."""
    from .compiled import load_matcher

    return load_matcher(Path(args.intents) if args.intents else None, region=_region(args))


def _region(args: argparse.Namespace) -> str | None:
    """``--region``, else ``ASSISTANT_REGION``, else None (the pack's first region)."""
    return getattr(args, "region", None) or os.environ.get("ASSISTANT_REGION") or None


def _question(text: str) -> str:
    if not text.strip():
        raise BadInput("the question is empty: say or type what you want to know, e.g. 'why is my eye twitching'")
    if len(text) > MAX_QUESTION_CHARS:
        raise BadInput(f"the question is {len(text):,} characters long; the limit is {MAX_QUESTION_CHARS:,}")
    return text


def cmd_ask(args: argparse.Namespace) -> int:
    """Answer one typed (or spoken, with --audio) question."""
    from .dialogue import Dialogue

    matcher = _matcher(args)
    pack = matcher.pack
    transcript = None
    if args.audio:
        turn = _file_turn(Path(args.audio), False, args.max_turn)  # a bad file is said before start-up
        engine = _engine(args, pack, announce=not args.json)
        if _denoise(args, engine):
            turn = _file_turn(Path(args.audio), True, args.max_turn)
        transcript = engine.transcribe(turn.chunks)
        text = transcript.text
    else:
        text = _question(" ".join(args.text))
    match = matcher.match_heard(text, transcript) if transcript is not None else matcher.match(text)
    turn = Dialogue(pack).handle(match)
    behaviour = pack.behaviours.get(match.intent or "")
    answer = behaviour.answer.say if behaviour and behaviour.answer else " ".join(turn.say)
    follow_up = None
    if behaviour and behaviour.follow_up:
        follow_up = behaviour.follow_up.ask
    elif turn.expects in ("yes_no", "muscle") and turn.say:
        follow_up = turn.say[-1]  # the question the assistant now waits on
    if args.json:
        record: dict[str, Any] = {
            "text": text,
            "intent": match.intent,
            "slots": match.slots,
            "confidence": round(match.confidence, 4),
            "answer": answer,
            "follow_up": follow_up,
            "sources": [_source_name(pack, source) for source in turn.sources],
        }
        if transcript is not None:
            record.update(
                {"transcript": transcript.text, "asr": transcript.engine, "latency_ms": transcript.latency_ms}
            )
        print(json.dumps(record))
    else:
        if transcript is not None:
            print(f"heard: {transcript.text or '(nothing)'}", file=sys.stderr)
        print(" ".join(turn.say))
    return 0


def _results_file(path: Path) -> LineFile:
    from .lines import LineFile

    return LineFile(path, "results")


def _source_name(pack: Pack, source_id: str) -> str:
    source = pack.sources.get(source_id)
    if source is None:
        return source_id
    return f"{source.title} ({source.url})" if source.url else source.title


def cmd_eval(args: argparse.Namespace) -> int:
    """Score a manifest of typed or spoken items."""
    from .evaluate import evaluate, format_slot_errors

    matcher = _matcher(args)
    pack = matcher.pack
    engines: list[Any] = []

    def transcribe(path: Path) -> Any:
        # The speech engine starts only if the manifest holds audio items.
        if not engines:
            engines.append(_engine(args, pack, announce=not args.json))
        return _transcribe_file(engines[0], path, _denoise(args, engines[0]), args.max_turn)

    with contextlib.ExitStack() as stack:
        out_handle = stack.enter_context(_results_file(Path(args.out))) if args.out else None
        summary = evaluate(Path(args.manifest), matcher, out_handle, transcribe)
        if not summary["n"]:
            bad = f"its {summary['errors']} bad line(s) are listed above" if summary["errors"] else "it holds none"
            raise BadInput(f"{args.manifest}: no item could be scored; {bad}")
    if args.json:
        print(json.dumps(summary))
    else:
        for key, value in summary.items():
            if key != "slot_errors":
                print(f"{key:24} {value}")
        if summary["slot_errors"]:
            print("slot errors")
            print("\n".join(format_slot_errors(summary["slot_errors"])))
    return 0


def cmd_import_rhino(args: argparse.Namespace) -> int:
    """Convert a Picovoice Rhino context YAML into a pack file."""
    from .match import Matcher
    from .pack import pack_from_dict, read_yaml
    from .rhino import rhino_to_pack_dict, write_pack

    data = rhino_to_pack_dict(read_yaml(Path(args.context)), args.context)
    matcher = Matcher(pack_from_dict(data, args.context))  # checks the templates before writing them
    write_pack(data, Path(args.out))
    print(f"{args.out}: {len(data['intents'])} intents, {matcher.template_count} templates", file=sys.stderr)
    return 0


def cmd_check_intents(args: argparse.Namespace) -> int:
    """Validate a pack and print every problem found."""
    from .checks import check_pack
    from .match import Matcher

    path = Path(args.path) if args.path else (Path(args.intents) if args.intents else None)
    pack = read_pack(path)  # blanks left in: the check says where one is not filled
    Matcher(pack)  # compiling finds unknown lists and rules
    problems = check_pack(pack, str(path or "bundled pack"))
    for problem in problems:
        print(problem)
    intents = len(pack.behaviours)
    if problems:
        print(f"{len(problems)} problem(s) in {intents} intents", file=sys.stderr)
        return 1
    print(
        f"ok: {intents} intents, {len(pack.triage)} interviews, {len(pack.routines)} routines, "
        f"{len(pack.regions)} regions",
        file=sys.stderr,
    )
    return 0


def cmd_chat(args: argparse.Namespace) -> int:
    """Typed conversation: one turn per line on stdin."""
    from .dialogue import Dialogue

    matcher = _matcher(args)
    matcher.prepare()
    pack = matcher.pack
    dialogue = Dialogue(pack)
    interactive = sys.stdin.isatty() and not args.json
    if interactive:
        print("Type a question (Ctrl-D to quit).", file=sys.stderr)
    for text in _typed_lines(sys.stdin):
        match = matcher.match(text, dialogue.context())
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


def _typed_lines(stream: TextIO) -> Iterator[str]:
    """The non-empty lines of ``stream``, stripped; a line over ``MAX_QUESTION_CHARS`` is refused with one
    line on stderr and the conversation goes on. Memory stays bounded whatever arrives."""
    number = 0
    try:
        while line := stream.readline(MAX_QUESTION_CHARS + 2):
            number += 1
            if len(line) > MAX_QUESTION_CHARS + 1 or (len(line) > MAX_QUESTION_CHARS and not line.endswith("\n")):
                skipped = len(line)
                while not line.endswith("\n") and (line := stream.readline(1 << 16)):
                    skipped += len(line)
                    if skipped > MAX_LINE_CHARS:
                        raise BadInput(f"stdin line {number} runs past {MAX_LINE_CHARS:,} characters: is this text?")
                print(
                    f"assistant: line {number}: the question is longer than {MAX_QUESTION_CHARS:,} characters, "
                    "the limit; skipped",
                    file=sys.stderr,
                    flush=True,
                )
                continue
            if text := line.strip():
                if not text.isascii() and any("\ud800" <= c <= "\udfff" for c in text):
                    # bytes that are not UTF-8 arrive as lone surrogates where stdin escapes them
                    raise BadInput(f"stdin line {number} is not UTF-8 text")
                yield text
    except UnicodeDecodeError:
        raise BadInput(f"stdin line {number + 1} is not UTF-8 text") from None


def _engine(args: argparse.Namespace, pack: Pack, announce: bool = True) -> Any:
    """The speech engine the options ask for, said once on stderr."""
    from .asr.choose import engine_notice, open_engine

    engine = open_engine(
        args.asr,
        pack,
        Path(args.vosk_model) if args.vosk_model else None,
        Path(args.whisper_model) if args.whisper_model else None,
        notice=lambda line: print(line, file=sys.stderr),
    )
    if announce:
        print(engine_notice(engine), file=sys.stderr)
    return engine


def _turn_seconds(text: str) -> float:
    """--max-turn's value: seconds between 1 and 300."""
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 1.0 <= seconds <= 300.0:
        raise argparse.ArgumentTypeError("a turn may last from 1 to 300 seconds")
    return seconds


def _words_per_minute(text: str) -> int:
    """--rate's value, checked before any model loads (``tts.check_rate``)."""
    from .tts import check_rate

    try:
        return check_rate(int(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number of words per minute: {text!r}") from None
    except BadInput as error:
        raise argparse.ArgumentTypeError(error.message) from None


def _denoise(args: argparse.Namespace, engine: Any) -> bool:
    """Whether noise is taken out before ``engine`` hears: unless --no-denoise, for engines it helps."""
    return not args.no_denoise and bool(getattr(engine, "noise_suppression", True))


def _transcribe_file(engine: Any, path: Path, denoise: bool = True, max_turn_s: float | None = None) -> Any:
    """One file, one spoken turn (noise taken out, silence skipped, so a long silent file is quick)."""
    return engine.transcribe(_file_turn(path, denoise, max_turn_s).chunks)


def _file_turn(path: Path, denoise: bool = True, max_turn_s: float | None = None) -> Any:
    """One file as one spoken turn, opened (an unreadable file raises ``BadInput`` here)."""
    from .audio.io import MAX_TURN_S
    from .audio.mic import FileTurns

    return next(iter(FileTurns([path], denoise=denoise, max_turn_s=max_turn_s or MAX_TURN_S)))


def _file_turns(args: argparse.Namespace, paths: list[Path], engine: Any, **options: Any) -> Any:
    """Recordings as spoken turns, each cut at --max-turn seconds, cleaned for engines RNNoise helps."""
    from .audio.io import MAX_TURN_S
    from .audio.mic import FileTurns

    return FileTurns(paths, denoise=_denoise(args, engine), max_turn_s=args.max_turn or MAX_TURN_S, **options)


def _wav_out(args: argparse.Namespace) -> Path | None:
    """--wav-out's folder; BadInput when it names a file."""
    if args.wav_out and Path(args.wav_out).exists() and not Path(args.wav_out).is_dir():
        raise BadInput(f"{args.wav_out}: --wav-out needs a folder, and this is a file")
    return Path(args.wav_out) if args.wav_out else None


def _speaker(args: argparse.Namespace, wav_out: Path | None, play: bool) -> Any:
    """The voice the options ask for (not yet said: the caller says it after the engine); ``play`` False
    for a speaker that does not play (``--no-speakers``, or one that only makes replies)."""
    from .cache import user_cache
    from .tts import LOUD_LUFS, TARGET_LUFS, Speaker

    return Speaker(
        voice=args.voice,
        rate=args.rate,
        wav_out=wav_out,
        play=play,
        device=args.output_device if play else None,
        loudness_lufs=LOUD_LUFS if args.loud else TARGET_LUFS,
        cache=user_cache("voice"),
        print_unheard=False,
    )


def _print_reply(turn: Any) -> None:
    for sentence in turn.say:
        print(f"  coach: {sentence}", flush=True)


def _print_exchange(exchange: Any) -> None:
    heard = exchange.transcript.text or "(nothing)"
    line = f'you ({Path(exchange.source).name}): "{heard}"'
    if exchange.ignored:
        line += f"  [ignored: {exchange.ignored}]"
    elif exchange.match is not None:
        intent = exchange.match.intent or "not understood"
        slots = " ".join(f"{k}={v}" for k, v in exchange.match.slots.items())
        line += f"  -> {intent} {slots}".rstrip() + f" ({exchange.match.confidence:.2f})"
    if exchange.response_ms is not None:
        line += f"  [{exchange.response_ms:.0f} ms]"
    print(line, flush=True)


def _engine_and_voice(args: argparse.Namespace, pack: Any, wav_out: Path | None) -> tuple[Any, Any]:
    """The speech engine and the voice, each said once (the engine first), with the pack's replies being
    made ahead in the background and the voice closed when the command ends."""
    # The voice opens while the engine loads (both mostly in native code, on the two cores): start-up is the
    # longer of the two rather than their sum. A Piper model itself loads only when a reply is not kept.
    with ThreadPoolExecutor(1, thread_name_prefix="voice-load") as pool:
        voice = pool.submit(_speaker, args, wav_out, not args.no_speakers)
        engine = _engine(args, pack)
        speaker = voice.result()
    print(speaker.describe(), file=sys.stderr)
    if pack.region is not None:
        print(_region_notice(pack), file=sys.stderr)
    # Closed when the command ends: replies still being made ahead in the background stop with it (a voice's
    # native code still running in its thread when Python exits aborts the process).
    args.closing.callback(speaker.close)
    _make_ahead(speaker, pack)
    return engine, speaker


def _region_notice(pack: Pack) -> str:
    """The line said at start about the emergency numbers, and how to choose others."""
    default, *others = pack.regions
    name = pack.regions[pack.region or default].name
    if pack.region == default and others:
        return f"Emergency numbers for {name}; --region {'|'.join(others)} names one place's."
    return f"Emergency numbers for {name} (--region to change)."


def _conversation(args: argparse.Namespace, matcher: Matcher, clock: Any = None) -> Any:
    from .dialogue import Dialogue
    from .session import Conversation, SessionLog, WakePhrase

    pack = matcher.pack
    engine, speaker = _engine_and_voice(args, pack, _wav_out(args))
    mode = "always" if getattr(args, "input", None) else args.mode
    return Conversation(
        matcher,
        Dialogue(pack, clock),
        engine,
        speaker,
        WakePhrase(args.wake_phrase or pack.dialogue.wake_phrase, mode),
        on_exchange=_print_exchange,
        on_reply=_print_reply,
        log=SessionLog(Path(args.log)) if args.log else None,
    )


def cmd_listen(args: argparse.Namespace) -> int:
    """Microphone loop (or files as turns); Ctrl-C ends it."""
    from .audio.mic import MicrophoneTurns
    from .audio.vad import live_endpointer

    conversation = _conversation(args, _matcher(args))
    if args.input:
        unreadable: list[BadInput] = []

        def skip(error: BadInput) -> None:
            unreadable.append(error)
            print(f"assistant: error: {error.message}; going on with the next file", file=sys.stderr, flush=True)

        conversation.run(_file_turns(args, args.input, conversation.engine, on_unreadable=skip))
        return 2 if unreadable else 0
    device: Any = int(args.device) if args.device and args.device.isdigit() else args.device
    endpointer = live_endpointer(max_turn_s=args.max_turn) if args.max_turn else None
    echo = _echo_canceller(args.echo_cancel, conversation.speaker)
    microphone = MicrophoneTurns(device, endpointer=endpointer, denoise=_denoise(args, conversation.engine), echo=echo)
    turns: Any = _push_to_talk(microphone) if args.mode == "push" else microphone
    wake = f'say "{conversation.wake.phrase}" first' if args.mode == "wake" else "just talk"
    print(f"Listening ({wake}); Ctrl-C to quit.", file=sys.stderr)
    try:
        conversation.run(turns, endpointer=microphone.endpointer)
    except KeyboardInterrupt:
        print("Bye.", file=sys.stderr)
    return 0


def _echo_canceller(choice: str, speaker: Any) -> Any:
    """The echo canceller ``--echo-cancel`` asks for, fed what ``speaker`` plays, or None; said once either way
    (missing libraries are a line, not an error: the assistant still listens)."""
    from .audio.echo import EchoCanceller, EchoUnavailable

    if choice == "off":
        reason = "--echo-cancel off"
    elif not speaker.plays:
        reason = "replies are not played through speakers"
    else:
        try:
            echo = EchoCanceller()
        except EchoUnavailable as error:
            reason = f"{error}; pip install livekit pyaec"
        else:
            speaker.on_played = echo.played
            print("echo cancellation: on (WebRTC AEC3 + Speex)", file=sys.stderr)
            return echo
    print(f"echo cancellation: off ({reason})", file=sys.stderr)
    return None


def _push_to_talk(microphone: Any) -> Any:
    """Yield one spoken turn each time Enter is pressed (what was said before the key press is dropped)."""
    iterator = iter(microphone)
    while True:
        try:
            input("Press Enter, then speak... ")
        except EOFError:
            return
        microphone.listen_from_now()
        turn = next(iterator, None)
        if turn is None:
            return
        yield turn


def cmd_demo(args: argparse.Namespace) -> int:
    """Play the scripted session through the whole pipeline."""
    from .clock import FakeClock
    from .demo import read_script, samples_folder

    matcher = _matcher(args)
    script = read_script((Path(args.samples) if args.samples else samples_folder()) / "demo_turns.txt")
    clock = FakeClock()
    conversation = _conversation(args, matcher, clock)
    conversation.matcher.prepare()
    conversation.wake.mode = "always"
    for turn in script:
        print(f'\n# {turn.name}: the user says "{turn.text}"', flush=True)
        conversation.hear(next(iter(_file_turns(args, [turn.audio], conversation.engine))))
        if turn.wait_s:
            print(f"  ({turn.wait_s:g} seconds pass)", flush=True)
            for due in conversation.dialogue.advance(turn.wait_s):
                conversation.speak(due)
    if args.wav_out:
        print(f"\nSpoken replies written to {args.wav_out}", file=sys.stderr)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    """Serve speech in, speech out and the conversation to Wyoming clients (Home Assistant) until Ctrl-C."""
    import asyncio
    import logging

    from .audio.io import MAX_TURN_S
    from .wyoming_service import AssistantService, open_server, serve

    server = open_server(args.uri)  # a bad --uri is said before anything loads
    matcher = _matcher(args)
    engine, speaker = _engine_and_voice(args, matcher.pack, None)
    matcher.prepare()
    service = AssistantService(
        matcher,
        engine,
        speaker,
        pack_name=Path(args.intents).name if args.intents else "bundled",
        denoise=_denoise(args, engine),
        max_turn_s=args.max_turn or MAX_TURN_S,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("assistant: %(message)s"))
    logger = logging.getLogger("assistant")
    args.closing.callback(setattr, logger, "propagate", logger.propagate)
    args.closing.callback(logger.setLevel, logger.level)
    args.closing.callback(logger.removeHandler, handler)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False  # a library that configures the root logger would print every line twice
    try:
        asyncio.run(serve(server, service, args.uri))
    except KeyboardInterrupt:
        print("Stopped.", file=sys.stderr)
    return 0


def cmd_devices(args: argparse.Namespace) -> int:
    """List microphones."""
    from .audio.mic import list_devices

    devices = list_devices()
    if not devices:
        print("No microphone found. Use `assistant listen --input FILE...` to talk with recordings.", file=sys.stderr)
        return 1
    for device in devices:
        mark = "*" if device.is_default else " "
        print(f"{mark} {device.index:3}  {device.name}  ({device.channels} ch, {device.default_rate:.0f} Hz)")
    return 0


def cmd_voices(args: argparse.Namespace) -> int:
    """List the voices ``--voice`` can pick (the default first); with ``--prepare``, make every reply of the
    pack ahead in the chosen voice and loudness and keep it on disk, waiting until it is done."""
    from .tts import DEFAULT_VOICE, installed_voices

    if args.prepare:
        return _prepare_replies(args)
    voices = installed_voices()
    default = next((v for v in voices if v.engine == "piper"), None) or next(
        (v for v in voices if v.language == DEFAULT_VOICE), None
    )
    for voice in voices:
        mark = "*" if voice == default else " "
        print(f"{mark} {voice.id:24} {voice.engine:8} {voice.language:8} {voice.name}")
    return 0


def _prepare_replies(args: argparse.Namespace) -> int:
    """Every reply of the pack made and kept, so that a first session neither loads the voice's model nor
    shares the CPU with making replies (what ``listen`` and ``demo`` otherwise do in the background)."""
    from .replies import pack_replies

    pack = load_pack(Path(args.intents) if args.intents else None, _region(args))
    started = time.perf_counter()
    speaker = _speaker(args, None, play=False)
    args.closing.callback(speaker.close)
    _make_ahead(speaker, pack).join()
    print(
        f"{speaker.describe()}: {len(pack_replies(pack))} replies kept in {speaker.cache} "
        f"({time.perf_counter() - started:.1f} s)",
        file=sys.stderr,
    )
    return 0


def _make_ahead(speaker: Any, pack: Pack) -> Any:
    """The pack's emergency advice and fixed replies being made ahead in the background (the thread)."""
    from .replies import pack_replies

    return speaker.prepare(pack.emergency_advice(), [reply.text for reply in pack_replies(pack)])


def cmd_models(args: argparse.Namespace) -> int:
    """List, download or verify Vosk models."""
    from . import models

    dest = Path(args.models_dir) if args.models_dir else None
    if args.action == "list":
        for status in models.list_models(dest):
            print(models.describe(status))
        return 0
    if args.action == "download":
        if not args.name:
            raise BadInput("say which model: assistant models download NAME (see `assistant models list`)")
        path = models.download_model(args.name, dest)
        print(f"installed {path}")
        return 0
    checks = models.verify_models(dest)
    if not checks:
        print(f"no models in {dest or models.models_dir()}", file=sys.stderr)
        return 1
    for check in checks:
        print(models.describe_check(check))
    return 0 if all(check.ok for check in checks) else 1


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--intents", metavar="PATH", help="intent pack (YAML file or folder) instead of the bundled one"
    )
    common.add_argument(
        "--region",
        metavar="CODE",
        help="where you are, for the emergency numbers the advice names: any (the default: all of them), "
        "us, gb, ie, eu (the pack's regions; or set ASSISTANT_REGION)",
    )
    speech = argparse.ArgumentParser(add_help=False)
    speech.add_argument(
        "--asr", choices=("auto", "whisper", "vosk", "pocketsphinx"), default="auto", help="speech engine"
    )
    speech.add_argument("--vosk-model", metavar="PATH", help="folder of an unpacked Vosk model")
    speech.add_argument("--whisper-model", metavar="PATH", help="folder of a CTranslate2 Whisper model")
    speech.add_argument(
        "--max-turn",
        type=_turn_seconds,
        metavar="SECONDS",
        help="longest spoken turn; longer speech is cut there, with a message (default: 30 for a file, 15 live)",
    )
    speech.add_argument(
        "--no-denoise",
        action="store_true",
        help="hear the audio as it is: no RNNoise in front of PocketSphinx or Vosk (Whisper always hears it as it is)",
    )

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

    rhino = sub.add_parser("import-rhino", help="convert a Picovoice Rhino context (YAML) into an intent pack")
    rhino.add_argument("context", metavar="CONTEXT.yaml")
    rhino.add_argument("-o", "--out", required=True, metavar="PACK.yaml")
    rhino.set_defaults(func=cmd_import_rhino)

    check = sub.add_parser("check-intents", parents=[common], help="validate an intent pack")
    check.add_argument("path", nargs="?", help="pack file or folder (default: the bundled pack)")
    check.set_defaults(func=cmd_check_intents)

    chat = sub.add_parser("chat", parents=[common], help="typed conversation, one turn per line")
    chat.add_argument("--json", action="store_true", help="one JSON line per turn")
    chat.set_defaults(func=cmd_chat)

    voice = argparse.ArgumentParser(add_help=False)
    voice.add_argument(
        "--voice",
        help="voice for replies (see `assistant voices`): piper (default), piper:FILE.onnx, espeak, or a system "
        "voice such as en-us+f3",
    )
    voice.add_argument(
        "--loud", action="store_true", help="louder replies for a noisy room (-10 instead of -16 LUFS, peaks limited)"
    )
    voice.add_argument("--rate", type=_words_per_minute, help="speaking rate, words per minute")
    voice.add_argument("--wav-out", metavar="DIR", help="also write every spoken reply to a WAV file in DIR")
    voice.add_argument("--no-speakers", action="store_true", help="do not play replies (print them; see --wav-out)")
    voice.add_argument("--output-device", help="speaker device index or name")
    voice.add_argument(
        "--log", metavar="FILE", help="opt-in: keep a text-only log of the session (nothing is kept by default)"
    )
    voice.add_argument("--wake-phrase", help="wake phrase (default: the pack's, 'hey coach')")

    listen = sub.add_parser("listen", parents=[common, speech, voice], help="talk to the assistant")
    listen.add_argument("--device", help="microphone index or name (see `assistant devices`)")
    listen.add_argument(
        "--mode",
        choices=("wake", "always", "push"),
        default="wake",
        help="wake: start with the wake phrase; always: no wake phrase; push: press Enter to talk",
    )
    listen.add_argument("--input", nargs="+", metavar="FILE", help="treat each audio file as one spoken turn")
    listen.add_argument(
        "--echo-cancel",
        choices=("auto", "on", "off"),
        default="off",
        help="experimental: take the assistant's own voice out of what the microphone hears, so you can speak "
        "over a loudspeaker (auto or on: when replies are played and livekit and pyaec are installed; default off)",
    )
    listen.set_defaults(func=cmd_listen)

    demo = sub.add_parser("demo", parents=[common, speech, voice], help="play the scripted demo session")
    demo.add_argument("--samples", metavar="DIR", help="folder with demo_turns.txt and its recordings")
    demo.set_defaults(func=cmd_demo, mode="always")

    serve = sub.add_parser(
        "serve", parents=[common, speech], help="serve speech in and out and the conversation over Wyoming"
    )
    serve.add_argument(
        "--uri",
        default="tcp://127.0.0.1:10700",
        help="where to listen: tcp://HOST:PORT (tcp://0.0.0.0:10700 for other machines) or unix://PATH",
    )
    serve.add_argument("--voice", help="voice for replies (see `assistant voices`), as for listen")
    serve.add_argument("--loud", action="store_true", help="louder replies (-10 instead of -16 LUFS)")
    serve.add_argument("--rate", type=_words_per_minute, help="speaking rate, words per minute")
    serve.set_defaults(func=cmd_serve, wav_out=None, no_speakers=True, output_device=None)

    devices = sub.add_parser("devices", help="list microphones")
    devices.set_defaults(func=cmd_devices)

    voices = sub.add_parser("voices", parents=[common], help="list the voices replies can be spoken in")
    voices.add_argument(
        "--prepare",
        action="store_true",
        help="make every reply of the pack ahead, in --voice and loudness, and keep it (a first session is then "
        "as fast as later ones)",
    )
    voices.add_argument("--voice", help="voice to prepare (see the list; default: piper)")
    voices.add_argument("--loud", action="store_true", help="prepare the louder replies of --loud")
    voices.add_argument("--rate", type=_words_per_minute, help="speaking rate to prepare, words per minute")
    voices.set_defaults(func=cmd_voices)

    models_parser = sub.add_parser("models", help="list, download or verify Vosk speech models")
    models_parser.add_argument("action", choices=("list", "download", "verify"))
    models_parser.add_argument("name", nargs="?", help="model name (for download)")
    models_parser.add_argument("--models-dir", metavar="DIR", help="where models live (default: models/)")
    models_parser.set_defaults(func=cmd_models)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        with contextlib.ExitStack() as args.closing:
            return func(args)
    except AssistantError as error:
        print(f"assistant: error: {error.message}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
