import numpy as np
import pandas as pd
import tensorflow as tf

from vocalsearch_tf.config import IMINET_CQT, AugmentationParams
from vocalsearch_tf.signal import augment
from vocalsearch_tf.training import recipes

FLOOR = float(np.log(IMINET_CQT.log_offset))


def test_pitch_shift_moves_bins_and_fills_the_floor():
    x = np.full((2, 6, 3, 1), FLOOR, np.float32)
    x[:, 2] = 1.0
    out = augment.pitch_shift(tf.constant(x), tf.constant([2, -3])).numpy()
    assert np.all(out[0, 4] == 1.0) and np.sum(out[0] == 1.0) == 3
    assert np.all(out[1] == FLOOR)  # shifted below the lowest bin: gone


def test_pitch_scale_squeezes_bins_about_the_pivot_and_fills_the_floor():
    x = np.full((3, 12, 2, 1), FLOOR, np.float32)
    x[:, 8] = 1.0
    out = augment.pitch_scale(tf.constant(x), tf.constant([0.5, 1.0, 2.0]), tf.constant([4.0, 4.0, 4.0])).numpy()
    assert np.all(out[0, 6] == 1.0) and np.sum(out[0] > FLOOR) == 2  # bin 8 squeezed halfway to 4
    assert np.all(out[0, 10:] == FLOOR)  # read from beyond the top bin: the floor
    np.testing.assert_array_equal(out[1], x[1])  # scale 1: unchanged
    # stretched: bin 8 lands on 12, off the top; bin 11 reads 7.5, halfway to it
    np.testing.assert_allclose(out[2, 11], (1 + FLOOR) / 2, rtol=1e-6)
    assert np.all(out[2, :11] == FLOOR)


def test_pitch_scale_off_or_at_one_leaves_every_other_draw_unchanged():
    x = tf.constant(np.random.default_rng(2).normal(-4, 2, (4, *IMINET_CQT.shape, 1)).astype(np.float32))
    plain = augment.augment(x, tf.constant([5, 1]), AugmentationParams(), IMINET_CQT.log_offset).numpy()
    at_one = AugmentationParams(p_pitch_scale=1.0, pitch_scale=(1.0, 1.0))
    np.testing.assert_allclose(augment.augment(x, tf.constant([5, 1]), at_one, IMINET_CQT.log_offset).numpy(),
                               plain, atol=1e-5)
    squeezed = AugmentationParams(p_pitch_scale=1.0)
    assert not np.allclose(augment.augment(x, tf.constant([5, 1]), squeezed, IMINET_CQT.log_offset).numpy(), plain)


def test_time_shift_delays_or_advances_with_silence_behind():
    power = np.arange(1, 7, dtype=np.float32)[np.newaxis, np.newaxis, :, np.newaxis].repeat(2, axis=0)
    out = augment.time_shift(tf.constant(power), tf.constant([2, -1])).numpy()[:, 0, :, 0]
    np.testing.assert_allclose(out[0], [0, 0, 1, 2, 3, 4])
    np.testing.assert_allclose(out[1], [2, 3, 4, 5, 6, 0])


def test_time_stretch_reads_frames_at_the_rate_and_interpolates():
    power = np.arange(1, 9, dtype=np.float32)[np.newaxis, np.newaxis, :, np.newaxis].repeat(2, axis=0)
    out = augment.time_stretch(tf.constant(power), tf.constant([2.0, 0.5])).numpy()[:, 0, :, 0]
    np.testing.assert_allclose(out[0], [1, 3, 5, 7, 0, 0, 0, 0])  # past the end: silence
    np.testing.assert_allclose(out[1], [1, 1.5, 2, 2.5, 3, 3.5, 4, 4.5])


