"""Model download, resume, checks and verification against a local HTTP server."""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import socket
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant import models
from assistant.cli import main
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
        self.gate: threading.Event | None = None
        """When set, replies wait until the event is set (a slow download)."""
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                server.ranges.append(self.headers.get("Range"))
                start = 0
                if server.gate is not None:
                    server.gate.wait(10)
                if self.headers.get("Range"):
                    start = int(self.headers["Range"].removeprefix("bytes=").split("-")[0])
                    if start >= len(server.body):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(server.body)}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
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
        "whisper-tiny.en",
        "whisper-base.en",
        "whisper-base",
        "whisper-small.en",
    ]
    assert "https://huggingface.co/Systran/faster-whisper-base.en/resolve/main/" in models.describe(listed[4])
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
        with pytest.raises(AssistantError, match="not a usable zip") as raised:
            models.download_model(NAME, tmp_path, progress=False, base_url=bad.url)
    assert "it was deleted, run the same command to download it again" in str(raised.value)
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


def test_two_downloads_at_once_the_second_is_told_another_is_running(server: Server, tmp_path: Path) -> None:
    server.gate = threading.Event()
    first: list[object] = []
    worker = threading.Thread(
        target=lambda: first.append(models.download_model(NAME, tmp_path, progress=False, base_url=server.url))
    )
    worker.start()
    try:
        for _ in range(200):
            if server.ranges:
                break
            threading.Event().wait(0.02)
        with pytest.raises(AssistantError, match=f"another download of {NAME} into .* is running"):
            models.download_model(NAME, tmp_path, progress=False, base_url=server.url)
    finally:
        server.gate.set()
        worker.join(20)
    assert first == [tmp_path / NAME]
    assert [c.ok for c in models.verify_models(tmp_path)] == [True]


def test_verify_finds_a_same_size_change(server: Server, tmp_path: Path) -> None:
    folder = models.download_model(NAME, tmp_path, progress=False, base_url=server.url)
    assert "content checked" in models.verify_models(tmp_path)[0].problem
    model = folder / "am" / "final.mdl"
    model.write_bytes(b"M" + model.read_bytes()[1:])  # same size, different content
    check = models.verify_models(tmp_path)[0]
    assert not check.ok and check.problem == "am/final.mdl was changed since it was downloaded"


@pytest.mark.parametrize("outside", ["../elsewhere.txt", "/etc/hostname", "am/../../x"])
def test_verify_refuses_a_record_naming_files_outside_the_model(server: Server, tmp_path: Path, outside: str) -> None:
    folder = models.download_model(NAME, tmp_path, progress=False, base_url=server.url)
    (tmp_path / "elsewhere.txt").write_text("x")
    record = json.loads((folder / models.RECORD).read_text())
    record["files"][outside] = {"size": 1, "sha256": hashlib.sha256(b"x").hexdigest()}
    (folder / models.RECORD).write_text(json.dumps(record))
    check = models.verify_models(tmp_path)[0]
    assert not check.ok and "outside the model folder" in check.problem


def test_oversized_partial_download_is_fetched_again_not_installed(
    server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    info = models.CATALOGUE[NAME]
    monkeypatch.setitem(models.CATALOGUE, NAME, models.ModelInfo(NAME, info.size_mb, None, info.grammar, info.note))
    (tmp_path / f"{NAME}.zip.part").write_bytes(server.body + b"junk" * 25)  # longer than the file
    folder = models.download_model(NAME, tmp_path, progress=False, base_url=server.url)
    assert server.ranges[-1] is None  # fetched again from the start
    record = json.loads((folder / models.RECORD).read_text())
    assert record["sha256"] == hashlib.sha256(server.body).hexdigest()


def test_verify_on_a_missing_or_non_folder_models_dir_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "file").write_text("x")
    assert main(["models", "verify", "--models-dir", str(tmp_path / "nope")]) == 2
    assert capsys.readouterr().err == f"assistant: error: {tmp_path / 'nope'}: no such models folder\n"
    assert main(["models", "verify", "--models-dir", str(tmp_path / "file")]) == 2
    assert capsys.readouterr().err == f"assistant: error: {tmp_path / 'file'}: not a folder\n"
    (tmp_path / "empty").mkdir()
    assert main(["models", "verify", "--models-dir", str(tmp_path / "empty")]) == 1
    assert capsys.readouterr().err == f"no models in {tmp_path / 'empty'}\n"


