"""The transform imitator: the sound itself bent in pitch and tempo and re-recorded through
a room, a band or a telephone."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest
from scipy import signal

from vocalsearch_tf.datasets import transform_imitator as ti

RATE = 44_100


def tone(hz, seconds=1.0, rate=RATE):
    t = np.arange(int(seconds * rate)) / rate
    return 0.5 * np.sin(2 * np.pi * hz * t) * np.hanning(len(t))


def peak_hz(y, rate=ti.RATE):
    freqs, power = signal.welch(y, rate, nperseg=4096)
    return float(freqs[np.argmax(power)])


def active_seconds(y, rate=ti.RATE):
    envelope = np.convolve(np.abs(y), np.ones(160) / 160, mode="same")
    return float(np.sum(envelope > 0.3 * envelope.max()) / rate)


@pytest.fixture(scope="module")
def chains():
    return ti.performers(np.random.default_rng(0), 9)


def test_chains_are_seeded_and_shift_both_ways(chains):
    assert chains == ti.performers(np.random.default_rng(0), 9) != ti.performers(np.random.default_rng(1), 9)
    assert sum(c.semitones < 0 for c in chains) in (4, 5) and sum(c.telephone for c in chains) == 3
    for c in chains:
        assert 0.5 <= abs(c.semitones) <= 5 and 0.8 <= c.tempo <= 1.25 and c.low_cut < c.high_cut
        assert c.describe()["semitones"] == c.semitones


def test_same_generator_same_copy_another_another(chains):
    sound = ti.analyse(tone(440), RATE)
    first = ti.imitate(sound, chains[0], np.random.default_rng(3))
    np.testing.assert_array_equal(first, ti.imitate(sound, chains[0], np.random.default_rng(3)))
    assert not np.array_equal(first, ti.imitate(sound, chains[0], np.random.default_rng(4)))


@pytest.mark.parametrize("direction", [-1, 1])
def test_pitch_moves_by_the_chains_semitones(chains, direction):
    who = next(c for c in chains if np.sign(c.semitones) == direction and not c.telephone)
    copy = ti.imitate(ti.analyse(tone(800, 2.0), RATE), who, np.random.default_rng(0))
    moved = 12 * np.log2(peak_hz(copy) / 800)
    assert abs(moved - who.semitones) <= 0.5 + 0.3  # the chain's shift, varied by up to half a semitone


def test_tempo_changes_the_duration(chains):
    slow = next(c for c in chains if c.tempo < 0.95)
    fast = next(c for c in chains if c.tempo > 1.1)
    burst = tone(600, 1.0)
    durations = {who.tempo: active_seconds(ti.imitate(ti.analyse(burst, RATE), who, np.random.default_rng(0)))
                 for who in (slow, fast)}
    assert durations[slow.tempo] > durations[fast.tempo]


def test_telephones_cut_the_band(chains):
    phone = next(c for c in chains if c.telephone)
    noise = np.random.default_rng(0).normal(0, 0.3, RATE)
    copy = ti.imitate(ti.analyse(noise, RATE), phone, np.random.default_rng(0))
    freqs, power = signal.welch(copy, ti.RATE, nperseg=1024)
    assert power[freqs > 4500].sum() < 0.02 * power[(freqs > 500) & (freqs < 3000)].sum()


def test_output_is_16k_mono_at_most_8_seconds_at_its_level(chains):
    for who in chains[:4]:
        y = ti.imitate(ti.analyse(tone(300, 7.5), RATE), who, np.random.default_rng(1))
        assert y.ndim == 1 and np.all(np.isfinite(y)) and len(y) <= 8 * ti.RATE
        assert 20 * np.log10(np.max(np.abs(y))) == pytest.approx(min(who.level_db, -1.0), abs=2.01)


@pytest.mark.parametrize("bad, problem", [(np.zeros((2, 100)), "mono"), (np.zeros(0), "empty"),
                                          (np.full(100, np.nan), "non-finite"), (np.zeros(1000), "silent")])
def test_bad_sounds_get_clear_errors(bad, problem):
    with pytest.raises(ValueError, match=problem):
        ti.analyse(bad, RATE)


def test_independent_of_the_other_imitation_processes():
    tree = ast.parse(Path(ti.__file__).read_text())
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    assert not any("vocalsearch_tf" in name for name in imported if name)
