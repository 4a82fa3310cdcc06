"""The adapted NT-Xent loss on a hand-worked batch and against a float64 NumPy reference, the
aisfx augmentation's wiring, and the dual encoder's fit: a few steps lower the loss, under the
strategy it is given (one device, the default one) and in the written-out loop."""

import dataclasses

import keras
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from vocalsearch_tf.config import AISFX_AUGMENTATION, NT_XENT, NTXentParams
from vocalsearch_tf.models import dual_encoder
from vocalsearch_tf.signal import augment
from vocalsearch_tf.training import contrastive, recipes, runs

E1, E2, E3 = np.eye(3)


def test_nt_xent_on_a_hand_worked_batch():
    # Three pairs; pairs 0 and 1 imitate the same reference sound (id 7), pair 2 another (id 9).
    # references r = (e1, e1, e2); imitations q = (e1, e3, e1); tau = 0.5, so logits = 2 cos:
    #   q0: cos (1, 1, 0) -> (2, 2, 0); q1: (0, 0, 0); q2: (2, 2, 0)
    # Greif et al. leave another pair's copy of one's own reference out of the denominator:
    #   l0 = -log(e^2 / (e^2 + e^0))          = log(1 + e^-2)   = 0.126928  (column 1 left out)
    #   l1 = -log(e^0 / (e^0 + e^0))          = log 2           = 0.693147  (column 0 left out)
    #   l2 = -log(e^0 / (e^2 + e^2 + e^0))    = log(2 e^2 + 1)  = 2.758624
    # loss = mean = 1.192900. Lengths do not matter (cosine): q1 halved and r2 tripled give the same.
    q = np.stack([E1, 0.5 * E3, E1])
    r = np.stack([E1, E1, 3.0 * E2])
    ids = np.array([7.0, 7.0, 9.0])
    found = contrastive.nt_xent(q, r, ids, NTXentParams(temperature=0.5)).numpy()
    np.testing.assert_allclose(found, [np.log1p(np.exp(-2)), np.log(2), np.log(2 * np.exp(2) + 1)], rtol=1e-12)
    np.testing.assert_allclose(found, [0.126928, 0.693147, 2.758624], atol=1e-6)
    assert found.mean() == pytest.approx(1.192900, abs=1e-6)
    # every other pair a negative (the QVIM baseline's choice): l0 = log(2 e^2 + 1) - 2 = 0.758624, l1 = log 3
    plain = contrastive.nt_xent(q, r, ids, NTXentParams(0.5, exclude_same_reference=False)).numpy()
    np.testing.assert_allclose(plain, [0.758624, 1.098612, 2.758624], atol=1e-6)
    # one direction: the references as queries give another loss (l1 would be log(e^0 / (e^0 + e^2)))
    assert contrastive.nt_xent(r, q, ids, NTXentParams(0.5)).numpy().mean() != pytest.approx(found.mean())


def numpy_nt_xent(q, r, ids, temperature, exclude_same_reference=True) -> np.ndarray:
    """The loss written out row by row in float64, as Greif et al.'s NTXent computes it."""
    q = q / np.linalg.norm(q, axis=1, keepdims=True)
    r = r / np.linalg.norm(r, axis=1, keepdims=True)
    losses = []
    for i in range(len(q)):
        kept = [k for k in range(len(r)) if k == i or not (exclude_same_reference and ids[k] == ids[i])]
        logits = np.array([q[i] @ r[k] for k in kept]) / temperature
        losses.append(-(logits[kept.index(i)] - np.log(np.sum(np.exp(logits)))))
    return np.array(losses)


@pytest.mark.parametrize("exclude", [True, False])
def test_nt_xent_matches_a_numpy_reference_at_the_papers_temperature(exclude):
    rng = np.random.default_rng(5)
    q, r = rng.normal(size=(9, 16)), rng.normal(size=(9, 16))
    ids = np.array([3, 3, 1, 4, 1, 5, 9, 2, 3], float)
    found = contrastive.nt_xent(q, r, ids, NTXentParams(NT_XENT.temperature, exclude)).numpy()
    np.testing.assert_allclose(found, numpy_nt_xent(q, r, ids, 0.07, exclude), rtol=1e-10)


