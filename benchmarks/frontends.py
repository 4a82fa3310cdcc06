"""Front-end throughput: the in-graph ConstantQ layer against librosa and nnAudio.

A batch of 64 clips of 3 s at 16 kHz; each method is timed several times on the same
CPU in one run and the median is kept. Writes results/benchmarks/frontends.json with
the times and the ratios the targets are stated in:
  ConstantQ >= 10x faster than librosa.cqt clip by clip, and no slower than nnAudio.
"""

from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path

import vocalsearch_tf  # noqa: F401  (first: it turns TensorFlow's oneDNN kernels on before TensorFlow loads)
import librosa
import numpy as np
import tensorflow as tf
from timing import median_seconds

from vocalsearch_tf.config import IMINET_CQT
from vocalsearch_tf.signal.features import ConstantQ

OUT = Path(__file__).resolve().parents[1] / "results" / "benchmarks" / "frontends.json"


def librosa_cqt(clip):
    p = IMINET_CQT
    return np.abs(librosa.cqt(clip, sr=p.sample_rate, hop_length=p.hop_length, fmin=p.fmin,
                              n_bins=p.n_bins, bins_per_octave=p.bins_per_octave))


def main(batch: int = 64, seconds: float = 3.0, repetitions: int = 5, out: Path = OUT) -> dict:
    p = IMINET_CQT
    clips = 0.1 * np.random.default_rng(0).standard_normal((batch, int(seconds * p.sample_rate)))
    clips = clips.astype(np.float32)

    layer = ConstantQ(p, magnitude=True)
    graph = tf.function(layer)
    timings = {
        "constant_q_layer": median_seconds(lambda: graph(clips).numpy(), repetitions),
        "librosa_per_clip": median_seconds(lambda: [librosa_cqt(c) for c in clips], repetitions),
        # librosa.cqt takes a (batch, samples) array too: the same work, one call
        "librosa_batched": median_seconds(lambda: librosa_cqt(clips), repetitions),
    }
    try:
        import torch
        from nnAudio.features import CQT1992v2

        nn_cqt = CQT1992v2(sr=p.sample_rate, hop_length=p.hop_length, fmin=p.fmin, n_bins=p.n_bins,
                           bins_per_octave=p.bins_per_octave, output_format="Magnitude", verbose=False)
        tensor = torch.from_numpy(clips)
        with torch.no_grad():
            timings["nnaudio_cqt1992v2"] = median_seconds(lambda: nn_cqt(tensor), repetitions)
    except ImportError as error:
        print(f"nnAudio not measured: {error}")

    ours = timings["constant_q_layer"]
    result = {
        "what": f"CQT of {batch} clips x {seconds} s at {p.sample_rate} Hz, median of {repetitions}",
        "machine": {"cpu": platform.processor() or platform.machine(), "threads": tf.config.threading.get_inter_op_parallelism_threads()},
        "seconds": timings,
        "speedup_vs_librosa_per_clip": timings["librosa_per_clip"] / ours,
        "speedup_vs_librosa_batched": timings["librosa_batched"] / ours,
        "targets": {"speedup_vs_librosa_per_clip": ">= 10"},
    }
    if "nnaudio_cqt1992v2" in timings:
        result["speedup_vs_nnaudio"] = timings["nnaudio_cqt1992v2"] / ours
        result["targets"]["speedup_vs_nnaudio"] = ">= 1"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--repetitions", type=int, default=5)
    args = parser.parse_args()
    print(json.dumps(main(args.batch, args.seconds, args.repetitions), indent=2))
