"""TL-IMINET (TASLP section V; ICASSP 2018 section 3): asymmetric towers pre-trained on
spoken-language ID (imitations) and urban-sound classification (recordings).

Choices where the papers are silent or disagree:
- pooling after imitation conv1/conv2 is 2x2 with stride 2x2 (Fig. 4; section V-A's text
  says 6x6);
- 'valid' convolutions, as in IMINET: tower outputs 1 x 55 x 48 = 2640 (imitation) and
  25 x 2 x 48 = 2400 (recording);
- the pretraining heads end in softmax (Fig. 4 and 5 say sigmoid) with categorical
  cross-entropy: the tasks are single-label;
- each input is standardised by a `Normalization` layer, by one rule for every
  configuration (config.TL_STANDARDISATION: the tower's pretraining-data moments).
"""

from __future__ import annotations

import keras

from vocalsearch_tf.config import IMITATION_LOGMEL, RECORDING_LOGMEL, TL_STANDARDISATION
from vocalsearch_tf.models.spec import Conv, Dense, Pool, apply_head, make_layer

IMITATION_TOWER = (
    Conv("conv1", 48, (6, 6)), Pool("pool1", (2, 2)),
    Conv("conv2", 48, (6, 6)), Pool("pool2", (2, 2)),
    Conv("conv3", 48, (6, 6)), Pool("pool3", (1, 2)),
)
RECORDING_TOWER = (
    Conv("conv1", 24, (5, 5)), Pool("pool1", (2, 4)),
    Conv("conv2", 48, (5, 5)), Pool("pool2", (2, 4)),
    Conv("conv3", 48, (5, 5)),
)
LANGUAGE_ID_HEAD = (Dense("fc1", 256, "relu"), Dense("fc2", 7, "softmax"))
URBAN_SOUND_HEAD = (Dense("fc1", 64, "relu"), Dense("fc2", 10, "softmax"))
TL_HEAD = (Dense("fc1", 108, "relu"), Dense("fc2", 1, "sigmoid"))

IMITATION_SHAPE = (*IMITATION_LOGMEL.shape, 1)
RECORDING_SHAPE = (*RECORDING_LOGMEL.shape, 1)
TOWERS = {"imitation": (IMITATION_TOWER, IMITATION_SHAPE), "recording": (RECORDING_TOWER, RECORDING_SHAPE)}
# pretraining configuration -> conv layers initialised from the pretrained towers (V-D)
PRETRAINED_LAYERS = {
    "none": (),
    "conv1": ("conv1",),
    "conv1-2": ("conv1", "conv2"),
    "conv1-2-3": ("conv1", "conv2", "conv3"),
}
CONFIGURATION_NAMES = {"none": "No Pre-train", "conv1": "Pre-train Conv1", "conv1-2": "Pre-train Conv1/2",
                       "conv1-2-3": "Pre-train Conv1/2/3"}


def standardise(name: str, mean: float = 0.0, variance: float = 1.0) -> keras.layers.Normalization:
    return keras.layers.Normalization(axis=None, mean=mean, variance=variance, name=f"{name}_standardise")


def tower(name: str, x, normalization: keras.layers.Normalization):
    """One tower on input x: standardise, the table's layers (named `<name>_convN`), flatten."""
    table, _ = TOWERS[name]
    x = normalization(x)
    for spec in table:
        x = make_layer(spec, f"{name}_")(x)
    return keras.layers.Flatten(name=f"{name}_features")(x)


def build_classifier(name: str, mean: float = 0.0, variance: float = 1.0) -> keras.Model:
    """A tower with its pretraining head: 7-language ID (imitation) or 10-class urban
    sounds (recording). Layer names match TL-IMINET's, so weights transfer by name."""
    head = LANGUAGE_ID_HEAD if name == "imitation" else URBAN_SOUND_HEAD
    x = keras.Input(TOWERS[name][1], name=f"{name}_input")
    features = tower(name, x, standardise(name, mean, variance))
    return keras.Model(x, apply_head(features, head, prefix=f"{name}_pretrain_"), name=f"{name}_classifier")


def build_tl_iminet(imitation_moments=(0.0, 1.0), recording_moments=(0.0, 1.0)) -> keras.Model:
    """TL-IMINET with freshly initialised weights; `transfer` then loads pretrained layers."""
    imitation = keras.Input(IMITATION_SHAPE, name="imitation")
    recording = keras.Input(RECORDING_SHAPE, name="recording")
    pair = keras.layers.Concatenate(name="concat")([
        tower("imitation", imitation, standardise("imitation", *imitation_moments)),
        tower("recording", recording, standardise("recording", *recording_moments)),
    ])
    return keras.Model([imitation, recording], apply_head(pair, TL_HEAD), name="tl_iminet")


def moments_of(classifier: keras.Model, name: str) -> tuple[float, float]:
    """The input mean and variance a pretrained tower was trained with."""
    config = classifier.get_layer(f"{name}_standardise").get_config()
    return float(config["mean"]), float(config["variance"])


def build_transferred(configuration: str, classifiers: dict[str, keras.Model],
                      own_moments: dict[str, tuple[float, float]] | None = None,
                      standardisation: str = TL_STANDARDISATION) -> tuple[keras.Model, list[str]]:
    """TL-IMINET for a pretraining configuration (TASLP V-D): the configuration's conv
    layers of both towers copied, layer by layer, from the pretrained classifiers;
    everything else freshly initialised. Every configuration standardises its inputs by
    the same rule (config.TL_STANDARDISATION): with 'pretraining', each tower with its
    classifier's moments; with 'vocalsketch', with `own_moments` (VocalSketch training data).
    Returns the model and the names of the layers copied."""
    if standardisation == "pretraining":
        moments = {name: moments_of(classifiers[name], name) for name in TOWERS}
    elif standardisation == "vocalsketch":
        if own_moments is None:
            raise ValueError("standardisation 'vocalsketch' needs the VocalSketch training moments")
        moments = own_moments
    else:
        raise ValueError(f"unknown standardisation {standardisation!r}: 'pretraining' or 'vocalsketch'")
    model = build_tl_iminet(moments["imitation"], moments["recording"])
    copied = []
    for name in TOWERS:
        for layer in PRETRAINED_LAYERS[configuration]:
            layer_name = f"{name}_{layer}"
            model.get_layer(layer_name).set_weights(classifiers[name].get_layer(layer_name).get_weights())
            copied.append(layer_name)
    return model, copied
