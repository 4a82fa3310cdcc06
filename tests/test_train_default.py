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
