"""Augmentation cost against the training step it feeds.

One batch of 128 IMINET pairs (log-CQT, 72 x 129): the time of one training step of tied
IMINET (forward, backward, Adam update) and the time to augment both sides of the batch
(`augment.augment`, as the pair pipeline does), for the embedded data's light setting
and for every operation on. Both are measured in the same run, on the same CPU, and the
median of several repetitions is kept. Writes results/benchmarks/augmentation.json with
both ratios to the training step, and the target stated as a ratio:
  every operation on (adding stretch, reverberation and noise) <= 1.5x the light setting.
(Before the time operations became one batched matmul each, it was about 8x: 103 ms
against 12.6 ms a side, measured on the 2-core development machine.)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
from pathlib import Path

import vocalsearch_tf  # noqa: F401  (first: it turns TensorFlow's oneDNN kernels on before TensorFlow loads)
import tensorflow as tf
from timing import iminet_training_step, median_seconds

from vocalsearch_tf.config import EMBEDDED_AUGMENTATION, IMINET_CQT, AugmentationParams
from vocalsearch_tf.signal import augment

OUT = Path(__file__).resolve().parents[1] / "results" / "benchmarks" / "augmentation.json"
TARGET = 1.5  # all operations / light


def main(batch: int = 128, repetitions: int = 7, out: Path = OUT) -> dict:
    step, pairs = iminet_training_step(batch)
    imitations, recordings = map(tf.constant, pairs)
    timings = {"training step": median_seconds(step, repetitions)}
    for name, params in {"light": EMBEDDED_AUGMENTATION, "all operations": AugmentationParams()}.items():
        both_sides = tf.function(lambda seed, params=params: (
            augment.augment(imitations, tf.stack([seed, 0]), params, IMINET_CQT.log_offset),
            augment.augment(recordings, tf.stack([seed, 1]), params, IMINET_CQT.log_offset)))
        draws = iter(range(10 ** 6))
        timings[name] = median_seconds(lambda: [t.numpy() for t in both_sides(tf.constant(next(draws)))], repetitions)

    ratios = {name: timings[name] / timings["training step"] for name in ("light", "all operations")}
    all_per_light = timings["all operations"] / timings["light"]
    result = {
        "what": f"one batch of {batch} IMINET pairs: augmenting both sides vs a tied IMINET training step, "
                f"median of {repetitions}",
        "machine": {"cpu": platform.processor() or platform.machine(), "cores": len(os.sched_getaffinity(0))},
        "seconds": timings,
        "augmentation_per_training_step": ratios,
        "all_operations_per_light": all_per_light,
        "targets": {"all_operations_per_light": f"<= {TARGET}"},
        "met": {"all_operations_per_light": all_per_light <= TARGET},
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--repetitions", type=int, default=7)
    args = parser.parse_args()
    print(json.dumps(main(args.batch, args.repetitions), indent=2))
