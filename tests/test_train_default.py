"""`make default-model`'s guards."""

import pytest

from vocalsearch_tf.search import train_default


def test_a_run_that_never_left_chance_is_refused_before_anything_is_written():
    train_default.check_learnt(0.45, seed=1)
    with pytest.raises(train_default.NotLearntError, match="did not learn .* another --seed"):
        train_default.check_learnt(0.6931648850440979, seed=2)  # seed 2 of profile quick, measured


def test_a_candidate_trains_one_iminet_and_writes_nothing_shipped():
    """`--out` once also retrained the shipped IMISOUND beside the candidate."""
    assert train_default.to_train(None, candidate=True) == {"iminet"}
    assert train_default.to_train("iminet", candidate=True) == {"iminet"}
    assert train_default.to_train(None, candidate=False) == {"iminet", "imisound"}
    assert train_default.to_train("imisound", candidate=False) == {"imisound"}
    assert train_default.to_train("cqt-summary", candidate=True) == {"cqt-summary"}


@pytest.mark.parametrize("option", [["--weight-decay", "0.5"], ["--summary"], ["--level-invariant"]])
def test_a_candidates_option_without_out_is_refused(option, capsys):
    with pytest.raises(SystemExit):
        train_default.main(["--seeds", "1", *option])
    assert "give --out" in capsys.readouterr().err


def test_weight_decay_shrinks_weights_that_get_no_gradient():
    import keras
    import numpy as np

    from vocalsearch_tf.training.recipes import IMINET_RECIPE, AdamRecipe

    assert IMINET_RECIPE.optimizer().weight_decay is None  # the paper's recipe: none
    weights = keras.Variable(np.ones(4, np.float32))
    optimizer = AdamRecipe(weight_decay=0.5).optimizer()
    for _ in range(10):
        optimizer.apply_gradients([(keras.ops.zeros(4), weights)])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(weights), (1 - 1e-3 * 0.5) ** 10, rtol=1e-5)
