"""search/index.py and search/engine.py: the library index (windows, incremental re-index,
memory maps, reports), scores equal to the full model's, fusion, TL-IMINET, stale models."""

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from vocalsearch_tf.config import IMINET_CQT
from vocalsearch_tf.search import engine
from vocalsearch_tf.search.config import LibraryError, NotIndexedError, StaleIndexError, WindowParams
from vocalsearch_tf.search.index import LibraryIndex, read_windows, window_starts
from vocalsearch_tf.search.models import ImisoundScorer, iminet_members, resolve, save_imisound
from vocalsearch_tf.signal import audio


def sound(seconds, rate=16_000, freq=440.0, noise=0.0, seed=0, channels=1):
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    mono = 0.4 * np.sin(2 * np.pi * freq * t * (1 + 0.1 * np.sin(2 * np.pi * 0.5 * t))) + noise * rng.standard_normal(len(t))
    return np.stack([mono] * channels, axis=1).astype(np.float32) if channels > 1 else mono.astype(np.float32)


def snapshot(folder: Path) -> dict:
    """Every file and folder under `folder` with its size, modification time and content hash."""
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns,
                                         hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir")
            for p in sorted(folder.rglob("*"))}


@pytest.fixture
def library(tmp_path):
    lib = tmp_path / "My Sounds"
    (lib / "birds").mkdir(parents=True)
    sf.write(lib / "tone.wav", sound(2.0, 16_000, 440), 16_000)
    sf.write(lib / "birds" / "chirp.flac", sound(1.5, 48_000, 2000, noise=0.05, channels=2), 48_000)
    sf.write(lib / "birds" / "crow.mp3", sound(2.0, 22_050, 700, noise=0.1, seed=1), 22_050, format="MP3")
    sf.write(lib / "noise.ogg", sound(3.0, 22_050, 120, noise=0.3), 22_050)
    sf.write(lib / "long drone.wav", sound(9.0, 44_100, 220, noise=0.02), 44_100)
    (lib / "broken.wav").write_bytes(b"RIFF not really a wave file")
    (lib / "notes.txt").write_text("not audio, not a sound file name either")
    (lib / ".hidden.wav").write_bytes(b"")
    return lib


@pytest.fixture(scope="module")
def iminet():
    """One model of the shipped IMINET (an ensemble of seeds searches each member alike)."""
    return resolve("iminet").components[0]


def test_window_starts_cover_the_sound_and_align_the_last_to_its_end():
    params = WindowParams(seconds=4.0, hop_seconds=2.0, max_windows=5)
    assert window_starts(3.0, params)[0].tolist() == [0.0]
    assert window_starts(4.0, params)[0].tolist() == [0.0]
    assert window_starts(10.0, params)[0].tolist() == [0.0, 2.0, 4.0, 6.0]
    assert window_starts(9.0, params)[0].tolist() == [0.0, 2.0, 4.0, 5.0]
    starts, truncated = window_starts(100.0, params)
    assert truncated and starts.tolist() == [0.0, 2.0, 4.0, 6.0, 8.0]


def test_read_windows_resamples_each_window_from_its_start(tmp_path):
    path = tmp_path / "ramp.wav"
    sf.write(path, sound(6.0, 8_000, 300), 8_000)
    clips = read_windows(path, np.array([0.0, 2.0]), {16_000: 16_000})
    whole = audio.resample(audio.load(path)[0], 8_000, 16_000)
    np.testing.assert_allclose(clips[16_000][1][1000:15000], whole[33_000:47_000], atol=2e-3)


