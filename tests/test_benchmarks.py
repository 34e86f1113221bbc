"""The benchmark report regenerates end to end on a tiny subset: markdown with every section, every plot, and the
README's headline figures between their markers."""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = ROOT / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import report  # noqa: E402


@pytest.mark.slow
def test_report_writes_markdown_and_plots_from_a_tiny_subset(tmp_path: Path) -> None:
    argv = ["--limit", "2", "--repeats", "1", "--timing-items", "2", "--turns", "2", "--startup-runs", "1"]
    argv += ["--realspeech-limit", "2", "--voice-limit", "1"]
    readme = ROOT / "README.md"
    (tmp_path / "README.md").write_text(readme.read_text(encoding="utf-8"), encoding="utf-8")
    assert report.main([*argv, "--out", str(tmp_path)]) == 0
    rewritten = (tmp_path / "README.md").read_text(encoding="utf-8")
    assert rewritten.split(report.README_START)[0] == readme.read_text(encoding="utf-8").split(report.README_START)[0]
    assert "| Start-up to listening | ≤ 1.5 s |" in rewritten

    text = (tmp_path / "BENCHMARKS.md").read_text(encoding="utf-8")
    for heading in ("## Targets", "## Real people", "## Spoken commands", "## Response latency", "## Typed questions"):
        assert heading in text
    assert "## Replies in a waiting state (bench_waiting.py)" in text  # measured too, though held to no target
    assert "## Where a turn's time goes (bench_decode.py)" in text
    assert "## Safety net (bench_safety.py)" in text
    assert "| held out | as it runs |" in text.split("## Safety net (bench_safety.py)")[1].split("\n## ")[0]
    assert "Vosk: no English model on this machine" in text or "### vosk" in text
    assert "### whisper" in text and "| Target | Goal | Whisper (default) |" in text
    real_people = text.split("## Real people")[1].split("\n## ")[0]
    plots = ["acceptance_vs_snr.png", "latency.png"]
    if (report.REALSPEECH_SET / "labels.jsonl").is_file():
        assert "loudest 2,048-sample frame of speech" in real_people
        plots.append("realspeech_vs_snr.png")
    else:  # a checkout without ../shared/realspeech says so instead of showing figures
        assert "Not measured:" in real_people
    total = len(report.pick_items(0))
    assert "--limit 2" in text and f"2 of the {total} text items" in text  # the subset is named, not hidden
    assert f"Python {sys.version_info.major}.{sys.version_info.minor}" in text and " cores, " in text
    for plot in plots:
        png = tmp_path / "benchmarks" / "plots" / plot
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"benchmarks/plots/{plot}" in text


def test_subset_keeps_out_of_domain_items_and_spreads_over_intents() -> None:
    items = report.pick_items(20)
    assert len(items) == 20
    assert any(i["intent"] is None for i in items)
    assert len({i["intent"] for i in items if i["intent"]}) > 10
    every = report.pick_items(0)
    assert len(every) > 20 and any(i["intent"] is None for i in every)


