"""SONYC-UST: the loader on hand-made annotation files in both versions' columns, the
annotator aggregation rule, the embedded soundscape set, and the downloader on a local server."""

import tarfile
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from tests.local_http import RecordingHandler, serving
from vocalsearch_tf.datasets import download as dl
from vocalsearch_tf.datasets.common import DatasetMissingError
from vocalsearch_tf.datasets.sonyc_ust import COARSE, FINE, PLACE_TIME_COLUMNS, aggregate, columns, load_sonyc_ust
from vocalsearch_tf.datasets.synthetic import sonyc


def annotation_row(filename, annotator, split="train", sensor=7, version=1, **coarse):
    """One annotations.csv row: coarse values from `coarse` (default 0), fine columns
    consistent with them (the X class where present), proximity -1."""
    row = {"split": split, "sensor_id": sensor, "audio_filename": filename, "annotator_id": annotator}
    if version >= 2:
        row.update(borough=1, block=120, latitude=40.73, longitude=-73.99, year=2019, week=12, day=3, hour=14)
    for category in COARSE:
        value = coarse.get(category.split("_", 1)[1].replace("-", "_"), 0)
        for fine in FINE[category]:
            row[f"{fine}_presence"] = -1 if value == -1 else int(value == 1 and fine == FINE[category][-1])
            row[f"{fine}_proximity"] = "-1"
        row[f"{category}_presence"] = value
    return row


def write_set(root: Path, rows, version=1, audio=True) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    table = pd.DataFrame(rows)[columns(version)]
    table.to_csv(root / "annotations.csv", index=False)
    if audio:
        for name in table.audio_filename.unique():
            (root / "audio").mkdir(exist_ok=True)
            sf.write(root / "audio" / name, np.full(800, 0.1, np.float32), 8000)
    return root


# clip a: three volunteers; engine 2 of 3 (present), dog 1 of 3 (absent), music 1 of 2 with a skip (present)
# clip b: volunteers say engine, but the verified row (id 0) says alert signal only
# clip c: only SONYC team rows (ids < 0): voice 2 of 2
# clip d: nobody annotated dog (-1 everywhere), human voice by everyone
def example_rows(version):
    r = partial(annotation_row, version=version)
    return [
        r("a.wav", 11, engine=1, dog=1, music=1),
        r("a.wav", 12, engine=1, music=-1),
        r("a.wav", 13, music=0),
        r("b.wav", 11, split="validate", engine=1),
        r("b.wav", 14, split="validate", engine=1),
        r("b.wav", -1, split="validate", engine=1, alert_signal=1),
        r("b.wav", 0, split="validate", alert_signal=1),
        r("c.wav", -1, split="validate", human_voice=1),
        r("c.wav", -2, split="validate", human_voice=1),
        r("d.wav", 15, dog=-1, human_voice=1),
        r("d.wav", 16, dog=-1, human_voice=1),
    ]


def labels_of(data, name):
    row = data.clips.set_index("audio_filename").loc[name]
    return {c for c in COARSE if row[c] == 1}


@pytest.mark.parametrize("version", [1, 2])
def test_loader_reads_both_versions_and_aggregates_annotators(tmp_path, version):
    data = load_sonyc_ust(write_set(tmp_path / "ust", example_rows(version), version), rule="verified-else-majority")
    assert data.version == version
    assert list(data.clips.audio_filename) == ["a.wav", "b.wav", "c.wav", "d.wav"]
    assert labels_of(data, "a.wav") == {"1_engine", "6_music"}
    assert labels_of(data, "b.wav") == {"5_alert-signal"}  # verified beats every other row
    assert labels_of(data, "c.wav") == {"7_human-voice"}
    assert labels_of(data, "d.wav") == {"7_human-voice"}
    assert data.clips.set_index("audio_filename").label_source.to_dict() == {
        "a.wav": "volunteers", "b.wav": "verified", "c.wav": "team", "d.wav": "volunteers"}
    assert data.clips.set_index("audio_filename").n_annotators.to_dict() == {"a.wav": 3, "b.wav": 4, "c.wav": 2,
                                                                            "d.wav": 2}
    assert data.labels().shape == (4, 8)
    assert data.report.counts["multi-label"] == 1 and data.report.counts["single-label"] == 3
    assert any("annotated by nobody" in w for w in data.report.warnings)
    assert len(data.split("validate")) == 2
    assert all(c in data.clips.columns for c in PLACE_TIME_COLUMNS) == (version == 2)