def test_index_then_reindex_after_adding_changing_and_deleting(library, tmp_path, iminet):
    index_root = tmp_path / "index"
    target = LibraryIndex(library, index_root)
    computed = []
    first = target.update(iminet, progress=lambda done, total, name: computed.append(name))
    assert (first.files, first.added, first.changed, first.deleted) == (5, 5, 0, 0)
    assert first.windows == 4 + 4  # four short sounds; 9 s -> windows at 0, 2, 4, 5 s
    assert first.unreadable == [("broken.wav", first.unreadable[0][1])]
    assert "cannot decode" in first.unreadable[0][1] and "broken.wav" in str(first)
    assert sorted(computed) == ["birds/chirp.flac", "birds/crow.mp3", "broken.wav", "long drone.wav", "noise.ogg",
                                "tone.wav"]

    index = target.open(iminet)
    assert isinstance(index.vectors, np.memmap) and index.vectors.shape == (8, iminet.dim)
    assert index.paths == ["birds/chirp.flac", "birds/crow.mp3", "long drone.wav", "noise.ogg", "tone.wav"]
    assert index.window_start[index.window_range(2)].tolist() == [0.0, 2.0, 4.0, 5.0]
    np.testing.assert_allclose(index.durations, [1.5, 2.0, 9.0, 3.0, 2.0], atol=0.05)
    clip = audio.load_clip(library / "tone.wav", IMINET_CQT.sample_rate, IMINET_CQT.clip_samples)
    # oneDNN's float32 kernels round a batch of windows differently from one (2.3e-5 seen)
    np.testing.assert_allclose(index.vectors[7], iminet.candidate_vectors(clip[None])[0], rtol=1e-4, atol=1e-4)
    before = {p: np.array(index.vectors[index.window_range(i)]) for i, p in enumerate(index.paths)}

    sf.write(library / "birds" / "owl.wav", sound(2.5, 16_000, 350, noise=0.1, seed=3), 16_000)
    sf.write(library / "tone.wav", sound(2.0, 16_000, 880), 16_000)  # changed
    os.remove(library / "noise.ogg")
    untouched = snapshot(library)
    computed.clear()
    second = target.update(iminet, progress=lambda done, total, name: computed.append(name))
    assert (second.files, second.added, second.changed, second.deleted, second.unchanged) == (5, 1, 1, 1, 3)
    assert sorted(computed) == ["birds/owl.wav", "broken.wav", "tone.wav"]  # the unreadable one is retried
    index = target.open(iminet)
    assert index.paths == ["birds/chirp.flac", "birds/crow.mp3", "birds/owl.wav", "long drone.wav", "tone.wav"]
    for kept in ("birds/chirp.flac", "birds/crow.mp3", "long drone.wav"):
        np.testing.assert_array_equal(index.vectors[index.window_range(index.paths.index(kept))], before[kept])
    assert not np.allclose(index.vectors[index.window_range(4)], before["tone.wav"])
    assert len(list((target.model_folder(iminet)).glob("gen-*"))) == 1  # old generations dropped
    assert snapshot(library) == untouched  # nothing written into the library
    assert not index_root.is_relative_to(library)


def test_search_scores_equal_the_full_model_on_each_pair(library, tmp_path, iminet):
    import keras

    from vocalsearch_tf.signal.features import ConstantQ

    target = LibraryIndex(library, tmp_path / "index")
    target.update(iminet)
    query = tmp_path / "hum.wav"
    sf.write(query, sound(2.0, 16_000, 450, noise=0.01, seed=7), 16_000)
    result = engine.search(query, target, iminet, top=10)
    assert [h.rank for h in result.hits] == [1, 2, 3, 4, 5] and result.sounds == 5
    assert all(a.score >= b.score for a, b in zip(result.hits, result.hits[1:]))

    model = keras.models.load_model(iminet_members()[0], compile=False)
    front = ConstantQ(IMINET_CQT)
    samples, rate = engine.load_imitation(query)
    query_spec = front(audio.fix_length(audio.resample(samples, rate, 16_000), IMINET_CQT.clip_samples)[None])
    for hit in result.hits:
        index = target.open(iminet)
        i = index.paths.index(hit.file)
        starts = np.asarray(index.window_start[index.window_range(i)])
        clips = read_windows(Path(hit.path), starts, {16_000: IMINET_CQT.clip_samples})[16_000]
        full = model.predict([np.repeat(np.asarray(query_spec), len(clips), 0), np.asarray(front(clips))], verbose=0)
        assert hit.score == pytest.approx(float(full.max()), rel=1e-4, abs=1e-6)
        assert hit.window_start == pytest.approx(float(starts[int(np.argmax(full))]))


