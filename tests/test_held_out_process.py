"""The default's choice judged on an imitation process it never saw (search/held_out_process.py)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.test_development_check import hand_made_check, scores_where
from vocalsearch_tf.search import choose_default, held_out_process


def matrices_for(check):
    """iminet knows espeak's imitations and ranks contour's at chance; imisound knows every
    other imitation of every process."""
    rows = np.arange(len(check.imitations))
    espeak = rows[check.imitations.process.eq("espeak").to_numpy()]
    return {"iminet": scores_where(check, espeak, seed=1), "imisound": scores_where(check, rows[rows % 2 == 0], seed=2),
            "cqt-summary": scores_where(check, rows[rows % 3 == 0], seed=3)}


@pytest.fixture(scope="module")
def measured():
    check = hand_made_check(per_cell=12)
    matrices = matrices_for(check)
    baseline = np.zeros_like(matrices["iminet"])
    return check, matrices, baseline, held_out_process.by_process(check, matrices, baseline)


def test_each_independent_process_is_held_out_and_measured_on_its_confirmation_part_only(measured):
    check, _, _, held = measured
    assert set(held) == {"espeak", "contour"}  # voice is the embedded data's imitator: never held out
    for process, cell in held.items():
        mine = check.imitations[check.imitations.process.eq(process) & check.imitations.part.eq("confirmation")]
        assert cell["imitations"] == len(mine)
        assert cell["mrr"]["imisound"]["AI"]["n"] == int(mine.category.eq("acoustic instruments").sum())


def test_what_is_chosen_and_fitted_without_a_process_ignores_that_process(measured):
    check, matrices, baseline, held = measured
    contour = check.imitations.process.eq("contour").to_numpy()
    shuffled = {name: m.copy() for name, m in matrices.items()}
    rng = np.random.default_rng(9)
    for m in shuffled.values():
        m[contour] = rng.normal(0, 1, m[contour].shape)
    again = held_out_process.held_out(check, "contour", shuffled, baseline)
    assert again["default"] == held["contour"]["default"]
    assert again["fusion_weights"] == pytest.approx(held["contour"]["fusion_weights"])
    assert again["mrr"]["iminet"] != held["contour"]["mrr"]["iminet"]  # measured on what changed


def test_a_network_that_fails_on_the_unseen_process_is_caught_there(measured):
    _, _, _, held = measured
    mean = lambda cell, name: np.mean([c["mean"] for c in cell["mrr"][name].values()])  # noqa: E731
    assert mean(held["contour"], "iminet") < mean(held["contour"], "imisound") - 0.1
    assert mean(held["espeak"], "iminet") > 0.95
    for cell in held.values():  # the default's paired difference is the cards' difference
        for code, d in cell["default_minus_imisound"].items():
            if code != "all":
                expected = cell["mrr"][cell["default"]][code]["mean"] - cell["mrr"]["imisound"][code]["mean"]
                assert d["difference"] == pytest.approx(expected)
                assert d["low"] <= d["difference"] <= d["high"]
    text = held_out_process.table(held)
    assert "contour (48 imitations)" in text and "| all " in text and held["contour"]["default"] in text


def test_saved_scores_are_refused_for_another_check(tmp_path):
    check = hand_made_check(per_cell=3)
    matrices = matrices_for(check)
    baseline = np.zeros_like(matrices["iminet"])
    path = tmp_path / "scores.npz"
    choose_default.save_scores(path, check, matrices, {"iminet": None}, baseline)
    loaded, probe, saved_baseline = choose_default.load_scores(path, check)
    assert set(loaded) == set(matrices) and probe == {}
    assert np.array_equal(loaded["cqt-summary"], matrices["cqt-summary"]) and np.array_equal(saved_baseline, baseline)
    other = hand_made_check(per_cell=6)
    with pytest.raises(ValueError, match="imitations are not those of"):
        choose_default.load_scores(path, other)


def test_the_saved_baseline_scores_each_category_of_each_part_as_the_check_does(tmp_path):
    """The CQT-summary baseline standardises over the sounds an imitation ranks: the saved
    matrix holds it block by block, equal to the check's own scoring."""
    import soundfile as sf

    from vocalsearch_tf.experiments import transfer_check

    check = hand_made_check(per_cell=3)
    rng = np.random.default_rng(0)
    for prefix, table in (("s", check.sounds), ("i", check.imitations)):
        table["path"] = [str(tmp_path / f"{prefix}{k}.wav") for k in range(len(table))]
        for path in table.path:
            tone = np.sin(2 * np.pi * rng.uniform(100, 2000) * np.arange(8000) / 16_000)
            sf.write(path, (0.3 * tone + 0.05 * rng.normal(size=8000)).astype(np.float32), 16_000)
    matrix = choose_default.baseline_matrix(check)
    own = transfer_check.part_scores(check, transfer_check.baseline_scores(check))
    saved = transfer_check.part_scores(check, lambda s, q: matrix[np.ix_(q, s)])
    for part, by_code in own.items():
        for code, cell in by_code.items():
            assert np.allclose(saved[part][code].scores, cell.scores)
    other_part = check.imitations.part.eq("tuning").to_numpy()[:, None] & check.sounds.part.eq("confirmation").to_numpy()
    assert np.isnan(matrix[other_part]).all()
