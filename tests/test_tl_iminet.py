"""TL-IMINET and tower pretraining: shapes, layer-by-layer transfer, splits, folds, SGD."""

import keras
import numpy as np
import pandas as pd
import pytest

from vocalsearch_tf.evaluation.retrieval import Retriever, pairwise_scores
from vocalsearch_tf.models.tl_iminet import (
    PRETRAINED_LAYERS,
    build_classifier,
    build_tl_iminet,
    build_transferred,
    moments_of,
)
from vocalsearch_tf.training import pretrain, recipes, runs


def conv_shapes(model, prefix):
    return {layer.name: tuple(layer.kernel.shape) for layer in model.layers
            if isinstance(layer, keras.layers.Conv2D) and layer.name.startswith(prefix)}


def test_towers_and_heads_have_the_papers_shapes():
    language = build_classifier("imitation")
    assert conv_shapes(language, "imitation") == {
        "imitation_conv1": (6, 6, 1, 48), "imitation_conv2": (6, 6, 48, 48), "imitation_conv3": (6, 6, 48, 48)}
    assert language.input.shape[1:] == (39, 482, 1) and language.output.shape[-1] == 7
    assert language.get_layer("imitation_pretrain_fc1").units == 256
    urban = build_classifier("recording")
    assert conv_shapes(urban, "recording") == {
        "recording_conv1": (5, 5, 1, 24), "recording_conv2": (5, 5, 24, 48), "recording_conv3": (5, 5, 48, 48)}
    assert urban.input.shape[1:] == (128, 128, 1) and urban.output.shape[-1] == 10
    assert urban.get_layer("recording_pretrain_fc1").units == 64
    model = build_tl_iminet()
    assert model.get_layer("imitation_features").output.shape[-1] == 1 * 55 * 48
    assert model.get_layer("recording_features").output.shape[-1] == 25 * 2 * 48
    assert model.get_layer("fc1").units == 108 and model.get_layer("fc2").units == 1


@pytest.fixture(scope="module")
def classifiers():
    keras.utils.set_random_seed(7)
    return {"imitation": build_classifier("imitation", mean=-3.0, variance=4.0),
            "recording": build_classifier("recording", mean=-5.0, variance=9.0)}


@pytest.mark.parametrize("configuration", list(PRETRAINED_LAYERS))
def test_transfer_loads_exactly_the_configurations_layers(classifiers, tmp_path, configuration):
    # the classifiers go through .keras files, as between notebooks 01/02 and 04
    saved = {}
    for name, model in classifiers.items():
        model.save(tmp_path / f"{name}.keras")
        saved[name] = keras.models.load_model(tmp_path / f"{name}.keras")
    keras.utils.set_random_seed(11)
    model, copied = build_transferred(configuration, saved, {"imitation": (0.5, 2.0), "recording": (0.5, 2.0)})
    loaded = {f"{tower}_{layer}" for tower in ("imitation", "recording") for layer in PRETRAINED_LAYERS[configuration]}
    assert set(copied) == loaded
    for tower in ("imitation", "recording"):
        for layer in ("conv1", "conv2", "conv3"):
            name = f"{tower}_{layer}"
            same = all(np.array_equal(a, b) for a, b in zip(model.get_layer(name).get_weights(),
                                                            classifiers[tower].get_layer(name).get_weights()))
            assert same == (name in loaded), name
        assert moments_of(model, tower) == moments_of(classifiers[tower], tower)


@pytest.mark.parametrize("standardisation", ["pretraining", "vocalsketch"])
def test_all_four_configurations_standardise_by_the_same_rule(classifiers, standardisation):
    own = {"imitation": (0.5, 2.0), "recording": (-1.0, 3.0)}
    expected = own if standardisation == "vocalsketch" else {t: moments_of(classifiers[t], t) for t in own}
    for configuration in PRETRAINED_LAYERS:
        model, _ = build_transferred(configuration, classifiers, own, standardisation)
        assert {t: moments_of(model, t) for t in own} == expected, configuration


def test_tl_iminet_cached_retrieval_equals_pairwise():
    keras.utils.set_random_seed(3)
    model = build_tl_iminet()
    rng = np.random.default_rng(1)
    queries = rng.standard_normal((3, 39, 482, 1)).astype(np.float32)
    library = rng.standard_normal((9, 128, 128, 1)).astype(np.float32)
    np.testing.assert_allclose(Retriever(model).index(library).scores(queries),
                               pairwise_scores(model, queries, library), rtol=1e-5, atol=1e-6)


def test_speaker_disjoint_split():
    speakers = np.repeat([f"s{k}" for k in range(40)], 3)
    train, test = pretrain.group_split(speakers, test_size=0.3, seed=0)
    assert not set(speakers[train]) & set(speakers[test])
    assert len(set(speakers[test])) == 12 and len(train) + len(test) == len(speakers)


def test_cross_validation_uses_the_given_folds():
    from vocalsearch_tf.datasets.common import LoadReport
    from vocalsearch_tf.datasets.urbansound8k import UrbanSound8K

    clips = pd.DataFrame({"slice_file_name": [f"{k}.wav" for k in range(30)], "fold": np.tile([3, 7, 9], 10)})
    data = UrbanSound8K(None, clips, LoadReport("urbansound8k"))
    folds = list(data.folds())
    assert [f for f, _, _ in folds] == [3, 7, 9]
    for fold, train, test in folds:
        assert set(test.fold) == {fold} and fold not in set(train.fold) and len(train) + len(test) == 30


def test_sgd_recipe_is_the_papers():
    recipe = recipes.TL_IMINET_RECIPE
    optimizer = recipe.optimizer()
    assert (recipe.learning_rate, recipe.decay, recipe.momentum, recipe.batch_size, recipe.max_epochs) == (0.01, 1e-4, 0.9, 128, 30)
    schedule = optimizer.learning_rate if callable(optimizer.learning_rate) else optimizer._learning_rate
    assert float(schedule(0)) == pytest.approx(0.01)
    assert float(schedule(10_000)) == pytest.approx(0.01 / (1 + 1e-4 * 10_000))
    assert recipe.callbacks() == []


def test_classifier_training_learns_a_separable_task():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(10), 6)
    x = rng.standard_normal((60, 128, 128, 1)).astype(np.float32) * 0.1
    for k, label in enumerate(labels):  # each class lights a band of its own
        x[k, label * 12:(label + 1) * 12] += 2.0
    runs.set_seed(0)
    recipe = pretrain.ClassifierRecipe(max_epochs=15, patience=15)
    model, history = pretrain.fit_classifier(lambda: build_classifier("recording"), x, labels,
                                             np.arange(60), recipe, seed=0)
    assert pretrain.evaluate_classifier(model, x, labels, 10)["accuracy"] > 0.5
    assert history["loss"][-1] < history["loss"][0]
