"""search/ann.py through the index and the engine: an embedding model's approximate index
(FAISS IVF-PQ) ranks as the exact scan does once its shortlist is re-scored exactly, is
carried over incrementally, and is never used when damaged."""

import dataclasses
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import soundfile as sf

from vocalsearch_tf.search import ann, engine
from vocalsearch_tf.search.config import ANN, AnnParams, AnnUnusableWarning
from vocalsearch_tf.search.fusion import Fusion
from vocalsearch_tf.search.index import LibraryIndex
from vocalsearch_tf.search.scorers import EmbeddingScorer

pytest.importorskip("faiss")

RATE = 16_000
FRAME = 512
# thresholds and list counts for a library of a few hundred windows (the shipped ones wait
# for 20 000 windows and train at least 64 lists)
SMALL = dataclasses.replace(ANN, min_vector_bytes=0, min_windows=200, min_lists=4, shortlist=64, nprobe=4)
EXACT = dataclasses.replace(SMALL, max_top=0)  # every search ranks the whole library exactly


def spectral_scorer(dim: int = 32, name: str = "spectral") -> EmbeddingScorer:
    """A real embedding of audio: the log mean magnitude spectrum, randomly projected."""
    projection = np.random.default_rng(0).standard_normal((FRAME // 2 + 1, dim)).astype(np.float32)

    def embed(clips):
        clips = np.asarray(clips, np.float32)
        frames = clips[:, : clips.shape[1] // FRAME * FRAME].reshape(len(clips), -1, FRAME)
        return np.log1p(np.abs(np.fft.rfft(frames, axis=-1)).mean(axis=1)) @ projection

    return EmbeddingScorer(embed, embed, name=name, key=name, fingerprint=f"{name}-v1", description="test spectra",
                           imitation_rate=RATE, imitation_samples=RATE, recording_rate=RATE,
                           recording_samples=RATE, dim=dim, metric="cosine")


def tone(freqs, seconds, seed):
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    wave = sum(np.sin(2 * np.pi * f * t + rng.uniform(0, 6)) for f in freqs)
    return (0.3 * wave / len(freqs) + 0.01 * rng.standard_normal(len(t))).astype(np.float32)


def write_sounds(folder, count, first=0):
    rng = np.random.default_rng(first)
    for k in range(first, first + count):
        freqs = rng.uniform(80, 6000, size=rng.integers(1, 4))
        sf.write(folder / f"sound_{k:04d}.wav", tone(freqs, rng.uniform(1.0, 9.0), k), RATE)


@pytest.fixture(scope="module")
def big_library(tmp_path_factory):
    folder = tmp_path_factory.mktemp("library")
    write_sounds(folder, 250)
    return folder


def indexed(library, root, params=SMALL, scorer=None):
    target = LibraryIndex(library, root, ann_params=params)
    report = target.update(scorer or spectral_scorer())
    return target, report


def imitation(tmp_path, freqs, seed=99, name="query.wav"):
    path = tmp_path / name
    sf.write(path, tone(freqs, 2.0, seed), RATE)
    return path


def test_layout_lists_grow_with_the_library_and_wide_vectors_are_reduced_first():
    assert ann.layout(1_000_000, 128) == {"factory": "IVF1024,PQ64x4fs", "nlist": 1024, "code_bytes": 32,
                                          "coded_dims": 128}
    assert ann.layout(100, 128)["nlist"] == ANN.min_lists and ann.layout(10**9, 128)["nlist"] == ANN.max_lists
    wide = ann.layout(1_000_000, 7200)  # IMISOUND's statistics vectors
    assert wide["factory"].startswith("PCAR256,") and wide["coded_dims"] == 256


def test_only_large_libraries_of_embedding_models_want_an_approximate_index():
    scorer = spectral_scorer()
    assert not ann.wanted(scorer, 10_000)  # under min_windows: the exact scan stays
    assert ann.wanted(scorer, 10_000, dataclasses.replace(ANN, min_windows=5_000, min_vector_bytes=0))
    assert not ann.wanted(scorer, 10**7, dataclasses.replace(ANN, min_vector_bytes=10**12))


def test_a_small_library_keeps_the_exact_scan(big_library, tmp_path):
    target, report = indexed(big_library, tmp_path / "index", params=ANN)
    index = target.open(spectral_scorer())
    assert index.meta["ann"] is None and not (index.folder / ann.ANN_FILE).exists()
    assert engine.search(imitation(tmp_path, [440]), target, spectral_scorer()).scan == "exact"


def test_ann_search_with_every_list_and_window_shortlisted_ranks_as_the_exact_scan(big_library, tmp_path):
    scorer = spectral_scorer()
    target, report = indexed(big_library, tmp_path / "index")
    index = target.open(scorer)
    assert index.meta["ann"]["rows"] == len(index.vectors) > SMALL.min_windows
    assert any("approximate index IVF" in note for note in report.notes)
    everything = dataclasses.replace(SMALL, nprobe=index.meta["ann"]["nlist"],
                                     shortlist=len(index.vectors))
    for seed, freqs in enumerate(([440], [150, 3000], [5000], [900, 1200, 60])):
        query = imitation(tmp_path, freqs, seed)
        exact = engine.search(query, LibraryIndex(big_library, tmp_path / "index", ann_params=EXACT), scorer, top=10)
        approximate = engine.search(query, LibraryIndex(big_library, tmp_path / "index", ann_params=everything),
                                    scorer, top=10)
        assert (exact.scan, approximate.scan) == ("exact", "ann")
        assert [h.file for h in approximate.hits] == [h.file for h in exact.hits]
        assert [h.window_start for h in approximate.hits] == [h.window_start for h in exact.hits]


def test_a_short_shortlist_still_finds_most_of_the_exact_top_ten(big_library, tmp_path):
    scorer = spectral_scorer()
    target, _ = indexed(big_library, tmp_path / "index")
    exact = LibraryIndex(big_library, tmp_path / "index", ann_params=EXACT)
    recalls = []
    for seed in range(12):
        query = imitation(tmp_path, np.random.default_rng(seed).uniform(80, 6000, 2), seed)
        found = engine.search(query, target, scorer, top=10)
        truth = engine.search(query, exact, scorer, top=10)
        assert (found.scan, truth.scan) == ("ann", "exact")
        recalls.append(len({h.file for h in found.hits} & {h.file for h in truth.hits}) / 10)
    assert np.mean(recalls) >= 0.8


def test_reindexing_carries_codes_over_and_encodes_only_new_windows(big_library, tmp_path):
    library = tmp_path / "growing"
    library.mkdir()
    for path in sorted(big_library.iterdir())[:120]:
        (library / path.name).write_bytes(path.read_bytes())
    scorer = spectral_scorer()
    target, _ = indexed(library, tmp_path / "index")
    before = target.open(scorer)
    gone = sorted(library.iterdir())[:10]
    gone_windows = sum(len(before.window_start[before.window_range(before.paths.index(p.name))]) for p in gone)
    for path in gone:
        path.unlink()
    write_sounds(library, 15, first=1000)
    report = target.update(scorer)
    after = target.open(scorer)
    record = after.meta["ann"]
    assert record["retrained"] == "" and record["trained_windows"] == before.meta["ann"]["trained_windows"]
    assert record["carried"] == len(before.vectors) - gone_windows
    assert record["encoded"] == len(after.vectors) - record["carried"]
    assert any("reused" in note for note in report.notes)
    new_file = "sound_1003.wav"
    hits = engine.search(library / new_file, target, scorer, top=3)
    assert hits.scan == "ann" and hits.hits[0].file == new_file
    assert not any(h.file in {p.name for p in gone} for h in hits.hits)


def test_a_damaged_approximate_index_is_not_used_and_reindexing_rebuilds_it(big_library, tmp_path):
    scorer = spectral_scorer()
    target, _ = indexed(big_library, tmp_path / "index")
    path = target.open(scorer).folder / ann.ANN_FILE
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    query = imitation(tmp_path, [700, 2100])
    with pytest.warns(AnnUnusableWarning, match="corrupted"):
        result = engine.search(query, target, scorer)
    assert result.scan == "exact" and str(path) in result.scan_note and "vocalsearch index" in result.scan_note
    truncated = path.read_bytes()[:100]
    path.write_bytes(truncated)
    with pytest.warns(AnnUnusableWarning, match="truncated"):
        assert engine.search(query, target, scorer).scan == "exact"
    report = target.update(scorer)
    assert any("unusable" in note for note in report.notes)
    assert target.open(scorer).meta["ann"]["retrained"] == "no usable earlier approximate index"
    with warnings.catch_warnings():
        warnings.simplefilter("error", AnnUnusableWarning)
        assert engine.search(query, target, scorer).scan == "ann"


def test_fusions_and_long_rankings_scan_exactly(big_library, tmp_path):
    one, other = spectral_scorer(), spectral_scorer(16, name="narrow")
    target, _ = indexed(big_library, tmp_path / "index", scorer=Fusion([one, other], name="both"))
    query = imitation(tmp_path, [300])
    assert engine.search(query, target, Fusion([one, other], name="both")).scan == "exact"
    assert engine.search(query, target, one, top=SMALL.max_top + 1).scan == "exact"
    assert engine.search(query, target, one, top=10).scan == "ann"


def test_threads_searching_one_approximate_index_get_what_one_search_gets(big_library, tmp_path):
    scorer = spectral_scorer()
    target, _ = indexed(big_library, tmp_path / "index")
    queries = [imitation(tmp_path, [f], seed, f"q{seed}.wav") for seed, f in enumerate((200, 800, 2500, 4000))]
    alone = [[h.file for h in engine.search(q, target, scorer).hits] for q in queries]
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(lambda q: [h.file for h in engine.search(q, target, scorer).hits], queries * 4))
    assert together == alone * 4
