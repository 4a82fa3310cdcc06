"""Signal primitives shared by the generators: envelopes, oscillators, filters, events.

Every function is pure numpy/scipy and takes an explicit `rng` where it is random, so a
generator seeded the same way writes the same samples.
"""

from __future__ import annotations

import numpy as np
from scipy import signal


def seconds(duration: float, rate: int) -> int:
    return max(1, int(round(duration * rate)))


def control(points, n: int) -> np.ndarray:
    """A piecewise-linear control curve over n samples from (position 0..1, value) pairs."""
    points = np.asarray(points, dtype=float)
    return np.interp(np.linspace(0.0, 1.0, n), points[:, 0], points[:, 1])


def smooth_noise(rng, n: int, rate: int, bandwidth_hz: float) -> np.ndarray:
    """Slowly varying random curve in about [-1, 1] (low-passed noise)."""
    steps = max(2, int(n * bandwidth_hz / rate) + 2)
    knots = rng.uniform(-1, 1, steps)
    return np.interp(np.linspace(0, steps - 1, n), np.arange(steps), knots)


def adsr(n: int, rate: int, attack: float, decay: float, sustain: float, release: float) -> np.ndarray:
    """Attack-decay-sustain-release envelope filling n samples (release at the end)."""
    a, d, r = (seconds(t, rate) for t in (attack, decay, release))
    s = max(0, n - a - d - r)
    env = np.concatenate([
        np.linspace(0, 1, a, endpoint=False), np.linspace(1, sustain, d, endpoint=False),
        np.full(s, sustain), np.linspace(sustain, 0, r),
    ])
    return fit(env, n)


def decay_env(n: int, rate: int, t60: float, attack: float = 0.002) -> np.ndarray:
    """Fast attack then exponential decay reaching -60 dB after t60 seconds."""
    t = np.arange(n) / rate
    env = np.exp(-6.91 * t / max(t60, 1e-3))
    a = seconds(attack, rate)
    env[:a] *= np.linspace(0, 1, a)
    return env


def fit(x: np.ndarray, n: int) -> np.ndarray:
    """Truncate or zero-pad to n samples."""
    return x[:n] if len(x) >= n else np.pad(x, (0, n - len(x)))


def phase_from_freq(freq: np.ndarray, rate: int, phase0: float = 0.0) -> np.ndarray:
    return phase0 + 2 * np.pi * np.cumsum(freq) / rate


def harmonic_tone(freq: np.ndarray, rate: int, amplitudes) -> np.ndarray:
    """Sum of harmonics k * freq(t) with given amplitudes, silenced above Nyquist."""
    phase = phase_from_freq(freq, rate)
    out = np.zeros_like(freq)
    for k, a in enumerate(amplitudes, start=1):
        if a == 0:
            continue
        alias_free = (k * freq) < 0.45 * rate
        out += a * np.sin(k * phase) * alias_free
    return out


def saw(freq: np.ndarray, rate: int, n_harmonics: int = 40) -> np.ndarray:
    return harmonic_tone(freq, rate, [1 / k for k in range(1, n_harmonics + 1)])


def square(freq: np.ndarray, rate: int, n_harmonics: int = 40) -> np.ndarray:
    return harmonic_tone(freq, rate, [(k % 2) / k for k in range(1, n_harmonics + 1)])


def modal(rate: int, n: int, freqs, t60s, amps, onset: int = 0) -> np.ndarray:
    """Sum of exponentially decaying sinusoids (struck objects, bells)."""
    t = np.arange(n - onset) / rate
    out = np.zeros(n)
    for f, t60, a in zip(freqs, t60s, amps):
        if f < 0.45 * rate:
            out[onset:] += a * np.sin(2 * np.pi * f * t) * np.exp(-6.91 * t / t60)
    return out


def bandpass(x: np.ndarray, rate: int, low: float, high: float, order: int = 2) -> np.ndarray:
    nyq = rate / 2
    low, high = max(low, 10.0) / nyq, min(high, 0.98 * nyq) / nyq
    if low >= high:
        return np.zeros_like(x)
    sos = signal.butter(order, [low, high], btype="band", output="sos")
    return signal.sosfilt(sos, x)


def lowpass(x: np.ndarray, rate: int, cutoff: float, order: int = 2) -> np.ndarray:
    cutoff = min(cutoff, 0.98 * rate / 2)
    return signal.sosfilt(signal.butter(order, cutoff / (rate / 2), output="sos"), x)


