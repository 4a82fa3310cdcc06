"""vocalsearch_tf: sound search by vocal imitation, in Keras and TensorFlow."""

import os

# Numba (librosa's pitch tracking) compiles for the host CPU by name; on AMD Zen 5 ("znver5",
# llvmlite 0.50) that code segfaults in librosa.yin. Code for a generic x86-64 runs anywhere.
# Set before numba is imported; a user's own value wins.
os.environ.setdefault("NUMBA_CPU_NAME", "generic")

# TensorFlow turns its oneDNN kernels on by itself only on CPUs with AVX-512 extensions; on an
# AVX2 CPU (AMD EPYC, measured 2026-12-07) IMINET's training step is then 3.4x slower (0.41 s
# against 0.12 s a batch; benchmarks/onednn.py). On, every x86-64 CPU runs the same kernels.
# Read once, when TensorFlow loads: import this package first, or use the Makefile, which exports it.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

__version__ = "0.2.0"
