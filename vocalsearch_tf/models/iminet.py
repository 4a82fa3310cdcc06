"""IMINET (TASLP section IV): two CQT towers, concatenated, and a fully connected head.

Weight sharing between the towers (IV-B):
- tied: both inputs pass through the same layers;
- untied: each input has its own layers;
- partial: conv1-2 per input, conv3-4 shared.

Choices where the paper is silent: 'valid' convolutions (this makes each tower's output
12 x 3 x 6 = 216 values, and the concatenation 432 wide, the width the paper gives
FC1); Glorot-uniform kernels and zero biases (Keras defaults); inputs standardised by
a `Normalization` layer whose mean and variance are set from the training spectrograms.
"""

from __future__ import annotations

import keras

from vocalsearch_tf.config import IMINET_CQT
from vocalsearch_tf.models.spec import Conv, Dense, Pool, apply_head, make_layer

TOWER = (
    Conv("conv1", 12, (3, 3)), Pool("pool1", (2, 4)),
    Conv("conv2", 12, (3, 3)), Pool("pool2", (2, 4)),
    Conv("conv3", 6, (3, 3)),
    Conv("conv4", 6, (3, 3)),
)
HEAD = (
    Dense("fc1", 432, "relu", dropout=0.2),
    Dense("fc2", 32, "relu", dropout=0.2),
    Dense("fc3", 1, "sigmoid"),
)
SHARED = {"tied": {"conv1", "conv2", "conv3", "conv4"}, "partial": {"conv3", "conv4"}, "untied": set()}
CONFIGURATIONS = ("untied", "partial", "tied")
INPUT_SHAPE = (*IMINET_CQT.shape, 1)


def towers(sharing: str) -> tuple[list, list]:
    """The layer lists of the imitation and recording towers; shared layers are the
    same objects in both lists."""
    if sharing not in SHARED:
        raise ValueError(f"unknown weight sharing {sharing!r}; choose one of {sorted(SHARED)}")
    imitation, recording = [], []
    for spec in TOWER:
        if spec.name in SHARED[sharing] or isinstance(spec, Pool):
            layer = make_layer(spec, "shared_" if isinstance(spec, Conv) else "")
            imitation.append(layer)
            recording.append(layer)
        else:
            imitation.append(make_layer(spec, "imitation_"))
            recording.append(make_layer(spec, "recording_"))
    return imitation, recording


def _run(layers, x, name: str, time_pooled: bool = False, summary: bool = False):
    clip = x
    for layer in layers:
        x = layer(x)
    if time_pooled:  # the maximum over the tower's 3 time positions: invariant to where in time
        x = keras.layers.MaxPooling2D((1, x.shape[2]), name=f"{name}_time_max")(x)
    if not summary:
        return keras.layers.Flatten(name=f"{name}_features")(x)
    tower = keras.layers.Flatten(name=f"{name}_tower")(x)
    return keras.layers.Concatenate(name=f"{name}_features")([tower, _bin_statistics(clip, name)])


def _bin_statistics(x, name: str):
    """Each frequency bin's mean and variance over the clip's frames (the CQT summary's
    statistics): where in time a sound happens cannot count."""
    frames = (1, x.shape[2])
    mean = keras.layers.AveragePooling2D(frames, name=f"{name}_bin_mean")(x)
    square = keras.layers.Multiply(name=f"{name}_square")([x, x])
    mean_square = keras.layers.AveragePooling2D(frames, name=f"{name}_bin_mean_square")(square)
    squared_mean = keras.layers.Multiply(name=f"{name}_squared_mean")([mean, mean])
    variance = keras.layers.Subtract(name=f"{name}_bin_variance")([mean_square, squared_mean])
    return keras.layers.Concatenate(name=f"{name}_summary")([keras.layers.Flatten(name=f"{name}_means")(mean),
                                                             keras.layers.Flatten(name=f"{name}_variances")(variance)])


def _level_free(x, name: str):
    """Each clip less its loudest cell: a gain, a constant added on the log scale, leaves it unchanged."""
    peak = keras.layers.GlobalMaxPooling2D(keepdims=True, name=f"{name}_peak")(x)
    return keras.layers.Subtract(name=f"{name}_level_free")([x, peak])


def build_iminet(sharing: str = "tied", normalization: keras.layers.Normalization | None = None,
                 time_pooled: bool = False, level_invariant: bool = False, summary: bool = False) -> keras.Model:
    """IMINET on CQT spectrograms: inputs `imitation`, `recording` of shape (72, 129, 1);
    output the probability that the pair matches.

    One flat functional graph (shared layers are called on both inputs), so a `.keras`
    file restores the sharing. The tower outputs are the layers `imitation_features` and
    `recording_features`, and the head is `fc1`..`fc3`: `retrieval.py` relies on these
    names to run each tower once per clip.

    `time_pooled` (not the paper's; issue 23's invariance candidate) keeps each tower's
    maximum over time, 12 x 6 = 72 values instead of 216, before FC1.
    `level_invariant` (not the paper's; issue 23's candidate too) subtracts each standardised
    clip's maximum before the towers, so a clip's recording level cannot count.
    `summary` (not the paper's; issue 23's CQT-statistics branch) adds each standardised
    clip's per-bin mean and variance over time, 2 x 72 values, to its tower's features.
    """
    normalization = normalization or keras.layers.Normalization(axis=None, mean=0.0, variance=1.0, name="standardise")
    imitation_layers, recording_layers = towers(sharing)
    imitation = keras.Input(INPUT_SHAPE, name="imitation")
    recording = keras.Input(INPUT_SHAPE, name="recording")
    inputs = {"imitation": normalization(imitation), "recording": normalization(recording)}
    if level_invariant:
        inputs = {side: _level_free(x, side) for side, x in inputs.items()}
    pair = keras.layers.Concatenate(name="concat")([
        _run(imitation_layers, inputs["imitation"], "imitation", time_pooled, summary),
        _run(recording_layers, inputs["recording"], "recording", time_pooled, summary),
    ])
    return keras.Model([imitation, recording], apply_head(pair, HEAD),
                       name=f"iminet_{sharing}" + ("_time_pooled" if time_pooled else "")
                       + ("_level_invariant" if level_invariant else "") + ("_summary" if summary else ""))
