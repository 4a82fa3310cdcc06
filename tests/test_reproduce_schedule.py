"""`make reproduce` runs two notebooks at once where one does not need the other's results
(`reproduce.NEEDS`), and a failure stops new notebooks without losing the running ones."""

import json
import re
from pathlib import Path

import pytest

from vocalsearch_tf import reproduce

ROOT = Path(__file__).resolve().parents[1]


def test_every_notebook_declares_what_it_needs_and_needs_only_earlier_ones():
    numbers = [p.name[:2] for p in reproduce.notebooks(folder=ROOT / "notebooks")]
    assert sorted(reproduce.NEEDS) == numbers
    for number, needs in reproduce.NEEDS.items():
        assert all(need in numbers and need < number for need in needs), number


def test_a_notebook_waits_for_what_it_needs_within_the_run():
    names = ["00", "01", "02", "03", "04", "05"]
    assert reproduce.schedule(names, set(), set()) == ["00"]
    assert reproduce.schedule(names, {"00"}, set()) == ["01", "02", "03"]
    assert reproduce.schedule(names, {"00", "01"}, {"02", "03"}) == []
    assert reproduce.schedule(names, {"00", "01", "02"}, {"03"}) == ["04"]
    # notebooks left out of the run (--only) are taken as done before
    assert reproduce.schedule(["05"], set(), set()) == ["05"]
    assert reproduce.schedule(["04", "05"], set(), set()) == ["04"]


def _notebook(path: Path, body: str):
    cell = lambda source, tags=(): {"cell_type": "code", "execution_count": None, "metadata": {"tags": list(tags)},
                                    "outputs": [], "source": source}
    path.write_text(json.dumps({
        "cells": [cell('OUT = "."', ["parameters"]),
                  cell("import json, time\nstart = time.time()\n" + body
                       + f"\nopen(OUT + '/{path.stem}.json', 'w').write(json.dumps([start, time.time()]))")],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        "nbformat": 4, "nbformat_minor": 5}))


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A project folder of three notebooks: 01 and 02 both need 00."""
    (tmp_path / "notebooks").mkdir()
    for name in ("00_first", "01_left", "02_right"):
        _notebook(tmp_path / "notebooks" / f"{name}.ipynb", "time.sleep(3)")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(reproduce, "NEEDS", {"00": (), "01": ("00",), "02": ("00",)})
    return tmp_path


def _spans(folder: Path) -> dict:
    return {p.stem: json.loads(p.read_text()) for p in folder.glob("*.json")}


def _run(project, jobs):
    """run_all on the project; each notebook writes [start, end] to spans/<its name>.json."""
    out = project / "spans"
    out.mkdir(exist_ok=True)
    return reproduce.run_all("ci", "synthetic", "data", 0, {"OUT": str(out)}, jobs=jobs)


def _log(printed: str) -> list[tuple[str, str]]:
    """The scheduler's own log, in order: ("start" | "end", notebook stem)."""
    events = []
    for line in printed.splitlines():
        if m := re.match(r"== (\w+)\.ipynb \(profile", line):
            events.append(("start", m.group(1)))
        elif m := re.match(r"\s+(\w+)\.ipynb: \d+ s$", line):
            events.append(("end", m.group(1)))
    return events


def test_independent_notebooks_overlap_and_dependents_start_after_their_needs(project, capsys):
    timings = _run(project, jobs=2)
    printed = capsys.readouterr().out
    log = _log(printed)
    assert sorted(log) == sorted((kind, name) for kind in ("start", "end") for name in ("00_first", "01_left", "02_right"))
    at = {event: position for position, event in enumerate(log)}
    # a dependent starts only after what it needs has ended
    assert at["start", "01_left"] > at["end", "00_first"] and at["start", "02_right"] > at["end", "00_first"]
    # the two independent notebooks were both running at one logged moment: both started before either ended
    assert max(at["start", "01_left"], at["start", "02_right"]) < min(at["end", "01_left"], at["end", "02_right"])
    assert set(_spans(project / "spans")) == {"00_first", "01_left", "02_right"}  # every notebook ran its cell
    assert set(timings) == {"00_first.ipynb", "01_left.ipynb", "02_right.ipynb"}
    assert "wall time per notebook" in printed and re.search(r"elapsed \(notebooks overlap\)\s+\d", printed)


def test_one_job_runs_the_notebooks_in_order(project, capsys):
    _run(project, jobs=1)
    log = _log(capsys.readouterr().out)
    # one at a time: each notebook ends before the next starts, in file order
    assert log == [(kind, name) for name in ("00_first", "01_left", "02_right") for kind in ("start", "end")]
    assert set(_spans(project / "spans")) == {"00_first", "01_left", "02_right"}


def test_a_failure_names_the_notebook_lets_the_running_one_finish_and_starts_nothing_new(project, monkeypatch):
    _notebook(project / "notebooks" / "01_left.ipynb", "raise ValueError('broken on purpose')")
    _notebook(project / "notebooks" / "03_after.ipynb", "pass")
    monkeypatch.setattr(reproduce, "NEEDS", {"00": (), "01": ("00",), "02": ("00",), "03": ("01", "02")})
    with pytest.raises(RuntimeError, match=r"(?s)01_left\.ipynb.*broken on purpose"):
        _run(project, jobs=2)
    spans = _spans(project / "spans")
    assert "02_right" in spans  # it was running when 01 failed, and finished
    assert "03_after" not in spans
