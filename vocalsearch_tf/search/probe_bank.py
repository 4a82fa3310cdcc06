"""A fixed bank of real recordings on which `fusion-guarded` tests its learned part.

The guard (`fusion.guarded_logits`) asks per query whether IMINET's ranking is related to
the training-free ranking. Over the library alone that needs a large library: the test's
threshold 2/sqrt(n-1) is .67 on the 10 sounds a category of the maintainers' check, where
the guard closes for nearly every query and IMINET's gain is lost where it carries (a
simulation on the development check: .43 against .53 for the unguarded fusion, MRR over 10
sounds). Over the library and this bank of 226 real recordings (one window each, the real
reference set's: `make real-references`) the test has the same power on any library.

The bank holds vectors, not audio: each model's candidate vectors of the windows, with the
model's fingerprint; a model whose weights changed finds no vectors of its own and the
guard falls back to the library alone. `make probe-bank` (`train_default --only probe-bank`)
rebuilds it; `make cqt-summary-model` does too, and `make default-model` says when to.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from vocalsearch_tf.search import engine
from vocalsearch_tf.search.index import LibraryIndex
from vocalsearch_tf.search.scorers import Scorer

BANK = Path(__file__).with_name("default_model") / "probe_bank.npz"
BANK_MODELS = ("iminet", "cqt-summary")  # IMISOUND's 7200-wide vectors would make the file 6.5 MB


def window_vectors(recordings: Path, scorer: Scorer) -> tuple[list[str], dict[str, tuple[str, np.ndarray]]]:
    """The files of `recordings` and, per component, (fingerprint, the first window's vector
    of each file), through the search's own indexing."""
    with tempfile.TemporaryDirectory(prefix="vocalsearch-probe-bank-") as root:
        library = LibraryIndex(recordings, Path(root))
        library.update(scorer)
        indexes = engine.open_indexes(library, scorer)
        files = list(indexes[0].paths)
        vectors = {}
        for component, index in zip(scorer.components, indexes):
            if list(index.paths) != files:
                raise ValueError(f"{component.name}: its index of {recordings} holds other files")
            first = [index.window_range(k).start for k in range(index.n_files)]
            vectors[component.key] = (component.fingerprint, np.asarray(index.vectors[first], np.float16))
    return files, vectors


def build(recordings: Path, scorers: list[Scorer], dest: Path = BANK) -> Path:
    """The bank of `recordings` for `scorers` (the shipped `BANK_MODELS`), written to `dest`."""
    content, files = {}, None
    for scorer in scorers:
        found, vectors = window_vectors(recordings, scorer)
        if files is not None and found != files:
            raise ValueError(f"{scorer.name}: indexed other files of {recordings} than {scorers[0].name}")
        files = found
        for key, (fingerprint, rows) in vectors.items():
            content[f"{key}.vectors"], content[f"{key}.fingerprint"] = rows, np.array(fingerprint)
    if not files:
        raise ValueError(f"{recordings}: no readable recordings for a probe bank")
    np.savez_compressed(dest, files=np.array(files), **content)
    return dest


def load(path: Path = BANK) -> dict[str, tuple[str, np.ndarray]]:
    """key -> (fingerprint, vectors); empty when there is no bank."""
    if not Path(path).exists():
        return {}
    with np.load(path) as bank:
        keys = [name[:-len(".vectors")] for name in bank.files if name.endswith(".vectors")]
        return {key: (str(bank[f"{key}.fingerprint"]), bank[f"{key}.vectors"].astype(np.float32)) for key in keys}


def vectors_for(component: Scorer, bank: dict) -> np.ndarray | None:
    """The bank's vectors of this component, None unless they were made by these weights."""
    fingerprint, vectors = bank.get(component.key, ("", None))
    return vectors if fingerprint == component.fingerprint else None


def evidence(component: Scorer, query: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """A component's evidence over the bank for one query vector (one window per recording)."""
    return component.evidence(component.window_scores(query, vectors))
