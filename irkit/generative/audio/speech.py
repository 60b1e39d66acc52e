"""Speech data for WaveNet: espeak-ng synthesis, 16-bit WAV files, mu-law codes, log-mel features.

The ``speech`` data set is real sentences from Cranfield abstracts, spoken by
Debian's espeak-ng in two voices (the WaveNet's global condition) and resampled
to 16 kHz. Sentences come from a fixed split of the abstracts by document: every
tenth document (id divisible by 10) gives held-out sentences, the rest training
sentences, so test audio never repeats a training sentence. Synthesis is
deterministic, so the same options give the same audio on every machine with
the same espeak-ng.

Local conditioning features are 40-band log-mel frames every 10 ms. They are
computed from the audio itself (the WaveNet is then a vocoder: it must invent
the waveform, not the words); at sampling time they come from espeak speaking a
held-out sentence, so a sample says that sentence in the WaveNet's own waveform.
Phoneme ids per frame would need a forced alignment that espeak does not emit
for its own voices; pitch and energy alone leave the phonetic content unknown.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import tempfile
import wave
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from irkit.errors import InputError, IrkitError
from irkit.progress import log

RATE = 16000
MU = 255  # 256 mu-law classes
HOP = 160  # 10 ms frames
N_FFT = 512
N_MELS = 40
SPLIT_SEED = 0
# espeak-ng pauses are exact digital zeros (about a tenth of its samples). A model
# trained on them learns silence as an absorbing state: once a sample run falls
# silent it stays silent. Gaussian dither at about -70 dBFS (a few mu-law codes
# around zero) makes silence sound like a quiet room instead.
DITHER = 3e-4
# Voice id -> espeak-ng voice. Two clearly different speakers: an American male
# voice and British English ("en") with espeak's female variant 3 (higher pitch, other formants).
VOICES: dict[str, str] = {"us-male": "en-us", "gb-female": "en+f3"}
_WORDS = re.compile(r"^[a-z][a-z ,\-]*[a-z]$")


# -- mu-law --------------------------------------------------------------------


def mulaw_encode(audio: np.ndarray, mu: int = MU) -> np.ndarray:
    """Audio in [-1, 1] (clipped) -> int64 codes 0..mu."""
    x = np.clip(np.asarray(audio, dtype=np.float64), -1.0, 1.0)
    y = np.sign(x) * np.log1p(mu * np.abs(x)) / np.log1p(mu)
    return np.rint((y + 1) / 2 * mu).astype(np.int64)


def mulaw_decode(codes: np.ndarray, mu: int = MU) -> np.ndarray:
    """Codes 0..mu -> float32 audio in [-1, 1] (the centre of each code's bin)."""
    y = 2 * np.asarray(codes, dtype=np.float64) / mu - 1
    return (np.sign(y) * np.expm1(np.abs(y) * np.log1p(mu)) / mu).astype(np.float32)


SILENCE = int(mulaw_encode(np.zeros(1))[0])  # the code of 0.0, fed before the first sample


# -- WAV files -------------------------------------------------------------------


def resample(audio: np.ndarray, src: int, dst: int = RATE) -> np.ndarray:
    """Polyphase resampling (scipy) from ``src`` Hz to ``dst`` Hz."""
    if src == dst:
        return np.asarray(audio, dtype=np.float32)
    from math import gcd

    from scipy.signal import resample_poly

    g = gcd(src, dst)
    return resample_poly(np.asarray(audio, dtype=np.float64), dst // g, src // g).astype(np.float32)


def read_wav(path: str | os.PathLike[str], rate: int = RATE, resample_to: bool = True) -> np.ndarray:
    """A PCM WAV file as mono float32 in [-1, 1] at ``rate`` Hz.

    A file at another sample rate is resampled (with a log line saying so) or,
    with ``resample_to=False``, refused with an error naming both rates.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError("no such WAV file", p)
    try:
        with wave.open(str(p), "rb") as w:
            channels, width, src, n = w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()
            raw = w.readframes(n)
    except (wave.Error, EOFError) as e:
        raise InputError(f"not a PCM WAV file ({e})", p) from None
    if width == 1:
        x = (np.frombuffer(raw, np.uint8).astype(np.float32) - 128) / 128
    elif width == 2:
        x = np.frombuffer(raw, "<i2").astype(np.float32) / 32768
    elif width == 3:
        b = np.frombuffer(raw, np.uint8).reshape(-1, 3).astype(np.int32)
        x = ((b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)) << 8 >> 8).astype(np.float32) / 2**23
    elif width == 4:
        x = np.frombuffer(raw, "<i4").astype(np.float32) / 2**31
    else:
        raise InputError(f"unsupported sample width {width} bytes", p)
    x = x[: len(x) // channels * channels].reshape(-1, channels).mean(1)
    if src != rate:
        if not resample_to:
            raise InputError(f"audio is at {src} Hz; this model works at {rate} Hz (allow resampling to use it)", p)
        log(f"{p}: resampling {src} Hz -> {rate} Hz")
        x = resample(x, src, rate)
    return x.astype(np.float32)


def write_wav(path: str | os.PathLike[str], audio: np.ndarray, rate: int = RATE, overwrite: bool = True) -> Path:
    """Mono 16-bit PCM WAV (stdlib ``wave``), written atomically."""
    from irkit.io.atomic import atomic_file

    pcm = (np.clip(np.asarray(audio, dtype=np.float64), -1, 1) * 32767).round().astype("<i2")
    with atomic_file(path, overwrite=overwrite, mode="wb") as fh, wave.open(fh, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return Path(path)


# -- espeak-ng -------------------------------------------------------------------


def espeak_path() -> str | None:
    """The espeak-ng executable, or None."""
    return shutil.which("espeak-ng")


def require_espeak() -> str:
    exe = espeak_path()
    if exe is None:
        raise IrkitError(
            "espeak-ng is not installed; the speech data is synthesised with it "
            "(apt-get install espeak-ng, or run scripts/setup.sh)"
        )
    return exe


def voice_index(voice: str, voices: tuple[str, ...] | list[str] = tuple(VOICES)) -> int:
    """The index of a voice id, or an error naming the known voices."""
    try:
        return list(voices).index(voice)
    except ValueError:
        raise InputError(f"unknown voice {voice!r}; known voices: {', '.join(voices)}") from None


def trim_silence(audio: np.ndarray, threshold: float = 0.01, margin: int = RATE // 25) -> np.ndarray:
    """Leading and trailing silence cut to ``margin`` samples (40 ms)."""
    loud = np.flatnonzero(np.abs(audio) > threshold)
    if len(loud) == 0:
        return audio[:0]
    return audio[max(loud[0] - margin, 0) : loud[-1] + margin + 1]


def synthesize(text: str, voice: str = "us-male", rate: int = RATE, dither: float = DITHER) -> np.ndarray:
    """``text`` spoken by espeak-ng in ``voice`` (a key of :data:`VOICES`), float32 at ``rate`` Hz.

    Leading and trailing silence is trimmed; ``dither`` (the noise's standard
    deviation) is seeded by the text and voice, so the audio is deterministic.
    """
    voice_index(voice)
    exe = require_espeak()
    with tempfile.TemporaryDirectory(prefix="irkit-espeak-") as tmp:
        out = Path(tmp) / "speech.wav"
        proc = subprocess.run(
            [exe, "-v", VOICES[voice], "-w", str(out), "--stdin"], input=text, text=True, capture_output=True
        )
        if proc.returncode != 0 or not out.is_file():
            raise IrkitError(f"espeak-ng failed on {text[:40]!r}: {proc.stderr.strip()[:200]}")
        with wave.open(str(out), "rb") as w:
            src = w.getframerate()
            x = np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float32) / 32768
    x = trim_silence(resample(x, src, rate))
    if dither:
        rng = np.random.default_rng(zlib.crc32(f"{voice}\n{text}".encode()))
        x = x + rng.normal(0.0, dither, len(x)).astype(np.float32)
    return x


# -- the speech data set -----------------------------------------------------------


def cranfield_path() -> Path:
    """``$IRKIT_DATA/cranfield/cran.all.1400``, or the built-in Cranfield (gzipped, read alike)."""
    from irkit.datasets import locate

    return locate("cranfield/cran.all.1400")


def cranfield_sentences(split: str = "train", path: str | os.PathLike[str] | None = None) -> list[str]:
    """Plain sentences (6-14 words, letters only) from the abstracts of the split's documents, in a fixed order."""
    from irkit.io.documents import iter_smart_records

    if split not in ("train", "test"):
        raise InputError(f"split must be train or test, not {split!r}")
    p = Path(path) if path is not None else cranfield_path()
    if not p.is_file():
        raise InputError("Cranfield abstracts not found (set IRKIT_DATA to the shared datasets folder)", p)
    found: dict[str, list[str]] = {"train": [], "test": []}
    seen: set[tuple[str, str]] = set()
    for _, rid, rec in iter_smart_records(p):
        side = "test" if int(rid) % 10 == 0 else "train"
        for s in re.split(r"\s\.(?:\s|$)", " ".join(rec.get("W", "").split())):
            s = s.strip()
            if 6 <= len(s.split()) <= 14 and _WORDS.match(s) and (side, s) not in seen:
                seen.add((side, s))
                found[side].append(s)
    # Some abstracts share sentences: a test sentence is never a training sentence.
    out = found["test"] if split == "test" else [s for s in found["train"] if ("test", s) not in seen]
    order = np.random.default_rng(SPLIT_SEED).permutation(len(out))
    return [out[i] for i in order]


@dataclass
class Utterance:
    text: str
    voice: str
    audio: np.ndarray  # float32 at RATE Hz, a whole number of HOP frames

    @property
    def codes(self) -> np.ndarray:
        return mulaw_encode(self.audio)


def speech_corpus(
    split: str = "train", sentences: int = 64, voices: tuple[str, ...] = tuple(VOICES), quiet: bool = False
) -> list[Utterance]:
    """The first ``sentences`` sentences of a split, each spoken in every voice.

    Kept in memory per process, so a script that trains and evaluates several
    models synthesises each split once.
    """
    for v in voices:
        voice_index(v)
    return list(_corpus(split, sentences, tuple(voices), quiet))


@functools.lru_cache(maxsize=4)
def _corpus(split: str, sentences: int, voices: tuple[str, ...], quiet: bool) -> tuple[Utterance, ...]:
    from irkit.progress import progress

    texts = cranfield_sentences(split)[:sentences]
    if len(texts) < sentences:
        raise InputError(f"only {len(texts)} {split} sentences available, not {sentences}")
    require_espeak()
    out = []
    for text in progress(texts, desc=f"espeak-ng {split}", unit="sentence", disable=quiet):
        for v in voices:
            x = synthesize(text, v)
            out.append(Utterance(text, v, x[: len(x) // HOP * HOP]))
    return tuple(out)


def protocol(train_sentences: int, test_sentences: int, voices: tuple[str, ...] = tuple(VOICES)) -> str:
    return (
        f"espeak-ng speech of Cranfield abstract sentences ({train_sentences} train / {test_sentences} test "
        f"sentences, documents split by id % 10, split seed {SPLIT_SEED}) in voices {', '.join(voices)}; "
        f"{RATE} Hz, 8-bit mu-law (256 classes), leading/trailing silence trimmed, dither {DITHER:g}"
    )


# -- features and baselines ----------------------------------------------------------


def _mel_filters(rate: int, n_fft: int, n_mels: int) -> np.ndarray:
    def hz_to_mel(f):
        return 2595 * np.log10(1 + np.asarray(f) / 700)

    def mel_to_hz(m):
        return 700 * (10 ** (np.asarray(m) / 2595) - 1)

    edges = mel_to_hz(np.linspace(hz_to_mel(0), hz_to_mel(rate / 2), n_mels + 2))
    freqs = np.linspace(0, rate / 2, n_fft // 2 + 1)
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    return np.maximum(0, np.minimum((freqs - lo) / (mid - lo), (hi - freqs) / (hi - mid))).astype(np.float32)


def log_mel(
    audio: np.ndarray, rate: int = RATE, n_mels: int = N_MELS, hop: int = HOP, n_fft: int = N_FFT
) -> np.ndarray:
    """``(n_mels, len(audio) // hop)`` log-mel frames; frame ``i`` is centred on sample ``i*hop + hop/2``."""
    if rate != RATE:
        raise InputError(f"log-mel features are defined at {RATE} Hz, not {rate} Hz; resample first")
    x = np.asarray(audio, dtype=np.float32)
    frames = len(x) // hop
    if frames == 0:
        return np.zeros((n_mels, 0), np.float32)
    left = n_fft // 2 - hop // 2
    padded = np.pad(x[: frames * hop], (left, n_fft - left), mode="constant")
    idx = np.arange(frames)[:, None] * hop + np.arange(n_fft)[None, :]
    spec = np.abs(np.fft.rfft(padded[idx] * np.hanning(n_fft).astype(np.float32), axis=1)) ** 2
    return np.log(spec @ _mel_filters(rate, n_fft, n_mels).T + 1e-6).T.astype(np.float32)


def unigram_counts(utterances: list[Utterance], classes: int = MU + 1) -> np.ndarray:
    return sum(np.bincount(u.codes, minlength=classes) for u in utterances).astype(np.float64)


def unigram_bits(counts: np.ndarray, utterances: list[Utterance]) -> float:
    """Test NLL in bits per sample of the add-one-smoothed mu-law unigram fitted as ``counts``."""
    logp = np.log2((counts + 1) / (counts.sum() + len(counts)))
    n = sum(len(u.audio) for u in utterances)
    return float(-sum(logp[u.codes].sum() for u in utterances) / n)


def spectrogram_png(
    path: str | os.PathLike[str], panels: list[tuple[str, np.ndarray]], rate: int = RATE, overwrite: bool = True
) -> Path:
    """One log-mel spectrogram panel per ``(title, audio)``, stacked, as a PNG (written atomically)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from irkit.io.atomic import atomic_path

    fig, axes = plt.subplots(len(panels), 1, figsize=(8, 1.9 * len(panels)), squeeze=False)
    for ax, (title, audio) in zip(axes[:, 0], panels, strict=True):
        m = log_mel(audio, rate)
        ax.imshow(m, origin="lower", aspect="auto", cmap="magma", extent=(0, len(audio) / rate, 0, m.shape[0]))
        ax.set_title(title, fontsize=9)
        ax.set_ylabel("mel band")
    axes[-1, 0].set_xlabel("seconds")
    fig.tight_layout()
    with atomic_path(path, overwrite=overwrite) as tmp:
        fig.savefig(tmp, format="png", dpi=80)
    plt.close(fig)
    return Path(path)
