"""The benchmark report regenerates end to end on a tiny subset: markdown with every section, and both plots."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import report  # noqa: E402


@pytest.mark.slow
def test_report_writes_markdown_and_plots_from_a_tiny_subset(tmp_path: Path) -> None:
    argv = ["--limit", "2", "--repeats", "1", "--timing-items", "2", "--turns", "2", "--startup-runs", "1"]
    assert report.main([*argv, "--out", str(tmp_path)]) == 0

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
