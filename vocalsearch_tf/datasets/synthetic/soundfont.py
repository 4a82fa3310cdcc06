"""General MIDI rendering with TinySoundFont and the TimGM6mb sound font from pretty_midi.

TimGM6mb.sf2 (Tim Brechbill, GPL-2.0) ships inside the `pretty_midi` wheel; the
`tinysoundfont` wheel (MIT) renders it offline, several hundred clips a second.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DRUMS = 128  # the GM percussion bank


def soundfont_path() -> Path:
    import pretty_midi

    path = Path(pretty_midi.__file__).parent / "TimGM6mb.sf2"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: the General MIDI sound font of pretty_midi is missing")
    return path


@functools.lru_cache(maxsize=4)
def _synth(rate: int):
    try:
        import tinysoundfont
    except ImportError as error:
        raise ImportError("tinysoundfont is needed to render the sound font: "
                          "pip install --no-deps tinysoundfont==0.3.7 (make setup does this)") from error

    synth = tinysoundfont.Synth(samplerate=rate)
    sfid = synth.sfload(str(soundfont_path()))
    return synth, sfid


@dataclass(frozen=True)
class Note:
    start: float  # s
    duration: float  # s, until note-off
    key: int  # MIDI key
    velocity: int = 100


def render(program: int, notes: list[Note], total: float, rate: int = 44_100, *,
           bank: int = 0, bend: np.ndarray | None = None, expression: np.ndarray | None = None,
           block: float = 0.01) -> np.ndarray:
    """Mono rendering of `notes` on a GM program (bank 128 = drum kit), `total` s long.

    `bend` (semitones, within +-2) and `expression` (0..1) are control curves sampled
    once per `block` seconds; they make sweeps, swells and vibrato.
    """
    synth, sfid = _synth(rate)
    synth.notes_off()
    synth.sounds_off()
    synth.program_select(0, sfid, bank, program, is_drums=(bank == DRUMS))
    synth.pitchbend_range(0, 2)
    step = max(1, int(block * rate))
    n_blocks = int(np.ceil(total * rate / step))
    events = sorted([(n.start, 1, n) for n in notes] + [(n.start + n.duration, 0, n) for n in notes],
                    key=lambda e: (e[0], e[1]))
    out, cursor = [], 0
    for b in range(n_blocks):
        now = b * step / rate
        while cursor < len(events) and events[cursor][0] <= now:
            _, on, note = events[cursor]
            if on:
                synth.noteon(0, note.key, note.velocity)
            else:
                synth.noteoff(0, note.key)
            cursor += 1
        if bend is not None:
            value = float(bend[min(b, len(bend) - 1)])
            synth.pitchbend(0, int(np.clip(8192 + value / 2 * 8191, 0, 16383)))
        if expression is not None:
            value = float(expression[min(b, len(expression) - 1)])
            synth.control_change(0, 11, int(np.clip(value * 127, 0, 127)))
        out.append(np.frombuffer(synth.generate(step), dtype=np.float32).reshape(-1, 2).mean(axis=1))
    synth.pitchbend(0, 8192)
    synth.control_change(0, 11, 127)
    synth.notes_off()
    synth.sounds_off()
    synth.generate(step)  # flush voices so the next rendering starts clean
    return np.concatenate(out)[: int(total * rate)].astype(np.float64)
