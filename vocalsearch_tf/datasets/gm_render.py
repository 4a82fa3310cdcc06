"""Notes on a General MIDI program of a sound font (SF2 or SF3), rendered with
tinysoundfont: the development check's rendered instruments and its single synthesizer
(`datasets/packaged.py`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

RATE = 44_100


def melody(rng: np.random.Generator, low: int, high: int, total: float) -> list[tuple[float, float, int, int]]:
    """(start, duration, key, velocity): one held note, a few notes, or a repeated note."""
    kind = rng.choice(["held", "phrase", "repeat"])
    key = int(rng.integers(low, high))
    if kind == "held":
        return [(0.0, float(rng.uniform(min(1.0, total - 0.6), total - 0.6)), key, int(rng.integers(80, 120)))]
    notes, t = [], 0.0
    count = int(rng.integers(3, 7))
    longest = min(0.6, (total - 0.8) / count)
    step = float(rng.uniform(min(0.2, longest), longest))  # many notes in a short sound: shorter ones
    for _ in range(count):
        if kind == "phrase":
            key = int(np.clip(key + rng.choice([-5, -3, -2, 2, 3, 4, 5, 7]), low, high))
        notes.append((t, step * float(rng.uniform(0.6, 0.95)), key, int(rng.integers(70, 120))))
        t += step
    return notes


def render(font: Path, spec: dict, rate: int = RATE) -> np.ndarray:
    """Render notes on a GM program of `font` (SF2 or SF3) with tinysoundfont."""
    synth = _font_synth(str(font), rate)
    sfid = 0
    synth.program_select(0, sfid, 0, spec["program"])
    synth.pitchbend_range(0, 2)
    step = rate // 100
    total = spec["total"] + 0.5
    events = sorted([(s, 1, k, v) for s, d, k, v in spec["notes"]] + [(s + d, 0, k, v) for s, d, k, v in spec["notes"]],
                    key=lambda e: (e[0], e[1]))
    out, cursor = [], 0
    bend, expression = spec.get("bend"), spec.get("expression")
    for b in range(int(np.ceil(total * rate / step))):
        now = b * step / rate
        while cursor < len(events) and events[cursor][0] <= now:
            _, on, key, velocity = events[cursor]
            synth.noteon(0, key, velocity) if on else synth.noteoff(0, key)
            cursor += 1
        if bend is not None:
            synth.pitchbend(0, int(np.clip(8192 + bend[min(b, len(bend) - 1)] / 2 * 8191, 0, 16383)))
        if expression is not None:
            synth.control_change(0, 11, int(np.clip(expression[min(b, len(expression) - 1)] * 127, 0, 127)))
        out.append(np.frombuffer(synth.generate(step), dtype=np.float32).reshape(-1, 2).mean(axis=1))
    synth.pitchbend(0, 8192)
    synth.control_change(0, 11, 127)
    synth.notes_off()
    synth.sounds_off()
    synth.generate(step * 20)  # flush voices so the next rendering starts clean
    return np.concatenate(out).astype(np.float64)


_SYNTHS: dict = {}


def _font_synth(font: str, rate: int):
    try:
        import tinysoundfont
    except ImportError as error:
        raise ImportError("tinysoundfont is needed to render the sound font: "
                          "pip install --no-deps tinysoundfont==0.3.7 (make setup does this)") from error

    if (font, rate) not in _SYNTHS:
        synth = tinysoundfont.Synth(samplerate=rate)
        synth.sfload(font)
        _SYNTHS[(font, rate)] = synth
    return _SYNTHS[(font, rate)]


