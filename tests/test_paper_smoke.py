"""The `paper` profile's branches run: every numbered notebook at profile `paper` under the smoke
switch, in a fresh results folder, finishes and writes its tables.

What runs is a user's first GPU run, `make reproduce PROFILE=paper DATASET=vocalsketch`, with
every `*_DIR` on the embedded `ci` sets, which are written in the real datasets' layouts: so
the real-data branch (the folders, no augmentation of VocalSketch pairs, SONYC-UST read as real)
runs as well as `paper`'s own settings (the 30-epoch recipes, the language-ID learning rate, the
five Manocha margins, Fan's 30 partners in file order with retraining and all eight variants on
log-mel, the TL-IMINET ablation row). The switch cuts every fit to SMOKE_STEPS batches of
SMOKE_BATCH_SIZE examples for at most SMOKE_EPOCHS epochs, and SMOKE_RUNS caps every repetition
count (10 runs, 10 folds) at 2, which still takes every multi-run and multi-fold branch: notebooks
00-09 took 5.5 min so on 2 busy cores, two at a time, and 16.4 min one at a time with 10 runs and
folds. DATASET=synthetic at `paper` is not run here: it differs from this run in how the data
is found (the embedded folders, `ci`'s under the switch) and in augmenting IMINET's pairs, both
of which the `ci` run of `make notebook-test` takes.

This is `make paper-smoke-test` (part of `make test`); `make unit-test` leaves it out (marker
`paper_smoke`). It runs the working tree. Its numbers mean nothing and are not checked.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from vocalsearch_tf.config import (FAN_PROFILES, PROFILES, SMOKE_EPOCHS, SMOKE_RUNS_VARIABLE,
                                   SMOKE_STEPS_VARIABLE)

pytestmark = pytest.mark.paper_smoke

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"  # the embedded `ci` sets, shared with the other tests and `make reproduce PROFILE=ci`
SMOKE_STEPS, SMOKE_RUNS = 1, 2
PAPER = PROFILES["paper"]
NOTEBOOKS = sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
# what each notebook writes under results/paper-smoke/vocalsketch/seed0 (06: figures and sounds)
TABLES = {
    "00_data": ["difficulty.csv", "data/sounds.csv", "data/pairs_train.csv"],
    "01_pretrain_voxforge": ["pretrain/imitation_classifier/run_00.json"],
    "02_pretrain_urbansound8k": ["pretrain/urbansound8k_folds/run_01.json", "pretrain/recording_classifier/run_00.json"],
    "03_iminet": ["iminet/table_iminet.csv", "iminet/table_iminet.md", "iminet/fusion.json"],
    "04_tl_iminet": ["tl_iminet/table_tl_iminet.csv", "tl_iminet/table_tl_iminet.md"],
    "05_table1": ["table1.csv", "table1_runs.csv", "table1_ttests.csv", "table1.md", "table1_findings.json"],
    "06_visualisation": ["sonification/fig7_with_pretraining_conv1_filter*.wav", "sonification/fig9_*.wav"],
    "07_manocha2018": ["manocha2018/table1.csv", "manocha2018/table2.csv", "manocha2018/margin_sweep.csv",
                       "manocha2018/findings.json"],
    "08_fan2020": ["fan2020/table_fan2020.csv", "fan2020/findings_fan2020.csv", "fan2020/convergence_fan2020.csv",
                   "fan2020/ranking_rule_ablation.csv"],
    "09_vimsketch": ["coarse/table_coarse.csv", "coarse/coarse_folds.csv", "coarse/findings.json"],
    "10_field_today": ["field_today/table_field.csv", "field_today/table_field.md", "field_today/findings.json"],
}


def embedded_sets() -> Path:
    """The embedded `ci` sets (made on first use) and their VimSketch-layout copy."""
    from vocalsearch_tf.datasets.synthetic import SETS
    from vocalsearch_tf.experiments import vimsketch
    from vocalsearch_tf.training import runs

    root = runs.embedded_data(DATA, "ci", 0, list(SETS))
    vimsketch.load_data("synthetic", DATA, "ci", 0, "", "")  # writes root / "vimsketch"
    return root


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    embedded = embedded_sets()
    out = tmp_path_factory.mktemp("paper-smoke")
    # DATA_DIR is VocalSketch's folder, where the notebooks keep their spectrogram cache: a linked copy
    vocalsketch = out / "VocalSketch"
    shutil.copytree(embedded / "vocalsketch", vocalsketch, copy_function=os.link)
    folders = {"VOXFORGE_DIR": "voxforge", "URBANSOUND8K_DIR": "urbansound8k", "ESC50_DIR": "esc50",
               "SONYC_UST_DIR": "sonyc_ust", "VIMSKETCH_DIR": "vimsketch"}
    env = {**os.environ, SMOKE_STEPS_VARIABLE: str(SMOKE_STEPS), SMOKE_RUNS_VARIABLE: str(SMOKE_RUNS),
           "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "vocalsearch_tf.reproduce", "--profile", "paper", "--dataset", "vocalsketch",
               "--data-dir", str(vocalsketch), "--results-dir", str(out / "results"),
               "--figures-dir", str(out / "figures"), "--jobs", "2",
               *[part for name, folder in folders.items() for part in ("--param", name, str(embedded / folder))]]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, (done.stdout[-5000:], done.stderr[-5000:])
    return out / "results" / "paper-smoke" / "vocalsketch" / "seed0"


def statuses(notebook: Path) -> set[str]:
    cells = json.loads(notebook.read_text())["cells"]
    return {c["metadata"]["papermill"]["status"] for c in cells if c["cell_type"] == "code"}


def record(results: Path, folder: str, run: int = 0) -> dict:
    return json.loads((results / folder / f"run_{run:02d}.json").read_text())


def test_every_notebook_finishes_at_profile_paper(results):
    executed = sorted((results / "notebooks").glob("*.ipynb"))
    assert [p.stem for p in executed] == NOTEBOOKS
    for notebook in executed:
        assert statuses(notebook) == {"completed"}, notebook.name
    assert not (results.parents[2] / "paper").exists()  # nothing where a real run's results go


@pytest.mark.parametrize("notebook", sorted(TABLES))
def test_each_notebook_writes_its_tables(results, notebook):
    missing = [pattern for pattern in TABLES[notebook] if not list(results.glob(pattern))]
    assert not missing, f"{notebook}: {missing}"


def test_the_runs_have_papers_settings_and_the_switch_in_their_fingerprints(results):
    assert sorted(p.name for p in (results / "iminet" / "tied").glob("run_*.json")) == [
        f"run_{k:02d}.json" for k in range(min(PAPER.n_runs, SMOKE_RUNS))]
    tied = record(results, "iminet/tied", 1)
    assert tied["fingerprint"]["smoke_steps"] == SMOKE_STEPS and tied["epochs"] <= SMOKE_EPOCHS
    assert tied["fingerprint"]["max_epochs"] is None  # paper: early stopping alone
    assert tied["fingerprint"]["augmentation"] is None  # VocalSketch's pairs, as in the papers
    assert record(results, "tl_iminet/conv1-2-3", 1)["fingerprint"]["recipe"]["max_epochs"] == PAPER.tl_epochs == 30
    assert (results / "tl_iminet" / "conv1-2-3_vocalsketch-moments").is_dir()  # the ablation row
    language = record(results, "pretrain/imitation_classifier")["fingerprint"]
    assert language["recipe"]["learning_rate"] == PAPER.language_id_learning_rate == 1e-3
    margins = sorted(float(p.name.split("_m")[1]) for p in (results / "manocha2018").glob("balanced_m*"))
    assert margins == sorted(PAPER.manocha_margins)
    assert len(list((results / "manocha2018" / f"balanced_m{margins[0]:g}").glob("run_*.json"))) == SMOKE_RUNS
    fan = FAN_PROFILES["paper"]
    multi = record(results, "fan2020/log-mel/multi-siamese-mean")
    assert (multi["fingerprint"]["partners"], multi["fingerprint"]["pair_order"]) == (fan.partners, "first")
    assert multi["fingerprint"]["recipe"]["retrain"] and multi["max_epochs"] == fan.recipe.max_epochs
    assert len(list((results / "fan2020" / "log-mel").iterdir())) == 8  # every variant on log-mel
    folds = json.loads((results / "coarse" / "findings.json").read_text())["folds"]
    assert len(folds) == min(PAPER.coarse_folds, SMOKE_RUNS)
