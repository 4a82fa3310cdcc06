"""The approximate index (search/ann.py) against the exact scan, on generated libraries of
100 000, 1 000 000 and (when the disk allows) 10 000 000 windows.

Each library is written with the real index writer (`write_generation`, memory-mapped
`vectors.npy`) and its ANN built by the real indexing hook (`ann.build`), in a temporary
folder. Files have log-normal durations (median 3 s, up to 60 s) cut in 4 s windows at a
2 s hop, as benchmarks/search.py does. Vectors are 128 wide (the Manocha 2018 tower's width,
a compact embedding), unit length (cosine), and clustered as embeddings of sounds are, not
uniform noise: 2 000 kinds of sound of Zipf-distributed popularity, each file a point near
its kind, each window a point near its file, in a space whose variance falls off as a power
law over the dimensions (as the PCA spectrum of a learnt embedding does), plus a little
isotropic noise. An imitation is one library window moved further than a window is from
its file (a person's copy of a sound), so its best match is not trivially itself.

Measured on 2 cores (CPU affinity and thread pools pinned to 2), per library in one run:
- build: training (on a sample) plus encoding every window, seconds; peak growth of the
  process's anonymous memory (what the build allocates; the vectors are read through the
  page cache) and of its whole RSS; the ANN file's size, next to vectors.npy's;
- query: `engine.ranked_by_ann` (shortlist by codes, exact re-scoring on the memory map,
  best window per file, top 10), median and p99 over the queries, after a warm-up;
- baseline: the exact scan `engine.search` runs (every window scored, best per file, top 10);
- recall@10: the share of the exact scan's 10 best files that the ANN path returns;
- at 1 000 000 windows: a sweep of the query-time settings (nprobe, shortlist) and of the
  trained ones (PQ bytes, OPQ), to choose the defaults in search/config.py (`AnnParams`).
The cost of computing the query's own vector (the model) is the same for both paths and is
left out. Writes results/benchmarks/ann.json. Targets at >= 1 000 000 windows: median query
<= 50 ms, recall@10 >= 0.95.
"""

from __future__ import annotations

import os

CORES = 2
if hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) > CORES:
    os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:CORES])
for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[variable] = str(CORES)

import argparse  # noqa: E402
import dataclasses  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from vocalsearch_tf.search import ann, engine  # noqa: E402
from vocalsearch_tf.search.config import ANN, WINDOWS  # noqa: E402
from vocalsearch_tf.search.index import Index, model_record, window_starts, write_generation  # noqa: E402
from vocalsearch_tf.search.scorers import EmbeddingScorer  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "results" / "benchmarks" / "ann.json"
DIM = 128
KINDS = 2_000
TOP = 10


def vector_scorer(dim: int = DIM) -> EmbeddingScorer:
    """An embedding model of the given width whose vectors the benchmark makes itself."""
    unused = lambda x: np.zeros((len(x), dim), np.float32)  # noqa: E731
    return EmbeddingScorer(unused, unused, name="generated", key="generated", fingerprint="generated-vectors",
                           description="generated clustered vectors", imitation_rate=16_000, imitation_samples=16_000,
                           recording_rate=16_000, recording_samples=16_000, dim=dim, metric="cosine")


@dataclasses.dataclass
class SoundSpace:
    """Kinds of sound, files and windows as points of a clustered, anisotropic space."""

    dim: int
    rng: np.random.Generator

    def __post_init__(self):
        self.scale = (1.0 + np.arange(self.dim)) ** -0.6  # a power-law spectrum
        self.kinds = self.rng.standard_normal((KINDS, self.dim)) * self.scale
        self.popularity = 1.0 / (1.0 + np.arange(KINDS))
        self.popularity /= self.popularity.sum()

    def _vectors(self, points: np.ndarray) -> np.ndarray:
        points = points + 0.02 * self.rng.standard_normal(points.shape)
        return (points / np.linalg.norm(points, axis=1, keepdims=True)).astype(np.float32)

    def files(self, n: int) -> np.ndarray:
        kinds = self.rng.choice(KINDS, n, p=self.popularity)
        return self.kinds[kinds] + 0.5 * self.scale * self.rng.standard_normal((n, self.dim))

    def windows(self, file_points: np.ndarray) -> np.ndarray:
        return self._vectors(file_points + 0.25 * self.scale * self.rng.standard_normal(file_points.shape))

    def imitations(self, window_points: np.ndarray) -> np.ndarray:
        return self._vectors(window_points + 0.4 * self.scale * self.rng.standard_normal(window_points.shape))


