"""The committed notebooks: source only, and a papermill parameters cell first."""

import json
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def test_the_numbered_notebooks_exist():
    assert [p.name[:2] for p in NOTEBOOKS] == ["00", "01", "02", "03", "04", "05", "06", "07", "08", "09", "10"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_without_outputs(path):
    cells = json.loads(path.read_text())["cells"]
    assert all(not c.get("outputs") for c in cells if c["cell_type"] == "code")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_first_code_cell_holds_the_parameters(path):
    code = [c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]
    first = code[0]
    assert "parameters" in first["metadata"].get("tags", [])
    source = "".join(first["source"])
    for name in ("PROFILE", "DATASET", "DATA_DIR", "SEED", "RESULTS_DIR", "FIGURES_DIR"):
        assert f"{name} =" in source
    assert "VOCALSEARCH_PROFILE" in source  # the profile when run as stored, outside make
