"""Notebook 10: today's query by vocal imitation beside TASLP's systems, on notebook 00's split
(TASLP VI-A) and on notebook 09's coarse-grained folds.

The systems, all on aisfx's front-end (one log-mel block of 96 bands x 100 frames: the first
2.32 s of each clip, `models.aisfx`):
- **aisfx frozen, cosine**: the released aisfx encoder (Ma & Lerch, ISMIR 2022, trained on sound
  effects libraries) on both sides, its 512-d embeddings compared by cosine; training-free, as
  IMISOUND is.
- **dual encoder, from aisfx**: two aisfx towers with a 128-d projection (`models.dual_encoder`),
  trained with Greif et al.'s NT-Xent on in-batch negatives (`training.contrastive`) on the
  split's training imitations and their references, with the embedded data's augmentation on
  aisfx's log-mel (`config.AISFX_AUGMENTATION`), early-stopped on the validation imitations.
- **dual encoder, random init**: the same towers freshly initialised, the same recipe: what
  pretraining on real sounds is worth. Each batch norm's statistics are first set from a batch of
  training blocks (`calibrate_batch_norms`): with the unit statistics of a fresh layer, a random
  network's frozen blocks give all clips nearly the same output (measured at `ci` after an epoch: pairwise
  cosine .999 between the embeddings of different imitations), where aisfx's own blocks carry the
  statistics of their training data.

Scores are TASLP eq. 3's log-likelihoods over the whole test library (a softmax of minus the
cosine distance), as IMISOUND's: within a category they rank as the cosine does, and a fusion
with TASLP's systems stays a sum. Each system is measured two ways: TASLP VI-B's MRR per category
(each test imitation ranks its category's test sounds, `evaluation.scoring`) and the QVIM
challenge's measures (each ranks every test sound: MRR of the exact item, NDCG with the imitated
category relevant, recall@1/5/10, `evaluation.qvim`). IMINET, TL-IMINET and IMISOUND are read
from notebook 05's and 09's saved tables, not recomputed. The tables and findings are
`field_table`'s.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from vocalsearch_tf.config import AISFX_AUGMENTATION, NT_XENT, AugmentationParams
from vocalsearch_tf.datasets import aisfx_weights
from vocalsearch_tf.evaluation import qvim, scoring
from vocalsearch_tf.evaluation.baselines import cosine_scores
from vocalsearch_tf.experiments import taslp, vimsketch
from vocalsearch_tf.experiments.taslp import Spectrograms, Split
from vocalsearch_tf.models import dual_encoder
from vocalsearch_tf.models.aisfx import AISFX, AISFX_NETWORK, AisfxLogMel
from vocalsearch_tf.training import contrastive, recipes, runs

FROZEN = "aisfx frozen, cosine"
PRETRAINED = "dual encoder, from aisfx"
RANDOM = "dual encoder, random init"
OURS = (FROZEN, PRETRAINED, RANDOM)
FOLDERS = {FROZEN: "aisfx_frozen", PRETRAINED: "dual_encoder_aisfx", RANDOM: "dual_encoder_random"}
OUT = "field_today"  # results/<profile>/<dataset>/seed<seed>/field_today/
SCORE_FILES = ("scores_{index:02d}.npz", "library_{index:02d}.npz")
MODEL_FILES = ("model_{index:02d}.keras", *SCORE_FILES)
RANKING_FILES = ("ranking_{index:02d}.npz",)
EMBED_BATCH = 64
CALIBRATION_BLOCKS = 128  # training blocks per side that set a random network's batch norms
Embedder = Callable[[np.ndarray], np.ndarray]


# --- inputs -----------------------------------------------------------------------------------

def aisfx_blocks(split: Split, cache_dir: Path) -> Spectrograms:
    """Every sound's and imitation's first aisfx block `(96, 100, 1)`, cached as the other
    notebooks cache their spectrograms (`signal.spectra`)."""
    layer = AisfxLogMel(AISFX.front_end)
    return taslp.compute_spectrograms(split, layer, layer, cache_dir)


def pretrained_network(cache_dir=None) -> keras.Model:
    """aisfx's released network on log-mel blocks (fetched and converted on first use)."""
    return aisfx_weights.load_aisfx_encoder(cache_dir, input="spectrogram")


