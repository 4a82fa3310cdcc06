"""General MIDI rendering with TinySoundFont and the FluidR3 GM sound font.

FluidR3_GM.sf2 (Frank Wen, MIT licence; Debian's `fluid-soundfont-gm`) holds recorded
samples of real instruments, closer to real recordings than a small font (issue 17: the
embedded data's instruments were measured to teach less that carries to real sounds with
TimGM6mb). It is read from the system (`apt-get install fluid-soundfont-gm`) or fetched
without root into `data/packages/` (`apt-get download` + `dpkg-deb -x`), and its sha256 is
checked, so every machine renders the same data. The `tinysoundfont` wheel (MIT) renders
it offline, several hundred clips a second.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vocalsearch_tf.datasets.debian import PackageToolError, fetch_debian, package_root

DRUMS = 128  # the GM percussion bank
PACKAGE = "fluid-soundfont-gm"
FONT = "usr/share/sounds/sf2/FluidR3_GM.sf2"
FONT_SHA256 = "74594e8f4250680adf590507a306655a299935343583256f3b722c48a1bc1cb0"  # Debian 3.1-5.3
PACKAGES_DIR = Path(__file__).resolve().parents[3] / "data" / "packages"


@functools.lru_cache(maxsize=None)
def _checked(path: Path) -> Path:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != FONT_SHA256:
        raise ValueError(f"{path}: sha256 {digest} is not FluidR3_GM.sf2's {FONT_SHA256} "
                         f"(Debian {PACKAGE} 3.1): another font would render other data")
    return path


def soundfont_path(packages_dir: Path = PACKAGES_DIR) -> Path:
    """FluidR3_GM.sf2, installed system-wide or fetched into `packages_dir`; checked."""
    for path in (Path("/") / FONT, package_root(packages_dir, PACKAGE) / FONT):
        if path.is_file():
            return _checked(path)
    try:
        root = fetch_debian(packages_dir, [PACKAGE])[PACKAGE]
    except PackageToolError as error:
        raise FileNotFoundError(f"FluidR3_GM.sf2 not found in /{FONT} or {packages_dir}: the embedded data "
                                f"renders its instruments with it. Install Debian's {PACKAGE} "
                                f"(`sudo apt-get install {PACKAGE}`) or fetch it without root "
                                f"(`make fetch-soundfont`). {error}") from error
    return _checked(root / FONT)


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
