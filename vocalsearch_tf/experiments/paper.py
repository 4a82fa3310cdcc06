"""The papers' reported numbers, as data, for side-by-side display only.

TASLP Table I: MRR mean ± std over 10 runs on VocalSketch v1.0.4, per category
(AI acoustic instruments, CS commercial synthesizers, ED everyday, SS single synthesizer).
"""

from __future__ import annotations

import pandas as pd

CATEGORIES = ("AI", "CS", "ED", "SS")

# block -> row -> (mean, std) per category, in CATEGORIES order
TABLE_I = {
    "Baseline": {
        "IMISOUND": ((0.425, 0.015), (0.311, 0.007), (0.126, 0.003), (0.373, 0.012)),
    },
    "IMINET": {
        "Untied": ((0.377, 0.019), (0.318, 0.020), (0.154, 0.014), (0.325, 0.020)),
        "Partial": ((0.384, 0.027), (0.304, 0.015), (0.154, 0.015), (0.340, 0.031)),
        "Tied": ((0.401, 0.028), (0.327, 0.019), (0.158, 0.012), (0.380, 0.018)),
        "Untied + Partial + Tied": ((0.438, 0.015), (0.343, 0.020), (0.175, 0.012), (0.382, 0.013)),
    },
    "TL-IMINET": {
        "No Pre-train": ((0.397, 0.027), (0.309, 0.021), (0.225, 0.023), (0.377, 0.025)),
        "Pre-train Conv1": ((0.412, 0.033), (0.328, 0.027), (0.227, 0.020), (0.399, 0.036)),
        "Pre-train Conv1/2": ((0.432, 0.024), (0.325, 0.023), (0.225, 0.016), (0.404, 0.036)),
        "Pre-train Conv1/2/3": ((0.462, 0.017), (0.349, 0.015), (0.246, 0.016), (0.390, 0.027)),
    },
    "IMINET + IMISOUND": {
        "Untied + IMISOUND": ((0.470, 0.025), (0.356, 0.011), (0.168, 0.010), (0.402, 0.022)),
        "Partial + IMISOUND": ((0.496, 0.018), (0.346, 0.025), (0.173, 0.014), (0.417, 0.025)),
        "Tied + IMISOUND": ((0.504, 0.014), (0.355, 0.016), (0.171, 0.009), (0.452, 0.020)),
        "Untied + Partial + Tied + IMISOUND": ((0.520, 0.020), (0.371, 0.013), (0.188, 0.007), (0.447, 0.012)),
    },
    "TL-IMINET + IMISOUND": {
        "No Pre-train + IMISOUND": ((0.490, 0.017), (0.339, 0.017), (0.199, 0.013), (0.429, 0.025)),
        "Pre-train Conv1 + IMISOUND": ((0.513, 0.029), (0.352, 0.026), (0.198, 0.014), (0.441, 0.023)),
        "Pre-train Conv1/2 + IMISOUND": ((0.519, 0.014), (0.353, 0.016), (0.209, 0.008), (0.429, 0.028)),
        "Pre-train Conv1/2/3 + IMISOUND": ((0.534, 0.015), (0.367, 0.014), (0.218, 0.007), (0.413, 0.021)),
    },
}

# pretraining accuracies (TASLP V-A, V-B)
VOXFORGE_LID_ACCURACY = 0.698
URBANSOUND8K_ACCURACY = 0.702


def table_i_block(block: str) -> pd.DataFrame:
    """One block of Table I as 'mean ± std' strings (rows: configurations)."""
    return pd.DataFrame({row: {c: f"{m:.3f} ± {s:.3f}" for c, (m, s) in zip(CATEGORIES, values)}
                         for row, values in TABLE_I[block].items()}).T
