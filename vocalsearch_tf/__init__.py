"""vocalsearch_tf: sound search by vocal imitation, in Keras and TensorFlow."""

import os

# Numba (librosa's pitch tracking) compiles for the host CPU by name; on AMD Zen 5 ("znver5",
# llvmlite 0.50) that code segfaults in librosa.yin. Code for a generic x86-64 runs anywhere.
# Set before numba is imported; a user's own value wins.
os.environ.setdefault("NUMBA_CPU_NAME", "generic")

__version__ = "0.2.0"
