"""Loaders, the experimental split, and the downloaders against a real local HTTP server."""

import csv
import hashlib
import shutil
import tarfile
import zipfile
from functools import partial
from http.server import SimpleHTTPRequestHandler
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.local_http import serving
from vocalsearch_tf.config import Profile
from vocalsearch_tf.datasets import download as dl
from vocalsearch_tf.datasets.common import DatasetMissingError
from vocalsearch_tf.datasets.pairs import assign_imitations, make_pairs, split_sounds
from vocalsearch_tf.datasets.synthetic import make_synthetic
from vocalsearch_tf.datasets.urbansound8k import load_urbansound8k
from vocalsearch_tf.datasets.vocalsketch import load_vocalsketch, select_imitations
from vocalsearch_tf.datasets.voxforge import load_voxforge

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "vocalsketch"
TINY = Profile("tiny", n_runs=1, max_epochs=1, speech_clips_per_language=3, urban_clips_per_class=2,
               vocalsketch_sounds={"acoustic instruments": 2, "commercial synthesizers": 2,
                                   "everyday sounds": 2, "single synthesizer": 2})


def fixture(name):
    if not (FIXTURES / name).is_file():
        pytest.skip(f"{FIXTURES / name} not found (the shared fixtures sit beside the checkout)")
    return FIXTURES / name


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    dest = tmp_path_factory.mktemp("data") / "synthetic"
    make_synthetic(TINY, dest, seed=5, workers=1)
    return dest


# --- the split, on the real metadata --------------------------------------------------

def real_sounds():
    raw = pd.read_csv(fixture("sound_recordings.csv"))
    return pd.DataFrame({"sound_id": raw.id, "category": raw.audio_concept_subset})


def test_split_of_the_real_sounds_is_half_per_category():
    split = split_sounds(real_sounds(), seed=0)
    counts = split[split.split == "train"].category.value_counts().to_dict()
    assert counts == {"everyday sounds": 60, "acoustic instruments": 20,
                      "commercial synthesizers": 20, "single synthesizer": 20}
    assert (split.split == "test").sum() == 120
    assert not set(split.sound_id[split.split == "train"]) & set(split.sound_id[split.split == "test"])
    assert split.equals(split_sounds(real_sounds(), seed=0))
    assert not split.split.equals(split_sounds(real_sounds(), seed=1).split)


def test_pairs_on_the_full_design():
    sounds = split_sounds(real_sounds(), seed=0)
    imitations = pd.DataFrame({"imitation_id": np.arange(2400),
                               "sound_id": np.repeat(sounds.sound_id.to_numpy(), 10)})
    imitations = assign_imitations(imitations, sounds, seed=0)
    train_sounds = set(sounds.sound_id[sounds.split == "train"])
    roles = imitations.groupby("sound_id").role.value_counts().unstack(fill_value=0)
    assert (roles.loc[list(train_sounds), ["train", "val"]] == [7, 3]).all().all()
    assert (imitations.role[~imitations.sound_id.isin(train_sounds)] == "test").all()
    for role, count in (("train", 840), ("val", 360)):
        pairs = make_pairs(imitations, sounds, role, seed=0)
        assert (pairs.label == 1).sum() == count and (pairs.label == 0).sum() == count
        truth = imitations.set_index("imitation_id").sound_id
        positives, negatives = pairs[pairs.label == 1], pairs[pairs.label == 0]
        assert (truth[positives.imitation_id].to_numpy() == positives.sound_id.to_numpy()).all()
        assert (truth[negatives.imitation_id].to_numpy() != negatives.sound_id.to_numpy()).all()
        assert set(pairs.sound_id) <= train_sounds
        assert set(pairs.imitation_id) == set(imitations.imitation_id[imitations.role == role])


def test_selection_rule_on_the_real_imitation_sample():
    path = fixture("vocal_imitations_sample.csv")
    selected = select_imitations(pd.read_csv(path))
    # the rule, written again independently with the csv module
    eligible = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            if (row["included"] == "True" and row["draft"] == "False" and row["training"] == "False"
                    and row["stimulus_type"] == "sound recording" and row["sound_recording"]):
                eligible.setdefault(row["sound_recording"], []).append(int(row["id"]))
    expected = {sound: sorted(ids)[:10] for sound, ids in eligible.items()}
    got = selected.groupby("sound_recording").id.apply(list).to_dict()
    assert got == expected
    assert len(selected) == sum(len(v) for v in expected.values()) > 0
    # the sample holds every kind of row the rule drops, and none of them is selected
    raw = pd.read_csv(path)
    dropped = raw[~raw.id.isin(selected.id)]
    assert dropped.draft.any() and dropped.training.any() and (~dropped.included).any()
    assert (dropped.stimulus_type == "sound label").any()
    # the per-sound cap keeps the lowest ids (at most 2 are eligible per sound here)
    first = select_imitations(raw, per_sound=1).set_index("sound_recording").id.to_dict()
    assert first == {sound: ids[0] for sound, ids in expected.items()}