def fake_results(load: float = 0.1) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Text, speech, latency and real-people results shaped as report.py collects them, with figures no real run
    gave."""
    text = {
        "phrasings": {"n": 12, "intent_accuracy": 0.9167},
        "ood": {"n": 8, "ood_false_accept_rate": 0.125},
        "bundled_templates": 34,
        "coffee_expansions": 45_678,
        "bundled_match_p95_ms": 1.234,
        "coffee_match_p95_ms": 12.5,
        "ask_cold_start_median_ms": 1234.4,
        "ran_on": {"load_avg_1m": load},
    }
    speech = {
        "machine": {"cpu": "Test CPU 9000", "cores": 4, "load_avg_1m": 0.2},
        "engines": {
            "vosk": {"available": False, "reason": "Vosk: no English model on this machine"},
            "pocketsphinx": {
                "available": True,
                "noisy_acceptance_mean": 0.5,
                "by_snr": {"6": {"command_acceptance": 0.25}, "clean": {"command_acceptance": 0.875}},
                "overall": {"ood_false_accept_rate": 0.0625},
                "timing": {"rtf": 0.1234, "latency_ms_p95": 151.6},
            },
            "whisper": {
                "available": True,
                "noisy_acceptance_mean": 0.9125,
                "by_snr": {"6": {"command_acceptance": 0.8}, "clean": {"command_acceptance": 0.95}},
                "overall": {"ood_false_accept_rate": 0.03},
                "timing": {"rtf": 0.1567, "latency_ms_p95": 420.0},
            },
        },
    }
    latency = {
        "machine": {"load_avg_1m": 0.3},
        "intent_ms_p95": 9.4,
        "response_ms_p50": 312.6,
        "response_ms_p95": 701.2,
        "rss_after_turns_mb": 299.9,
        "rss_peak_mb": 331.0,
        "startup_to_listening_s": 1.504,
        "venv_mib": 1239.0,
    }
    real = {"clean": 0.97, "24 dB": 0.96, "18 dB": 0.95, "12 dB": 0.94, "6 dB": 0.925}
    sphinx = {"clean": 0.75, "24 dB": 0.7, "18 dB": 0.6, "12 dB": 0.5, "6 dB": 0.4}
    realspeech = {
        "conditions": list(real),
        "engines": {
            "whisper": {c: {"n": 8, "command_acceptance": v} for c, v in real.items()},
            "pocketsphinx": {c: {"n": 8, "command_acceptance": v} for c, v in sphinx.items()},
        },
    }
    return text, speech, latency, realspeech


def test_readme_figures_are_rewritten_between_the_markers_only(tmp_path: Path) -> None:
    before = "# Project\n\nHand-written intro.\n\n"
    after = "\n\nHand-written prose after the table: 44.9% stays as typed.\n"
    readme = tmp_path / "README.md"
    old = f"{report.README_START}\n\n| old | table |\n\n{report.README_END}"
    readme.write_text(before + old + after, encoding="utf-8")

    report.write_readme_figures(readme, report.readme_figures(*fake_results()))

    text = readme.read_text(encoding="utf-8")
    assert text.startswith(before + report.README_START + "\n\n") and text.endswith(report.README_END + after)
    assert "| old | table |" not in text
    block = text[len(before) + len(report.README_START) : -len(report.README_END + after)].strip("\n").splitlines()
    assert block == [
        "Headline figures, written here by `benchmarks/report.py` (4-core Test CPU 9000):",
        "",
        "| What | Target | Whisper (default) | PocketSphinx |",
        "| --- | --- | --- | --- |",
        "| Typed questions: top-1 intent on 12 held-out phrasings | ≥ 95% | 91.7% | |",
        "| Typed questions: out-of-domain false accepts (8 items) | ≤ 5% | 12.5% | |",
        "| Match latency p95, bundled pack (34 templates) | < 2 ms | 1.23 ms | |",
        "| Match latency p95, 10⁴-sentence coffee pack | < 10 ms | 12.50 ms | |",
        "| `assistant ask` cold start, median | < 1 s | 1,234 ms | |",
        "| Real people (8 recordings), clean | ≥ 97% | 97.0% | 75.0% |",
        "| Real people, mean of 24/18/12/6 dB | ≥ 95% | 94.4% | 55.0% |",
        "| Real people, at 6 dB | ≥ 93% | 92.5% | 40.0% |",
        "| Synthetic spoken set, clean | ≥ 95% | 95.0% | 87.5% |",
        "| Synthetic spoken set, mean of 24/18/12/6 dB | ≥ 90% | 91.2% | 50.0% |",
        "| Spoken out-of-domain false accepts | ≤ 3% | 3.0% | 6.2% |",
        "| Real-time factor (front end, recognition, matching) | ≤ 0.15 | 0.157 | 0.123 |",
        "| End of speech to first reply sample, p50 / p95 (incl. endpointing) | ≤ 600 / 900 ms | 313 / 701 ms | |",
        "| Resident memory at its highest, default engine and voice | ≤ 450 MB | 331 MiB | |",
        "| Start-up to listening | ≤ 1.5 s | 1.50 s | |",
        "| Installed size of `.venv` | | 1,239 MiB | |",
    ]
    busy = report.readme_figures(*fake_results(load=3.5)).splitlines()[0]
    assert busy.endswith("(4-core Test CPU 9000, shared with other work while it ran):")


@pytest.mark.parametrize(
    "readme",
    [
        "# Project\n\n| What | Target | Measured |\n",
        f"# Project\n\n{report.README_START}\n\n| What | Target | Measured |\n",
        f"# Project\n\n{report.README_END}\n\n| What | Target | Measured |\n\n{report.README_START}\n",
    ],
    ids=["no markers", "no end marker", "end before start"],
)
def test_readme_without_the_markers_is_a_clear_error_and_stays_as_it_was(tmp_path: Path, readme: str) -> None:
    path = tmp_path / "README.md"
    path.write_text(readme, encoding="utf-8")
    clear = "README.md needs one '<!-- figures:start -->' line and, after it, one '<!-- figures:end -->' line"
    with pytest.raises(SystemExit, match=clear):
        report.write_readme_figures(path, report.readme_figures(*fake_results()))
    assert path.read_text(encoding="utf-8") == readme
    assert [p.name for p in tmp_path.iterdir()] == ["README.md"]  # no temporary file left behind


def test_report_stops_before_running_anything_when_the_readme_has_no_markers(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("# Project\n", encoding="utf-8")
    with pytest.raises(SystemExit, match="figures:start"):
        report.main(["--limit", "1", "--out", str(tmp_path)])
    assert not (tmp_path / ".cache").exists()


def test_the_repository_readme_has_the_figure_markers() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "| What | Target | Measured |" in report.with_figures(text, "| What | Target | Measured |")


def test_real_people_figures_can_be_taken_from_an_earlier_run(tmp_path: Path) -> None:
    earlier = tmp_path / "rs.json"
    realspeech = fake_results()[3]
    earlier.write_text(json.dumps({"machine": report.machine(), **realspeech}), encoding="utf-8")
    args = argparse.Namespace(realspeech_json=[earlier], realspeech_limit=0)
    reused = report.realspeech_results(args, tmp_path / "cache")
    assert reused["reused"] == str(earlier) and not (tmp_path / "cache").exists()  # nothing ran
    section = "\n".join(report.realspeech_section(reused, Path("plots")))
    assert f"reused from `{earlier}`" in section
    assert "| whisper | 97.0% | 96.0% | 95.0% | 94.0% | 92.5% | 94.4% |" in section


def test_real_people_runs_of_different_engines_are_shown_side_by_side(tmp_path: Path) -> None:
    realspeech = fake_results()[3]
    files = []
    for label, load in (("whisper", 0.5), ("pocketsphinx", 3.5)):
        path = tmp_path / f"{label}.json"
        run = {"machine": {**report.machine(), "load_avg_1m": load}, "command": f"bench {label}", **realspeech}
        path.write_text(json.dumps({**run, "engines": {label: realspeech["engines"][label]}}), encoding="utf-8")
        files.append(path)
    merged = report.merge_realspeech(files)
    assert list(merged["engines"]) == ["whisper", "pocketsphinx"]
    section = "\n".join(report.realspeech_section(merged, Path("plots")))
    assert "| whisper | 97.0% |" in section and "| pocketsphinx | 75.0% |" in section
    assert "whisper: ran on" in section and "`bench whisper`" in section and "load average 0.5" in section
    assert "pocketsphinx: ran on" in section and "`bench pocketsphinx`" in section and "load average 3.5" in section
    assert report.target_rows(*fake_results()[:3], merged)[0].others == ("75.0%",)  # the README's column beside
    with pytest.raises(SystemExit, match="whisper at clean, 24 dB, 18 dB, 12 dB, 6 dB is in an earlier file too"):
        report.merge_realspeech([files[0], files[0]])
    # One engine's conditions from two runs (a long run split over two processes): one row, both runs named.
    sphinx = json.loads(files[1].read_text())
    for name, conditions in (("quiet.json", ["clean", "24 dB", "18 dB"]), ("loud.json", ["12 dB", "6 dB"])):
        part = {c: sphinx["engines"]["pocketsphinx"][c] for c in conditions}
        (tmp_path / name).write_text(
            json.dumps({**sphinx, "command": name, "conditions": conditions, "engines": {"pocketsphinx": part}}),
            encoding="utf-8",
        )
    split = report.merge_realspeech([files[0], tmp_path / "quiet.json", tmp_path / "loud.json"])
    assert split["conditions"] == ["clean", "24 dB", "18 dB", "12 dB", "6 dB"]
    section = "\n".join(report.realspeech_section(split, Path("plots")))
    assert "| pocketsphinx | 75.0% | 70.0% | 60.0% | 50.0% | 40.0% |" in section
    assert "pocketsphinx (12 dB, 6 dB): ran on" in section and "`loud.json`" in section
    with pytest.raises(SystemExit, match="give pocketsphinx no 12 dB, 6 dB"):
        report.merge_realspeech([files[0], tmp_path / "quiet.json"])


def test_reuse_reads_the_last_run_and_refuses_what_it_cannot_describe(tmp_path: Path) -> None:
    text, speech, latency, _ = fake_results()
    items = report.pick_items(2)
    with pytest.raises(SystemExit, match="text.json, speech.json, latency.json, items.jsonl missing"):
        report.reused_results(tmp_path, items)
    for name, result in (("text.json", text), ("speech.json", speech), ("latency.json", latency)):
        (tmp_path / name).write_text(json.dumps({**result, "command": f"{ROOT}/x --json"}), encoding="utf-8")
    (tmp_path / "items.jsonl").write_text("".join(json.dumps(i) + "\n" for i in items), encoding="utf-8")
    reused_text, reused_speech, reused_latency = report.reused_results(tmp_path, items)
    assert reused_text["phrasings"] == text["phrasings"] and reused_speech["command"] == "x --json"
    with pytest.raises(SystemExit, match="other items"):
        report.reused_results(tmp_path, report.pick_items(3))
    # The same limit picked before items were added to the files: still described, as the items it spoke.
    earlier = [report.pick_items(0)[5], report.pick_items(0)[-1]]
    (tmp_path / "items.jsonl").write_text("".join(json.dumps(i) + "\n" for i in earlier), encoding="utf-8")
    assert report.reused_results(tmp_path, items)[0]["phrasings"] == text["phrasings"]
    assert report.reused_items(tmp_path) == earlier
    gone = [{**earlier[0], "text": "a phrasing no longer in the files"}, earlier[1]]
    (tmp_path / "items.jsonl").write_text("".join(json.dumps(i) + "\n" for i in gone), encoding="utf-8")
    with pytest.raises(SystemExit, match="other items"):
        report.reused_results(tmp_path, items)


def test_report_stops_before_running_anything_when_the_earlier_real_people_file_is_missing(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text((ROOT / "README.md").read_text(encoding="utf-8"), encoding="utf-8")
    assert report.main(["--realspeech-json", str(tmp_path / "absent.json"), "--out", str(tmp_path)]) == 2
    assert not (tmp_path / ".cache").exists()


@pytest.mark.skipif(not (report.REALSPEECH_SET / "labels.jsonl").is_file(), reason="no ../shared/realspeech here")
def test_real_people_manifests_hold_paths_that_resolve_from_any_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Relative --set and --out (a manifest's relative paths are read from its own folder, not from here)."""
    import bench_realspeech

    monkeypatch.chdir(tmp_path)
    relative_set = Path(os.path.relpath(report.REALSPEECH_SET, tmp_path))
    manifests = bench_realspeech.build(relative_set, Path("out"), [], 1, 0)
    (row,) = [json.loads(line) for line in manifests["clean"].read_text(encoding="utf-8").splitlines()]
    assert Path(row["audio"]).is_absolute() and Path(row["audio"]).is_file()