def test_the_keras_loss_reads_pair_embeddings_and_averages():
    assert NT_XENT.temperature == 0.07 and NT_XENT.exclude_same_reference
    rng = np.random.default_rng(6)
    q, r = rng.normal(size=(5, 4)).astype("float32"), rng.normal(size=(5, 4)).astype("float32")
    ids = np.array([0, 1, 1, 2, 3], "float32")
    loss = contrastive.NTXent()
    assert float(loss(ids, np.concatenate([q, r], axis=1))) == pytest.approx(
        numpy_nt_xent(q.astype(float), r.astype(float), ids, 0.07).mean(), rel=1e-5)
    assert keras.losses.deserialize(keras.losses.serialize(loss)).get_config() == loss.get_config()


# --- augmentation on aisfx's log-mel ---------------------------------------------------------------

def blocks(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0.0, 0.7, (n, 96, 100, 1)).astype("float32")


def test_aisfx_augmentation_with_every_draw_off_gives_the_input_back():
    off = dataclasses.replace(AISFX_AUGMENTATION, p_pitch_shift=0.0, p_time_stretch=0.0, p_time_shift=0.0,
                              gain_db=0.0, p_eq=0.0, p_reverb=0.0, p_noise=0.0)
    x = blocks(3, 0)
    back = augment.augment_aisfx(tf.constant(x), tf.constant([1, 2]), off, contrastive.AISFX_FRONT_END).numpy()
    np.testing.assert_allclose(back, x, atol=2e-6)


def test_aisfx_augmentation_changes_blocks_repeatably_and_keeps_them_in_range():
    x = blocks(4, 1)
    first = augment.augment_aisfx(tf.constant(x), tf.constant([3, 0]), AISFX_AUGMENTATION, contrastive.AISFX_FRONT_END)
    again = augment.augment_aisfx(tf.constant(x), tf.constant([3, 0]), AISFX_AUGMENTATION, contrastive.AISFX_FRONT_END)
    np.testing.assert_array_equal(first.numpy(), again.numpy())
    assert np.abs(first.numpy() - x).max() > 0.05
    assert np.isfinite(first.numpy()).all() and first.numpy().min() >= 0.0


# --- the fit ---------------------------------------------------------------------------------------