def write_library(folder: Path, windows: int, space: SoundSpace, scorer, build) -> dict:
    """A generation of about `windows` windows (whole files), its ANN built by `build`."""
    rng = space.rng
    durations = np.minimum(rng.lognormal(np.log(3.0), 0.8, int(windows / 1.6) + 1000), 60.0)
    counts = np.array([len(window_starts(d, WINDOWS)[0]) for d in durations], np.int64)
    keep = int(np.searchsorted(np.cumsum(counts), windows, side="left")) + 1  # at least `windows`
    durations, counts = durations[:keep], counts[:keep]
    starts = [window_starts(d, WINDOWS)[0] for d in durations]
    file_of_window = np.repeat(np.arange(keep), counts)

    def fill(vectors):
        points = None
        for first in range(0, len(vectors), 65_536):
            rows = file_of_window[first:first + 65_536]
            files, inverse = np.unique(rows, return_inverse=True)
            points = space.files(len(files))[inverse]
            vectors[first:first + len(rows)] = space.windows(points)
        del points

    paths = [f"generated/{k // 1000:05d}/sound_{k:08d}.wav" for k in range(keep)]
    write_generation(folder, folder.parent, model_record(scorer), WINDOWS, scorer.dim, paths,
                     np.full(keep, 100_000), np.zeros(keep, np.int64), durations, starts, counts, fill,
                     approximate=build)
    return {"files": keep, "windows": int(counts.sum())}