def test_the_shipped_iminet_searches_with_each_seed_and_ranks_by_their_mean_evidence(library, tmp_path):
    from scipy.special import softmax

    from vocalsearch_tf.search import fusion, models

    shipped, members = resolve("iminet"), models.iminet_members()
    assert [c.description for c in shipped.components] == [f"IMINET ({m.stem})" for m in members]
    assert isinstance(shipped, fusion.Ensemble) == (len(members) > 1)
    target = LibraryIndex(library, tmp_path / "index")
    target.update(shipped)
    query = tmp_path / "hum.wav"
    sf.write(query, sound(2.0, 16_000, 450, noise=0.01, seed=7), 16_000)
    hits = engine.search(query, target, shipped, top=10).hits
    alone = [{h.file: h.score for h in engine.search(query, target, member, top=10).hits}
             for member in shipped.components]  # each seed from its own index
    files = [h.file for h in hits]
    evidence = np.mean([member.evidence(np.array([scores[f] for f in files]))
                        for member, scores in zip(shipped.components, alone)], axis=0)
    if len(members) == 1:  # one seed: the model's own scores
        np.testing.assert_allclose([h.score for h in hits], [alone[0][f] for f in files], rtol=1e-5)
        return
    beta = shipped.inverse_temperature if shipped.inverse_temperature is not None else 1.0
    np.testing.assert_allclose([h.score for h in hits], softmax(beta * evidence), rtol=1e-4, atol=1e-7)


def test_fusion_with_imisound_multiplies_likelihoods(library, tmp_path, iminet):
    from vocalsearch_tf.models.imisound import ImisoundParams
    from vocalsearch_tf.training.imisound import Imisound
    from vocalsearch_tf.signal.features import ConstantQ

    clips = np.stack([audio.load_clip(p, 16_000, IMINET_CQT.clip_samples)
                      for p in sorted(library.rglob("*.wav")) if p.name != "broken.wav" and not p.name.startswith(".")])
    imisound = Imisound(ImisoundParams(epochs=1)).fit(np.asarray(ConstantQ(IMINET_CQT)(clips)), seed=0)
    path = save_imisound(imisound, tmp_path / "imisound.npz", trained_on="three test tones")
    member = str(iminet_members()[0])
    scorer = resolve(f"{member}+{path}")
    assert [c.name for c in scorer.components] == [member, str(path)]
    target = LibraryIndex(library, tmp_path / "index")
    report = target.update(scorer)
    assert report.files == 5
    query = tmp_path / "hum.wav"
    sf.write(query, sound(2.0, 16_000, 450), 16_000)
    fused = engine.search(query, target, scorer, top=5)
    alone = {h.file: h.score for h in engine.search(query, target, resolve(member), top=5).hits}
    sae = ImisoundScorer(path)
    sae_hits = engine.search(query, target, sae, top=5).hits
    assert sum(h.score for h in sae_hits) == pytest.approx(1.0, rel=1e-5)  # eq. 3: a softmax over the library
    sae_scores = {h.file: h.score for h in sae_hits}
    for hit in fused.hits:
        assert hit.scores[member] == pytest.approx(alone[hit.file], rel=1e-5)
        assert hit.score == pytest.approx(alone[hit.file] * sae_scores[hit.file], rel=1e-5)


