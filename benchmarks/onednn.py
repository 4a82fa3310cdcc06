"""TensorFlow's oneDNN kernels on against off, for the training step every notebook repeats.

TensorFlow turns oneDNN on by itself only on CPUs with AVX-512 extensions; the package turns it
on everywhere (`vocalsearch_tf/__init__.py`, the Makefile). One batch of 128 tied-IMINET pairs
(log-CQT, 72 x 129): the time of one training step (forward, backward, Adam update), median of
several repetitions, in two fresh processes of the same run, TF_ENABLE_ONEDNN_OPTS=0 and =1 (the
variable is read once, when TensorFlow loads). Writes results/benchmarks/onednn.json with the
ratio and the target stated as a ratio:
  on / off <= 1.0 (on must never be the slower; on an AVX-512 CPU both are the default kernels).
Measured on a 2-core AMD EPYC with AVX2 and no AVX-512 (2026-12-07): 0.41 s off, 0.12 s on.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from vocalsearch_tf.training.runs import cpu_extensions

OUT = Path(__file__).resolve().parents[1] / "results" / "benchmarks" / "onednn.json"
TARGET = 1.0  # on / off
STEP = """
import json, sys
from tensorflow.python.util import _pywrap_util_port
from timing import iminet_training_step, median_seconds
step, _ = iminet_training_step(int(sys.argv[1]))
seconds = median_seconds(step, int(sys.argv[2]))
print(json.dumps({"onednn": _pywrap_util_port.IsMklEnabled(), "seconds": seconds}))
"""


def training_step(onednn: bool, batch: int, repetitions: int) -> dict:
    env = {**os.environ, "TF_ENABLE_ONEDNN_OPTS": "1" if onednn else "0", "TF_CPP_MIN_LOG_LEVEL": "2",
           "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), str(Path(__file__).resolve().parents[1])])}
    done = subprocess.run([sys.executable, "-c", STEP, str(batch), str(repetitions)], env=env,
                          capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        raise RuntimeError(f"the training step with oneDNN {'on' if onednn else 'off'} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(batch: int = 128, repetitions: int = 7, out: Path = OUT) -> dict:
    off, on = (training_step(onednn, batch, repetitions) for onednn in (False, True))
    if off["onednn"] or not on["onednn"]:
        raise RuntimeError(f"TF_ENABLE_ONEDNN_OPTS was not honoured: off {off}, on {on}")
    ratio = on["seconds"] / off["seconds"]
    result = {
        "what": f"one tied-IMINET training step on {batch} pairs, median of {repetitions}, "
                "TensorFlow's oneDNN kernels off and on",
        "machine": {"cpu_extensions": cpu_extensions(), "cores": len(os.sched_getaffinity(0))},
        "seconds": {"oneDNN off": off["seconds"], "oneDNN on": on["seconds"]},
        "on_per_off": ratio,
        "targets": {"on_per_off": f"<= {TARGET}"},
        "met": {"on_per_off": ratio <= TARGET},
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
