"""Faults a user can meet: the microphone goes and comes back (or not), the speech engine or the
voice fails mid-session, a broken model, a full disk, bad audio files. Each gives a clear message
and either recovery or a clean exit, never a traceback.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sounddevice
import soundfile as sf
from fakes import FakeMicrophone, FlakyEngine, bundled_pack, pink_noise, pocketsphinx, silence

from assistant import cli
from assistant.audio import mic
from assistant.audio.io import load_audio
from assistant.audio.mic import AudioTurn, MicrophoneTurns
from assistant.clock import FakeClock
from assistant.demo import samples_folder
from assistant.dialogue import Dialogue
from assistant.errors import AssistantError
from assistant.match import Matcher
from assistant.session import Conversation, Exchange, WakePhrase
from assistant.tts import Speaker

ASSISTANT = Path(sys.executable).parent / "assistant"
DATA = Path(__file__).parent / "data"


def sample(name: str) -> np.ndarray:
    return load_audio(samples_folder() / name)


@pytest.fixture(scope="module")
def eye() -> np.ndarray:
    return sample("01-eye.wav")


def conversation(speaker: Speaker | None = None, engine: Any = None) -> tuple[Conversation, list[Exchange]]:
    pack = bundled_pack()
    exchanges: list[Exchange] = []
    talk = Conversation(
        Matcher(pack),
        Dialogue(pack),
        engine or pocketsphinx(),
        speaker or Speaker(play=False, print_unheard=False),
        WakePhrase(pack.dialogue.wake_phrase, "always"),
        on_exchange=exchanges.append,
    )
    return talk, exchanges


def intents(exchanges: list[Exchange]) -> list[str | None]:
    return [e.match.intent if e.match else None for e in exchanges]


@pytest.fixture()
def shared_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    """The command line opens the already started PocketSphinx engine (start-up is not under test)."""
    monkeypatch.setattr("assistant.asr.choose.open_engine", lambda *args, **kwargs: pocketsphinx())


# ----- the microphone


def test_microphone_that_comes_back_gives_a_notice_and_the_conversation_goes_on(eye: np.ndarray) -> None:
    rng = np.random.default_rng(3)
    no = sample("02-no.wav")
    first = np.concatenate([silence(0.5), eye, silence(1.0)])
    audio = np.concatenate([first, pink_noise(2.0, 200, rng), eye, silence(1.0), no, silence(1.0)])
    microphone = FakeMicrophone(audio, unplug_at=[len(first)], outage_opens=1)
    notices: list[str] = []
    turns = MicrophoneTurns(stream_factory=microphone, clock=FakeClock(), on_notice=notices.append)
    talk, exchanges = conversation()
    talk.run(turns)
    assert intents(exchanges) == ["eye_twitch", "eye_twitch", "no"]
    assert len(notices) == 2 and all("default microphone stopped" in n and "reopening" in n for n in notices)
    assert microphone.open_streams == 0


def test_microphone_gone_for_good_ends_with_one_clear_error(eye: np.ndarray) -> None:
    audio = np.concatenate([silence(0.5), eye, silence(1.0), eye])
    microphone = FakeMicrophone(audio, gone_at=len(audio) - len(eye) // 2)
    turns = MicrophoneTurns(stream_factory=microphone, clock=FakeClock(), on_notice=lambda _: None)
    talk, exchanges = conversation()
    with pytest.raises(
        AssistantError, match=r"default microphone stopped working \(.*Device unavailable.*\); check it is plugged in"
    ):
        talk.run(turns)
    assert intents(exchanges)[0] == "eye_twitch"  # what was said before it went is answered
    assert microphone.open_streams == 0


def test_listen_without_a_microphone_exits_1_with_a_message(
    shared_engine: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sounddevice, "RawInputStream", FakeMicrophone(silence(1.0), gone_at=0))
    monkeypatch.setattr(mic, "SystemClock", FakeClock)  # no real waiting between reopen attempts
    status = cli.main(["listen", "--mode", "always", "--no-speakers", "--asr", "pocketsphinx"])
    err = capsys.readouterr().err
    assert status == 1
    assert err.splitlines()[-1].startswith("assistant: error: default microphone stopped working")
    assert "Traceback" not in err


# ----- the speech engine and the voice


def test_speech_engine_failing_once_is_reported_and_the_session_goes_on(
    eye: np.ndarray, capsys: pytest.CaptureFixture[str]
) -> None:
    engine = FlakyEngine(pocketsphinx(), fail_on={1})
    talk, exchanges = conversation(engine=engine)
    talk.run([AudioTurn("mic", (eye,)), AudioTurn("mic", (eye,))])
    err = capsys.readouterr().err
    assert err.count("speech engine failed (RuntimeError: decoder crashed") == 1
    assert "please say that again" in err and "Traceback" not in err
    assert exchanges[0].ignored is not None and exchanges[0].ignored.startswith("speech engine failed")
    assert intents(exchanges) == [None, "eye_twitch"]


def test_voice_failing_prints_the_reply_and_the_session_goes_on(
    eye: np.ndarray, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    speaker = Speaker(voice="espeak", play=False, print_unheard=True)
    calls = {"n": 0}
    engine = speaker.voice.engine  # type: ignore[union-attr]
    real_run = engine.runAndWait

    def fails_first_time() -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("espeak-ng crashed")
        real_run()

    monkeypatch.setattr(engine, "runAndWait", fails_first_time)
    talk, exchanges = conversation(speaker=speaker)
    # One run per turn: each ends when its reply has been said, so the second turn cannot cut off the first
    # reply (barge-in) before the voice has tried it, which on a loaded machine it did.
    talk.run([AudioTurn("mic", (eye,))])
    talk.run([AudioTurn("mic", (sample("02-no.wav"),))])
    out, err = capsys.readouterr()
    assert intents(exchanges) == ["eye_twitch", "no"]
    assert "An eyelid twitch is one of the most common twitches." in out  # printed, not lost
    assert calls["n"] > 1  # the failure happened, and later replies were synthesised again
    assert "Traceback" not in err


# ----- models


def _run(*argv: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(ASSISTANT), *argv], capture_output=True, text=True, timeout=300, cwd=cwd)


def test_half_downloaded_vosk_model_is_a_clear_error(tmp_path: Path) -> None:
    model = tmp_path / "vosk-model-small-en-us-0.15"
    (model / "am").mkdir(parents=True)
    (model / "am" / "final.mdl").write_bytes(os.urandom(2048))  # the rest never arrived
    done = _run("ask", "--audio", str(samples_folder() / "01-eye.wav"), "--asr", "vosk", "--vosk-model", str(model))
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1] == (
        f"assistant: error: {model}: cannot load the Vosk model (Failed to create a model); "
        "is it a complete, unzipped model?"
    )
    assert "Traceback" not in done.stderr and done.stdout == ""
    missing = _run(
        "ask", "--audio", str(samples_folder() / "01-eye.wav"), "--asr", "vosk", "--vosk-model", str(tmp_path / "nope")
    )
    assert (
        missing.returncode == 2
        and missing.stderr.strip() == f"assistant: error: {tmp_path / 'nope'}: no such Vosk model folder"
    )


def test_models_verify_reports_a_half_download(tmp_path: Path) -> None:
    model = tmp_path / "vosk-model-small-en-us-0.15"
    (model / "am").mkdir(parents=True)
    (model / "am" / "final.mdl").write_bytes(b"x" * 100)
    (model / ".download.json").write_text(
        json.dumps({"sha256": "ab" * 32, "files": {"am/final.mdl": 1000, "conf/model.conf": 10}})
    )
    (tmp_path / "vosk-model-en-us-0.22.zip.part").write_bytes(b"PK")
    done = _run("models", "verify", "--models-dir", str(tmp_path))
    assert done.returncode == 1
    assert "am/final.mdl has 100 bytes, expected 1000" in done.stdout
    assert "vosk-model-en-us-0.22.zip.part" in done.stdout and "unfinished download" in done.stdout
    assert "Traceback" not in done.stderr


# ----- a full disk


@pytest.fixture()
def tiny_disk(tmp_path: Path) -> Any:
    """A 64 KiB tmpfs (root only): a real ENOSPC, not a simulated one."""
    folder = tmp_path / "tiny"
    folder.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root")
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(folder)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


def test_full_disk_under_wav_out_is_a_clear_message_and_a_clean_exit(
    tiny_disk: Path, shared_engine: None, capsys: pytest.CaptureFixture[str]
) -> None:
    eye = str(samples_folder() / "01-eye.wav")
    status = cli.main(["listen", "--input", eye, "--no-speakers", "--asr", "pocketsphinx", "--wav-out", str(tiny_disk)])
    err = capsys.readouterr().err
    assert status == 1
    assert err.splitlines()[-1].startswith(f"assistant: error: cannot write spoken reply to {tiny_disk}/")
    assert err.splitlines()[-1].endswith(": disk full")
    assert "Traceback" not in err
    assert all(sf.info(str(p)).frames > 0 for p in tiny_disk.iterdir())  # no half-written reply left


# ----- bad audio files


def _wav_bytes(tmp_path: Path) -> bytes:
    return (samples_folder() / "01-eye.wav").read_bytes()


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("missing", "no such audio file"),
        ("empty", "empty file, no audio in it"),
        ("header-only", "holds no audio (only a header)"),
        ("not-audio", "not an audio file this program can read"),
        ("cut-in-header", "not an audio file this program can read"),
    ],
)
def test_bad_audio_file_is_one_line_and_a_non_zero_exit(
    kind: str, message: str, tmp_path: Path, shared_engine: None, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / f"{kind}.wav"
    whole = _wav_bytes(tmp_path)
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "header-only":
        path.write_bytes(whole[:44])
    elif kind == "not-audio":
        path.write_text("why is my eye twitching\n" * 50)
    elif kind == "cut-in-header":
        path.write_bytes(whole[:20])
    status = cli.main(["ask", "--asr", "pocketsphinx", "--audio", str(path)])
    out, err = capsys.readouterr()
    assert status == 2 and out == ""
    assert err.splitlines()[-1].startswith(f"assistant: error: {path}: {message}")
    assert "Traceback" not in err


def test_truncated_but_decodable_file_is_recognised_as_far_as_it_goes(
    tmp_path: Path, shared_engine: None, capsys: pytest.CaptureFixture[str]
) -> None:
    whole = _wav_bytes(tmp_path)
    path = tmp_path / "cut.wav"
    path.write_bytes(whole[: int(len(whole) * 0.6)])  # the header still promises the whole recording
    status = cli.main(["ask", "--json", "--asr", "pocketsphinx", "--audio", str(path)])
    out, err = capsys.readouterr()
    assert status == 0 and "Traceback" not in err
    heard = json.loads(out)["transcript"].split()
    assert heard and heard[0] == "why" and "twitching" not in heard


def test_bad_audio_file_through_the_real_command_has_no_traceback(tmp_path: Path) -> None:
    path = tmp_path / "notes.wav"
    path.write_text("not audio")
    done = _run("ask", "--asr", "pocketsphinx", "--audio", str(path))
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.splitlines()[-1].startswith(f"assistant: error: {path}: not an audio file")
    assert "Traceback" not in done.stderr


def test_an_unreadable_file_in_a_listen_session_is_reported_and_the_next_is_heard(
    tmp_path: Path, shared_engine: None, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "notes.wav"
    bad.write_text("not audio")
    eye = str(samples_folder() / "01-eye.wav")
    status = cli.main(["listen", "--input", str(bad), eye, "--no-speakers", "--voice", "espeak"])
    out, err = capsys.readouterr()
    assert status == 2  # something given was not heard: said at the end, after every file
    assert f"assistant: error: {bad}: not an audio file" in err and "going on with the next file" in err
    assert "you (01-eye.wav)" in out and "eye_twitch" in out


# ----- full disks and files that end mid-line


def test_full_disk_under_the_session_log_is_one_message(
    shared_engine: None, capsys: pytest.CaptureFixture[str]
) -> None:
    eye = str(samples_folder() / "01-eye.wav")
    status = cli.main(["listen", "--input", eye, "--no-speakers", "--voice", "espeak", "--log", "/dev/full"])
    err = capsys.readouterr().err
    assert status == 1 and "Traceback" not in err
    assert err.splitlines()[-1] == (
        "assistant: error: /dev/full: cannot write the session log: disk full (the lines written before are kept)"
    )


def test_full_disk_under_eval_results_is_one_message(capsys: pytest.CaptureFixture[str]) -> None:
    status = cli.main(["eval", "--manifest", str(DATA / "phrasings.jsonl"), "--out", "/dev/full"])
    err = capsys.readouterr().err
    assert status == 1
    assert err == "assistant: error: /dev/full: cannot write results: disk full (the lines written before are kept)\n"


def test_results_on_a_disk_that_fills_keep_every_whole_line(
    tiny_disk: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = tmp_path / "items.jsonl"
    manifest.write_text((DATA / "phrasings.jsonl").read_text() * 4)  # more results than 64 KiB hold
    results = tiny_disk / "results.jsonl"
    status = cli.main(["eval", "--manifest", str(manifest), "--out", str(results)])
    assert status == 1 and "disk full" in capsys.readouterr().err
    text = results.read_text()
    assert text.endswith("\n") and len(text.splitlines()) > 10
    assert all(json.loads(line)["intent"] for line in text.splitlines())  # every line kept is whole


def test_wav_out_given_a_file_says_it_needs_a_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "replies").write_text("")
    assert cli.main(["demo", "--no-speakers", "--asr", "pocketsphinx", "--wav-out", str(tmp_path / "replies")]) == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"assistant: error: {tmp_path / 'replies'}: --wav-out needs a folder, and this is a file"
    )


# ----- eval manifests and typed turns


def test_eval_of_only_bad_lines_names_them_and_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = tmp_path / "items.jsonl"
    manifest.write_text('{"text": "calf"}\n\nnot json\n')
    assert cli.main(["eval", "--manifest", str(manifest)]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"assistant: {manifest}:1: bad manifest line: \"missing 'intent' (use null for out-of-domain items)\"",
        f"assistant: {manifest}:3: bad manifest line: Expecting value: line 1 column 1 (char 0)",
        f"assistant: error: {manifest}: no item could be scored; its 2 bad line(s) are listed above",
    ]


def test_chat_refuses_an_over_long_line_as_ask_does_and_goes_on(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = "why is my eye twitching " * 500 + "\nwhy is my eye twitching\n"  # 12,000 characters, then a question
    monkeypatch.setattr(sys, "stdin", io.StringIO(lines))
    assert cli.main(["chat", "--json"]) == 0
    out, err = capsys.readouterr()
    assert err == "assistant: line 1: the question is longer than 10,000 characters, the limit; skipped\n"
    (record,) = [json.loads(line) for line in out.splitlines()][:1]
    assert record["transcript"] == "why is my eye twitching" and record["intent"] == "eye_twitch"
    assert cli.main(["ask", lines.split("\n")[0]]) == 2
    assert "the limit is 10,000" in capsys.readouterr().err
