"""The spoken test set generator: 16 kHz mono files, SNRs that measure back, byte-identical reruns."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"
sys.path.insert(0, str(SCRIPTS))

import make_spoken_set  # noqa: E402 - the scripts folder is not a package
import voices as vx  # noqa: E402

ITEMS: list[dict[str, Any]] = [
    {"id": "eye-1", "text": "why is my eye twitching", "intent": "eye_twitch", "slots": {}},
    {"id": "cramp-1", "text": "my calf is cramping", "intent": "cramp", "slots": {"muscle": "calf"}},
    {"id": "ood-1", "text": "play some music", "intent": None},
]
VOICES = "espeak-us,flite-slt,piper-joe"


@pytest.fixture(scope="module")
def items_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("items") / "items.jsonl"
    path.write_text("".join(json.dumps(i) + "\n" for i in ITEMS), encoding="utf-8")
    return path


def _run(items: Path, out: Path, *extra: str) -> list[dict[str, object]]:
    argv = [str(items), "--out", str(out), "--voices", VOICES, "--snr", "clean,12,6", "--quiet", *extra]
    assert make_spoken_set.main(argv) == 0
    return [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def spoken(items_file: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, object]]]:
    out = tmp_path_factory.mktemp("spoken")
    return out, _run(items_file, out, "--jobs", "2", "--seed", "7")


def test_every_file_is_16k_mono_pcm_and_listed_with_its_labels(spoken: tuple[Path, list[dict[str, object]]]) -> None:
    out, rows = spoken
    assert len(rows) == len(ITEMS) * 2 * 3  # two voices per item, clean + two SNRs
    assert sorted(p.name for p in (out / "audio").iterdir()) == sorted(Path(str(r["audio"])).name for r in rows)
    for row in rows:
        info = sf.info(out / str(row["audio"]))
        assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
        assert set(row) == {"id", "audio", "intent", "slots", "text", "voice", "snr_db", "noise"}
        source = next(i for i in ITEMS if str(row["id"]).startswith(str(i["id"]) + "--"))
        assert (row["text"], row["intent"], row["slots"]) == (source["text"], source["intent"], source.get("slots", {}))
    assert {r["voice"] for r in rows} == set(VOICES.split(","))
    assert {r["snr_db"] for r in rows} == {None, 12.0, 6.0}


def test_mixed_files_measure_back_within_1_db_of_target(spoken: tuple[Path, list[dict[str, object]]]) -> None:
    out, rows = spoken
    clean = {(r["text"], r["voice"]): r for r in rows if r["noise"] is None}
    noisy = [r for r in rows if r["noise"] is not None]
    assert len({r["noise"] for r in noisy}) >= 3
    for row in noisy:
        mixed, _ = sf.read(out / str(row["audio"]), dtype="float32")
        speech, _ = sf.read(out / str(clean[(row["text"], row["voice"])]["audio"]), dtype="float32")
        assert abs(vx.measure_snr(mixed, speech) - float(str(row["snr_db"]))) < 1.0, row["id"]


def test_same_seed_gives_identical_bytes_whatever_the_job_count(
    items_file: Path, spoken: tuple[Path, list[dict[str, object]]], tmp_path: Path
) -> None:
    out, rows = spoken
    again = _run(items_file, tmp_path / "again", "--jobs", "1", "--seed", "7")
    assert again == rows
    for row in rows:
        assert (tmp_path / "again" / str(row["audio"])).read_bytes() == (out / str(row["audio"])).read_bytes()


def test_another_seed_changes_the_noise_not_the_speech(items_file: Path, tmp_path: Path) -> None:
    def one(seed: str) -> tuple[bytes, bytes]:
        out = tmp_path / seed
        argv = [str(items_file), "--out", str(out), "--voices", "espeak-us", "--noise", "pink", "--snr", "clean,12"]
        assert make_spoken_set.main([*argv, "--limit", "1", "--seed", seed, "--quiet", "--jobs", "1"]) == 0
        return (out / "audio/eye-1--espeak-us--clean.wav").read_bytes(), (
            out / "audio/eye-1--espeak-us--pink12.wav"
        ).read_bytes()

    clean_a, noisy_a = one("1")
    clean_b, noisy_b = one("2")
    assert clean_a == clean_b
    assert noisy_a != noisy_b


def test_bad_options_are_one_line_errors(items_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert make_spoken_set.main([str(items_file), "--out", str(tmp_path), "--voices", "hal9000"]) == 2
    assert make_spoken_set.main([str(items_file), "--out", str(tmp_path), "--snr", "loud"]) == 2
    assert make_spoken_set.main([str(items_file), "--out", str(tmp_path), "--noise", "jackhammer"]) == 2
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"id": "x", "text": "hi"}\n{oops\n')
    assert make_spoken_set.main([str(broken), "--out", str(tmp_path / "o")]) == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 4 and "broken.jsonl:2" in errors[-1]


def test_mix_at_snr_hits_the_target_on_active_speech_only() -> None:
    rng = np.random.default_rng(0)
    tone = np.sin(2 * np.pi * 200 * np.arange(16000) / 16000).astype(np.float32) * 0.1
    speech = np.concatenate([np.zeros(16000, np.float32), tone, np.zeros(16000, np.float32)])
    mixed = vx.mix_at_snr(speech, vx.pink_noise(len(speech), rng), 6.0)
    assert abs(vx.measure_snr(mixed, speech) - 6.0) < 0.1
    # Active RMS ignores the silence around the tone: it is the tone's RMS, not a third of it.
    assert vx.active_rms(speech) == pytest.approx(0.1 / np.sqrt(2), rel=0.01)