# --- loaders on the embedded data, and bad data ---------------------------------------

def test_vocalsketch_loader_reads_the_embedded_set(synthetic):
    data = load_vocalsketch(synthetic / "vocalsketch")
    assert len(data.sounds) == 8 and len(data.imitations) == 80
    assert data.imitations.groupby("sound_id").size().eq(10).all()
    assert data.imitations.path.map(Path.is_file).all() and data.sounds.path.map(Path.is_file).all()
    assert not data.report.skipped and not data.report.warnings


def test_vocalsketch_unreadable_files_are_skipped_and_reported(synthetic, tmp_path):
    root = tmp_path / "vocalsketch"
    shutil.copytree(synthetic / "vocalsketch", root)
    data = load_vocalsketch(root)
    broken = data.imitations.path.iloc[0]
    broken.write_bytes(b"RIFF\x00\x00")
    data.sounds.path.iloc[-1].unlink()
    reloaded = load_vocalsketch(root)
    reasons = dict(reloaded.report.skipped)
    assert "cannot decode" in reasons[str(broken)]
    assert reasons[str(data.sounds.path.iloc[-1])] == "file missing"
    assert broken not in set(reloaded.imitations.path)
    assert len(reloaded.sounds) == 7
    assert any("fewer than 10" in w for w in reloaded.report.warnings)
    assert str(broken) in str(reloaded.report)


def test_urbansound8k_loader_and_its_folds(synthetic):
    data = load_urbansound8k(synthetic / "urbansound8k")
    assert len(data.clips) == 20 and data.clips.path.map(Path.is_file).all()
    seen = []
    for fold, train, test in data.folds():
        assert (test.fold == fold).all() and not (train.fold == fold).any()
        seen += list(test.slice_file_name)
    assert sorted(seen) == sorted(data.clips.slice_file_name)


def test_voxforge_loader_picks_distinct_speakers(synthetic):
    data = load_voxforge(synthetic / "voxforge", clips_per_language=3, seed=0)
    assert data.clips.groupby("language").size().eq(3).all()
    assert data.clips.groupby("language").speaker.nunique().eq(3).all()
    short = load_voxforge(synthetic / "voxforge", clips_per_language=5, seed=0)
    assert any("fewer than the 5" in w for w in short.report.warnings)


@pytest.mark.parametrize("loader", [load_vocalsketch, load_urbansound8k,
                                    partial(load_voxforge, clips_per_language=1)])
def test_missing_dataset_says_how_to_get_it(tmp_path, loader):
    with pytest.raises(DatasetMissingError, match="download") as info:
        loader(tmp_path / "nowhere")
    assert "make-synthetic" in str(info.value) and "nowhere" in str(info.value)


def test_missing_metadata_file(tmp_path):
    (tmp_path / "vs").mkdir()
    with pytest.raises(DatasetMissingError, match="sound_recordings.csv not found"):
        load_vocalsketch(tmp_path / "vs")


# --- downloaders against a local HTTP server -------------------------------------------

class RangeHandler(SimpleHTTPRequestHandler):
    """Serves a folder with HTTP Range support; can cut the first transfer short."""

    cut_after: dict = {}  # path -> bytes to send before dropping the connection (once)
    requests: list = []

    def log_message(self, *args):
        pass

    def do_GET(self):
        type(self).requests.append(self.path)
        path = Path(self.translate_path(self.path))
        if not path.is_file():
            return super().do_GET()
        data = path.read_bytes()
        start = 0
        if "Range" in self.headers:
            start = int(self.headers["Range"].split("=")[1].split("-")[0])
            if start >= len(data):
                self.send_response(416)
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        cut = type(self).cut_after.pop(self.path, None)
        if cut is not None:
            self.wfile.write(body[:cut])
            self.wfile.flush()
            self.connection.shutdown(2)
            return
        self.wfile.write(body)