def structured_sounds(n: int) -> np.ndarray:
    """aisfx blocks of n sounds, each a band of its own (10 mel bands from 8 + 20 k) pulsing at a
    rate of its own, over a quiet floor: unlike uniform noise, a random network tells them apart."""
    x = np.full((n, 96, 100, 1), 0.05, "float32")
    for k in range(n):
        period = 5 + 4 * k
        x[k, 8 + 20 * k: 18 + 20 * k, np.arange(100) % period < period // 2, 0] = 0.6
    return x + np.random.default_rng(3).uniform(0, 0.05, x.shape).astype("float32")


def tiny_set(n_sounds: int = 4, per_sound: int = 2):
    """`structured_sounds`; their imitations the same blocks with a little noise."""
    rng = np.random.default_rng(2)
    sounds = structured_sounds(n_sounds)
    sound_of = np.repeat(np.arange(n_sounds), per_sound)
    imitations = np.clip(sounds[sound_of] + rng.normal(0, 0.05, (len(sound_of), 96, 100, 1)), 0, None).astype("float32")
    table = pd.DataFrame({"imitation_id": np.arange(len(sound_of)) + 100, "sound_id": sound_of + 10})
    rows = ({i: k for k, i in enumerate(table.imitation_id)}, {s + 10: s for s in range(n_sounds)})
    return table, rows, imitations, sounds


def tiny_datasets(augmentation=None, batch_size=8):
    table, (imitation_rows, sound_rows), imitations, sounds = tiny_set()
    return [contrastive.contrastive_dataset(table, imitation_rows, sound_rows, imitations, sounds, batch_size,
                                            shuffle_seed=seed, augmentation=augmentation) for seed in (0, None)]


CHEAP = dual_encoder.DualEncoderParams(frozen_blocks=3)  # only block 4 and the projections train: quick
FIXED_BATCH = dataclasses.replace(contrastive.CONTRASTIVE_RECIPE, patience=100)


def test_pairs_carry_their_reference_row_and_validation_draws_repeat():
    train, val = tiny_datasets(AISFX_AUGMENTATION)
    (imitation, reference), ids = next(iter(val))
    assert imitation.shape == reference.shape == (8, 96, 100, 1)
    np.testing.assert_array_equal(ids.numpy(), [0, 0, 1, 1, 2, 2, 3, 3])  # sounds 10..13 are rows 0..3
    (imitation_again, _), _ = next(iter(val))
    np.testing.assert_array_equal(imitation.numpy(), imitation_again.numpy())
    _, _, raw, _ = tiny_set()
    assert np.abs(imitation.numpy() - raw).max() > 0.05  # augmented
    assert sorted(next(iter(train))[1].numpy()) == sorted(ids.numpy())  # shuffled, the same pairs


def test_a_few_steps_on_a_tiny_batch_lower_the_loss():
    runs.set_seed(0)
    train, val = tiny_datasets()
    _, history = contrastive.fit_dual_encoder(lambda: dual_encoder.build_dual_encoder(params=CHEAP), train, val,
                                              FIXED_BATCH, max_epochs=6)
    # the validation loss is not asserted: over 6 steps block 4's batch norm keeps its initial
    # moving statistics, so the model in inference mode is still near chance (ln 7 here)
    assert len(history["loss"]) == len(history["val_loss"]) == 6
    assert history["loss"][0] == pytest.approx(np.log(7), abs=0.1)  # chance: own reference + 6 others
    assert history["loss"][-1] < 0.5 * history["loss"][0], history["loss"]


@pytest.mark.parametrize("kind", ["one_device", "default"])
def test_the_fit_builds_and_trains_under_the_strategy_it_is_given(kind):
    runs.set_seed(1)
    strategy = tf.distribute.OneDeviceStrategy("/cpu:0") if kind == "one_device" else None
    train, val = tiny_datasets(AISFX_AUGMENTATION)
    model, history = contrastive.fit_dual_encoder(lambda: dual_encoder.build_dual_encoder(params=CHEAP), train, val,
                                                  FIXED_BATCH, max_epochs=2, strategy=strategy)
    used = strategy or tf.distribute.get_strategy()
    assert all(used.extended.variable_created_in_scope(v.value) for v in model.variables)
    if strategy is not None:  # variables made outside its scope would fail the check above
        assert not tf.distribute.get_strategy().extended.variable_created_in_scope(model.variables[0].value)
    assert len(history["loss"]) == 2 and np.isfinite(history["loss"] + history["val_loss"]).all()


def test_the_written_out_loop_takes_the_nt_xent_loss():
    """`recipes.fit_across_workers` (MultiWorkerMirroredStrategy's path) with `per_pair_loss`: its
    first epoch's loss on the one batch is NT-Xent of the untrained model on that batch."""
    runs.set_seed(2)
    train, val = tiny_datasets()
    loss = contrastive.NTXent()
    model = dual_encoder.build_dual_encoder(params=CHEAP)
    model.compile(optimizer=contrastive.CONTRASTIVE_RECIPE.optimizer(), loss=loss)
    (imitation, reference), ids = next(iter(train))
    expected = float(tf.reduce_mean(loss.call(ids, model([imitation, reference], training=True))))
    history = recipes.fit_across_workers(model, train, val, 5, None, tf.distribute.get_strategy(),
                                         per_pair_loss=loss.call)
    assert history["loss"][0] == pytest.approx(expected, rel=1e-4)
    assert history["loss"][-1] < 0.8 * history["loss"][0], history["loss"]