def weights_digest(network: keras.Model) -> str:
    """A hash of a network's weights: the pretrained towers' part of a fingerprint."""
    return runs.digest(*[np.asarray(w) for w in network.get_weights()])


def dual_encoder_settings(params: dual_encoder.DualEncoderParams, recipe: recipes.AdamRecipe,
                          max_epochs: int | None, augmentation: AugmentationParams | None,
                          pretrained: keras.Model | None) -> dict:
    """Everything of a dual encoder's training that its fingerprint holds besides the data."""
    return {"model": {"params": params, "network": AISFX_NETWORK, "front_end": AISFX.front_end,
                      "projection": dual_encoder.projection(params)},
            "recipe": recipe, "max_epochs": max_epochs, "loss": NT_XENT, "augmentation": augmentation,
            "pretrained": None if pretrained is None else weights_digest(pretrained),
            "calibration_blocks": CALIBRATION_BLOCKS if pretrained is None else None}


# --- scoring ----------------------------------------------------------------------------------

def embedder(model: keras.Model) -> Embedder:
    """The model on blocks, batch by batch, called directly: Keras's predict would trace a function
    per model, and this notebook embeds with several."""
    def embed(blocks: np.ndarray) -> np.ndarray:
        parts = [np.asarray(model(blocks[i:i + EMBED_BATCH], training=False)) for i in range(0, len(blocks), EMBED_BATCH)]
        return np.concatenate(parts).astype(np.float32)

    return embed


def similarities(blocks: Spectrograms, embed_imitations: Embedder, embed_sounds: Embedder):
    """`score(sounds, queries)` -> their (queries, sounds) cosine similarities."""
    return lambda sounds, queries: cosine_scores(embed_imitations(blocks.of_imitations(queries.imitation_id)),
                                                 embed_sounds(blocks.of_sounds(sounds.sound_id)))


def likelihoods(blocks: Spectrograms, embed_imitations: Embedder, embed_sounds: Embedder):
    """`score(sounds, queries)` -> eq. 3's log-likelihoods over the library (float64), as notebook 09
    ranks and fuses its systems."""
    similarity = similarities(blocks, embed_imitations, embed_sounds)
    return lambda sounds, queries: scoring.log_likelihood(similarity(sounds, queries))


def towers(model: keras.Model) -> tuple[Embedder, Embedder]:
    """A dual encoder's imitation and reference encoders as embedders."""
    return embedder(dual_encoder.tower(model, "imitation")), embedder(dual_encoder.tower(model, "reference"))


def save_library(path: Path, similarity: np.ndarray, query_ids, sound_ids) -> None:
    tmp = path.with_name(path.stem + ".part.npz")
    np.savez_compressed(tmp, similarity=similarity, query_ids=np.asarray(query_ids), sound_ids=np.asarray(sound_ids))
    tmp.replace(path)


