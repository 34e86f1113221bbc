"""Replies made ahead and kept on disk: said from the cache without the voice, a damaged entry made again,
and closing never waits for (or crashes on) the synthesis going on in the background."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from fakes import FakeOutputStream, voice_calls

from assistant.cache import MANIFEST
from assistant.messages import Utterance
from assistant.tts import CACHED_AUDIO, NeuralVoice, Speaker

ADVICE = "This could be an emergency. Call emergency services now."
ANSWER = "An eyelid twitch is one of the most common twitches. It usually settles on its own."


def test_replies_kept_on_disk_are_said_at_the_next_start_without_the_voice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = Speaker(output_stream=FakeOutputStream, cache=tmp_path)
    first.prepare([ADVICE], [ANSWER]).join()
    first.close()
    assert len(list(tmp_path.glob(f"*/*/{CACHED_AUDIO}"))) == 4  # two chunks each

    later = Speaker(output_stream=FakeOutputStream, cache=tmp_path)
    made = voice_calls(later, monkeypatch)
    later.prepare([ADVICE], [ANSWER]).join()
    assert later.say(Utterance(ADVICE, interruptible=False)) and later.say(ANSWER)
    assert later.last_reply is not None and later.last_reply.played_frames > 22050
    assert made == []
    assert isinstance(later.voice, NeuralVoice) and not later.voice.loaded  # its ~110 MB never taken
    assert later.say("A reply the pack does not hold.")
    assert made == ["A reply the pack does not hold."]
    assert later.voice.loaded


def test_a_damaged_cache_entry_is_not_said_and_is_made_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    speaker = Speaker(output_stream=FakeOutputStream, cache=tmp_path)
    speaker.prepare([], [ANSWER]).join()
    damaged = next(tmp_path.glob(f"*/*/{CACHED_AUDIO}"))
    damaged.write_bytes(damaged.read_bytes()[:100])

    again = Speaker(output_stream=FakeOutputStream, cache=tmp_path)
    made = voice_calls(again, monkeypatch)
    assert again.say(ANSWER)
    assert len(made) == 1  # the damaged chunk was made by the voice, the other read from disk
    again.prepare([], [ANSWER]).join()
    assert len(made) == 2  # and made again for the cache
    assert (damaged.parent / MANIFEST).is_file() and damaged.stat().st_size > 1000


def test_without_a_cache_nothing_but_emergency_advice_is_made_ahead(monkeypatch: pytest.MonkeyPatch) -> None:
    speaker = Speaker(output_stream=FakeOutputStream)
    made = voice_calls(speaker, monkeypatch)
    speaker.prepare([ADVICE], [ANSWER]).join()
    assert made == ["This could be an emergency."]


def test_closing_stops_the_replies_being_made_ahead_and_exit_is_clean(tmp_path: Path) -> None:
    # A synthesis still running in a thread when Python exits aborts the process: closing cancels it.
    script = textwrap.dedent(
        f"""
        import time
        from pathlib import Path
        from assistant.tts import Speaker
        speaker = Speaker(play=False, cache=Path({str(tmp_path)!r}))
        replies = [f"Stretch your calf against the wall for {{n}} breaths, then switch legs." for n in range(200)]
        worker = speaker.prepare([], replies)
        while not list(Path({str(tmp_path)!r}).glob("*/*/{CACHED_AUDIO}")):
            time.sleep(0.05)
        speaker.close()
        print("preparing after close:", worker.is_alive())
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "preparing after close: False" in done.stdout
    assert "terminate called" not in done.stderr
    assert len(list(tmp_path.glob(f"*/*/{CACHED_AUDIO}"))) < 200


def test_voices_prepare_keeps_every_reply_of_the_pack_so_a_first_session_makes_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from assistant.cli import main
    from assistant.pack import load_pack
    from assistant.replies import pack_replies

    pack_path = Path(__file__).parent / "fixtures" / "mini_pack.yaml"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert main(["voices", "--prepare", "--intents", str(pack_path)]) == 0
    kept = list((tmp_path / "gym-voice-assistant" / "voice").glob(f"*/*/{CACHED_AUDIO}"))
    assert kept and "replies kept in" in capsys.readouterr().err

    pack = load_pack(pack_path)
    later = Speaker(output_stream=FakeOutputStream, cache=tmp_path / "gym-voice-assistant" / "voice")
    made = voice_calls(later, monkeypatch)
    later.prepare(pack.emergency_advice(), [reply.text for reply in pack_replies(pack)]).join()
    for reply in pack_replies(pack)[:3]:
        assert later.say(reply.text)
    later.close()
    assert made == []  # every chunk was kept: the voice made nothing
