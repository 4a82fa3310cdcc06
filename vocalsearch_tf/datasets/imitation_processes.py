"""The processes that imitate the development check's real sounds (`datasets/packaged.py`),
as a table: each analyses a 16 kHz reference once and has a pool of performers.

- `espeak`: eSpeak NG saying onomatopoeia, re-shaped to the sound (`imitators.py`);
- `contour`: a whistle or hum that resynthesises the sound's pitch and loudness contour
  (`contour_imitator.py`);
- `vocoder`: a voice shaped to the sound's moving spectrum, voiced where it is tonal and
  breathed where it is noisy (`vocoder_imitator.py`);
- `transform`: the sound itself, bent in pitch and tempo and re-recorded through a room, a
  band or a telephone (`transform_imitator.py`): the faithful end, where sox would stand;
- `voice`: the embedded data's own source-filter voice (`synthetic/voice.py`). The networks
  are trained on its imitations, so it is **in distribution**: reported on its own, never
  pooled with the independent three, never chosen on.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable

import numpy as np

RATE = 16_000


@dataclass(frozen=True)
class Process:
    name: str
    in_distribution: bool
    what: str
    version: Callable[[], int]
    analyse: Callable  # (16 kHz samples) -> analysis
    performers: Callable  # (rng, count) -> performers
    imitate: Callable  # (analysis, performer, rng) -> 16 kHz samples

    @staticmethod
    def describe(who) -> dict:
        return dataclasses.asdict(who)


def _espeak() -> Process:
    from vocalsearch_tf.datasets import imitators

    return Process("espeak", False, "eSpeak NG onomatopoeia shaped to the sound", lambda: imitators.VERSION,
                   lambda x: imitators.analyse(x, RATE), imitators.participants, imitators.imitate)


def _contour() -> Process:
    from vocalsearch_tf.datasets import contour_imitator

    return Process("contour", False, "a whistle or hum resynthesising the pitch and loudness contour",
                   lambda: contour_imitator.VERSION, lambda x: contour_imitator.analyse(x, RATE),
                   contour_imitator.performers, contour_imitator.imitate)


def _vocoder() -> Process:
    from vocalsearch_tf.datasets import vocoder_imitator

    return Process("vocoder", False, "a voice shaped to the sound's moving spectrum, voiced or breathed",
                   lambda: vocoder_imitator.VERSION, lambda x: vocoder_imitator.analyse(x, RATE),
                   vocoder_imitator.performers, vocoder_imitator.imitate)


def _transform() -> Process:
    from vocalsearch_tf.datasets import transform_imitator

    return Process("transform", False, "the sound bent in pitch and tempo, re-recorded through a room or a phone",
                   lambda: transform_imitator.VERSION, lambda x: transform_imitator.analyse(x, RATE),
                   transform_imitator.performers, transform_imitator.imitate)


def _voice() -> Process:
    from vocalsearch_tf.datasets.synthetic import voice

    return Process("voice", True, "the embedded data's source-filter voice (in distribution)", lambda: VOICE_VERSION,
                   lambda x: voice.analyse(x, RATE), voice.make_imitators,
                   lambda analysis, who, rng: np.asarray(voice.imitate(analysis, who, rng), np.float64))


VOICE_VERSION = 1  # synthetic/voice.py keeps no version of its own: bump when it changes output
# new processes go last: a sound's imitation ids are drawn in this order (`packaged.plan`)
PROCESSES = {"espeak": _espeak, "contour": _contour, "voice": _voice, "vocoder": _vocoder, "transform": _transform}
INDEPENDENT = ("espeak", "contour", "vocoder", "transform")  # pooled, and chosen on


def process(name: str) -> Process:
    if name not in PROCESSES:
        raise KeyError(f"unknown imitation process {name!r}: one of {', '.join(PROCESSES)}")
    return PROCESSES[name]()
