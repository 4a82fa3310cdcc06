"""A dual encoder of notebook 10 as a search model: `--model <.keras>` (or its name under results/)
resolves it as an embedding scorer; a small generated library is indexed in 4 s windows with the
reference tower at 44.1 kHz and searched with the imitation tower; every score is the towers' cosine."""

import keras
import numpy as np
import pytest
import soundfile as sf

from vocalsearch_tf.experiments import field_today
from vocalsearch_tf.models import dual_encoder
from vocalsearch_tf.models.aisfx import AISFX, AisfxLogMel
from vocalsearch_tf.search import engine
from vocalsearch_tf.search.index import LibraryIndex
from vocalsearch_tf.search.models import EmbeddingScorer, available_models, resolve
from vocalsearch_tf.signal import audio

RATE = AISFX.front_end.sample_rate
SAMPLES = AISFX.front_end.clip_samples


def sound(seconds: float, freq: float, noise: float = 0.0, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    return (0.3 * np.sin(2 * np.pi * freq * t * (1 + 0.05 * np.sin(2 * np.pi * 3 * t)))
            + noise * rng.standard_normal(len(t))).astype(np.float32)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A freshly initialised dual encoder saved where and as notebook 10 saves its runs."""
    keras.utils.set_random_seed(7)
    model = dual_encoder.build_dual_encoder()
    results = tmp_path_factory.mktemp("results")
    path = results / "quick" / "synthetic" / "seed0" / "field_today" / "dual_encoder_random" / "model_00.keras"
    path.parent.mkdir(parents=True)
    field_today.save_without_optimizer(model, path)
    return model, path, results


@pytest.fixture
def library(tmp_path):
    folder = tmp_path / "library"
    folder.mkdir()
    sf.write(folder / "low hum.wav", sound(1.5, 180), RATE, subtype="FLOAT")
    sf.write(folder / "whistle.wav", sound(2.0, 1800), RATE, subtype="FLOAT")
    sf.write(folder / "hiss.wav", sound(1.0, 300, noise=0.3, seed=1), RATE, subtype="FLOAT")
    sf.write(folder / "long siren.wav", sound(6.0, 700, noise=0.02, seed=2), RATE, subtype="FLOAT")  # windows at 0, 2 s
    return folder


def embed(model, side: str, clips: np.ndarray) -> np.ndarray:
    """One tower on the aisfx log-mel of 44.1 kHz clips, outside the search code."""
    return np.asarray(dual_encoder.tower(model, side)(AisfxLogMel(AISFX.front_end)(clips), training=False))


def test_a_saved_dual_encoder_resolves_as_a_cosine_embedding_scorer(saved):
    _, path, _ = saved
    assert not isinstance(keras.models.load_model(path, compile=False).output, list)
    scorer = resolve(str(path))
    assert isinstance(scorer, EmbeddingScorer) and scorer.metric == "cosine" and scorer.dim == 128
    assert (scorer.imitation_rate, scorer.recording_rate) == (RATE, RATE)
    assert (scorer.imitation_samples, scorer.recording_samples) == (SAMPLES, SAMPLES)
    assert "dual encoder" in scorer.description and scorer.synthetic


def test_it_is_listed_and_resolved_by_its_name_under_results(saved):
    model, path, results = saved
    entries = {entry.name: entry for entry in available_models(results)}
    name = "quick/synthetic/seed0/field_today/dual_encoder_random/model_00"
    assert name in entries and entries[name].description.startswith("dual encoder")
    assert resolve(name, results).fingerprint == resolve(str(path)).fingerprint


def test_windows_are_indexed_with_the_reference_tower(saved, library, tmp_path):
    model, path, _ = saved
    scorer = resolve(str(path))
    target = LibraryIndex(library, tmp_path / "index")
    assert target.update(scorer).files == 4
    index = target.open(scorer)
    assert index.vectors.shape == (5, 128)  # three short sounds, the long one in two windows
    for file, rel in enumerate(index.paths):
        samples = audio.load(library / rel)[0]
        span = index.window_range(file)
        starts = (np.asarray(index.window_start[span]) * RATE).round().astype(int)
        clips = np.stack([audio.fix_length(samples[s:], SAMPLES) for s in starts])
        np.testing.assert_allclose(index.vectors[span], embed(model, "reference", clips), atol=2e-5)


def test_search_ranks_by_the_towers_cosine_best_window_first(saved, library, tmp_path):
    model, path, _ = saved
    scorer = resolve(str(path))
    target = LibraryIndex(library, tmp_path / "index")
    target.update(scorer)
    index = target.open(scorer)
    query = tmp_path / "imitation.wav"
    sf.write(query, sound(1.8, 650, noise=0.01, seed=3), RATE, subtype="FLOAT")
    result = engine.search(query, target, scorer, top=4)

    imitation = embed(model, "imitation", audio.fix_length(engine.load_imitation(query)[0], SAMPLES)[None])[0]
    windows = index.vectors @ imitation / np.linalg.norm(imitation)  # stored vectors are unit length
    np.testing.assert_allclose(np.linalg.norm(index.vectors, axis=1), 1.0, atol=1e-5)
    best = np.maximum.reduceat(windows, np.asarray(index.first_window))
    likelihood = np.exp(best - 1.0) / np.exp(best - 1.0).sum()  # TASLP eq. 3 over the library
    assert [hit.file for hit in result.hits] == [index.paths[k] for k in np.argsort(-best)]
    np.testing.assert_allclose([hit.score for hit in result.hits], np.sort(likelihood)[::-1], rtol=1e-4)
    siren = list(index.paths).index("long siren.wav")
    span = index.window_range(siren)
    hit = next(h for h in result.hits if h.file == "long siren.wav")
    assert hit.window_start == pytest.approx(float(index.window_start[span][int(np.argmax(windows[span]))]))