def test_a_spoken_set_run_keeps_the_engines_it_did_not_run_from_an_earlier_run(tmp_path: Path) -> None:
    import bench_speech

    from assistant.errors import AssistantError

    speech = fake_results()[1]
    manifest = tmp_path / "manifest.jsonl"
    earlier = {**speech, "manifest": str(manifest), "recordings": 10, "command": f"{ROOT}/bench --all"}
    (tmp_path / "earlier.json").write_text(json.dumps(earlier), encoding="utf-8")
    now = {**speech, "manifest": str(manifest), "recordings": 10, "jobs": 1, "command": "bench --engines whisper"}
    now["engines"] = {"whisper": {**speech["engines"]["whisper"], "new": True}}
    bench_speech.keep_earlier(now, tmp_path / "earlier.json")
    assert now["engines"]["whisper"]["new"] and now["engines"]["pocketsphinx"] == speech["engines"]["pocketsphinx"]
    assert now["engines"]["vosk"] == speech["engines"]["vosk"]  # still said as missing
    assert now["kept"] == {"pocketsphinx": f"{ROOT}/bench --all"}
    bench_speech.keep_earlier(now, tmp_path / "earlier.json")  # twice: what was kept stays said
    assert now["kept"] == {"pocketsphinx": f"{ROOT}/bench --all"}
    section = report.speech_provenance(now, "a machine")
    assert "PocketSphinx's figures are kept from an earlier run on the same recordings (`bench --all`)" in section
    with pytest.raises(AssistantError, match="other recordings"):
        bench_speech.keep_earlier({**now, "recordings": 11}, tmp_path / "earlier.json")
    (tmp_path / "bad.json").write_text("{}", encoding="utf-8")
    with pytest.raises(AssistantError, match="not a bench_speech result"):
        bench_speech.keep_earlier(now, tmp_path / "bad.json")


