"""What must hold on any machine CI may run on."""

import os
import platform
import subprocess
import sys

import pytest


def test_librosa_pitch_tracking_runs_once_the_package_is_imported():
    """Numba's code for the host CPU segfaults in librosa.yin on AMD Zen 5 (seen 2026-12-06,
    llvmlite 0.50): importing the package asks Numba for generic x86-64 code, in a process
    whose environment does not set it."""
    code = ("import os, numpy as np, vocalsearch_tf, librosa\n"
            "print(os.environ['NUMBA_CPU_NAME'])\n"
            "y = np.sin(2 * np.pi * 220 * np.arange(22050) / 22050)\n"
            "print(float(np.median(librosa.yin(y, fmin=80, fmax=800, sr=22050))))\n")
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CPU_NAME"}
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, f"exit {run.returncode}: {run.stderr[-2000:]}"
    cpu, f0 = run.stdout.split()
    assert cpu == "generic"
    assert abs(float(f0) - 220) < 2


@pytest.mark.skipif(platform.machine().lower() not in ("x86_64", "amd64"),
                    reason="oneDNN kernels are TensorFlow's x86-64 builds' (the package's tensorflow-cpu)")
def test_tensorflow_runs_its_onednn_kernels_once_the_package_is_imported_first():
    """TensorFlow turns oneDNN on by itself only on CPUs with AVX-512; without it IMINET's training
    step ran 3.4x slower on an AVX2 CPU (benchmarks/onednn.py). Importing the package first turns
    it on, in a process whose environment does not set it; a user's own value wins."""
    code = ("import os, vocalsearch_tf, tensorflow\n"
            "from tensorflow.python.util import _pywrap_util_port\n"
            "print(os.environ['TF_ENABLE_ONEDNN_OPTS'], _pywrap_util_port.IsMklEnabled())\n")
    env = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
    for given, expected in ((None, "1 True"), ("0", "0 False")):
        run = subprocess.run([sys.executable, "-c", code], env={**env, **({"TF_ENABLE_ONEDNN_OPTS": given} if given else {})},
                             capture_output=True, text=True, timeout=600)
        assert run.returncode == 0, f"exit {run.returncode}: {run.stderr[-2000:]}"
        assert run.stdout.split()[-2:] == expected.split()


def test_warming_writes_librosas_gufunc_cache_before_any_worker_starts(tmp_path):
    """Two processes compiling librosa's cached gufuncs at once can corrupt the cache (numba
    issue 10128); `make setup` compiles them once, alone. In a fresh cache folder, `warm`
    writes every gufunc's cache files, and a second process then loads and runs one."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    warm = subprocess.run([sys.executable, "-m", "vocalsearch_tf.signal.numba_cache"], env=env,
                          capture_output=True, text=True, timeout=600)
    assert warm.returncode == 0, warm.stderr[-2000:]
    cached = {p.name.split(".")[0] for p in tmp_path.rglob("guf-*.nbi")}
    assert {"guf-pitch", "guf-utils", "guf-audio", "guf-beat"} <= cached, cached
    code = ("import numpy as np, vocalsearch_tf, librosa\n"  # localmax: a cached gufunc, nothing compiled lazily
            "print(np.flatnonzero(librosa.util.localmax(np.array([0., 2., 1., 3., 0.]))).tolist())\n")
    again = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0 and again.stdout.strip() == "[1, 3]", again.stderr[-2000:]
