"""ESC-50: the loader on rows in the real columns, the downloader against a local HTTP server,
and the embedded ESC-50-layout set (layout, determinism, difficulty)."""

import hashlib
import re
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from tests.test_datasets import RangeHandler, server  # noqa: F401  (the local HTTP server fixture)
from vocalsearch_tf.datasets import download as dl
from vocalsearch_tf.datasets.common import DatasetMissingError
from vocalsearch_tf.datasets.esc50 import COLUMNS, load_esc50
from vocalsearch_tf.datasets.synthetic import esc50 as embedded

# the first rows of ESC-50's meta/esc50.csv, as published
REAL_ROWS = """filename,fold,target,category,esc10,src_file,take
1-100032-A-0.wav,1,0,dog,True,100032,A
1-100038-A-14.wav,1,14,chirping_birds,False,100038,A
1-100210-A-36.wav,1,36,vacuum_cleaner,False,100210,A
1-100210-B-36.wav,1,36,vacuum_cleaner,False,100210,B
"""


def real_layout(root: Path, skip=(), corrupt=()) -> Path:
    """An ESC-50 folder with the real metadata rows and 5 s, 44.1 kHz clips for them."""
    (root / "meta").mkdir(parents=True)
    (root / "meta" / "esc50.csv").write_text(REAL_ROWS)
    rng = np.random.default_rng(0)
    for name in pd.read_csv(root / "meta" / "esc50.csv").filename:
        path = root / "audio" / name
        path.parent.mkdir(exist_ok=True)
        if name in skip:
            continue
        if name in corrupt:
            path.write_bytes(b"RIFF\x00\x00not audio")
            continue
        sf.write(path, 0.1 * rng.standard_normal(5 * 44_100), 44_100, subtype="PCM_16")
    return root


def test_loader_reads_the_real_columns(tmp_path):
    data = load_esc50(real_layout(tmp_path / "ESC-50-master"))
    assert list(data.clips.columns[:7]) == COLUMNS
    assert data.clips.category.tolist() == ["dog", "chirping_birds", "vacuum_cleaner", "vacuum_cleaner"]
    assert data.clips.esc10.tolist() == [True, False, False, False]
    assert all(p.is_file() for p in data.clips.path)
    assert not data.report.skipped and data.report.counts == {"clips": 4, "classes": 3, "folds": 1}


def test_missing_and_corrupt_files_are_reported_not_dropped_silently(tmp_path):
    root = real_layout(tmp_path / "esc", skip={"1-100038-A-14.wav"}, corrupt={"1-100210-B-36.wav"})
    data = load_esc50(root)
    reasons = dict(data.report.skipped)
    assert reasons[str(root / "audio" / "1-100038-A-14.wav")] == "file missing"
    assert "cannot decode" in reasons[str(root / "audio" / "1-100210-B-36.wav")]
    assert data.clips.filename.tolist() == ["1-100032-A-0.wav", "1-100210-A-36.wav"]
    assert "1-100038-A-14.wav" in str(data.report) and data.report.counts["clips"] == 2


def test_missing_dataset_or_metadata_is_a_clear_error(tmp_path):
    with pytest.raises(DatasetMissingError, match="download esc50") as info:
        load_esc50(tmp_path / "nowhere")
    assert "nowhere" in str(info.value) and "make-synthetic" in str(info.value)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetMissingError, match="meta/esc50.csv not found"):
        load_esc50(tmp_path / "empty")
    (tmp_path / "odd" / "meta").mkdir(parents=True)
    (tmp_path / "odd" / "meta" / "esc50.csv").write_text("file,label\na.wav,dog\n")
    with pytest.raises(ValueError, match="columns .* missing"):
        load_esc50(tmp_path / "odd")


def test_download_from_a_local_server_checks_unpacks_and_skips_when_done(tmp_path, server):  # noqa: F811
    www, url = server
    source = real_layout(tmp_path / "src")
    archive = www / "master.zip"
    with zipfile.ZipFile(archive, "w") as z:  # GitHub's archive: one top folder, ESC-50-master
        for path in sorted(source.rglob("*")):
            z.write(path, Path("ESC-50-master") / path.relative_to(source))
    md5 = "md5:" + hashlib.md5(archive.read_bytes()).hexdigest()
    spec = dl.Archive(url + archive.name, md5, "ESC-50-master.zip")
    root = dl.download_esc50(tmp_path / "data", spec)
    assert root.name == "ESC-50-master" and len(load_esc50(root).clips) == 4
    before = len(RangeHandler.requests)
    assert dl.download_esc50(tmp_path / "data", spec) == root
    assert len(RangeHandler.requests) == before  # a re-run fetches nothing
    with pytest.raises(dl.ChecksumMismatchError, match="ESC-50-master.zip .* failed its checksum"):
        dl.download_esc50(tmp_path / "other", dl.Archive(spec.url, "md5:" + "0" * 32, spec.fname))


