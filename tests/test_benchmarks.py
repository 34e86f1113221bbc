"""The benchmark report regenerates end to end on a tiny subset: markdown with every section, both plots, and the
README's headline figures between their markers."""

from __future__ import annotations

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
    readme = ROOT / "README.md"
    (tmp_path / "README.md").write_text(readme.read_text(encoding="utf-8"), encoding="utf-8")
    assert report.main([*argv, "--out", str(tmp_path)]) == 0
    rewritten = (tmp_path / "README.md").read_text(encoding="utf-8")
    assert rewritten.split(report.README_START)[0] == readme.read_text(encoding="utf-8").split(report.README_START)[0]
    assert "| Start-up to listening | < 1.5 s |" in rewritten

    text = (tmp_path / "BENCHMARKS.md").read_text(encoding="utf-8")
    for heading in ("## Targets", "## Spoken commands", "## Response latency", "## Typed questions"):
        assert heading in text
    assert "Vosk: no English model on this machine" in text or "### vosk" in text
    total = len(report.pick_items(0))
    assert "--limit 2" in text and f"2 of the {total} text items" in text  # the subset is named, not hidden
    assert f"Python {sys.version_info.major}.{sys.version_info.minor}" in text and " cores, " in text
    for plot in ("acceptance_vs_snr.png", "latency.png"):
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


def fake_results(load: float = 0.1) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Text, speech and latency results shaped as report.py collects them, with figures no real run gave."""
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
        },
    }
    latency = {
        "machine": {"load_avg_1m": 0.3},
        "intent_ms_p95": 9.4,
        "response_ms_p50": 312.6,
        "response_ms_p95": 701.2,
        "rss_after_turns_mb": 299.9,
        "startup_to_listening_s": 1.504,
    }
    return text, speech, latency


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
        "| What | Target | Measured |",
        "| --- | --- | --- |",
        "| Typed questions: top-1 intent on 12 held-out phrasings | ≥ 95% | 91.7% |",
        "| Typed questions: out-of-domain false accepts (8 items) | ≤ 5% | 12.5% |",
        "| Match latency p95, bundled pack (34 templates) | < 2 ms | 1.23 ms |",
        "| Match latency p95, 10⁴-sentence coffee pack | < 10 ms | 12.50 ms |",
        "| `assistant ask` cold start, median | < 1 s | 1,234 ms |",
        "| Spoken commands, PocketSphinx, mean of 24/18/12/6 dB | ≥ 97% | 50.0% |",
        "| Spoken commands, PocketSphinx, at 6 dB | ≥ 93% | 25.0% |",
        "| Spoken commands, PocketSphinx, clean synthetic voices | | 87.5% |",
        "| Spoken out-of-domain false accepts | ≤ 3% | 6.2% |",
        "| Real-time factor, PocketSphinx (noise suppression included) | ≤ 0.1 | 0.12 |",
        "| End of audio to final intent p95, spoken set (files, beyond endpointing) | < 150 ms | 152 ms |",
        "| Live: turn ended to reply decided, p95 | < 150 ms | 9 ms |",
        "| End of speech to first reply sample, p50 / p95 (incl. endpointing) | < 400 / 700 ms | 313 / 701 ms |",
        "| Resident memory, default engine | < 300 MB | 300 MiB |",
        "| Start-up to listening | < 1.5 s | 1.50 s |",
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
