"""The committed reference: saved from a finished run, compared against a fresh one."""

from vocalsearch_tf import reference


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


def test_a_changed_or_missing_table_is_reported(tmp_path):
    results, figures = finished_run(tmp_path)
    saved = tmp_path / "reference"
    reference.save(results, None, saved)
    (results / "table1.csv").write_text("configuration,AI\nTied,0.6\n")
    assert reference.differences(results, saved)[0].startswith("table1.csv: differs")
    (results / "table1.csv").unlink()
    assert reference.differences(results, saved) == [f"table1.csv: missing from {results}"]
    assert "no reference" in reference.differences(results, tmp_path / "elsewhere")[0]