def test_one_warp_shifts_then_stretches_each_example_its_own_way():
    power = np.arange(1, 9, dtype=np.float32)[np.newaxis, np.newaxis, :, np.newaxis].repeat(2, axis=0)
    matrix = augment.warp_matrix(8, tf.constant([1, 0]), tf.constant([2.0, 1.0]))
    out = augment.along_time(tf.constant(power), matrix).numpy()[:, 0, :, 0]
    np.testing.assert_allclose(out[0], [0, 1, 3, 5, 7, 0, 0, 0])
    np.testing.assert_allclose(out[1], power[1, 0, :, 0])  # no shift, rate 1: unchanged


def test_reverberation_keeps_energy_and_adds_a_tail():
    power = np.zeros((1, 1, 10, 1), np.float32)
    power[0, 0, 2] = 1.0
    out = augment.reverberate(tf.constant(power), tf.constant([0.5]), 4).numpy()[0, 0, :, 0]
    assert out[:2].sum() == 0 and np.all(np.diff(out[2:6]) < 0) and out[6:].sum() == 0
    np.testing.assert_allclose(out.sum(), 1.0, rtol=1e-6)


def test_augment_is_seeded_and_changes_the_batch():
    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(-4, 2, (4, *IMINET_CQT.shape, 1)).astype(np.float32))
    params = AugmentationParams()
    a = augment.augment(x, tf.constant([7, 0]), params, IMINET_CQT.log_offset).numpy()
    b = augment.augment(x, tf.constant([7, 0]), params, IMINET_CQT.log_offset).numpy()
    c = augment.augment(x, tf.constant([8, 0]), params, IMINET_CQT.log_offset).numpy()
    assert a.shape == x.shape and np.all(np.isfinite(a))
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c) and not np.allclose(a, x.numpy())
    assert a.min() >= FLOOR - 1e-5


def test_no_augmentation_draw_is_identity_up_to_rounding():
    x = np.random.default_rng(1).normal(-4, 2, (3, 72, 20, 1)).clip(FLOOR + 1, None)  # a real log-CQT's range
    x = tf.constant(x.astype(np.float32))
    off = AugmentationParams(p_pitch_shift=0, p_time_stretch=0, p_time_shift=0, gain_db=0, p_eq=0, p_reverb=0, p_noise=0)
    out = augment.augment(x, tf.constant([1, 0]), off, IMINET_CQT.log_offset).numpy()
    np.testing.assert_allclose(out, x.numpy(), atol=1e-4)


def test_pair_dataset_augments_each_epoch_differently_but_repeatably():
    specs = np.random.default_rng(2).normal(-4, 2, (6, 72, 20, 1)).astype(np.float32)
    pairs = pd.DataFrame({"imitation_id": [0] * 6, "sound_id": [0] * 6, "label": [1.0] * 6})  # order-free
    rows = {i: i for i in range(6)}

    def epochs(seed):
        ds = recipes.pair_dataset(pairs, rows, rows, specs, specs, 6, shuffle_seed=seed,
                                   augment=lambda x, s: augment.augment(x, s, AugmentationParams(),
                                                                        IMINET_CQT.log_offset))
        return [next(iter(ds))[0][0].numpy() for _ in range(2)]

    first, second = epochs(3)
    again = epochs(3)
    assert not np.allclose(first, second) and not np.allclose(first[0], first[1])
    np.testing.assert_array_equal(first, again[0])


def test_validation_batches_get_the_same_draws_every_epoch():
    specs = np.random.default_rng(4).normal(-4, 2, (1, 72, 20, 1)).astype(np.float32)
    pairs = pd.DataFrame({"imitation_id": [0] * 4, "sound_id": [0] * 4, "label": [1.0] * 4})
    ds = recipes.pair_dataset(pairs, {0: 0}, {0: 0}, specs, specs, 4, shuffle_seed=None,
                               augment=lambda x, s: augment.augment(x, s, AugmentationParams(),
                                                                    IMINET_CQT.log_offset))
    first, second = (next(iter(ds))[0][0].numpy() for _ in range(2))
    np.testing.assert_array_equal(first, second)
    assert not np.allclose(first[0], first[1])