def highpass(x: np.ndarray, rate: int, cutoff: float, order: int = 2) -> np.ndarray:
    return signal.sosfilt(signal.butter(order, max(cutoff, 10.0) / (rate / 2), "high", output="sos"), x)


def resonator_coefficients(freq: float, bandwidth: float, rate: int):
    """Two-pole resonator (a formant), unity gain at its centre frequency."""
    r = np.exp(-np.pi * bandwidth / rate)
    theta = 2 * np.pi * freq / rate
    a = [1.0, -2 * r * np.cos(theta), r * r]
    z = np.exp(-1j * theta)
    return [abs(a[0] + a[1] * z + a[2] * z * z)], a


def time_varying_resonator(x: np.ndarray, rate: int, freq: np.ndarray, bandwidth: np.ndarray,
                           block: int = 160) -> np.ndarray:
    """A resonator whose centre and bandwidth follow per-sample curves, updated per block."""
    out = np.empty_like(x)
    state = np.zeros(2)
    for start in range(0, len(x), block):
        stop = min(start + block, len(x))
        b, a = resonator_coefficients(float(freq[start]), float(bandwidth[start]), rate)
        out[start:stop], state = signal.lfilter(b, a, x[start:stop], zi=state)
    return out


def time_varying_lowpass(x: np.ndarray, rate: int, cutoff: np.ndarray, resonance: float = 0.7,
                         block: int = 256) -> np.ndarray:
    """A two-pole low-pass whose cutoff follows a per-sample curve (synth filter sweeps)."""
    out = np.empty_like(x)
    state = np.zeros(2)
    for start in range(0, len(x), block):
        stop = min(start + block, len(x))
        fc = float(np.clip(cutoff[start], 30.0, 0.45 * rate))
        b, a = _lowpass_ba(fc, resonance, rate)
        out[start:stop], state = signal.lfilter(b, a, x[start:stop], zi=state)
    return out


def _lowpass_ba(fc: float, q: float, rate: int):
    """RBJ biquad low-pass."""
    w0 = 2 * np.pi * fc / rate
    alpha = np.sin(w0) / (2 * q)
    cos = np.cos(w0)
    b = np.array([(1 - cos) / 2, 1 - cos, (1 - cos) / 2])
    a = np.array([1 + alpha, -2 * cos, 1 - alpha])
    return b / a[0], a / a[0]


def place_events(n: int, times, event: np.ndarray | None = None, make=None, rate: int = 1) -> np.ndarray:
    """Add an event waveform at each time (seconds); `make(i)` may build each one anew."""
    out = np.zeros(n)
    for i, t in enumerate(times):
        start = int(t * rate)
        if start >= n:
            continue
        e = make(i) if make is not None else event
        stop = min(n, start + len(e))
        out[start:stop] += e[: stop - start]
    return out


def burst(rng, rate: int, duration: float, low: float, high: float, t60: float) -> np.ndarray:
    """A band-limited noise burst with exponential decay (clicks, knocks, steps)."""
    n = seconds(duration, rate)
    return bandpass(rng.standard_normal(n), rate, low, high) * decay_env(n, rate, t60, attack=0.001)


def pink_noise(rng, n: int) -> np.ndarray:
    """1/f noise by filtering white noise (Paul Kellet's economy filter)."""
    b = [0.049922035, -0.095993537, 0.050612699, -0.004408786]
    a = [1, -2.494956002, 2.017265875, -0.522189400]
    return signal.lfilter(b, a, rng.standard_normal(n))


def normalize(x: np.ndarray, peak: float = 0.9) -> np.ndarray:
    m = float(np.max(np.abs(x))) if x.size else 0.0
    return x if m == 0 else x * (peak / m)


def fade(x: np.ndarray, rate: int, seconds_in: float = 0.005, seconds_out: float = 0.02) -> np.ndarray:
    """Short fades at both ends so clips start and stop without clicks."""
    x = x.copy()
    i, o = min(len(x), seconds(seconds_in, rate)), min(len(x), seconds(seconds_out, rate))
    x[:i] *= np.linspace(0, 1, i)
    x[len(x) - o:] *= np.linspace(1, 0, o)
    return x


def add_noise_at_snr(rng, x: np.ndarray, snr_db: float, noise: np.ndarray | None = None) -> np.ndarray:
    noise = rng.standard_normal(len(x)) if noise is None else noise
    power = np.mean(x ** 2) + 1e-12
    scale = np.sqrt(power / (10 ** (snr_db / 10)) / (np.mean(noise ** 2) + 1e-12))
    return x + scale * noise
