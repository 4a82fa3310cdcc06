"""The probe bank (search/probe_bank.py): the vectors `fusion-guarded` tests its guard on,
made through the search's own indexing, tied to the weights that made them, shipped for
the shipped models and used by a search."""

from __future__ import annotations

import numpy as np
import soundfile as sf

from vocalsearch_tf.search import engine, models, probe_bank
from vocalsearch_tf.search.index import LibraryIndex
from tests.search_fault_files import RATE, tone


def recordings(folder, n=6):
    folder.mkdir()
    for k in range(n):
        sf.write(folder / f"sound{k}.wav", tone(200.0 * (k + 1), 5.0, seed=k), RATE)
    (folder / "broken.wav").write_bytes(b"RIFF not audio")
    return folder


def test_a_bank_holds_each_readable_recordings_first_window_as_the_index_has_it(tmp_path):
    folder = recordings(tmp_path / "bank")
    scorer = models.resolve("cqt-summary")
    path = probe_bank.build(folder, [scorer], dest=tmp_path / "bank.npz")
    bank = probe_bank.load(path)
    assert list(bank) == [scorer.key]
    assert sorted(np.load(path)["files"]) == [f"sound{k}.wav" for k in range(6)]  # the broken file is left out
    library = LibraryIndex(folder, tmp_path / "index")
    library.update(scorer)
    index = engine.open_indexes(library, scorer)[0]
    first = [index.window_range(k).start for k in range(index.n_files)]
    np.testing.assert_allclose(probe_bank.vectors_for(scorer, bank), index.vectors[first], rtol=1e-3, atol=1e-3)


def test_vectors_made_by_other_weights_are_not_used(tmp_path):
    scorer = models.resolve("cqt-summary")
    bank = {scorer.key: ("weights before retraining", np.zeros((3, scorer.dim), np.float32))}
    assert probe_bank.vectors_for(scorer, bank) is None
    assert probe_bank.load(tmp_path / "none.npz") == {}


def test_the_shipped_bank_was_made_by_the_shipped_models_and_a_search_uses_it(tmp_path):
    guarded = models.resolve("fusion-guarded")
    holds = {c.key: v is not None for c, v in zip(guarded.components, guarded.probe)}
    assert all(holds[c.key] for c, flag in zip(guarded.components, guarded.guarded) if flag)  # every IMINET member
    assert holds["cqt-summary-shipped"] and not holds["imisound-shipped"]
    assert not any(v is not None for v in models.resolve("fusion").probe)  # the unguarded fusion needs none
    samples = tone(300.0, 2.0, seed=9)
    queries = engine.query_vectors(samples, RATE, guarded)
    probe = guarded.probe_evidence(queries)
    assert [None if p is None else p.shape for p in probe] == [None if v is None else (len(v),) for v in guarded.probe]
    library = LibraryIndex(recordings(tmp_path / "library", n=4), tmp_path / "index")
    library.update(guarded)
    sf.write(tmp_path / "query.wav", samples, RATE)
    result = engine.search(tmp_path / "query.wav", library, guarded, top=4)
    assert len(result.hits) == 4
    best = [b for b in engine.component_scores(samples, RATE, guarded, engine.open_indexes(library, guarded))[0]]
    scores = guarded.combine(best, probe)
    assert [h.file for h in result.hits] == [engine.open_indexes(library, guarded)[0].paths[k]
                                             for k in np.argsort(-scores, kind="stable")]


def test_the_bank_is_rebuilt_from_the_real_reference_set_and_a_missing_one_is_named(tmp_path, capsys):
    from vocalsearch_tf.search import train_default

    assert train_default.main(["--only", "probe-bank", "--real", str(tmp_path / "absent")]) == 1
    assert f"{tmp_path / 'absent' / 'sound_recordings'} is missing" in capsys.readouterr().err
