"""audio.py: formats, bit depths, channels, rates, and typed errors for bad files."""

import numpy as np
import pytest
import soundfile as sf

from vocalsearch_tf.signal import audio


def tone(rate, seconds=0.5, freq=440.0):
    t = np.arange(int(rate * seconds)) / rate
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.mark.parametrize("subtype", ["PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT"])
def test_reads_every_bit_depth(tmp_path, subtype):
    path = tmp_path / f"{subtype}.wav"
    sf.write(path, tone(16_000), 16_000, subtype=subtype)
    samples, rate = audio.load(path)
    assert rate == 16_000 and samples.dtype == np.float32
    np.testing.assert_allclose(samples, tone(16_000), atol=0.01)


@pytest.mark.parametrize("fmt", ["FLAC", "OGG"])
def test_reads_flac_and_ogg(tmp_path, fmt):
    path = tmp_path / f"clip.{fmt.lower()}"
    sf.write(path, tone(22_050), 22_050, format=fmt)
    samples, rate = audio.load(path, 16_000)
    assert rate == 16_000 and abs(len(samples) - 8_000) <= 1
    assert 0.3 < np.max(np.abs(samples)) < 0.7


def test_stereo_24_bit_48k_becomes_mono_16k(tmp_path):
    path = tmp_path / "stereo.wav"
    left, right = tone(48_000, freq=440.0), tone(48_000, freq=440.0) * 0.5
    sf.write(path, np.stack([left, right], axis=1), 48_000, subtype="PCM_24")
    samples, rate = audio.load(path, 16_000)
    assert rate == 16_000 and samples.ndim == 1 and len(samples) == 8_000
    expected = audio.resample((left + right) / 2, 48_000, 16_000)
    np.testing.assert_allclose(samples, expected, atol=1e-3)
    spectrum = np.abs(np.fft.rfft(samples))
    assert abs(np.argmax(spectrum) * 16_000 / len(samples) - 440.0) < 4


def test_max_seconds_reads_only_the_start(tmp_path):
    path = tmp_path / "long.wav"
    sf.write(path, tone(8_000, seconds=10), 8_000)
    samples, _ = audio.load(path, max_seconds=1.5)
    assert len(samples) == 12_000


def test_fix_length_truncates_and_pads():
    x = np.arange(5, dtype=np.float32) + 1
    assert audio.fix_length(x, 3).tolist() == [1, 2, 3]
    assert audio.fix_length(x, 7).tolist() == [1, 2, 3, 4, 5, 0, 0]


def test_load_clip_has_exact_length(tmp_path):
    path = tmp_path / "clip.wav"
    sf.write(path, tone(44_100, seconds=2.0), 44_100)
    assert len(audio.load_clip(path, 16_000, 53_761)) == 53_761
    assert len(audio.load_clip(path, 16_000, 8_000)) == 8_000


def test_missing_file(tmp_path):
    with pytest.raises(audio.AudioFileMissingError, match="nope.wav: no such file") as info:
        audio.load(tmp_path / "nope.wav")
    assert isinstance(info.value, FileNotFoundError)


def test_truncated_header(tmp_path):
    good = tmp_path / "good.wav"
    sf.write(good, tone(16_000), 16_000)
    bad = tmp_path / "truncated.wav"
    bad.write_bytes(good.read_bytes()[:20])
    with pytest.raises(audio.AudioDecodeError, match="truncated.wav: cannot decode") as info:
        audio.load(bad)
    assert info.value.path == bad


def test_not_audio(tmp_path):
    path = tmp_path / "notes.wav"
    path.write_text("this is a text file, not a RIFF/WAVE file\n" * 10)
    with pytest.raises(audio.AudioDecodeError, match="notes.wav"):
        audio.load(path)


def test_empty_file(tmp_path):
    path = tmp_path / "empty.wav"
    sf.write(path, np.zeros(0, np.float32), 16_000)
    with pytest.raises(audio.EmptyAudioError, match="empty.wav: contains no samples"):
        audio.load(path)
    zero_bytes = tmp_path / "zero.wav"
    zero_bytes.write_bytes(b"")
    with pytest.raises(audio.AudioDecodeError, match="zero.wav"):
        audio.load(zero_bytes)


def test_nan_samples(tmp_path):
    path = tmp_path / "nan.wav"
    x = tone(16_000)
    x[100:103] = np.nan
    x[200] = np.inf
    sf.write(path, x, 16_000, subtype="FLOAT")
    with pytest.raises(audio.NonFiniteAudioError, match="nan.wav: 4 samples are NaN or infinite"):
        audio.load(path)


def test_every_error_is_an_audio_error_and_a_value_error():
    for error in (audio.AudioFileMissingError, audio.AudioDecodeError,
                  audio.EmptyAudioError, audio.NonFiniteAudioError):
        assert issubclass(error, audio.AudioError) and issubclass(error, ValueError)


def test_is_silent():
    assert audio.is_silent(np.zeros(100, np.float32))
    assert audio.is_silent(np.full(100, 1e-5, np.float32))
    assert not audio.is_silent(tone(16_000))
