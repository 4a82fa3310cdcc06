"""The embedded data generators: layouts, determinism, clip sanity, links, difficulty."""

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from vocalsearch_tf.config import IMINET_CQT, Profile
from vocalsearch_tf.datasets.synthetic import ManifestMismatchError, make_synthetic, vocalsketch
from vocalsearch_tf.evaluation import baselines, metrics

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "vocalsketch"
URBANSOUND8K_COLUMNS = ["slice_file_name", "fsID", "start", "end", "salience", "fold", "classID", "class"]
TINY = Profile("tiny", n_runs=1, max_epochs=1, speech_clips_per_language=2, urban_clips_per_class=3,
               vocalsketch_sounds={"acoustic instruments": 1, "commercial synthesizers": 1,
                                   "everyday sounds": 2, "single synthesizer": 1})


def digest(folder: Path) -> dict:
    """Hash of every data file (the manifest records timings, so it is left out)."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and p.name != "manifest.json"}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    dest = tmp_path_factory.mktemp("synthetic") / "tiny"
    make_synthetic(TINY, dest, seed=3, workers=1)
    return dest


def real_columns(name):
    if not FIXTURES.is_dir():
        pytest.skip(f"{FIXTURES} not found (the shared fixtures sit beside the checkout)")
    return list(pd.read_csv(FIXTURES / name, nrows=1).columns)


def test_vocalsketch_layout_and_columns_match_the_real_files(tiny):
    root = tiny / "vocalsketch"
    sounds = pd.read_csv(root / "sound_recordings.csv")
    imitations = pd.read_csv(root / "vocal_imitations.csv")
    assert list(sounds.columns) == real_columns("sound_recordings.csv")
    assert list(imitations.columns) == real_columns("vocal_imitations_sample.csv")
    assert sounds.audio_concept_subset.value_counts().to_dict() == TINY.vocalsketch_sounds
    for name in sounds.filename:
        assert (root / "sound_recordings" / name).is_file()
    for row in imitations.itertuples():
        folder = "included" if row.included else "excluded"
        assert (root / "vocal_imitations" / folder / row.filename).is_file()


def test_each_imitation_links_to_its_reference(tiny):
    root = tiny / "vocalsketch"
    sounds = pd.read_csv(root / "sound_recordings.csv").set_index("filename")
    imitations = pd.read_csv(root / "vocal_imitations.csv")
    by_recording = imitations[imitations.stimulus_type == "sound recording"]
    for row in by_recording.itertuples():
        sound = sounds.loc[row.sound_recording]
        assert sound.id == row.sound_recording_id
        assert sound.sound_label == row.sound_label
        assert sound.audio_concept_subset == row.audio_concept_subset
    kept = by_recording[by_recording.included & ~by_recording.draft & ~by_recording.training]
    assert (kept.groupby("sound_recording").size() == 10).all()
    assert kept.groupby("sound_recording").participant_id.nunique().eq(10).all()
    # rows a loader must drop exist too: a draft and an imitation of the label alone
    assert imitations.draft.any() and (imitations.stimulus_type == "sound label").any()


def test_voxforge_layout(tiny):
    root = tiny / "voxforge"
    assert sorted(p.name for p in root.iterdir()) == sorted(["nl", "en", "fr", "de", "it", "ru", "es"])
    for language in root.iterdir():
        sessions = sorted(p for p in language.iterdir() if p.is_dir())
        assert len(sessions) == TINY.speech_clips_per_language
        for session in sessions:
            readme = (session / "etc" / "README").read_text()
            assert "User Name:" in readme and "Sampling Rate: 16000" in readme
            prompts = (session / "etc" / "PROMPTS").read_text().splitlines()
            for line in prompts:
                ref, text = line.split(" ", 1)
                assert ref.startswith(f"{session.name}/mfc/") and text.strip()
                assert (session / "wav" / (ref.rsplit("/", 1)[1] + ".wav")).is_file()


def test_urbansound8k_layout(tiny):
    root = tiny / "urbansound8k"
    table = pd.read_csv(root / "metadata" / "UrbanSound8K.csv")
    assert list(table.columns) == URBANSOUND8K_COLUMNS
    assert table["class"].nunique() == 10 and (table.groupby("class").size() == 3).all()
    assert set(table.salience) <= {1, 2} and set(table.fold) <= set(range(1, 11))
    assert table.groupby("fsID").fold.nunique().eq(1).all()  # a recording stays in one fold
    for row in table.itertuples():
        assert (root / "audio" / f"fold{row.fold}" / row.slice_file_name).is_file()
        assert row.slice_file_name.startswith(f"{row.fsID}-{row.classID}-")


@pytest.mark.parametrize("pattern, rate, shortest, longest", [
    ("vocalsketch/sound_recordings/*.wav", 44_100, 1.0, 4.0),
    ("vocalsketch/vocal_imitations/*/*.wav", 16_000, 1.0, 6.5),
    ("voxforge/*/*/wav/*.wav", 16_000, 0.5, 7.0),
    ("urbansound8k/audio/fold*/*.wav", 44_100, 1.0, 4.0),
])
def test_every_clip_is_finite_non_silent_and_of_the_stated_rate_and_length(tiny, pattern, rate, shortest, longest):
    paths = sorted(tiny.glob(pattern))
    assert paths
    for path in paths:
        samples, file_rate = sf.read(path)
        assert file_rate == rate, path
        assert samples.ndim == 1 and np.all(np.isfinite(samples)), path
        assert shortest - 0.01 <= len(samples) / rate <= longest + 0.01, path
        assert np.max(np.abs(samples)) > 0.05, path


def test_same_seed_gives_byte_identical_files(tiny, tmp_path):
    again = tmp_path / "again"
    make_synthetic(TINY, again, seed=3, workers=2)  # another process layout, same bytes
    assert digest(again) == digest(tiny)


def test_another_seed_gives_other_data(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    make_synthetic(TINY, a, seed=1, workers=1, sets=["urbansound8k"])
    make_synthetic(TINY, b, seed=2, workers=1, sets=["urbansound8k"])
    assert digest(a / "urbansound8k") != digest(b / "urbansound8k")


def test_rerun_skips_what_exists_and_restores_what_is_missing(tiny, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(tiny, copy)
    before = digest(copy)
    victim = next((copy / "vocalsketch" / "vocal_imitations" / "included").iterdir())
    victim.unlink()
    untouched = next((copy / "vocalsketch" / "sound_recordings").iterdir())
    mtime = untouched.stat().st_mtime_ns
    manifest = make_synthetic(TINY, copy, seed=3, workers=1)
    assert digest(copy) == before
    assert untouched.stat().st_mtime_ns == mtime
    assert manifest["sets"]["vocalsketch"]["files_rendered"] == 1 + 1  # the reference is re-rendered to imitate it
    assert json.loads((copy / "manifest.json").read_text())["seed"] == 3


def test_manifest_from_another_seed_is_an_error(tiny):
    with pytest.raises(ManifestMismatchError, match="seed=3, not 4"):
        make_synthetic(TINY, tiny, seed=4, workers=1)


def test_full_vocalsketch_set_is_hard_but_learnable(tmp_path):
    """The 240-sound set: a CQT-summary baseline beats chance clearly, and is far from perfect."""
    from vocalsearch_tf.signal import audio

    root = tmp_path / "vocalsketch"
    vocalsketch.write(root, seed=0, workers=2)
    sounds = pd.read_csv(root / "sound_recordings.csv")
    imitations = pd.read_csv(root / "vocal_imitations.csv")
    imitations = imitations[imitations.included & ~imitations.draft & (imitations.stimulus_type == "sound recording")]
    n = IMINET_CQT.clip_samples
    sound_features = baselines.cqt_summary(np.stack(
        [audio.load_clip(root / "sound_recordings" / f, 16_000, n) for f in sounds.filename]))
    query_features = baselines.cqt_summary(np.stack(
        [audio.load_clip(root / "vocal_imitations" / "included" / f, 16_000, n) for f in imitations.filename]))
    for category, members in sounds.groupby("audio_concept_subset"):
        column = {name: k for k, name in enumerate(members.filename)}
        queries = imitations.sound_recording.isin(column).to_numpy()
        scores = baselines.summary_scores(query_features[queries], sound_features[members.index])
        ranks = metrics.target_ranks(scores, imitations.sound_recording[queries].map(column).to_numpy())
        mrr, chance = metrics.mean_reciprocal_rank(ranks), metrics.chance_mrr(len(members))
        assert 1.5 * chance < mrr < 0.6, (category, mrr, chance)


def test_processes_asking_for_the_same_folder_at_once_write_each_set_once(tiny, tmp_path):
    """`make reproduce` runs two notebooks at once, and both may ask for data in one folder:
    the second waits for the first, then finds the files written and the manifest whole."""
    import multiprocessing

    dest = tmp_path / "shared"
    spawn = multiprocessing.get_context("spawn")
    processes = [spawn.Process(target=make_synthetic, args=(TINY, dest), kwargs={"seed": 3, "workers": 1, "sets": sets})
                 for sets in (["voxforge"], ["urbansound8k"], ["urbansound8k", "voxforge"])]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=300)
    assert [p.exitcode for p in processes] == [0, 0, 0]
    expected = {k: v for k, v in digest(tiny).items() if k.split("/")[0] in ("voxforge", "urbansound8k")}
    assert {k: v for k, v in digest(dest).items() if k != ".lock"} == expected
    assert set(json.loads((dest / "manifest.json").read_text())["sets"]) == {"voxforge", "urbansound8k"}
