"""A dual encoder for query by vocal imitation, as today's systems build it (Greif et al., DCASE
2024, Jonathan-Greif/QBV `models/dual_encoder.py`; the AES AIMLA 2025 QVIM baseline): one tower per
side, imitation and reference, each ending in an L2-normalised embedding, compared by cosine.

Each tower is the aisfx sound-effects CNN (`models.aisfx`: four conv blocks, mean over
frequency, max over time, 512-d) on an aisfx log-mel block (96 bands x 100 frames, 2.32 s), then
a linear projection to `embedding_size` (128) and L2 normalisation. Towers start from the same
weights and are trained apart (no sharing), as QBV's default (`--single` off) and the QVIM
baseline's `deepcopy` do. `pretrained`: aisfx's released encoder (`datasets.aisfx_weights
.load_aisfx_encoder`, input "spectrogram" or "waveform") is copied into both towers; None: the
same architecture freshly initialised (Glorot-uniform kernels, unit batch norm). `frozen_blocks`
freezes the first k conv blocks of both towers (their batch norms then run on their stored
statistics), to make fine-tuning cheaper. Models only build here; training is
`training.contrastive`.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras

from vocalsearch_tf.models.aisfx import AISFX, AISFX_NETWORK, AisfxLogMel, ConvBN, build_aisfx_network
from vocalsearch_tf.models.spec import Dense, apply_head

SIDES = ("imitation", "reference")
BLOCKS = tuple(dict.fromkeys(row.block for row in AISFX_NETWORK if isinstance(row, ConvBN)))
INPUT_SHAPE = (*AISFX.front_end.shape, 1)


@dataclass(frozen=True)
class DualEncoderParams:
    embedding_size: int = 128  # the "128-d or so"; QBV keeps MobileNet's 960-d head output
    frozen_blocks: int = 0  # first conv blocks of each tower not trained (0-4)


DUAL_ENCODER = DualEncoderParams()


def projection(params: DualEncoderParams = DUAL_ENCODER) -> tuple:
    """The layers after the aisfx embedding, as a table (`spec.apply_head`)."""
    return (Dense("projection", params.embedding_size, "linear"),)


def aisfx_network_of(model: keras.Model) -> keras.Model:
    """The aisfx network of a waveform encoder (its layer "aisfx_network") or the network itself."""
    names = {layer.name for layer in model.layers}
    return model.get_layer("aisfx_network") if "aisfx_network" in names else model


def freeze_blocks(network: keras.Model, count: int) -> None:
    """Stop training the first `count` conv blocks (convolution and batch norm) of an aisfx network."""
    if not 0 <= count <= len(BLOCKS):
        raise ValueError(f"frozen_blocks must be 0..{len(BLOCKS)}, not {count}")
    frozen = BLOCKS[:count]
    for layer in network.layers:
        if any(layer.name.startswith(f"{block}_") for block in frozen):
            layer.trainable = False


def build_tower(side: str, pretrained: keras.Model | None = None,
                params: DualEncoderParams = DUAL_ENCODER) -> keras.Model:
    """One side's encoder: aisfx log-mel blocks `(batch, 96, 100, 1)` -> unit `(batch, embedding_size)`."""
    if side not in SIDES:
        raise ValueError(f"unknown side {side!r}: one of {SIDES}")
    network = build_aisfx_network()
    if pretrained is not None:
        network.set_weights(aisfx_network_of(pretrained).get_weights())
    freeze_blocks(network, params.frozen_blocks)
    spectrogram = keras.Input(INPUT_SHAPE, name=f"{side}_spectrogram")
    projected = apply_head(network(spectrogram), projection(params), prefix=f"{side}_")
    embedding = keras.layers.UnitNormalization(name=f"{side}_embedding")(projected)
    return keras.Model(spectrogram, embedding, name=f"{side}_tower")


def build_dual_encoder(pretrained: keras.Model | None = None,
                       params: DualEncoderParams = DUAL_ENCODER) -> keras.Model:
    """Inputs `imitation`, `reference` (aisfx log-mel blocks); output `pair_embeddings`, the two
    unit embeddings side by side `(batch, 2 * embedding_size)`, imitation first: what
    `training.contrastive.NTXent` reads. `tower(model, side)` gives each side's encoder."""
    inputs = {side: keras.Input(INPUT_SHAPE, name=side) for side in SIDES}
    embeddings = [build_tower(side, pretrained, params)(inputs[side]) for side in SIDES]
    pair = keras.layers.Concatenate(name="pair_embeddings")(embeddings)
    source = "aisfx" if pretrained is not None else "random"
    return keras.Model([inputs[side] for side in SIDES], pair, name=f"dual_encoder_{source}")


def tower(model: keras.Model, side: str) -> keras.Model:
    """A dual encoder's encoder of one side (its weights, not a copy)."""
    return model.get_layer(f"{side}_tower")


def waveform_encoder(model: keras.Model, side: str) -> keras.Model:
    """One side's encoder on 44.1 kHz waveforms `(batch, samples)`: aisfx's front-end, then the
    tower (clips cut or zero-padded to the block's 2.32 s)."""
    waveform = keras.Input((None,), name="waveform")
    spectrogram = AisfxLogMel(AISFX.front_end, name="aisfx_log_mel")(waveform)
    return keras.Model(waveform, tower(model, side)(spectrogram), name=f"{side}_waveform_encoder")
