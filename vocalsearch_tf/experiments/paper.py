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


# --- Fan et al., ICASSP 2020 (notebook 08) ---------------------------------------------------
# The paper gives its mAP_s@K only as Fig. 3 (no table); these are the counts it states.
FAN2020_CLIPS = {"train": 2351, "validate": 443}  # 4.1: SONYC-UST v1; the training clips are the database
FAN2020_QUERIES = {"all": 426, "single": 311, "multi": 105}  # 4.1: test queries by label count
FAN2020_PARTNERS = 30  # 4.2: partners per situation, category and target
FAN2020_DRAWS = 1_128_480  # 4.2: pairs drawn
FAN2020_PAIRS = 218_173  # 4.2: distinct pairs among them


# --- Manocha et al., ICASSP 2018 (notebook 07) -----------------------------------------------
# Table 1 (76 YouTube classes): measure -> distance -> (N_R^B, N_R^U). "MP@1" is the paper's MP^1.
MANOCHA2018_TABLE_1 = {
    "MAP": {"euclidean": (0.0241, 0.0342), "cosine": (0.0186, 0.0133)},
    "MP@1": {"euclidean": (0.314, 0.436), "cosine": (0.132, 0.333)},
    "MP@25": {"euclidean": (0.099, 0.177), "cosine": (0.105, 0.133)},
}
# Table 2: MP@25 of the 10 best and the 10 worst of the paper's classes
MANOCHA2018_TABLE_2_TOP = {"Wind Blowing": 0.784, "Sheep": 0.753, "Pig": 0.724, "Water Drop": 0.711,
                           "Clock Tick": 0.708, "Brushing Teeth": 0.699, "Drilling Sound": 0.681,
                           "Helicopter": 0.670, "Chirping Birds": 0.650, "Rooster": 0.636}
MANOCHA2018_TABLE_2_BOTTOM = {"Dog Bark": 0.110, "Car Horn": 0.272, "Crackling Fire": 0.276,
                              "Glass Breaking": 0.312, "Can Opening": 0.314, "Crying Baby": 0.315,
                              "Gun Shot": 0.318, "Crickets(insect)": 0.41, "Banging Residential Area": 0.42,
                              "Children Playing": 0.44}


# --- today's query by vocal imitation (notebook 10) --------------------------------------------
# Published numbers of other work, as the issue that asked for notebook 10 cites them ("about":
# rounded there). None is on our data or split: they are theirs, shown apart from our table.
# Greif et al. report both QBV tasks, but their table could not be read from here (as notebook 09).
FIELD_TODAY = pd.DataFrame([
    {"work": "QVIM 2025 challenge baseline: MobileNetV3 dual encoder, NT-Xent (qvim-aes/qvim-baseline)",
     "test set": "QVIM development set", "MRR": 0.27, "NDCG": 0.64, "rounded": True},
    {"work": "QVIM 2025: a random ranking", "test set": "QVIM development set", "MRR": 0.044, "NDCG": float("nan"),
     "rounded": False},
    {"work": "QVIM 2025: frozen CLAP embeddings, cosine", "test set": "QVIM development set", "MRR": 0.12,
     "NDCG": float("nan"), "rounded": True},
    {"work": "QVIM 2025: frozen OpenL3 embeddings, cosine", "test set": "QVIM development set", "MRR": 0.09,
     "NDCG": float("nan"), "rounded": True},
    {"work": "QVIM 2025 challenge: best submission", "test set": "QVIM evaluation set", "MRR": 0.359,
     "NDCG": float("nan"), "rounded": False},
    {"work": "QVIM 2025 challenge baseline", "test set": "QVIM evaluation set", "MRR": 0.326, "NDCG": float("nan"),
     "rounded": False},
    {"work": "Greif, Schmid, Primus & Widmer, DCASE 2024: pretrained dual encoder, adapted NT-Xent (Jonathan-Greif/QBV)",
     "test set": "VimSketch coarse-grained (their 10 folds); VocalSketch fine-grained", "MRR": float("nan"),
     "NDCG": float("nan"), "rounded": False},
])
