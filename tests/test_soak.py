"""Soak, CI size: a few minutes of gym audio through the real listening loop, faster than real time.

The full form is ``benchmarks/soak.py`` (30 minutes of audio, figures printed); this one asserts.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import soak  # noqa: E402
from fakes import need  # noqa: E402

AUDIO_MINUTES = 3.5

WARM_UP_SAMPLES = 2
"""Resident-size samples taken while the first decodes and syntheses still allocate for good."""
RSS_GROWTH_MB = 20.0
"""How much the resident floor may still rise between the first and the second half of the run.

Since 2026-11-30 PocketSphinx's open-vocabulary pass runs in the assistant's process, and inside the full
suite the floor rose 14 MB (alone it stayed within 5 MB); why is not yet known (buffers kept at the size of
the longest turn heard is the likely cause). A decoder leaked per turn (tens of MB each) still fails this;
a slow leak needs the 30-minute benchmark (which, on 2026-11-25, rose about 0.5 MB per audio minute, 257 ->
270 MB over 27 minutes: under investigation, see benchmarks/soak.py).
"""


@pytest.fixture(scope="module")
def figures() -> soak.Figures:
    need("espeak-ng")
    soak.pocketsphinx()  # start-up is not part of the soak
    return soak.run_soak(soak.make_audio(AUDIO_MINUTES, seed=7), sample_every_s=15.0)


@pytest.mark.slow
def test_every_question_is_answered_with_the_right_intent(figures: soak.Figures) -> None:
    assert figures.audio_s >= AUDIO_MINUTES * 60
    assert figures.asked >= 20
    assert figures.answered_right == figures.asked, "\n".join(figures.wrong)


@pytest.mark.slow
def test_noise_and_babble_are_never_answered(figures: soak.Figures) -> None:
    answered = [extra for extra in figures.extra_turns if not extra.endswith("-> None")]
    assert answered == []


@pytest.mark.slow
def test_no_thread_or_file_handle_is_left_behind(figures: soak.Figures) -> None:
    assert figures.threads[1] == figures.threads[0]
    assert figures.fds[1] == figures.fds[0]


@pytest.mark.slow
def test_resident_memory_stops_growing(figures: soak.Figures) -> None:
    samples = [mb for _, mb in figures.rss_mb]
    assert len(samples) >= 6
    settled = samples[WARM_UP_SAMPLES:]
    half = len(settled) // 2
    # The floor between decodes, not the peaks: PocketSphinx's open-vocabulary pass allocates tens of MB while
    # it hears an unsure turn and frees them after, so a sample taken mid-decode stands well above the rest.
    assert min(settled[half:]) - min(settled[:half]) <= RSS_GROWTH_MB, figures.rss_mb