def test_tl_iminet_model_indexes_at_its_own_rates(library, tmp_path):
    from vocalsearch_tf.models.tl_iminet import build_tl_iminet

    path = tmp_path / "tl_iminet.keras"
    build_tl_iminet().save(path)
    scorer = resolve(str(path))
    assert (scorer.imitation_rate, scorer.recording_rate, scorer.dim) == (16_000, 44_100, 108)
    target = LibraryIndex(library, tmp_path / "index")
    assert target.update(scorer).files == 5
    query = tmp_path / "hum.wav"
    sf.write(query, sound(2.0, 16_000, 450), 16_000)
    hits = engine.search(query, target, scorer, top=2).hits
    assert len(hits) == 2 and 0.0 <= hits[0].score <= 1.0


def test_manocha_embedding_searches_by_euclidean_distance(library, tmp_path):
    manocha = pytest.importorskip("vocalsearch_tf.models.manocha2018")
    path = tmp_path / "synthetic" / "tower_00.keras"
    path.parent.mkdir()
    manocha.build_tower().save(path)
    scorer = resolve(str(path))
    assert (scorer.metric, scorer.dim, scorer.recording_rate) == ("euclidean", 128, 44_100) and scorer.synthetic
    target = LibraryIndex(library, tmp_path / "index")
    assert target.update(scorer).files == 5
    query = tmp_path / "hum.wav"
    sf.write(query, sound(2.0, 16_000, 450), 16_000)
    hits = engine.search(query, target, scorer, top=5).hits
    assert sum(h.score for h in hits) == pytest.approx(1.0, rel=1e-5)  # softmax over the library
    index = target.open(scorer)
    distances = -scorer.window_scores(scorer.query_vector(audio.fix_length(
        audio.resample(engine.load_imitation(query)[0], 16_000, 44_100), scorer.imitation_samples)), index.vectors)
    assert hits[0].file == index.paths[int(np.argmin(np.minimum.reduceat(distances, np.asarray(index.first_window))))]


def test_changed_weights_make_the_index_stale_until_reindexed(library, tmp_path):
    import keras

    from vocalsearch_tf.models.iminet import build_iminet

    path = tmp_path / "mine.keras"
    keras.utils.set_random_seed(1)
    build_iminet("tied").save(path)
    target = LibraryIndex(library, tmp_path / "index")
    target.update(resolve(str(path)))
    keras.utils.set_random_seed(2)
    build_iminet("tied").save(path)  # retrained: same file name, other weights
    changed = resolve(str(path))
    with pytest.raises(StaleIndexError, match="earlier version"):
        target.open(changed)
    report = target.update(changed)
    assert report.changed == 0 and report.unchanged == 0 and any("weights changed" in n for n in report.notes)
    target.open(changed)
    with pytest.raises(NotIndexedError, match="indexed with model"):
        target.open(resolve("default"))


def test_bad_library_folders_are_clear_errors(tmp_path):
    with pytest.raises(LibraryError, match="no such folder"):
        LibraryIndex(tmp_path / "missing", tmp_path / "index")
    empty = tmp_path / "texts"
    empty.mkdir()
    (empty / "readme.txt").write_text("no sounds here")
    with pytest.raises(LibraryError, match="no audio files"):
        LibraryIndex(empty, tmp_path / "index").update(resolve("default"))
    assert not (tmp_path / "index" / "state.json").exists()
    with pytest.raises(LibraryError, match="inside the library"):
        LibraryIndex(empty, empty / ".vocalsearch")
    assert [p.name for p in empty.iterdir()] == ["readme.txt"]


def test_index_records_model_and_window_settings(library, tmp_path, iminet):
    target = LibraryIndex(library, tmp_path / "index")
    target.update(iminet)
    meta = target.open(iminet).meta
    assert meta["model"]["name"] == iminet.name and meta["model"]["synthetic"] is True
    assert meta["window"] == {"seconds": 4.0, "hop_seconds": 2.0, "max_windows": 1800}
    assert json.loads((target.folder / "library.json").read_text())["library"] == str(library.resolve())