def test_the_real_archive_is_registered():
    archive = dl.ARCHIVES["esc50"]
    assert archive.url == "https://github.com/karolpiczak/ESC-50/archive/master.zip"
    assert archive.known_hash == "md5:7771e4b9d86d0945acce719c7a59305a" and archive.fname == "ESC-50-master.zip"


# --- the embedded set ------------------------------------------------------------------------

SOME = ["dog", "rain", "clock_tick", "siren"]


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    dest = tmp_path_factory.mktemp("esc50") / "esc50"
    embedded.write(dest, seed=3, clips_per_class=5, seconds=2.0, workers=1, classes=SOME)
    return dest


def test_embedded_layout_matches_esc50(small):
    data = load_esc50(small)
    table = pd.read_csv(small / "meta" / "esc50.csv")
    assert list(table.columns) == COLUMNS and not data.report.skipped
    assert table.groupby("category").size().to_dict() == dict.fromkeys(SOME, 5)
    for row in table.itertuples():
        assert row.filename == f"{row.fold}-{row.src_file}-{row.take}-{row.target}.wav"
        assert re.fullmatch(r"[1-5]-\d+-[ABC]-\d+\.wav", row.filename)
        assert embedded.CLASSES[row.target] == row.category and row.esc10 == (row.category in embedded.ESC10)
    assert (table.groupby("src_file").fold.nunique() == 1).all()  # a recording's takes share a fold
    assert (table.groupby("src_file").category.nunique() == 1).all()
    for path in data.clips.path:
        samples, rate = sf.read(path)
        assert rate == 44_100 and samples.ndim == 1 and len(samples) == 88_200
        assert np.isfinite(samples).all() and np.abs(samples).max() > 0.05
    assert len(embedded.CLASSES) == 50 and set(embedded.SOURCES) == set(embedded.CLASSES)
    assert all(len(sources) >= 2 for sources in embedded.SOURCES.values())


def test_same_seed_same_bytes_other_seed_other_sounds(small, tmp_path):
    again = tmp_path / "again"
    embedded.write(again, seed=3, clips_per_class=5, seconds=2.0, workers=1, classes=SOME)
    files = sorted(p.relative_to(small) for p in small.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    assert all((small / f).read_bytes() == (again / f).read_bytes() for f in files)
    other = tmp_path / "other"
    embedded.write(other, seed=4, clips_per_class=1, seconds=2.0, workers=1, classes=["dog"])
    first = sorted((other / "audio").iterdir())[0]
    assert first.read_bytes() not in {p.read_bytes() for p in (small / "audio").iterdir()}


def test_embedded_set_is_hard_but_not_random(tmp_path):
    """All 50 classes: the summary-statistics baseline (cosine) ranks every other clip, less
    the query's own recording. It must beat chance clearly and stay far from perfect."""
    from vocalsearch_tf.evaluation import content_retrieval as cr
    from vocalsearch_tf.signal import audio
    from vocalsearch_tf.signal.features import LogFrequency

    root = tmp_path / "esc50"
    embedded.write(root, seed=0, clips_per_class=4, seconds=2.0, workers=2)
    clips = load_esc50(root).clips
    layer = LogFrequency()
    waveforms = np.stack([audio.load_clip(p, 44_100, layer.params.clip_samples) for p in clips.path])
    spectrograms = np.concatenate([layer(waveforms[k: k + 64]).numpy()[..., 0] for k in range(0, len(waveforms), 64)])
    table = pd.DataFrame({"label": clips.category, "recording": clips.src_file, "split": "test"})
    proto = cr.protocol(table, "test", ("test",))
    result = cr.evaluate(cr.baseline_scores(spectrograms, proto), proto)
    chance = cr.chance_map(proto)
    assert 3 * chance < result["map"] < 0.4, (result["map"], chance)
    assert result["mp1_first_hit"] < 0.6 and result["precision_at_1"] < 0.5, result
