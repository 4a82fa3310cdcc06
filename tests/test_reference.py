"""The committed reference: saved from a finished run, compared against a fresh one, and
what counts as a difference on another processor (data exactly, trained metrics in bands)."""

import json
import shutil
from io import StringIO
from pathlib import Path

import pandas as pd
import pytest

from vocalsearch_tf import reference

ROOT = Path(__file__).resolve().parents[1]
CI = ROOT / "reference" / "ci" / "synthetic" / "seed0"


def finished_run(root):
    results, figures = root / "results", root / "figures"
    (results / "iminet").mkdir(parents=True)
    (results / "notebooks").mkdir()
    (results / "table1.csv").write_text("configuration,AI\nTied,0.5\n")
    (results / "iminet" / "run_00.json").write_text("{}")
    (results / "notebooks" / "03_iminet.ipynb").write_text("{}")
    (results / "iminet" / "model_00.keras").write_text("weights")
    figures.mkdir()
    (figures / "figure6.png").write_bytes(b"png")
    return results, figures


def test_a_saved_reference_keeps_tables_records_and_figures_only(tmp_path):
    results, figures = finished_run(tmp_path)
    saved = tmp_path / "reference"
    reference.save(results, figures, saved)
    kept = sorted(str(p.relative_to(saved)) for p in saved.rglob("*") if p.is_file())
    assert kept == ["figures/figure6.png", "iminet/run_00.json", "table1.csv"]
    assert reference.differences(results, saved) == []


def test_a_missing_table_or_reference_fails(tmp_path):
    results, _ = finished_run(tmp_path)
    saved = tmp_path / "reference"
    reference.save(results, None, saved)
    (results / "table1.csv").unlink()
    [missing] = reference.differences(results, saved)
    assert missing.kind == "missing" and missing.fails
    assert reference.differences(results, tmp_path / "elsewhere")[0].fails


def test_a_changed_metric_without_a_measured_band_fails(tmp_path):
    results, _ = finished_run(tmp_path)
    saved = tmp_path / "reference"
    reference.save(results, None, saved)
    (results / "table1.csv").write_text("configuration,AI\nTied,0.6\n")
    [changed] = reference.differences(results, saved)
    assert changed.fails and "no band measured" in changed.detail


# --- against the committed ci reference, as a run on another processor would be ----------------

@pytest.fixture
def other_processor(tmp_path):
    """A copy of reference/ci's tables standing in for a fresh run, with its bands."""
    results = tmp_path / "results"
    shutil.copytree(CI, results)
    bands = json.loads(reference.bands_path(CI).read_text())
    return results, bands


def shifted(text: str, row: int, column: int, by: float) -> str:
    """The CSV with the first number of one cell moved by `by` (row 0 is the header)."""
    cells = pd.read_csv(StringIO(text), dtype=str, keep_default_na=False, header=None)
    cell = cells.iat[row, column]
    number = reference.NUMBER.search(cell)
    cells.iat[row, column] = cell[:number.start()] + f"{float(number.group()) + by:.6f}" + cell[number.end():]
    return cells.to_csv(index=False, header=False)


def test_the_ci_reference_has_a_band_for_every_measured_column_of_every_trained_table():
    bands = json.loads(reference.bands_path(CI).read_text())
    for path in CI.rglob("*.csv"):
        name = str(path.relative_to(CI))
        if reference.kind_of(name) == "trained":
            table = pd.read_csv(path, dtype=str, keep_default_na=False)
            measured = set(table.columns) - set(reference.key_columns(table))
            assert measured <= set(bands[name]), (name, measured - set(bands[name]))


def test_trained_metrics_within_their_bands_pass_and_outside_fail(other_processor):
    results, bands = other_processor
    name = "iminet/table_iminet.csv"
    band = bands[name]["AI"]
    original = (CI / name).read_text()
    (results / name).write_text(shifted(shifted(original, 1, 1, 0.9 * band), 3, 1, -0.9 * band))
    [within] = reference.differences(results, CI)
    assert within.kind == "within band" and not within.fails
    (results / name).write_text(shifted(original, 1, 1, 1.1 * band))
    [outside] = reference.differences(results, CI)
    assert outside.kind == "outside band" and outside.fails and "'Untied'" in outside.detail


def test_the_split_and_data_tables_must_be_equal(other_processor):
    results, _ = other_processor
    (results / "difficulty.csv").write_text(shifted((CI / "difficulty.csv").read_text(), 1, 4, 0.001))
    [data] = reference.differences(results, CI)
    assert data.kind == "data" and data.fails
    folds = (CI / "coarse" / "folds.csv").read_text().splitlines()
    (results / "difficulty.csv").write_text((CI / "difficulty.csv").read_text())
    (results / "coarse" / "folds.csv").write_text("\n".join([folds[0], folds[2], folds[1], *folds[3:]]) + "\n")
    assert [d.kind for d in reference.differences(results, CI)] == ["data"]


def test_findings_follow_the_metrics_but_a_renamed_row_is_a_layout_change(other_processor):
    results, _ = other_processor
    findings = "fan2020/findings_fan2020.csv"
    (results / findings).write_text((CI / findings).read_text().replace("False", "True"))
    [follows] = reference.differences(results, CI)
    assert follows.kind == "follows" and not follows.fails
    (results / findings).write_text((CI / findings).read_text())
    name = "tl_iminet/table_tl_iminet.csv"
    (results / name).write_text((CI / name).read_text().replace("No Pre-train", "No pretraining"))
    [layout] = reference.differences(results, CI)
    assert layout.kind == "layout" and layout.fails
