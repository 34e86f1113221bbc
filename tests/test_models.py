"""Model download, resume, checks and verification against a local HTTP server."""

from __future__ import annotations

import hashlib
import http.server
import io
import socket
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant import models
from assistant.errors import AssistantError, BadInput

NAME = "vosk-model-small-en-us-0.15"


def model_zip() -> bytes:
    """A small zip laid out like a Vosk model."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        bundle.writestr(f"{NAME}/am/final.mdl", b"m" * 50_000)
        bundle.writestr(f"{NAME}/conf/model.conf", "--sample-frequency=16000\n")
        bundle.writestr(f"{NAME}/graph/Gr.fst", b"g" * 20_000)
    return buffer.getvalue()


class Server:
    """Serves ``body`` at /<NAME>.zip; honours Range; can stop after ``cut`` bytes of a full reply."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.cut: int | None = None
        self.ranges: list[str | None] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                server.ranges.append(self.headers.get("Range"))
                start = 0
                if self.headers.get("Range"):
                    start = int(self.headers["Range"].removeprefix("bytes=").split("-")[0])
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(server.body) - 1}/{len(server.body)}")
                else:
                    self.send_response(200)
                payload = server.body[start:]
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if server.cut is not None and start == 0:
                    self.wfile.write(payload[: server.cut])
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def pin(monkeypatch: pytest.MonkeyPatch, body: bytes) -> None:
    """Make the catalogue expect ``body``'s checksum for NAME (the served zip stands in for the real one)."""
    info = models.CATALOGUE[NAME]
    checksum = hashlib.sha256(body).hexdigest()
    monkeypatch.setitem(
        models.CATALOGUE, NAME, models.ModelInfo(info.name, info.size_mb, checksum, info.grammar, info.note)
    )


@pytest.fixture()
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    with Server(model_zip()) as running:
        pin(monkeypatch, running.body)
        yield running


def test_catalogue_lists_sizes_urls_and_checksum_state(tmp_path: Path) -> None:
    listed = models.list_models(tmp_path)
    assert [s.info.name for s in listed] == [
        "vosk-model-small-en-us-0.15",
        "vosk-model-en-us-0.22-lgraph",
        "vosk-model-en-us-0.22",
    ]
    line = models.describe(listed[0])
    assert "https://alphacephei.com/vosk/models/vosk-model-small-en-us-0.15.zip" in line
    assert "MB" in line and "not installed" in line
    assert "30f26242c4eb449f948e42cb302dd7a686cb29a3423a8367f99ff41780942498" in line
    assert "SHA-256 unknown" in models.describe(listed[2])  # no invented checksums
    assert all(s.info.sha256 is None or len(s.info.sha256) == 64 for s in listed)


def test_download_unpacks_and_records(server: Server, tmp_path: Path) -> None:
    folder = models.download_model(NAME, tmp_path, progress=False, base_url=server.url)
    assert folder == tmp_path / NAME
    assert (folder / "am" / "final.mdl").stat().st_size == 50_000
    assert not list(tmp_path.glob("*.zip*"))
    check = models.verify_models(tmp_path)
    assert [c.ok for c in check] == [True]
    assert hashlib.sha256(server.body).hexdigest()[:12] in check[0].problem
    assert models.list_models(tmp_path)[0].installed


def test_broken_download_resumes_with_range(server: Server, tmp_path: Path) -> None:
    server.cut = len(server.body) // 2
    with pytest.raises(AssistantError, match="again to resume"):
        models.download_model(NAME, tmp_path, progress=False, base_url=server.url)
    part = tmp_path / f"{NAME}.zip.part"
    assert 0 < part.stat().st_size < len(server.body)
    assert not models.verify_models(tmp_path)[-1].ok  # the unfinished download is reported
    server.cut = None
    models.download_model(NAME, tmp_path, progress=False, base_url=server.url)
    assert server.ranges[-1] == f"bytes={len(server.body) // 2}-"
    assert models.verify_models(tmp_path)[0].ok


def test_checksum_mismatch_is_refused(server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    info = models.CATALOGUE[NAME]
    monkeypatch.setitem(
        models.CATALOGUE, NAME, models.ModelInfo(info.name, info.size_mb, "0" * 64, info.grammar, info.note)
    )
    with pytest.raises(AssistantError, match="checksum mismatch"):
        models.download_model(NAME, tmp_path, progress=False, base_url=server.url)
    assert not (tmp_path / NAME).exists()
    assert not list(tmp_path.glob("*.zip*"))


def test_offline_is_a_clear_message(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(AssistantError, match=r"cannot reach .*no network\? Copy the unzipped model into"):
        models.download_model(NAME, tmp_path, progress=False, base_url=f"http://127.0.0.1:{port}/", timeout_s=2)


def test_published_checksum_refuses_a_different_zip(tmp_path: Path) -> None:
    other = Server(model_zip())  # a well-formed model zip, but not the published one
    with other, pytest.raises(AssistantError, match="checksum mismatch"):
        models.download_model(NAME, tmp_path, progress=False, base_url=other.url)
    assert not (tmp_path / NAME).exists() and not list(tmp_path.glob("*.zip*"))


def test_corrupt_zip_is_reported_and_removed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with Server(b"PK\x03\x04 this is not really a zip" * 100) as bad:
        pin(monkeypatch, bad.body)
        with pytest.raises(AssistantError, match="not a usable zip"):
            models.download_model(NAME, tmp_path, progress=False, base_url=bad.url)
    assert not (tmp_path / NAME).exists() and not list(tmp_path.glob("*.zip*"))


def test_half_copied_model_is_detected(server: Server, tmp_path: Path) -> None:
    folder = models.download_model(NAME, tmp_path, progress=False, base_url=server.url)
    (folder / "graph" / "Gr.fst").write_bytes(b"g" * 100)  # a copy that stopped part way
    check = models.verify_models(tmp_path)[0]
    assert not check.ok and "Gr.fst" in check.problem
    (folder / "am" / "final.mdl").unlink()
    assert "am/final.mdl missing" in models.verify_models(tmp_path)[0].problem


def test_hand_copied_model_without_record_is_accepted_with_a_note(tmp_path: Path) -> None:
    (tmp_path / "vosk-model-small-en-us-0.15" / "am").mkdir(parents=True)
    (tmp_path / "vosk-model-small-en-us-0.15" / "am" / "final.mdl").write_bytes(b"x")
    check = models.verify_models(tmp_path)[0]
    assert check.ok and "no download record" in check.problem


def test_unknown_model_name(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="unknown model"):
        models.download_model("vosk-model-tiny-klingon", tmp_path, progress=False)
