"""Speech data for WaveNet: mu-law, WAV files, sample rates, espeak-ng voices."""

from __future__ import annotations

import wave

import numpy as np
import pytest

from irkit.errors import InputError
from irkit.generative.audio import speech

needs_espeak = pytest.mark.skipif(
    speech.espeak_path() is None,
    reason="espeak-ng is not installed (scripts/setup.sh installs it with apt where it can)",
)


def test_mulaw_round_trip():
    codes = np.arange(256)
    assert (speech.mulaw_encode(speech.mulaw_decode(codes)) == codes).all()
    x = np.linspace(-1, 1, 20001)
    q = speech.mulaw_encode(x)
    assert q.min() == 0 and q.max() == 255
    assert (np.diff(q) >= 0).all()  # monotone
    err = np.abs(speech.mulaw_decode(q) - x)
    # mu-law spends its codes on quiet sounds: small error near zero, larger near full scale.
    assert err[np.abs(x) < 0.01].max() < 5e-4
    assert err.max() < 0.035
    assert speech.mulaw_decode(np.array([speech.SILENCE]))[0] == pytest.approx(0, abs=1e-3)


def _write_raw_wav(path, audio, rate, channels=1):
    pcm = (np.clip(audio, -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.repeat(pcm, channels).tobytes())


def test_wav_round_trip(tmp_path):
    t = np.arange(1600) / speech.RATE
    x = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    p = speech.write_wav(tmp_path / "a.wav", x)
    with wave.open(str(p)) as w:
        assert (w.getframerate(), w.getsampwidth(), w.getnchannels()) == (16000, 2, 1)
    assert np.abs(speech.read_wav(p) - x).max() < 1e-4


def test_other_sample_rate_is_resampled_or_refused(tmp_path):
    rate = 22050
    t = np.arange(rate) / rate  # one second of a 440 Hz tone
    p = tmp_path / "tone.wav"
    _write_raw_wav(p, 0.5 * np.sin(2 * np.pi * 440 * t), rate, channels=2)
    with pytest.raises(InputError, match=r"22050 Hz.*16000 Hz"):
        speech.read_wav(p, resample_to=False)
    y = speech.read_wav(p)
    assert len(y) == speech.RATE
    # Still a 440 Hz tone after resampling: the spectral peak is at 440 Hz.
    spec = np.abs(np.fft.rfft(y))
    assert abs(np.argmax(spec) * speech.RATE / len(y) - 440) < 2
    with pytest.raises(InputError, match="16000 Hz"):
        speech.log_mel(y, rate=rate)


def test_bad_wav_files(tmp_path):
    with pytest.raises(InputError, match="no such WAV"):
        speech.read_wav(tmp_path / "missing.wav")
    bad = tmp_path / "bad.wav"
    bad.write_text("not audio")
    with pytest.raises(InputError, match="not a PCM WAV"):
        speech.read_wav(bad)


def test_unknown_voice_names_the_known_voices():
    with pytest.raises(InputError, match="unknown voice 'nobody'; known voices: us-male, gb-female"):
        speech.voice_index("nobody")
    with pytest.raises(InputError, match="known voices"):
        speech.synthesize("a wing in a slipstream", "nobody")


def test_cranfield_sentences_split_is_disjoint_and_fixed():
    train, test = speech.cranfield_sentences("train"), speech.cranfield_sentences("test")
    assert len(train) > 1000 and len(test) > 100
    assert not set(train) & set(test)
    assert speech.cranfield_sentences("test")[:5] == test[:5]
    assert all(6 <= len(s.split()) <= 14 for s in test)


@needs_espeak
def test_espeak_speech_in_two_voices():
    text = speech.cranfield_sentences("test")[0]
    a = speech.synthesize(text, "us-male")
    b = speech.synthesize(text, "gb-female")
    assert a.dtype == np.float32 and 1.0 < len(a) / speech.RATE < 10
    assert np.array_equal(a, speech.synthesize(text, "us-male"))  # deterministic
    assert 0.02 < np.abs(a).max() <= 1 and np.abs(a[:800]).max() > 0.01  # speech, leading silence trimmed

    def pitch(x):  # autocorrelation peak between 60 and 400 Hz over the loud frames
        frames = [x[i : i + 1024] for i in range(0, len(x) - 1024, 512) if np.abs(x[i : i + 1024]).mean() > 0.05]
        lags = []
        for f in frames:
            ac = np.correlate(f, f, "full")[1023:]
            lo, hi = speech.RATE // 400, speech.RATE // 60
            lags.append(lo + np.argmax(ac[lo:hi]))
        return speech.RATE / np.median(lags)

    # The female variant speaks clearly higher: the global condition is a real difference.
    assert pitch(b) > 1.3 * pitch(a)
    mel = speech.log_mel(a)
    assert mel.shape == (speech.N_MELS, len(a) // speech.HOP) and np.isfinite(mel).all()


@needs_espeak
def test_speech_corpus_and_unigram_baseline():
    train = speech.speech_corpus("train", 2, quiet=True)
    test = speech.speech_corpus("test", 1, quiet=True)
    assert [u.voice for u in train] == ["us-male", "gb-female"] * 2
    assert all(len(u.audio) % speech.HOP == 0 for u in train)
    counts = speech.unigram_counts(train)
    bits = speech.unigram_bits(counts, test)
    assert 1 < bits < 8  # better than uniform over 256 codes, far from free
    assert speech.unigram_bits(np.zeros(256), test) == pytest.approx(8.0)