def test_any_rule_is_the_dcase_baseline_rule(tmp_path):
    table = pd.read_csv(write_set(tmp_path / "ust", example_rows(1), audio=False) / "annotations.csv")
    clips = aggregate(table, "verified-else-any").set_index("audio_filename")
    assert clips.loc["a.wav", "8_dog"] == 1  # one volunteer of three is enough here
    assert clips.loc["b.wav", "1_engine"] == 0  # the verified row still decides
    with pytest.raises(ValueError, match="unknown aggregation rule"):
        aggregate(table, "vote")


def test_missing_audio_is_reported_and_bad_values_named(tmp_path):
    root = write_set(tmp_path / "ust", example_rows(1))
    (root / "audio" / "c.wav").unlink()
    data = load_sonyc_ust(root)
    assert len(data.clips) == 3 and dict(data.report.skipped)[str(root / "audio" / "c.wav")] == "file missing"
    table = pd.read_csv(root / "annotations.csv")
    table.loc[2, "6_music_presence"] = 2
    table.to_csv(root / "annotations.csv", index=False)
    with pytest.raises(ValueError, match=r"row 4, column 6_music_presence: presence value 2"):
        load_sonyc_ust(root)


def test_missing_dataset_and_wrong_csv(tmp_path):
    with pytest.raises(DatasetMissingError, match="sonyc-ust") as info:
        load_sonyc_ust(tmp_path / "nowhere")
    assert "make-synthetic" in str(info.value)
    (tmp_path / "other").mkdir()
    with pytest.raises(DatasetMissingError, match="annotations.csv not found"):
        load_sonyc_ust(tmp_path / "other")
    pd.DataFrame({"slice_file_name": ["x.wav"]}).to_csv(tmp_path / "other" / "annotations.csv", index=False)
    with pytest.raises(ValueError, match="is this SONYC-UST"):
        load_sonyc_ust(tmp_path / "other")


@pytest.mark.parametrize("version", [1, 2])
def test_embedded_set_has_the_real_layout(tmp_path, version):
    stats = sonyc.write(tmp_path / "ust", seed=4, clips=(6, 3), workers=1, version=version)
    root = tmp_path / "ust"
    table = pd.read_csv(root / "annotations.csv")
    assert list(table.columns) == columns(version)
    data = load_sonyc_ust(root, rule="verified-else-majority")
    splits = {"train": 6, "validate": 3, **({"test": 3} if version == 2 else {})}
    assert data.clips.split.value_counts().to_dict() == splits and not data.report.skipped
    assert stats["clips"] == sum(splits.values())
    train_sensors = set(data.clips.sensor_id[data.clips.split == "train"])
    assert not train_sensors & set(data.clips.sensor_id[data.clips.split != "train"])
    # several volunteers per clip; validate clips also have team rows and the verified truth
    per_clip = table.groupby("audio_filename").annotator_id.apply(set)
    assert all(len({a for a in ids if a > 0}) == sonyc.VOLUNTEERS_PER_CLIP for ids in per_clip)
    truth = pd.read_csv(root / "soundscapes.csv").set_index("audio_filename")
    for clip in data.clips.itertuples():
        if clip.split != "train":
            assert {-1, -2, 0} <= per_clip[clip.audio_filename]
            assert clip.label_source == "verified"
    validate = data.clips[data.clips.split != "train"].set_index("audio_filename")
    assert (validate[list(COARSE)] == truth.loc[validate.index, list(COARSE)]).all().all()
    samples, rate = sf.read(root / "audio" / data.clips.audio_filename[0])
    assert rate == sonyc.RATE and len(samples) == int(sonyc.SECONDS * rate)
    assert (root / "dcase-ust-taxonomy.yaml").read_text().startswith("coarse:\n  1: engine")