@pytest.fixture
def server(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    RangeHandler.cut_after, RangeHandler.requests = {}, []
    with serving(root, RangeHandler) as url:
        yield root, url


def md5(path):
    return "md5:" + hashlib.md5(Path(path).read_bytes()).hexdigest()


def urbansound_archive(source: Path, www: Path) -> Path:
    """UrbanSound8K.tar.gz with the real archive's top folder."""
    archive = www / "UrbanSound8K.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(source, arcname="UrbanSound8K")
    return archive


def test_urbansound8k_download_end_to_end(synthetic, server, tmp_path):
    www, url = server
    archive = urbansound_archive(synthetic / "urbansound8k", www)
    spec = dl.Archive(url + archive.name, md5(archive), archive.name)
    root = dl.download_urbansound8k(tmp_path / "data", spec)
    assert load_urbansound8k(root).clips.shape[0] == 20
    before = len(RangeHandler.requests)
    assert dl.download_urbansound8k(tmp_path / "data", spec) == root  # a re-run skips
    assert len(RangeHandler.requests) == before


def test_interrupted_download_resumes(synthetic, server, tmp_path):
    www, url = server
    archive = urbansound_archive(synthetic / "urbansound8k", www)
    size = archive.stat().st_size
    RangeHandler.cut_after["/" + archive.name] = size // 3
    spec = dl.Archive(url + archive.name, md5(archive), archive.name)
    with pytest.raises(Exception):
        dl.download_urbansound8k(tmp_path / "data", spec)
    partial_file = tmp_path / "data" / ".cache" / (archive.name + ".partial")
    assert 0 < partial_file.stat().st_size < size
    root = dl.download_urbansound8k(tmp_path / "data", spec)
    assert load_urbansound8k(root).clips.shape[0] == 20
    assert not partial_file.exists()


def test_checksum_mismatch_is_a_clear_error(synthetic, server, tmp_path):
    www, url = server
    archive = urbansound_archive(synthetic / "urbansound8k", www)
    spec = dl.Archive(url + archive.name, "md5:" + "0" * 32, archive.name)
    with pytest.raises(dl.ChecksumMismatchError, match="UrbanSound8K.tar.gz .* failed its checksum"):
        dl.download_urbansound8k(tmp_path / "data", spec)
    assert not (tmp_path / "data" / ".cache" / archive.name).exists()


def test_vocalsketch_download_records_and_then_checks_the_hash(synthetic, server, tmp_path):
    www, url = server
    archive = www / "vocalsketch.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for path in sorted((synthetic / "vocalsketch").rglob("*")):
            z.write(path, Path("VocalSketch_v1.0.4") / path.relative_to(synthetic / "vocalsketch"))
    spec = dl.Archive(url + archive.name, None, "vocalsketch_v1.0.4.zip")
    root = dl.download_vocalsketch(tmp_path / "data", spec)
    assert root.name == "VocalSketch_v1.0.4" and len(load_vocalsketch(root).sounds) == 8
    hashes = (tmp_path / "data" / ".cache" / "hashes.json").read_text()
    assert "vocalsketch_v1.0.4.zip" in hashes and "sha256:" in hashes


def test_voxforge_download_from_a_directory_listing(synthetic, server, tmp_path):
    www, url = server
    links = {}
    for language in ("de", "it"):
        folder = www / language
        folder.mkdir()
        sessions = sorted(p for p in (synthetic / "voxforge" / language).iterdir() if p.is_dir())
        for session in sessions:
            with tarfile.open(folder / f"{session.name}.tgz", "w:gz") as tar:
                tar.add(session, arcname=session.name)
        items = "".join(f'<a href="{s.name}.tgz">{s.name}.tgz</a><br>' for s in sessions)
        (folder / "index.html").write_text(f"<html><body><a href='../'>Parent</a>{items}</body></html>")
        links[language] = f"{url}{language}/"
    root = dl.download_voxforge(tmp_path / "data", 2, languages=("de", "it"), listings=links)
    data = load_voxforge(root, clips_per_language=2, languages=("de", "it"))
    assert data.clips.groupby("language").size().eq(2).all()
    assert len(list((tmp_path / "data" / ".cache" / "voxforge").glob("voxforge-*"))) == 4


def test_pick_sessions_prefers_distinct_speakers():
    names = ["anna-20100101-abc.tgz", "anna-20100202-abd.tgz", "anonymous-20100101-aaa.tgz",
             "anonymous-20100101-aab.tgz", "bob-20110101-xyz.tgz"]
    assert dl.pick_sessions(names, 4) == ["anna-20100101-abc.tgz", "anonymous-20100101-aaa.tgz",
                                          "anonymous-20100101-aab.tgz", "bob-20110101-xyz.tgz"]