def test_replies_are_heard_in_the_state_that_waits_for_them(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import bench_waiting

    from assistant.pack import load_pack

    pack = load_pack()
    assert bench_waiting.waiting_state(pack, "pause") == ("replies, routine", "routine")
    assert bench_waiting.waiting_state(pack, "no") == ("replies, yes_no", "yes_no")
    assert bench_waiting.waiting_state(pack, "cramp_now") == ("replies, muscle", "muscle")
    assert bench_waiting.waiting_state(pack, "cardiac_arrest") == ("emergency", "routine")
    assert bench_waiting.waiting_state(pack, None) == ("out of domain", "routine")
    assert bench_waiting.waiting_state(pack, "eye_twitch") is None  # a question, not a reply: bench_speech's
    samples = BENCHMARKS.parent / "assistant" / "samples"
    rows = [
        {"id": "pause", "audio": str(samples / "09-pause.wav"), "intent": "pause", "slots": {}, "snr_db": None},
        {"id": "no", "audio": str(samples / "02-no.wav"), "intent": "no", "slots": {}, "snr_db": None},
        {"id": "eye", "audio": str(samples / "01-eye.wav"), "intent": "eye_twitch", "slots": {}, "snr_db": None},
    ]
    manifest = tmp_path / "manifest.jsonl"
    manifest.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    out = tmp_path / "waiting.json"
    assert bench_waiting.main(["--manifest", str(manifest), "--json", str(out)]) == 0
    groups = json.loads(out.read_text(encoding="utf-8"))["groups"]
    assert groups == {
        "replies, routine": {"clean": {"right": 1, "n": 1}},
        "replies, yes_no": {"clean": {"right": 1, "n": 1}},
    }
    assert "| replies, routine | 1/1 |  |" in capsys.readouterr().out
    assert bench_waiting.main(["--manifest", str(tmp_path / "missing.jsonl")]) == 2
    assert "cannot read the spoken set's manifest" in capsys.readouterr().err


TEST_MACHINE = {"platform": "Test OS", "cpu": "Test CPU 9000", "cores": 4, "ram_gb": 8.0, "python": "3.11.0"}


@functools.cache
def safety_result() -> dict[str, Any]:
    """bench_safety.py's results, measured once (a few seconds, no audio)."""
    import bench_safety

    return bench_safety.measure()


def untargeted_args(reuse: bool, **given: Path) -> argparse.Namespace:
    """The report's options that ``untargeted_results`` reads: ``--reuse``, and the ``--NAME-json`` files given."""
    files = {f"{name}_json": given.get(f"{name}_json") for name in report.UNTARGETED}
    return argparse.Namespace(reuse=reuse, repeats=1, voice_limit=0, **files)


def write_untargeted_results(folder: Path) -> tuple[Path, Path, Path, Path]:
    """bench_waiting.py, bench_decode.py, bench_safety.py and bench_voice.py --json files shaped as they write
    them, the safety net's as measured, the others with figures no real run gave (commands as run_step runs
    them: absolute paths)."""
    waiting = {
        "command": f".venv/bin/python {BENCHMARKS}/bench_waiting.py --manifest m.jsonl --json w.json",
        "machine": {**TEST_MACHINE, "load_avg_1m": 0.4},
        "engine": "whisper (test model)",
        "groups": {
            "emergency": {"clean": {"right": 3, "n": 4}, "noisy": {"right": 5, "n": 8}},
            "replies, yes_no": {"clean": {"right": 2, "n": 2}},
        },
        "seconds": 1.5,
        "misses": [{"id": "x", "expects": "routine", "heard": "help", "got": None}],
    }
    decode = {
        "machine": {**TEST_MACHINE, "load_avg_1m": 0.6},
        "command": f".venv/bin/python {BENCHMARKS}/bench_decode.py --json d.json",
        "engine": "whisper (test model)",
        "turns": 3,
        "repeats": 2,
        "speech_s_mean": 1.234,
        "stages": {
            "encoder, 30 s window": {"p50_ms": 430.6, "p95_ms": 455.4, "per_speech_s": 0.3412},
            "encoder, 10 s window": {"p50_ms": 56.4, "p95_ms": 64.9, "per_speech_s": 0.0461},
            "matcher": {"p50_ms": 4.0, "p95_ms": 8.1, "per_speech_s": 0.0034},
        },
    }
    safety = {
        **safety_result(),
        "machine": {**TEST_MACHINE, "load_avg_1m": 0.3},
        "command": f".venv/bin/python {BENCHMARKS}/bench_safety.py --json s.json",
    }
    voice = {
        "command": f".venv/bin/python {BENCHMARKS}/bench_voice.py --json v.json",
        "machine": {**TEST_MACHINE, "load_avg_1m": 0.5},
        "listener": "faster-whisper tiny.en (unprompted, beam 5)",
        "voices": {"piper": "Piper voice test", "espeak": "espeak-ng test"},
        "replies": 4,
        "emergency_replies": 2,
        "reference_words": 60,
        "conditions": ["clean", "5 dB"],
        "wer_percent": {
            **{f"piper|{group}|clean": 5.0 for group in ("all", "emergency", "other")},
            **{f"piper|{group}|5 dB": 26.0 for group in ("all", "emergency", "other")},
            **{f"espeak|{group}|{cond}": 30.0 for group in ("all", "emergency", "other") for cond in ("clean", "5 dB")},
        },
        "emergency_first_instruction_lost": {"piper|clean": "0/30", "piper|5 dB": "0/30", "espeak|5 dB": "4/30"},
        "emergency_louder_db": {"piper": 3.5, "espeak": 3.6},
        "preparing_cpu_s": {"piper": 9.0, "espeak": 0.1},
        "first_audio_ms": {
            "piper, not made ahead": {"p50": 200.0, "p95": 380.0, "n": 4},
            "espeak, not made ahead": {"p50": 15.0, "p95": 25.0, "n": 4},
            "piper, made ahead": {"p50": 1.0, "p95": 3.0, "n": 4},
            "espeak, made ahead": {"p50": 7.0, "p95": 18.0, "n": 4},
        },
        "seconds": 12.0,
        "misheard": [],
    }
    folder.mkdir(parents=True, exist_ok=True)
    paths = folder / "waiting.json", folder / "decode.json", folder / "safety.json", folder / "voice.json"
    for path, result in zip(paths, (waiting, decode, safety, voice), strict=True):
        path.write_text(json.dumps(result), encoding="utf-8")
    return paths


def rendered(untargeted: report.Untargeted, monkeypatch: pytest.MonkeyPatch, real: dict[str, Any] | None = None) -> str:
    """BENCHMARKS.md of a --reuse run with these waiting, decode and safety results (and these real-people
    results, else the fake ones); the other benchmarks' sections, tested above, left empty."""
    for section in ("realspeech_section", "speech_section", "latency_section", "text_section"):
        monkeypatch.setattr(report, section, lambda *_: [])
    text, speech, latency, realspeech = fake_results()
    realspeech = real if real is not None else realspeech
    speech = {**speech, "machine": {**TEST_MACHINE, "load_avg_1m": 0.2}, "voices": ["a", "b"]}
    speech |= {"recordings": 20, "ood_recordings": 4}
    args = argparse.Namespace(command="report --reuse", limit=0, reuse=True, repeats=1)
    results = (text, speech, latency, realspeech)
    return report.markdown(args, [], results, untargeted, 0.0, Path("plots"), Path("."))


def test_waiting_and_decode_sections_are_written_from_the_given_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    waiting, decode, safety, voice = write_untargeted_results(tmp_path / "given")
    args = untargeted_args(True, waiting_json=waiting, decode_json=decode, safety_json=safety, voice_json=voice)
    untargeted = report.untargeted_results(args, tmp_path / "cache")
    assert not (tmp_path / "cache").exists()  # nothing ran
    text = rendered(untargeted, monkeypatch)
    waiting_part = text.split("## Replies in a waiting state (bench_waiting.py)\n\n")[1].split("\n## ")[0]
    assert waiting_part.startswith(
        "Ran on: Test OS, Test CPU 9000, 4 cores, 8.0 GB RAM, Python 3.11.0 (load average 0.4 when it started). "
        "Command: `.venv/bin/python benchmarks/bench_waiting.py --manifest m.jsonl --json w.json`. "
        "Engine: whisper (test model).\n\n"
    )
    assert "heard in the first state that waits for it" in waiting_part
    assert waiting_part.endswith(
        "| Heard in its waiting state | Clean | Noisy |\n"
        "| --- | --- | --- |\n"
        "| emergency | 3/4 (75.0%) | 5/8 (62.5%) |\n"
        "| replies, yes_no | 2/2 (100.0%) |  |\n"
    )
    decode_part = text.split("## Where a turn's time goes (bench_decode.py)\n\n")[1].split("\n## ")[0]
    assert decode_part.startswith(
        "Ran on: Test OS, Test CPU 9000, 4 cores, 8.0 GB RAM, Python 3.11.0 (load average 0.6 when it started). "
        "Command: `.venv/bin/python benchmarks/bench_decode.py --json d.json`. Engine: whisper (test model).\n\n"
        "The demo script's 3 turns (one Piper voice, 1.23 s of audio a turn on average) go through the stages of "
        "hearing a turn one after another, 2 times, "
    )
    assert (
        "| Stage | p50 | p95 | Time over the turn's length |\n"
        "| --- | --- | --- | --- |\n"
        "| encoder, 30 s window | 431 ms | 455 ms | 0.341 |\n"
        "| encoder, 10 s window | 56 ms | 65 ms | 0.046 |\n"
        "| matcher | 4 ms | 8 ms | 0.003 |\n\n"
        "Whisper's encoder reads a 30-second window whatever the turn's length"
    ) in decode_part
    assert text.index("## Replies in a waiting state") < text.index("## Where a turn's time goes")
    import bench_safety

    safety_part = text.split("## Safety net (bench_safety.py)\n\n")[1].split("\n## ")[0]
    assert safety_part.startswith(
        "Ran on: Test OS, Test CPU 9000, 4 cores, 8.0 GB RAM, Python 3.11.0 (load average 0.3 when it started). "
        "Command: `.venv/bin/python benchmarks/bench_safety.py --json s.json`.\n\n"  # no engine: typed, no audio
        "Sets of typed sentences, each written blind by a helper agent"
    )
    assert "The held-out set is the measure" in safety_part and "the alarm never trained on it" in safety_part
    assert safety_part.endswith("\n\n" + bench_safety.table(safety_result()) + "\n")  # the table it prints
    assert "| held out | as it runs | " in safety_part and "| held out | templates only | " in safety_part
    assert text.index("## Where a turn's time goes") < text.index("## Safety net") < text.index("## What is missing")
    assert "not measured" not in text.split("## What is missing")[1]
    voice_part = text.split("## Spoken replies (bench_voice.py)\n\n")[1].split("\n## ")[0]
    assert voice_part.startswith(
        "Ran on: Test OS, Test CPU 9000, 4 cores, 8.0 GB RAM, Python 3.11.0 (load average 0.5 when it started). "
        "Command: `.venv/bin/python benchmarks/bench_voice.py --json v.json`.\n\n"
    )
    assert "3 of 4 of the voice's targets met:" in voice_part
    assert "| piper (default voice): word errors of the replies, clean | ≤ 8% | 5.0% | met |" in voice_part
    assert "| piper: word errors of the replies at 5 dB | ≤ 25% | 26.0% | **not met** |" in voice_part
    assert "first instruction lost at 5 dB | none | 0/30 | met |" in voice_part
    assert "each as a session uses it | no slower | 1.0 / 3.0 ms against 7.0 / 18.0 ms | met |" in voice_part
    assert "| piper | emergency advice | 5.0% | 26.0% |" in voice_part  # emergency advice on its own line
    assert "- espeak: clean -, 5 dB 4/30" in voice_part and "v.json" not in voice_part.split("met |")[-1]


def test_a_missing_waiting_or_decode_result_is_a_line_of_what_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    write_untargeted_results(cache)
    (cache / "waiting.json").unlink()  # an earlier run that did not measure it
    args = untargeted_args(True)
    text = rendered(report.untargeted_results(args, cache), monkeypatch)
    assert "## Replies in a waiting state" not in text
    assert "## Where a turn's time goes (bench_decode.py)" in text
    missing = text.split("## What is missing\n\n")[1]
    assert (
        "- Replies in a waiting state (bench_waiting.py): not measured; `.venv/bin/python "
        f"benchmarks/bench_waiting.py --manifest {cache}/spoken/manifest.jsonl --json {cache}/waiting.json` "
        "measures it.\n"
    ) in missing
    assert "bench_decode.py" not in missing
    assert "## Safety net (bench_safety.py)" in text and "bench_safety.py" not in missing


def test_a_measuring_run_runs_bench_waiting_on_the_spoken_set_unless_its_results_are_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    given = tmp_path / "given"
    waiting, decode, safety, voice = write_untargeted_results(given)
    ran: list[tuple[str, list[str], Path]] = []

    def run_step(name: str, argv: list[str], log: Path) -> None:
        ran.append((name, argv, log))
        Path(argv[-1]).write_text(waiting.read_text(encoding="utf-8"), encoding="utf-8")

    monkeypatch.setattr(report, "run_step", run_step)
    cache = tmp_path / "cache"
    cache.mkdir()
    args = untargeted_args(False, decode_json=decode, safety_json=safety, voice_json=voice)
    untargeted = report.untargeted_results(args, cache)
    manifest = str(cache / "spoken" / "manifest.jsonl")
    script = str(BENCHMARKS / "bench_waiting.py")
    argv = [report.PYTHON, script, "--manifest", manifest, "--json", str(cache / "waiting.json")]
    assert ran == [("bench_waiting.py", argv, cache / "waiting.log")]  # bench_decode's and bench_safety's were given
    assert untargeted["waiting"]["groups"]["emergency"]["noisy"] == {"right": 5, "n": 8}
    assert untargeted["decode"]["turns"] == 3
    assert untargeted["safety"]["sets"]["held out"]["with red flags"]["emergencies"] == 144


@pytest.mark.parametrize("flag", ["--waiting-json", "--decode-json", "--safety-json", "--voice-json"])
def test_report_stops_before_running_anything_when_a_given_waiting_or_decode_file_is_missing(
    tmp_path: Path, flag: str, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "README.md").write_text((ROOT / "README.md").read_text(encoding="utf-8"), encoding="utf-8")
    assert report.main(["--reuse", flag, str(tmp_path / "absent.json"), "--out", str(tmp_path)]) == 2
    assert f"{flag} {tmp_path / 'absent.json'}: no such file" in capsys.readouterr().err
    assert not (tmp_path / ".cache").exists()


def test_the_decode_stages_are_timed_as_often_as_the_other_timings(tmp_path: Path) -> None:
    command = report.untargeted_command("decode", tmp_path, 2)
    assert command[1].endswith("bench_decode.py")
    assert command[command.index("--repeats") + 1] == "2"
    assert "--repeats" not in report.untargeted_command("waiting", tmp_path, 2)
    safety = [report.PYTHON, str(BENCHMARKS / "bench_safety.py"), "--json", str(tmp_path / "safety.json")]
    assert report.untargeted_command("safety", tmp_path, 2) == safety  # typed sentences: nothing to repeat
    voice = report.untargeted_command("voice", tmp_path, 2, voice_limit=3)
    assert voice[voice.index("--limit") + 1] == "3" and "--limit" not in report.untargeted_command("voice", tmp_path, 2)


def test_the_safety_benchmark_scores_every_set_three_ways(tmp_path: Path) -> None:
    import bench_safety

    from assistant.pack import load_pack

    pack = load_pack()
    own = json.loads(bench_safety.KINDS.read_text(encoding="utf-8"))
    assert all(pack.is_emergency(intent) for intent in own.values())
    for stem in bench_safety.SETS.values():
        kinds = {item["class"] for item in bench_safety.lines(bench_safety.DATA / f"{stem}.jsonl")}
        assert kinds <= set(own), stem  # kinds of emergency the pack has advice for
        assert stem == "safety_probe_dev3" or kinds == set(own), stem  # the others: every kind
        assert all("class" not in item for item in bench_safety.lines(bench_safety.DATA / f"{stem}_calm.jsonl"))
    keep = tmp_path / "safety.json"
    assert bench_safety.main(["--json", str(keep)]) == 0
    results = json.loads(keep.read_text(encoding="utf-8"))
    held = results["sets"]["held out"]
    assert {r["emergencies"] for r in held.values()} == {144} and set(held) == {
        "as it runs",
        "with red flags",
        "templates only",
    }
    # Each layer hears at least what the one beneath it hears: the red flags add to the templates, the learned
    # alarm to the red flags.
    assert held["with red flags"]["emergency_advice"] > held["templates only"]["emergency_advice"]
    assert held["as it runs"]["emergency_advice"] >= held["with red flags"]["emergency_advice"]
    for how in held.values():
        assert how["calm_alarms"] == len(how["calm_alarm_lines"])


def test_an_engine_not_run_on_the_real_recordings_is_a_line_of_what_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    untargeted = report.untargeted_results(
        untargeted_args(True),
        tmp_path / "empty",
    )
    realspeech = fake_results()[3]
    whisper_only = {**realspeech, "engines": {"whisper": realspeech["engines"]["whisper"]}}
    for real, expected in ((realspeech, False), (whisper_only, True)):
        missing = rendered(untargeted, monkeypatch, real).split("## What is missing\n\n")[1]
        assert ("- Real people: pocketsphinx heard the spoken set but was not run" in missing) is expected
        assert "Real people: whisper" not in missing and "Real people: vosk" not in missing