def load_library(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(cosine similarities, query ids, sound ids) of `save_library`."""
    with np.load(path) as data:
        return data["similarity"], data["query_ids"], data["sound_ids"]


def scored_run(split: Split, score, out_dir: Path, index: int) -> dict:
    """Score the split's test imitations against every test sound (`score`: `similarities`), save
    the log-likelihoods per category (as notebook 05 saves its own) and the similarities over the
    whole library, and return the run's measures."""
    sounds, queries = split.test_tables()
    similarity = score(sounds, queries)
    library = scoring.log_likelihood(similarity)
    per_category = scoring.per_category(sounds, queries, lambda members, asking: library[asking][:, members])
    scoring.save_scores(out_dir / f"scores_{index:02d}.npz", per_category)
    save_library(out_dir / f"library_{index:02d}.npz", similarity, queries.imitation_id, sounds.sound_id)
    column = {sid: k for k, sid in enumerate(sounds.sound_id)}
    targets = np.array([column[s] for s in queries.sound_id])
    return {"mrr": scoring.mrr_by_category(per_category), "tied_targets": scoring.tied_targets_by_category(per_category),
            "qvim": qvim.qvim_summary(library, targets, queries.category, sounds.category)}


# --- the systems on notebook 00's split -------------------------------------------------------

def frozen_runs(split: Split, blocks: Spectrograms, network: keras.Model, out_dir: Path, base_seed: int,
                fingerprint: dict) -> list[dict]:
    """aisfx frozen, cosine: one run (nothing is trained, so another would be the same)."""
    embed = embedder(network)
    return runs.run_many(out_dir, 1, lambda index, seed: scored_run(split, similarities(blocks, embed, embed), out_dir, index),
                         base_seed, {**fingerprint, "model": {"network": AISFX_NETWORK, "front_end": AISFX.front_end},
                                     "pretrained": weights_digest(network)}, SCORE_FILES)


def calibrate_batch_norms(model: keras.Model, imitations: np.ndarray, references: np.ndarray) -> keras.Model:
    """A freshly initialised dual encoder with each tower's batch-norm statistics set from data: one
    pass in training mode over `imitations` (imitation tower) and `references` (reference tower)
    with momentum 0, so each layer keeps the mean and variance of its input over that batch,
    frozen layers included."""
    for side, x in (("imitation", imitations), ("reference", references)):
        network = dual_encoder.aisfx_network_of(dual_encoder.tower(model, side))
        norms = [layer for layer in network.layers if isinstance(layer, keras.layers.BatchNormalization)]
        kept = [(layer.trainable, layer.momentum) for layer in norms]
        for layer in norms:
            layer.trainable, layer.momentum = True, 0.0
        network(x, training=True)
        for layer, (trainable, momentum) in zip(norms, kept):
            layer.trainable, layer.momentum = trainable, momentum
    return model


def builder(imitations: pd.DataFrame, blocks: Spectrograms, pretrained: keras.Model | None,
            params: dual_encoder.DualEncoderParams, seed: int) -> Callable[[], keras.Model]:
    """`build()` of a dual encoder: from `pretrained`'s weights, or freshly initialised and
    calibrated on a seeded sample of the training imitations and their references."""
    if pretrained is not None:
        return lambda: dual_encoder.build_dual_encoder(pretrained, params)
    train = imitations[imitations.role == "train"]
    sample = train.sample(n=min(len(train), CALIBRATION_BLOCKS), random_state=seed)
    references = train.sound_id.drop_duplicates().sample(frac=1.0, random_state=seed)[:CALIBRATION_BLOCKS]
    return lambda: calibrate_batch_norms(dual_encoder.build_dual_encoder(None, params),
                                         blocks.of_imitations(sample.imitation_id), blocks.of_sounds(references))


def fit(imitations: pd.DataFrame, blocks: Spectrograms, pretrained: keras.Model | None,
        params: dual_encoder.DualEncoderParams, recipe: recipes.AdamRecipe, max_epochs: int | None, seed: int,
        augmentation: AugmentationParams | None, strategy: tf.distribute.Strategy | None,
        progress: str) -> tuple[keras.Model, dict]:
    """A dual encoder trained on the positive pairs of `imitations` of role 'train', early-stopped on
    those of role 'val'."""
    datasets = {role: contrastive.contrastive_dataset(
        imitations[imitations.role == role], blocks.imitation_rows, blocks.sound_rows, blocks.imitations,
        blocks.sounds, recipe.batch_size, seed if role == "train" else None, augmentation) for role in ("train", "val")}
    return contrastive.fit_dual_encoder(builder(imitations, blocks, pretrained, params, seed), datasets["train"],
                                        datasets["val"], recipe, max_epochs, strategy, progress=progress)


def save_without_optimizer(model: keras.Model, path: Path) -> None:
    """The trained model alone, as search loads it: Adam's two moments would triple the file.
    Its one output stays a tensor (`model.outputs` would save it as a list of one)."""
    keras.Model(model.inputs, model.output, name=model.name).save(path)


def _trained(model: keras.Model, history: dict) -> dict:
    return {"epochs": len(history["loss"]), "history": history,
            "trainable_params": int(sum(np.prod(w.shape) for w in model.trainable_weights))}


def dual_encoder_runs(split: Split, blocks: Spectrograms, pretrained: keras.Model | None,
                      params: dual_encoder.DualEncoderParams, n_runs: int, max_epochs: int | None, out_dir: Path,
                      base_seed: int, fingerprint: dict, recipe: recipes.AdamRecipe = contrastive.CONTRASTIVE_RECIPE,
                      strategy: tf.distribute.Strategy | None = None,
                      augmentation: AugmentationParams | None = AISFX_AUGMENTATION) -> list[dict]:
    """`n_runs` trainings of the dual encoder (from `pretrained`'s weights, or random with None);
    each run's model (`model_NN.keras`, searchable with `vocalsearch --model`), scores and record
    are saved as it ends, and reused only when the fingerprint matches."""
    def run(index: int, seed: int) -> dict:
        runs.set_seed(seed)
        model, history = fit(split.imitations, blocks, pretrained, params, recipe, max_epochs, seed, augmentation,
                             strategy, f"{out_dir.name} run {index}")
        save_without_optimizer(model, out_dir / f"model_{index:02d}.keras")
        return {**scored_run(split, similarities(blocks, *towers(model)), out_dir, index), **_trained(model, history)}

    settings = dual_encoder_settings(params, recipe, max_epochs, augmentation, pretrained)
    return runs.run_many(out_dir, n_runs, run, base_seed, {**fingerprint, **settings}, MODEL_FILES)


# --- the systems on notebook 09's coarse folds ------------------------------------------------

def _fold_record(rank: vimsketch.Ranking, fold: vimsketch.Fold) -> dict:
    return {"fold": fold.index, **rank.summary()}


def coarse_frozen_runs(folds: list[vimsketch.Fold], blocks: Spectrograms, network: keras.Model, out_dir: Path,
                       base_seed: int, fingerprint: dict) -> list[dict]:
    """aisfx frozen on each fold's test part (run k = fold k), as notebook 09 ranks it."""
    embed = embedder(network)

    def run(index: int, seed: int) -> dict:
        rank = vimsketch.ranking(folds[index], likelihoods(blocks, embed, embed))
        rank.save(out_dir / f"ranking_{index:02d}.npz")
        return _fold_record(rank, folds[index])

    return runs.run_many(out_dir, len(folds), run, base_seed,
                         {**fingerprint, "model": {"network": AISFX_NETWORK, "front_end": AISFX.front_end},
                          "pretrained": weights_digest(network)}, RANKING_FILES)


def coarse_dual_encoder_runs(folds: list[vimsketch.Fold], blocks: Spectrograms, pretrained: keras.Model | None,
                             params: dual_encoder.DualEncoderParams, max_epochs: int | None, out_dir: Path,
                             base_seed: int, fingerprint: dict,
                             recipe: recipes.AdamRecipe = contrastive.CONTRASTIVE_RECIPE,
                             strategy: tf.distribute.Strategy | None = None,
                             augmentation: AugmentationParams | None = AISFX_AUGMENTATION) -> list[dict]:
    """One dual encoder per fold, trained on the fold's training part, ranked on its test part."""
    def run(index: int, seed: int) -> dict:
        fold = folds[index]
        runs.set_seed(seed)
        model, history = fit(fold.imitations, blocks, pretrained, params, recipe, max_epochs, seed, augmentation,
                             strategy, f"{out_dir.name} fold {index}")
        rank = vimsketch.ranking(fold, likelihoods(blocks, *towers(model)))
        rank.save(out_dir / f"ranking_{index:02d}.npz")
        return {**_fold_record(rank, fold), **_trained(model, history)}

    settings = dual_encoder_settings(params, recipe, max_epochs, augmentation, pretrained)
    return runs.run_many(out_dir, len(folds), run, base_seed, {**fingerprint, **settings}, RANKING_FILES)