def test_verify_prints_one_plain_line_per_model(
    server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    models.download_model(NAME, tmp_path, progress=False, base_url=server.url)
    assert main(["models", "verify", "--models-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{NAME}: ok - complete (3 files, content checked;") and out.count("\n") == 1
    assert "ModelCheck" not in out


def test_whisper_download_fetches_each_file_and_the_model_loads(tmp_path: Path) -> None:
    import functools

    from assistant.asr.whisper_engine import WhisperEngine, bundled_model
    from tests.asr_fixtures import tiny_pack

    source = bundled_model()
    assert source is not None
    served = tmp_path / "served" / "whisper-base.en"
    served.mkdir(parents=True)
    for name in models.WHISPER_FILES:
        (served / name).symlink_to(source / name)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path / "served"))
    handler.log_message = lambda *args: None  # type: ignore[method-assign]
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    dest = tmp_path / "models"
    try:
        # A broken-off earlier run left one file finished: it is kept, the rest fetched.
        staging = dest / ".whisper-base.en.partial"
        staging.mkdir(parents=True)
        (staging / "config.json").write_bytes((source / "config.json").read_bytes())
        assert [c.ok for c in models.verify_models(dest)] == [False]
        folder = models.download_model(
            "whisper-base.en", dest, progress=False, base_url=f"http://127.0.0.1:{httpd.server_address[1]}/"
        )
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert folder == dest / "whisper-base.en" and not staging.exists()
    assert WhisperEngine(folder, tiny_pack(tmp_path)).describe().startswith("whisper (whisper-base.en")
    checks = models.verify_models(dest)
    assert [c.ok for c in checks] == [True] and "content checked" in checks[0].problem
    assert [s.installed for s in models.list_models(dest)][4] is True
    with open(folder / "vocabulary.txt", "r+b") as handle:  # same size, other content
        first = handle.read(1)
        handle.seek(0)
        handle.write(bytes([first[0] ^ 0x01]))
    assert [c.ok for c in models.verify_models(dest)] == [False]


def test_whisper_base_is_joined_from_its_pip_packages_with_no_network(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from assistant.asr.choose import find_whisper_model, open_engine
    from assistant.audio.io import load_audio
    from assistant.normalize import normalize
    from tests.asr_fixtures import tiny_pack

    info = models.CATALOGUE["whisper-base"]
    assert models.packaged_parts(info), "the test extra installs the whisper-base packages"
    listed = [models.describe(s) for s in models.list_models(tmp_path / "models")]
    assert any(line.startswith("whisper-base ") and "installed packages" in line for line in listed)
    # A closed port: any attempt to reach a network fails the install.
    folder = models.download_model("whisper-base", tmp_path / "models", progress=False, base_url="http://127.0.0.1:9/")
    assert folder == tmp_path / "models" / "whisper-base"
    assert not list((tmp_path / "models").glob(".whisper-base.partial*"))
    assert [(c.name, c.ok) for c in models.verify_models(tmp_path / "models")] == [("whisper-base", True)]
    monkeypatch.setattr("assistant.asr.choose.model_search_path", lambda: [tmp_path / "models"])
    assert find_whisper_model() == folder
    engine = open_engine("auto", tiny_pack(tmp_path))
    assert "whisper-base" in engine.describe()
    samples = Path(__file__).resolve().parents[1] / "assistant" / "samples"
    heard = engine.transcribe(load_audio(samples / "08-cramp.wav"))
    assert normalize(heard.text) == normalize("my calf is cramping")


def test_packaged_parts_that_do_not_join_to_the_published_checksum_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = models.packaged_parts(models.CATALOGUE["whisper-base"])[0]
    for index in (1, 2):
        data = tmp_path / "site" / f"fake_model_part{index}" / "data"
        data.mkdir(parents=True)
        (data.parent / "__init__.py").write_text("")
        (data / f"model.bin.part{index}").write_bytes(b"half %d" % index)
        if index == 1:
            for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
                (data / name).symlink_to(source / name)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    fake = models.ModelInfo(
        "whisper-fake", 1, "0" * 64, False, "test", "whisper", ("fake_model_part1", "fake_model_part2")
    )
    monkeypatch.setitem(models.CATALOGUE, "whisper-fake", fake)
    with pytest.raises(AssistantError, match="checksum mismatch"):
        models.download_model("whisper-fake", tmp_path / "models", progress=False)
    assert not (tmp_path / "models" / "whisper-fake").exists()
    assert not (tmp_path / "models" / ".whisper-fake.partial").exists()
    (tmp_path / "site" / "fake_model_part2" / "data" / "model.bin.part2").unlink()
    with pytest.raises(AssistantError, match="cannot join the installed parts.*pip install --force-reinstall"):
        models.download_model("whisper-fake", tmp_path / "models", progress=False)