class MemoryPeak:
    """Peak growth of the process's anonymous and resident memory while in the block."""

    def __init__(self, period: float = 0.02):
        self.period, self.peak, self.stop = period, {}, threading.Event()

    @staticmethod
    def now() -> dict:
        fields = {}
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(("RssAnon:", "VmRSS:")):
                name, value = line.split(":")
                fields[name] = int(value.split()[0]) * 1024
        return fields

    def _watch(self):
        while not self.stop.wait(self.period):
            for name, value in self.now().items():
                self.peak[name] = max(self.peak.get(name, 0), value)

    def __enter__(self):
        self.start = self.now()
        self.peak = dict(self.start)
        self.thread = threading.Thread(target=self._watch, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()
        for name, value in self.now().items():
            self.peak[name] = max(self.peak.get(name, 0), value)

    @property
    def growth(self) -> dict:
        return {"anon_bytes": self.peak["RssAnon"] - self.start["RssAnon"],
                "rss_bytes": self.peak["VmRSS"] - self.start["VmRSS"]}


def exact_top_files(index: Index, queries: np.ndarray, top: int = TOP, files_per_block: int = 100_000) -> np.ndarray:
    """Ground truth: each query's `top` files by best window cosine, one pass over the vectors
    for all queries (blocks of whole files; a running top `top` per query)."""
    first = np.append(np.asarray(index.first_window), len(index.vectors))
    best_scores = np.zeros((len(queries), 0), np.float32)
    best_files = np.zeros((len(queries), 0), np.int64)
    for a in range(0, index.n_files, files_per_block):
        b = min(a + files_per_block, index.n_files)
        block = np.asarray(index.vectors[first[a]:first[b]]) @ queries.T.astype(np.float32)
        per_file = np.maximum.reduceat(block, first[a:b] - first[a], axis=0).T
        scores = np.concatenate([best_scores, per_file], axis=1)
        files = np.concatenate([best_files, np.broadcast_to(np.arange(a, b), per_file.shape)], axis=1)
        keep = np.argpartition(-scores, top - 1, axis=1)[:, :top]
        best_scores, best_files = np.take_along_axis(scores, keep, 1), np.take_along_axis(files, keep, 1)
    order = np.argsort(-best_scores, axis=1, kind="stable")
    return np.take_along_axis(best_files, order, 1)


def exact_ranking(scorer, index: Index, query: np.ndarray, top: int = TOP) -> np.ndarray:
    """What `engine.search` does without an ANN, from the query vector on."""
    best = index.best_per_file(scorer.window_scores(query, index.vectors))
    chosen = np.argpartition(-best, top - 1)[:top]
    return chosen[np.argsort(-best[chosen], kind="stable")]


def timings(seconds: list[float]) -> dict:
    return {"median_ms": 1000 * float(np.median(seconds)), "p99_ms": 1000 * float(np.percentile(seconds, 99)),
            "max_ms": 1000 * float(np.max(seconds)), "runs": len(seconds)}


def measure_ann(approximate, scorer, index: Index, queries: np.ndarray, truth: np.ndarray, shortlist: int,
                nprobe: int = ANN.nprobe) -> dict:
    for query in queries[:5]:  # warm-up: page cache of the shortlisted rows, FAISS's buffers
        approximate.shortlist(query, shortlist, nprobe)
    seconds, recalls = [], []
    for query, expected in zip(queries, truth):
        start = time.perf_counter()
        rows = approximate.shortlist(query, shortlist, nprobe)
        files, _, _ = ann.rank_shortlist(scorer, index, query, rows, TOP)
        seconds.append(time.perf_counter() - start)
        recalls.append(len(set(files.tolist()) & set(expected.tolist())) / TOP)
    return {**timings(seconds), "recall_at_10": float(np.mean(recalls)), "recall_at_10_min": float(np.min(recalls))}


def measure_exact(scorer, index: Index, queries: np.ndarray, truth: np.ndarray, runs: int) -> dict:
    exact_ranking(scorer, index, queries[0])
    seconds, agree = [], []
    for query, expected in zip(queries[:runs], truth[:runs]):
        start = time.perf_counter()
        files = exact_ranking(scorer, index, query)
        seconds.append(time.perf_counter() - start)
        agree.append(len(set(files.tolist()) & set(expected.tolist())) / TOP)
    assert np.mean(agree) > 0.99, "the ground truth and the exact scan disagree"
    return timings(seconds)


def folder_bytes(folder: Path, names: tuple[str, ...]) -> int:
    return sum((folder / name).stat().st_size for name in names if (folder / name).exists())


def one_library(workdir: Path, windows: int, queries_count: int, exact_runs: int, params, rng) -> tuple[dict, Path]:
    scorer = vector_scorer()
    space = SoundSpace(DIM, rng)
    folder = workdir / f"lib-{windows}" / "model"
    folder.mkdir(parents=True)
    built = {}

    def build(target: Path) -> dict:
        with MemoryPeak() as memory:
            start = time.perf_counter()
            record = ann.build(target, scorer, params=params)
            built.update(seconds=time.perf_counter() - start, memory=memory)
        return record

    start = time.perf_counter()
    sizes = write_library(folder, windows, space, scorer, build)
    write_seconds = time.perf_counter() - start - built["seconds"]
    index = Index(folder / (folder / "CURRENT").read_text().strip())
    print(f"{sizes['windows']} windows in {sizes['files']} files: vectors written in {write_seconds:.0f} s, "
          f"ANN built in {built['seconds']:.0f} s", flush=True)
    picked = rng.choice(len(index.vectors), queries_count, replace=False)
    queries = space.imitations(np.asarray(index.vectors[np.sort(picked)], np.float64))
    truth = exact_top_files(index, queries)
    with MemoryPeak() as opened:
        approximate, problem = ann.open_ann(index)
    assert approximate is not None, problem
    shortlist = max(params.shortlist, 8 * TOP)
    record = {
        **sizes, "dim": DIM, "vectors_write_seconds": write_seconds,
        "build": {"seconds": built["seconds"], "factory": approximate.record["factory"],
                  "trained_windows": approximate.record["trained_windows"], **built["memory"].growth},
        "disk": {"vectors_bytes": folder_bytes(index.folder, ("vectors.npy",)),
                 "ann_bytes": folder_bytes(index.folder, (ann.ANN_FILE, ann.ANN_RECORD)),
                 "generation_bytes": sum(p.stat().st_size for p in index.folder.iterdir())},
        "open_ann": {"anon_bytes": opened.growth["anon_bytes"]},
        "ann": {"nprobe": params.nprobe, "shortlist": shortlist,
                **measure_ann(approximate, scorer, index, queries, truth, shortlist, params.nprobe)},
        "exact": measure_exact(scorer, index, queries, truth, exact_runs),
    }
    record["speedup"] = record["exact"]["median_ms"] / record["ann"]["median_ms"]
    print(json.dumps(record, indent=1), flush=True)
    return record, (folder, index, approximate, queries, truth)


def sweep(folder: Path, index: Index, approximate, queries: np.ndarray, truth: np.ndarray, rng) -> dict:
    """Query-time settings on the built ANN, then trained variants (PQ bytes, OPQ) rebuilt."""
    scorer = vector_scorer()
    query_time = []
    for nprobe in (16, 32, 64, 128):
        for shortlist in (500, 1000, 2000, 4000):
            row = measure_ann(approximate, scorer, index, queries, truth, shortlist, nprobe)
            query_time.append({"nprobe": nprobe, "shortlist": shortlist, **row})
            print(query_time[-1], flush=True)
    trained = []
    for changes in ({"dims_per_code": 4}, {"dims_per_code": 1}, {"opq": True},
                    {"lists_per_sqrt_window": 4.0}):
        params = dataclasses.replace(ANN, **changes)
        target = folder.parent / f"variant-{len(trained)}"
        target.mkdir()
        os.symlink(index.folder / "vectors.npy", target / "vectors.npy")
        start = time.perf_counter()
        record = ann.build(target, scorer, params=params)
        seconds = time.perf_counter() - start
        variant = ann.AnnIndex(target, record, ann.read(target))
        row = measure_ann(variant, scorer, index, queries, truth, max(params.shortlist, 8 * TOP), params.nprobe)
        trained.append({"changes": changes, "factory": record["factory"], "build_seconds": seconds,
                        "ann_bytes": record["bytes"], **row})
        print(trained[-1], flush=True)
        shutil.rmtree(target)
    return {"query_time": query_time, "trained": trained}


def main(sizes: tuple[int, ...], queries: int = 200, exact_runs: int = 20, out: Path = OUT,
         sweep_at: int = 1_000_000) -> dict:
    rng = np.random.default_rng(0)
    workdir = Path(tempfile.mkdtemp(prefix="vocalsearch-ann-bench-"))
    rows, skipped, tuning = [], {}, None
    try:
        for windows in sizes:
            need = windows * DIM * 4 * 1.3
            free = shutil.disk_usage(workdir).free
            if free < 2 * need:
                skipped[str(windows)] = f"needs ~{need / 1e9:.0f} GB on disk, {free / 1e9:.0f} GB free (kept 2x)"
                print(f"skipped {windows}: {skipped[str(windows)]}", flush=True)
                continue
            record, (folder, index, approximate, qs, truth) = one_library(workdir, windows, queries, exact_runs,
                                                                         ANN, rng)
            rows.append(record)
            if windows == sweep_at:
                tuning = sweep(folder, index, approximate, qs, truth, rng)
            del index, approximate
            shutil.rmtree(folder.parent, ignore_errors=True)
        at_scale = [r for r in rows if r["windows"] >= 1_000_000]
        result = {
            "what": "approximate index (FAISS IVF-PQ, shortlist re-ranked exactly) against the exact scan, "
                    "generated clustered unit vectors; single queries, latency from the query vector to the top 10 files",
            "cores": CORES, "top": TOP, "queries": queries, "dim": DIM, "faiss": ann._faiss().__version__,
            "parameters": {**dataclasses.asdict(ANN), "layout_at_1M": ann.layout(1_000_000, DIM)},
            "libraries": rows, "skipped": skipped, "tuning_at_1M": tuning,
            "target": "at >= 1 000 000 windows: median <= 50 ms, recall@10 >= 0.95 on 2 cores",
            "meets_target": bool(at_scale) and all(r["ann"]["median_ms"] <= 50 and r["ann"]["recall_at_10"] >= 0.95
                                                   for r in at_scale),
            "load_average_after": os.getloadavg()[0],
        }
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {out}; meets target: {result['meets_target']}")
        return result
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000, 10_000_000])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--sweep-at", type=int, default=1_000_000, help="the library size the settings are swept on")
    args = parser.parse_args()
    main(tuple(args.sizes), args.queries, out=args.out, sweep_at=args.sweep_at)
