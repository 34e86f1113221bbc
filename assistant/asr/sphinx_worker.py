"""A PocketSphinx decoder in a process of its own, so it decodes on the second core.

PocketSphinx keeps Python's lock while it decodes (measured: a pure-Python thread ran at a fifth of its
speed beside ``process_raw``), so a second decoder in a thread takes turns with the first instead of
running beside it. The open-vocabulary decoder is the costliest part of recognition (about 0.1 of real
time, against 0.03 for the pack decoder), so it runs in a child process: ``DecoderProcess`` offers the
few ``Decoder`` methods the engine uses and forwards them over the child's stdin and stdout.

Messages are a kind byte and a 4-byte length, then the payload. To the child: C (config, JSON),
S (start an utterance; the cepstral mean to start from), A (audio), W (audio that is the whole
utterance), E (end the utterance). From the child: one JSON reply to C (ready or the error) and to E
(the words with their frames and posteriors, and each word's phones).

Run as ``python -m assistant.asr.sphinx_worker``; it imports nothing of the assistant, so it starts fast.
"""

from __future__ import annotations

import contextlib
import json
import logging
import struct
import subprocess
import sys
import weakref
from typing import IO, Any, NamedTuple

_LOGGER = logging.getLogger(__name__)

_HEADER = struct.Struct("<cI")


class Segment(NamedTuple):
    """One word of a result, as ``Decoder.seg()`` gives it."""

    word: str
    start_frame: int
    end_frame: int
    prob: float


def _send(stream: IO[bytes], kind: bytes, payload: bytes = b"") -> None:
    stream.write(_HEADER.pack(kind, len(payload)) + payload)
    stream.flush()


def _receive(stream: IO[bytes]) -> tuple[bytes, bytes] | None:
    """The next message, or None at the end of the stream."""
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        return None
    kind, length = _HEADER.unpack(header)
    payload = stream.read(length) if length else b""
    if len(payload) < length:
        return None
    return kind, payload


class DecoderProcess:
    """A ``pocketsphinx.Decoder`` in a child process, for the engine's open-vocabulary reading.

    Audio is sent as it comes and decoded there while the parent goes on; ``end_utt`` waits for the
    result. If the child dies, the decoder hears nothing from then on (a warning is logged): the turn
    keeps the pack decoder's reading and the engine starts a new child for the next one.
    """

    def __init__(self, config: dict[str, Any]) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-m", __name__],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self._finalizer = weakref.finalize(self, _stop, self._process)
        self._cmn: str | None = None
        self._segments: list[Segment] = []
        self._phones: dict[str, str] = {}
        self._alive = True
        reply = self._ask(b"C", json.dumps(config).encode())
        if reply is None or "error" in reply:
            self.close()
            reason = reply["error"] if reply else "it stopped"
            raise RuntimeError(f"decoder process did not start: {reason}")

    @property
    def alive(self) -> bool:
        """False once the child process has stopped."""
        return self._alive and self._process.poll() is None

    def _write(self, kind: bytes, payload: bytes = b"") -> None:
        if not self._alive:
            return
        if self._process.poll() is not None:
            self._died()
            return
        try:
            assert self._process.stdin is not None
            _send(self._process.stdin, kind, payload)
        except (BrokenPipeError, OSError, ValueError):
            self._died()

    def _ask(self, kind: bytes, payload: bytes = b"") -> dict[str, Any] | None:
        self._write(kind, payload)
        if not self.alive:
            return None
        assert self._process.stdout is not None
        message = _receive(self._process.stdout)
        if message is None:
            self._died()
            return None
        reply: dict[str, Any] = json.loads(message[1])
        return reply

    def _died(self) -> None:
        if self._alive:
            self._alive = False
            _LOGGER.warning("the open-vocabulary decoder process stopped (exit status %s)", self._process.poll())

    def set_cmn(self, cmn: str) -> None:
        self._cmn = cmn

    def start_utt(self) -> None:
        self._segments, self._phones = [], {}
        self._write(b"S", (self._cmn or "").encode())

    def process_raw(self, data: bytes, no_search: bool = False, full_utt: bool = False) -> None:
        self._write(b"W" if full_utt else b"A", bytes(data))

    def end_utt(self) -> None:
        reply = self._ask(b"E")
        if reply is None:
            self._segments, self._phones = [], {}
            return
        self._segments = [Segment(*segment) for segment in reply["segments"]]
        self._phones = reply["phones"]

    def seg(self) -> list[Segment]:
        """The words of the last utterance."""
        return list(self._segments)

    def lookup_word(self, word: str) -> str | None:
        """Phones of a word of the last utterance (as the child's dictionary spells them)."""
        return self._phones.get(word)

    def close(self) -> None:
        """Stop the child process."""
        self._alive = False
        self._finalizer()


def _stop(process: subprocess.Popen[bytes]) -> None:
    for stream in (process.stdin, process.stdout):
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()
    try:
        process.wait(timeout=2)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def serve(requests: IO[bytes], replies: IO[bytes]) -> int:
    """The child's loop: build the decoder, then decode what comes until the parent closes the pipe."""
    from pocketsphinx import Decoder

    decoder: Any = None
    while (message := _receive(requests)) is not None:
        kind, payload = message
        if kind == b"C":
            try:
                decoder = Decoder(**json.loads(payload))
            except (RuntimeError, ValueError) as error:
                _send(replies, b"R", json.dumps({"error": str(error)}).encode())
                return 1
            _send(replies, b"R", b'{"ready": true}')
        elif kind == b"S":
            if payload:
                decoder.set_cmn(payload.decode())
            decoder.start_utt()
        elif kind in (b"A", b"W"):
            decoder.process_raw(payload, False, kind == b"W")
        elif kind == b"E":
            decoder.end_utt()
            segments = [(s.word, s.start_frame, s.end_frame, float(s.prob)) for s in decoder.seg() or ()]
            words = {s[0].split("(", 1)[0].lower() for s in segments}
            phones = {word: found for word in words if (found := decoder.lookup_word(word))}
            _send(replies, b"R", json.dumps({"segments": segments, "phones": phones}).encode())
    return 0


if __name__ == "__main__":
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle; it ends us by closing the pipe
    sys.exit(serve(sys.stdin.buffer, sys.stdout.buffer))
