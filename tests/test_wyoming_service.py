"""`assistant serve`: the assistant over Wyoming, asked by wyoming's own client, with the real speech engine
(the default, Whisper tiny.en), the real Piper voice and the bundled pack, on a real socket."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
import soxr
from wyoming.asr import Transcribe, Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncClient, AsyncTcpClient, AsyncUnixClient
from wyoming.error import Error
from wyoming.event import Event
from wyoming.handle import Handled, NotHandled
from wyoming.info import Describe, Info
from wyoming.intent import Intent, NotRecognized, Recognize
from wyoming.tts import Synthesize

from assistant.asr.choose import open_engine
from assistant.cli import main
from assistant.compiled import load_matcher
from assistant.errors import BadInput
from assistant.normalize import normalize
from assistant.tts import Speaker, loudness_lufs
from assistant.wyoming_service import AssistantService, open_server, serve

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "assistant" / "samples"
LOGGER = "assistant.wyoming_service"


@pytest.fixture(scope="module")
def service() -> Iterator[AssistantService]:
    """The default engine and voice, loaded once as `assistant serve` loads them."""
    matcher = load_matcher(None)
    engine = open_engine("auto", matcher.pack)
    assert engine.name == "whisper", "the default engine is Whisper tiny.en, installed with the project"
    speaker = Speaker(play=False, print_unheard=False)
    yield AssistantService(matcher, engine, speaker, pack_name="bundled", denoise=False)
    speaker.close()


def test_the_service_lets_its_engine_keep_an_emergency_it_reads_short(service: AssistantService) -> None:
    """As in the app: a waiting state's short read stands when the service's matcher takes it for an emergency."""
    alarm = getattr(service.engine, "alarm", None)
    assert alarm is not None
    assert alarm(("my mate just keeled over and isn't moving",), "yes_no")
    assert not alarm(("no thanks",), "yes_no")


class RunningServer:
    """``serve`` on its own thread and event loop, as the command runs it; unhandled errors in its loop kept."""

    def __init__(self, service: AssistantService, uri: str) -> None:
        self.uri = uri
        self.loop_errors: list[dict[str, Any]] = []
        self._loop = asyncio.new_event_loop()
        self._loop.set_exception_handler(lambda _loop, context: self.loop_errors.append(context))
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._failed: list[BaseException] = []
        self._thread = threading.Thread(target=self._run, args=(service,), daemon=True)

    def _run(self, service: AssistantService) -> None:
        async def run() -> None:
            self._stop = asyncio.Event()
            self._loop.call_soon(self._ready.set)
            await serve(open_server(self.uri), service, self.uri, self._stop)

        try:
            self._loop.run_until_complete(run())
        except BaseException as error:  # noqa: BLE001 - handed to the test thread
            self._failed.append(error)
            self._ready.set()

    def __enter__(self) -> RunningServer:
        self._thread.start()
        assert self._ready.wait(10)
        run(self._until_listening)
        return self

    async def _until_listening(self) -> None:
        for _ in range(200):
            if self._failed:
                raise self._failed[0]
            with contextlib.suppress(OSError):
                async with self.client():
                    return
            await asyncio.sleep(0.05)
        raise AssertionError(f"the server did not listen on {self.uri}")

    def __exit__(self, *exc: object) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)
        self._loop.close()

    def client(self) -> AsyncClient:
        return AsyncClient.from_uri(self.uri, connect_timeout=10, read_timeout=60)

    def check_no_loop_errors(self) -> None:
        gc.collect()  # a task whose exception nobody read is reported when it is collected
        assert not self.loop_errors, self.loop_errors


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def server(service: AssistantService) -> Iterator[RunningServer]:
    with RunningServer(service, f"tcp://127.0.0.1:{free_port()}") as running:
        yield running


@pytest.fixture(autouse=True)
def no_tracebacks(caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]) -> Iterator[None]:
    """Whatever a client does, the server writes no traceback: not in its log, not on stderr."""
    caplog.set_level(logging.INFO, logger=LOGGER)
    yield
    assert not [record for record in caplog.records if record.exc_info], "a traceback was logged"
    assert "Traceback" not in capfd.readouterr().err


def run(scenario: Callable[[], Awaitable[Any]]) -> Any:
    return asyncio.run(scenario())


async def read_until(client: AsyncClient, *types: str) -> list[Event]:
    """Events up to and including the first of ``types``."""
    events = []
    while True:
        event = await client.read_event()
        assert event is not None, f"the server closed the connection before sending {types}"
        events.append(event)
        if event.type in types:
            return events


# ----- audio to send


def recording(name: str, rate: int, channels: int, width: int) -> tuple[bytes, int, int, int]:
    """A bundled recording as raw PCM in the format a client might stream."""
    samples, source_rate = sf.read(SAMPLES / name, dtype="float32")
    if rate != source_rate:
        samples = soxr.resample(samples, source_rate, rate)
    frames = np.repeat(samples[:, None], channels, axis=1)
    scale = {1: 127, 2: 32767, 4: 2147483647}[width]
    pcm = np.clip(np.rint(frames * scale), -scale - 1, scale)
    if width == 1:  # 8-bit PCM is unsigned
        return (pcm + 128).astype(np.uint8).tobytes(), rate, width, channels
    return pcm.astype(f"<i{width}").tobytes(), rate, width, channels


async def send_audio(client: AsyncClient, audio: tuple[bytes, int, int, int], stop: bool = True) -> None:
    pcm, rate, width, channels = audio
    await client.write_event(AudioStart(rate=rate, width=width, channels=channels).event())
    step = 1024 * width * channels
    for start in range(0, len(pcm), step):
        chunk = AudioChunk(rate=rate, width=width, channels=channels, audio=pcm[start : start + step])
        await client.write_event(chunk.event())
    if stop:
        await client.write_event(AudioStop().event())


async def transcribe(server: RunningServer, audio: tuple[bytes, int, int, int]) -> str:
    async with server.client() as client:
        await client.write_event(Transcribe(language="en").event())
        await send_audio(client, audio)
        events = await read_until(client, "transcript")
        return Transcript.from_event(events[-1]).text


# ----- describe


def test_describe_names_the_pack_the_engine_and_the_voice(server: RunningServer) -> None:
    async def scenario() -> Info:
        async with server.client() as client:
            assert isinstance(client, AsyncTcpClient)  # what Home Assistant talks to services with
            await client.write_event(Describe().event())
            return Info.from_event((await read_until(client, "info"))[-1])

    info = run(scenario)
    (asr,) = info.asr
    assert asr.installed and asr.version and asr.models[0].installed
    assert asr.models[0].name == "whisper-tiny.en" and asr.models[0].languages == ["en"]
    assert asr.models[0].attribution.name == "OpenAI"
    assert "whisper" in (asr.models[0].description or "")
    (tts,) = info.tts
    (voice,) = tts.voices
    assert voice.name == "piper" and voice.installed and "en_US-joe-medium" in (voice.description or "")
    (handle,) = info.handle
    assert handle.models[0].name == "bundled" and handle.models[0].languages == ["en"]
    assert "intents" in (handle.models[0].description or "")
    assert info.intent and info.intent[0].models[0].name == "bundled"


# ----- asr


def test_a_recording_comes_back_as_its_words(server: RunningServer) -> None:
    heard = run(lambda: transcribe(server, recording("08-cramp.wav", 16000, 1, 2)))
    assert normalize(heard) == normalize("my calf is cramping")


def test_memory_is_given_back_after_a_transcript_and_after_speech(
    server: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    import assistant.wyoming_service as service_module

    given: list[bool] = []
    monkeypatch.setattr(service_module, "give_back_memory", lambda: given.append(True) or True)

    def given_back(times: int) -> bool:  # the service does it just after answering
        deadline = time.monotonic() + 5
        while len(given) < times and time.monotonic() < deadline:
            time.sleep(0.01)
        return len(given) == times

    run(lambda: transcribe(server, recording("02-no.wav", 16000, 1, 2)))
    assert given_back(1)
    run(lambda: synthesize(server, "Hold for 30 seconds."))
    assert given_back(2)


def test_a_language_or_model_this_service_lacks_is_said_and_english_heard(
    server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> Transcript:
        async with server.client() as client:
            await client.write_event(Transcribe(language="de-DE", name="whisper-large-v3").event())
            await send_audio(client, recording("12-stop.wav", 16000, 1, 2))
            return Transcript.from_event((await read_until(client, "transcript"))[-1])

    heard = run(scenario)
    assert normalize(heard.text) == "stop" and heard.language == "en"
    assert "asked for speech in 'de-DE'; this service hears only 'en'" in caplog.text
    assert "asked for model 'whisper-large-v3'; this service has only 'whisper-tiny.en'" in caplog.text


def test_three_clients_at_once_in_other_formats_each_get_their_own_words(server: RunningServer) -> None:
    async def scenario() -> list[str]:
        return list(
            await asyncio.gather(
                transcribe(server, recording("08-cramp.wav", 44100, 2, 2)),
                transcribe(server, recording("01-eye.wav", 22050, 2, 4)),
                transcribe(server, recording("12-stop.wav", 8000, 1, 1)),
            )
        )

    cramp, eye, stop = run(scenario)
    assert normalize(cramp) == normalize("my calf is cramping")
    assert normalize(eye) == normalize("why is my eye twitching")
    assert normalize(stop) == normalize("stop")


def test_audio_past_the_longest_turn_is_dropped_with_a_log_line(
    server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    silence = (bytes(16000 * 2 * 31), 16000, 2, 1)
    assert run(lambda: transcribe(server, silence)) == ""
    assert "audio longer than 30 s; only its first 30 s were heard" in caplog.text


# ----- tts


async def synthesize(server: RunningServer, text: str) -> tuple[list[Event], np.ndarray]:
    async with server.client() as client:
        await client.write_event(Synthesize(text=text).event())
        events = await read_until(client, "audio-stop")
    chunks = [AudioChunk.from_event(event) for event in events if event.type == "audio-chunk"]
    audio = b"".join(chunk.audio for chunk in chunks)
    return events, np.frombuffer(audio, dtype="<i2").astype(np.float32) / 32768


def test_synthesize_gives_speech_in_the_voice_at_the_projects_loudness(server: RunningServer) -> None:
    events, audio = run(lambda: synthesize(server, "Hold for 30 seconds."))
    start = AudioStart.from_event(events[0])
    assert (start.rate, start.width, start.channels) == (22050, 2, 1)
    chunks = [AudioChunk.from_event(event) for event in events[1:-1]]
    assert chunks and all((c.rate, c.width, c.channels) == (22050, 2, 1) for c in chunks)
    assert 0.8 < len(audio) / 22050 < 4.0
    assert loudness_lufs(audio, 22050) == pytest.approx(-16, abs=1.0)


def test_a_longer_reply_starts_before_it_is_all_made_and_emergency_advice_is_louder(
    server: RunningServer, service: AssistantService
) -> None:
    advice = service.pack.emergency_advice()[0]

    async def scenario() -> tuple[float, float, list[Event]]:
        async with server.client() as client:
            asked = time.perf_counter()
            await client.write_event(Synthesize(text=advice).event())
            first = await read_until(client, "audio-chunk")
            started = time.perf_counter() - asked
            rest = await read_until(client, "audio-stop")
            return started, time.perf_counter() - asked, first + rest

    started, finished, events = run(scenario)
    assert len(advice.split()) > 30
    assert started < finished / 2  # sentence by sentence: the first audio leaves before the rest is made
    audio = b"".join(AudioChunk.from_event(event).audio for event in events if event.type == "audio-chunk")
    samples = np.frombuffer(audio, dtype="<i2").astype(np.float32) / 32768
    assert len(samples) / 22050 > 8.0
    assert [event.type for event in events].count("audio-start") == 1
    assert loudness_lufs(samples, 22050) == pytest.approx(-12, abs=1.0)  # 4 LU over a reply, as the app says it


def test_empty_text_gives_empty_audio_and_a_log_line(server: RunningServer, caplog: pytest.LogCaptureFixture) -> None:
    events, audio = run(lambda: synthesize(server, "   "))
    assert [event.type for event in events] == ["audio-start", "audio-stop"]
    assert "empty text" in caplog.text


# ----- handle and intent


async def say(client: AsyncClient, text: str, context: dict[str, Any] | None = None) -> Event:
    await client.write_event(Transcript(text=text, context=context).event())
    return (await read_until(client, "handled", "not-handled"))[-1]


def test_a_cramp_gets_its_check_then_the_stretch_on_the_same_connection(server: RunningServer) -> None:
    async def scenario() -> list[Event]:
        async with server.client() as client:
            return [await say(client, "my calf is cramping"), await say(client, "no")]

    check, stretch = run(scenario)
    assert check.type == "handled" and "Is your calf swollen, warm or red?" in Handled.from_event(check).text
    assert stretch.type == "handled"
    assert "Straighten the cramping leg" in (Handled.from_event(stretch).text or "")
    assert "Hold for 30 seconds." in (Handled.from_event(stretch).text or "")


def test_each_connection_is_its_own_conversation(server: RunningServer) -> None:
    async def scenario() -> Event:
        async with server.client() as first:
            await say(first, "why is my eye twitching")
            async with server.client() as second:
                return await say(second, "yes")

    answer = run(scenario)
    assert (Handled.from_event(answer).text or "").startswith("There's no question waiting for an answer.")


def test_a_conversation_id_carries_the_follow_up_across_connections(server: RunningServer) -> None:
    context = {"conversation_id": "01HXTESTCONVERSATION"}

    async def scenario() -> list[Event]:
        async with server.client() as first:
            question = await say(first, "why is my eye twitching", context)
        async with server.client() as second:
            return [question, await say(second, "yes", context)]

    question, tips = run(scenario)
    assert "Want a few tips to settle it?" in (Handled.from_event(question).text or "")
    assert "There's no single sure fix" in (Handled.from_event(tips).text or "")
    assert Handled.from_event(tips).context == context


def test_an_emergency_wins_in_the_middle_of_a_check(server: RunningServer) -> None:
    async def scenario() -> Event:
        async with server.client() as client:
            await say(client, "my calf is cramping")
            return await say(client, "I have chest pain")

    reply = Handled.from_event(run(scenario)).text or ""
    assert "Call emergency services now" in reply and "nine one one" in reply


def test_what_the_pack_does_not_cover_is_not_handled(server: RunningServer) -> None:
    async def scenario() -> Event:
        async with server.client() as client:
            return await say(client, "what's the weather in paris")

    reply = run(scenario)
    assert reply.type == "not-handled"
    assert "I can help with muscle twitches" in (NotHandled.from_event(reply).text or "")


def test_recognize_gives_the_intent_and_its_slots(server: RunningServer) -> None:
    async def scenario() -> list[Event]:
        async with server.client() as client:
            replies = []
            for text in ("my quad is cramping", "what's the capital of peru"):
                await client.write_event(Recognize(text=text).event())
                replies.append((await read_until(client, "intent", "not-recognized"))[-1])
            return replies

    found, unknown = run(scenario)
    intent = Intent.from_event(found)
    assert intent.name == "cramp_now"
    assert [(entity.name, entity.value) for entity in intent.entities] == [("muscle", "quadriceps")]
    assert NotRecognized.is_type(unknown.type)


# ----- what clients get wrong


async def still_serves(server: RunningServer) -> None:
    """A new client is answered: the server lives on."""
    async with server.client() as client:
        assert (await say(client, "stop")).type == "handled"


def test_impossible_audio_is_refused_and_the_connection_goes_on(
    server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> list[Event]:
        async with server.client() as client:
            await client.write_event(AudioStart(rate=5, width=2, channels=1).event())
            await client.write_event(AudioChunk(rate=5, width=2, channels=1, audio=bytes(100)).event())
            await client.write_event(AudioStop().event())
            refused = await read_until(client, "transcript")
            await send_audio(client, (bytes(101), 16000, 2, 1))  # not a whole number of frames
            torn = await read_until(client, "transcript")
            await client.write_event(Event("audio-start", {"rate": "fast", "width": 2}))
            await client.write_event(Describe().event())
            return [*refused, *torn, *await read_until(client, "info")]

    events = run(scenario)
    assert [event.type for event in events] == ["error", "transcript", "error", "transcript", "error", "info"]
    assert "sample rate 5 Hz is outside 8000-48000 Hz" in Error.from_event(events[0]).text
    assert "not a whole number" in Error.from_event(events[2]).text
    assert "malformed 'audio-start'" in Error.from_event(events[4]).text
    assert Transcript.from_event(events[1]).text == ""
    assert "sample rate 5 Hz" in caplog.text
    server.check_no_loop_errors()


def test_malformed_events_are_answered_with_an_error_and_the_connection_goes_on(server: RunningServer) -> None:
    async def scenario() -> list[Event]:
        async with server.client() as client:
            await client.write_event(Event("synthesize", {"voice": {"name": "piper"}}))  # no text
            await client.write_event(Event("transcript", {"text": 42}))
            await client.write_event(Event("recognize", {"text": "x" * 20_000}))
            await client.write_event(Event("no-such-event", {"x": 1}))  # dropped, as Wyoming asks
            await client.write_event(Describe().event())
            return await read_until(client, "info")

    events = run(scenario)
    assert [event.type for event in events] == ["error", "error", "error", "info"]
    assert "malformed 'synthesize'" in Error.from_event(events[0]).text
    assert "int, not text" in Error.from_event(events[1]).text
    assert "limit is 10,000" in Error.from_event(events[2]).text
    server.check_no_loop_errors()


@pytest.mark.parametrize(
    ("sent", "logged"),
    [
        (b"this is not a wyoming event\n", "not a Wyoming event"),
        (b'{"data": {"text": "hi"}}\n', "without a type"),
        (b'{"type": "audio-chunk", "data_length": "many"}\n', "malformed header"),
    ],
)
def test_a_line_that_is_not_wyoming_closes_that_connection_only(
    server: RunningServer, caplog: pytest.LogCaptureFixture, sent: bytes, logged: str
) -> None:
    async def scenario() -> None:
        host, port = server.uri.removeprefix("tcp://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(sent)
        await writer.drain()
        assert await asyncio.wait_for(reader.read(), 10) == b""  # closed by the server
        writer.close()
        await still_serves(server)

    run(scenario)
    assert logged in caplog.text
    server.check_no_loop_errors()


def test_a_client_leaving_mid_audio_or_mid_event_leaves_the_server_serving(
    server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> None:
        async with server.client() as client:
            pcm, rate, width, channels = recording("08-cramp.wav", 16000, 1, 2)
            await send_audio(client, (pcm[: len(pcm) // 2], rate, width, channels), stop=False)
        host, port = server.uri.removeprefix("tcp://").split(":")
        _, writer = await asyncio.open_connection(host, int(port))
        writer.write(b'{"type": "audio-chunk", "data": {"rate": 16000, "width": 2, "channels": 1}, ')
        writer.write(b'"payload_length": 3200}\n' + bytes(100))
        await writer.drain()
        writer.close()
        await asyncio.sleep(0.2)
        await still_serves(server)

    run(scenario)
    assert "left in the middle of its audio" in caplog.text
    assert "the connection broke off" in caplog.text
    server.check_no_loop_errors()


# ----- where it listens


def test_a_unix_socket_serves_too(service: AssistantService, tmp_path: Path) -> None:
    with RunningServer(service, f"unix://{tmp_path / 'assistant.socket'}") as running:

        async def scenario() -> Event:
            async with running.client() as client:
                assert isinstance(client, AsyncUnixClient)
                return await say(client, "why is my eye twitching")

        assert "eyelid twitch" in (Handled.from_event(run(scenario)).text or "")


def test_a_port_in_use_is_a_clear_error(service: AssistantService) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        uri = f"tcp://127.0.0.1:{taken.getsockname()[1]}"
        with pytest.raises(BadInput, match="cannot listen on tcp://127.0.0.1:[0-9]+: address already in use"):
            run(lambda: serve(open_server(uri), service, uri))


def test_a_host_that_does_not_exist_is_named_as_such(service: AssistantService) -> None:
    uri = "tcp://999.1.1.1:10700"  # not an address, and no name resolves to it
    with pytest.raises(BadInput, match=r"cannot listen on tcp://999\.1\.1\.1:10700: no such host \("):
        run(lambda: serve(open_server(uri), service, uri))


@pytest.mark.parametrize("rate", ["-5", "79", "451", "fast"])
def test_a_speaking_rate_out_of_range_is_refused_before_anything_loads(
    capfd: pytest.CaptureFixture[str], rate: str
) -> None:
    with pytest.raises(SystemExit) as exited:  # argparse's own exit, as for any bad option
        main(["serve", "--rate", rate])
    assert exited.value.code == 2
    err = capfd.readouterr().err
    assert "argument --rate:" in err and "words per minute" in err
    assert "Listening with" not in err and "Traceback" not in err  # nothing was loaded


@pytest.mark.parametrize("uri", ["http://127.0.0.1:10700", "tcp://127.0.0.1", "tcp://127.0.0.1:99999", "unix://"])
def test_a_bad_uri_is_refused_before_anything_loads(capfd: pytest.CaptureFixture[str], uri: str) -> None:
    assert main(["serve", "--uri", uri]) == 2
    err = capfd.readouterr().err
    assert err.startswith(f"assistant: error: --uri {uri!r}") and "tcp://HOST:PORT" in err
    assert "Listening with" not in err  # nothing was loaded


def test_the_command_exits_2_when_its_port_is_taken() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        command = [sys.executable, "-m", "assistant", "serve", "--uri", f"tcp://127.0.0.1:{port}"]
        result = subprocess.run(
            [*command, "--asr", "pocketsphinx", "--voice", "espeak"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 2
    assert f"assistant: error: cannot listen on tcp://127.0.0.1:{port}: address already in use" in result.stderr
    assert "Traceback" not in result.stderr