def test_plan_mixes_single_and_multi_label_clips_deterministically():
    a, b = sonyc.plan(0, {"train": 400}), sonyc.plan(0, {"train": 400})
    assert a.equals(b) and not a.equals(sonyc.plan(1, {"train": 400}))
    counts = a[list(COARSE)].sum(1)
    multi_share = (counts >= 2).sum() / (counts >= 1).sum()
    assert 0.15 < multi_share < 0.4 and (counts == 0).any() and (counts == 1).mean() > 0.5
    assert all(e["onset"] + e["duration"] <= sonyc.SECONDS + 1e-6 for events in a.events for e in events)
    snrs = [e["snr_db"] for events in a.events for e in events]
    assert sonyc.SNR_DB[0] <= min(snrs) < 0 < 10 < max(snrs) <= sonyc.SNR_DB[1]


def test_volunteers_disagree_and_miss_quiet_events(tmp_path):
    table = sonyc.plan(2, {"train": 300})
    annotations = sonyc.annotate(2, table, 1)
    volunteers = annotations[annotations.annotator_id > 0]
    engine = volunteers.groupby("audio_filename")["1_engine_presence"].agg(lambda v: len(set(v[v >= 0])))
    assert (engine > 1).mean() > 0.05  # some clips split the volunteers
    assert (volunteers[[f"{c}_presence" for c in COARSE]] == -1).any().any()
    truth = table.set_index("audio_filename")
    events = {(row.audio_filename, sonyc.SOURCES[e["source"]][0]): e["snr_db"] for row in table.itertuples()
              for e in row.events}
    heard = [(snr, volunteers[(volunteers.audio_filename == name)][f"{category}_presence"].eq(1).mean())
             for (name, category), snr in events.items()]
    quiet = np.mean([h for snr, h in heard if snr < 0])
    loud = np.mean([h for snr, h in heard if snr > 8])
    assert loud > quiet + 0.1
    assert set(truth.index) == set(annotations.audio_filename)


# --- the downloader, against a local HTTP server ----------------------------------------------


@pytest.fixture
def server(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    RecordingHandler.requests = []
    with serving(root, RecordingHandler) as url:
        yield root, url


def test_download_fetches_only_what_is_asked_and_records_hashes(tmp_path, server):
    www, url = server
    source = write_set(tmp_path / "source", example_rows(1))
    for name in ("annotations.csv",):
        (www / name).write_bytes((source / name).read_bytes())
    (www / "dcase-ust-taxonomy.yaml").write_text(sonyc.taxonomy_yaml())
    with tarfile.open(www / "audio.tar.gz", "w:gz") as tar:
        tar.add(source / "audio", arcname="audio")
    root = dl.download_sonyc_ust(tmp_path / "data", version=1, audio_parts=[], base_url=url)
    assert sorted(RecordingHandler.requests) == ["/annotations.csv", "/dcase-ust-taxonomy.yaml"]
    metadata_only = load_sonyc_ust(root)  # annotations without audio: every clip is reported missing
    assert len(metadata_only.clips) == 0 and len(metadata_only.report.skipped) == 4
    root = dl.download_sonyc_ust(tmp_path / "data", version=1, base_url=url)
    assert RecordingHandler.requests.count("/annotations.csv") == 1  # kept from the first call
    data = load_sonyc_ust(root)
    assert len(data.clips) == 4 and not data.report.skipped
    hashes = (tmp_path / "data" / ".cache" / "sonyc_ust" / "hashes.json").read_text()
    assert "sonyc-ust-v1-audio.tar.gz" in hashes and "sha256:" in hashes
    with pytest.raises(ValueError, match="no \\['audio-3.tar.gz'\\]"):
        dl.download_sonyc_ust(tmp_path / "data", version=1, audio_parts=[3], base_url=url)


def test_v2_archives_carry_the_known_checksums():
    archives = dl.sonyc_ust_archives(2)
    assert archives["annotations.csv"].known_hash == "md5:70b507b15bb4cfcce4870925302f276b"
    assert [n for n in archives if n.startswith("audio")] == [f"audio-{k}.tar.gz" for k in range(19)]
    assert archives["audio-0.tar.gz"].url == "https://zenodo.org/records/3966543/files/audio-0.tar.gz"
    assert dl.sonyc_ust_archives(1)["audio.tar.gz"].url.startswith("https://zenodo.org/records/2590742/")
