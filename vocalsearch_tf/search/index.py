"""The library index: each sound's candidate-side vectors, computed once per model, kept on
disk as memory-mapped arrays outside the library folder.

Layout under the index root (default ~/.cache/vocalsearch; nothing is ever written into
the library folder):

    libraries/<name>-<hash of the folder's path>/
        library.json                      the folder it indexes
        <model key>/CURRENT               names the current generation
        <model key>/gen-000003/
            meta.json                     model fingerprint, window settings, counts, report
            paths.json                    file paths relative to the library, in row order
            file_size.npy file_mtime.npy  int64: what a re-run compares to find changes
            file_duration.npy             float64 seconds
            file_first_window.npy         int64: each file's first row in the window arrays
            window_start.npy              float32 seconds from the file's start
            vectors.npy                   float32 (windows, dim): the candidate vectors
            ann.faiss ann.json            an embedding model's approximate index, when the
                                          library is large (search/ann.py)

A re-run computes only new or changed files (size or modification time differ) and drops
deleted ones; a model whose weights changed (another fingerprint) re-computes everything.
A new generation is written beside the current one and CURRENT is switched atomically, so
a query never sees a half-written index, and an interrupted run keeps what it finished.
search/storage.py checks a generation's files when it is opened (IndexDamagedError naming a
damaged one), keeps the work of a killed run for the next, and turns a full or read-only disk
into an IndexWriteError; search/sounds.py reads the library's files, trusting no header.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import time
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from vocalsearch_tf import __version__
from vocalsearch_tf.search import ann, storage
from vocalsearch_tf.search.config import (
    ANN,
    AUDIO_SUFFIXES,
    AnnParams,
    INDEX_FORMAT,
    WINDOWS,
    IndexBusyError,
    IndexDamagedError,
    LibraryError,
    NotIndexedError,
    StaleIndexError,
    WindowParams,
    default_index_root,
)
from vocalsearch_tf.search.sounds import (  # noqa: F401 (imported from here by the engine, the page, benchmarks)
    FileStat,
    audio_duration,
    checked_duration,
    inside,
    read_windows,
    scan,
    window_starts,
)
from vocalsearch_tf.signal import audio

BATCH_WINDOWS = 64  # windows per model call while indexing
CHECKPOINT_SECONDS = 600.0  # a long indexing run commits what it has this often


@dataclass
class IndexReport:
    """What an indexing run did; `str()` is what the command line prints."""

    library: Path
    model: str
    files: int = 0
    windows: int = 0
    added: int = 0
    changed: int = 0
    deleted: int = 0
    unchanged: int = 0
    resumed: int = 0  # of the added and changed: computed by an interrupted run, taken from its journal
    unreadable: list[tuple[str, str]] = field(default_factory=list)
    truncated: list[tuple[str, float]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def __str__(self) -> str:
        lines = [f"{self.library}: {self.files} sounds indexed ({self.windows} windows) with model {self.model}",
                 f"  {self.added} added, {self.changed} changed, {self.deleted} deleted, "
                 f"{self.unchanged} unchanged; {self.seconds:.1f} s"]
        if self.resumed:
            lines.append(f"  {self.resumed} of them computed by an interrupted run, not computed again")
        lines += [f"  note: {note}" for note in self.notes]
        if self.truncated:
            lines.append(f"  {len(self.truncated)} long file(s) indexed in part:")
            lines += [f"    {rel}: first {seconds / 60:.0f} min" for rel, seconds in self.truncated]
        if self.unreadable:
            lines.append(f"  {len(self.unreadable)} file(s) skipped, unreadable:")
            lines += [f"    {rel}: {reason}" for rel, reason in self.unreadable]
        return "\n".join(lines)

    def as_dict(self) -> dict:
        return {**dataclasses.asdict(self), "library": str(self.library)}


class Index:
    """One generation of one model's index, its arrays memory-mapped read-only."""

    def __init__(self, folder: Path, verify_vectors: bool | None = None):
        """Checked as storage.open_generation says (IndexDamagedError naming a damaged file)."""
        self.folder = Path(folder)
        # paths read now: a concurrent re-index may delete this generation (open maps stay valid)
        self.meta, arrays, self.paths = storage.open_generation(self.folder, verify_vectors)
        self.sizes, self.mtimes = arrays["file_size"], arrays["file_mtime"]
        self.durations, self.first_window = arrays["file_duration"], arrays["file_first_window"]
        self.window_start, self.vectors = arrays["window_start"], arrays["vectors"]

    @property
    def n_files(self) -> int:
        return len(self.first_window)

    def window_range(self, file: int) -> slice:
        end = self.first_window[file + 1] if file + 1 < self.n_files else len(self.window_start)
        return slice(int(self.first_window[file]), int(end))

    def best_per_file(self, window_scores: np.ndarray) -> np.ndarray:
        """Each file's best window score."""
        if self.n_files == 0:
            return np.zeros(0, np.float32)
        return np.maximum.reduceat(window_scores, np.asarray(self.first_window))


def _slug(text: str, limit: int = 40) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in text)[:limit] or "library"


@contextmanager
def _exclusive(lock_path: Path):
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as handle:
        try:
            import fcntl

            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except ImportError:  # not POSIX: no lock
            pass
        except OSError:
            raise IndexBusyError(f"another process is indexing this library with the same model ({lock_path.parent})") from None
        yield


class LibraryIndex:
    """The indexes of one library folder, one per model, under `index_root`."""

    def __init__(self, library: str | Path, index_root: str | Path | None = None, ann_params: AnnParams = ANN):
        self.ann_params = ann_params  # when its embedding indexes get an approximate index, and how
        self.library = Path(library).expanduser().resolve()
        self.root = Path(index_root or default_index_root()).expanduser().resolve()
        if not self.library.is_dir():
            raise LibraryError(f"{library}: no such folder" if not self.library.exists()
                               else f"{library}: not a folder (give the folder that holds your sounds)")
        if inside(self.root, self.library):
            raise LibraryError(f"the index folder {self.root} is inside the library {self.library}: "
                               "an index must live outside the library (use --index-dir)")
        digest = hashlib.sha1(str(self.library).encode()).hexdigest()[:12]
        self.folder = self.root / "libraries" / f"{_slug(self.library.name)}-{digest}"

    def model_folder(self, scorer) -> Path:
        return self.folder / _slug(scorer.key, 120)

    def _current(self, scorer, verify_vectors: bool | None = None) -> Index | None:
        return storage.open_current(self.model_folder(scorer), lambda generation: Index(generation, verify_vectors))

    def indexed_models(self) -> list[dict]:
        """The model records (name, fingerprint, ...) of every index this library has."""
        found = []
        for pointer in sorted(self.folder.glob("*/CURRENT")) if self.folder.is_dir() else []:
            try:
                found.append(json.loads((pointer.parent / storage.read_pointer(pointer.parent) / "meta.json")
                                        .read_text())["model"])
            except (OSError, ValueError, KeyError, TypeError, IndexDamagedError):
                continue  # damaged, or switched by an indexing run: `open` names the problem
        return found

    def open(self, scorer, asked_as: str | None = None) -> Index:
        """The current index for a (component) model; clear errors when there is none, or
        when it was made with other weights."""
        asked_as = asked_as or scorer.name
        command = f"vocalsearch index {self.library} --model {asked_as}"
        try:
            index = self._current(scorer)
        except IndexDamagedError as error:
            raise IndexDamagedError(f"the index of {self.library} for model {scorer.name!r} is damaged: {error}. "
                                    f"Index the library again to rebuild it:\n  {command}", error.path) from None
        if index is None:
            others = [m["name"] for m in self.indexed_models()]
            if not others:
                raise NotIndexedError(f"{self.library} is not indexed yet. Index it first:\n  {command}")
            raise NotIndexedError(f"{self.library} is indexed with model(s) {', '.join(sorted(set(others)))}, "
                                  f"not with {scorer.name!r}. Index it with this model first:\n  {command}")
        if index.meta["model"]["fingerprint"] != scorer.fingerprint:
            raise StaleIndexError(f"{self.library} was indexed with an earlier version of model {scorer.name!r} "
                                  f"(its weights changed since {index.meta['updated']}). Index it again:\n  {command}")
        return index

    def update(self, scorer, windows: WindowParams = WINDOWS,
               progress: Callable[[int, int, str], None] | None = None,
               checkpoint_seconds: float = CHECKPOINT_SECONDS) -> IndexReport:
        """Index new and changed files with every component of `scorer`, drop deleted ones."""
        start = time.perf_counter()
        files = scan(self.library, self.root)
        if not files:
            raise LibraryError(f"{self.library}: no audio files here or below "
                               f"(looked for {' '.join(AUDIO_SUFFIXES)})")
        report = IndexReport(self.library, scorer.name)
        try:
            self._run(scorer, windows, files, report, progress, checkpoint_seconds)
            _remember(self.root, self.library)
        except OSError as error:  # a full disk, a read-only index folder: the last complete index stays
            raise storage.write_error(error, self.folder, self.library, scorer.name) from error
        report.seconds = time.perf_counter() - start
        return report

    def _run(self, scorer, windows, files, report, progress, checkpoint_seconds):
        with ExitStack() as locks:
            for component in scorer.components:  # a fusion shares its components' indexes
                locks.enter_context(_exclusive(self.folder / f"{_slug(component.key, 120)}.lock"))
            self.folder.mkdir(parents=True, exist_ok=True)
            storage.write_atomic(self.folder / "library.json", json.dumps({"library": str(self.library)}) + "\n")
            updates = []
            for component in scorer.components:
                updates.append(_ComponentUpdate(self, component, windows, files, report))
                locks.callback(updates[-1].close)
            todo = [f for f in files if any(u.needs(f) for u in updates)]
            try:
                self._compute(todo, updates, windows, report, progress, checkpoint_seconds)
            finally:  # also on Ctrl-C: keep what is finished
                for update in updates:
                    report.windows = update.commit()
            first = updates[0]
            report.files = len(first.kept_files)
            report.unchanged = len(first.reuse)
            report.resumed = len(first.resumed)
            report.added = sum(1 for rel in [*first.new, *first.resumed] if rel not in first.old_rows)
            report.changed = len(first.new) + len(first.resumed) - report.added
            report.deleted = len(set(first.old_rows) - set(first.kept_files))  # gone, or now unreadable

    def _compute(self, todo, updates, windows, report, progress, checkpoint_seconds):
        targets: dict[int, int] = {}
        for update in updates:
            targets[update.scorer.recording_rate] = max(targets.get(update.scorer.recording_rate, 0),
                                                        update.scorer.recording_samples)
        batch = _Batch(updates)
        last_commit = time.perf_counter()
        for done, file in enumerate(todo, 1):
            path = self.library / file.rel
            try:
                duration = audio_duration(path)
                if duration > windows.seconds:  # several windows: is there audio where the last begins?
                    duration, note = checked_duration(path, duration, windows)
                    if note:
                        report.notes.append(f"{file.rel}: {note}")
                starts, truncated = window_starts(duration, windows)
                for at in range(0, len(starts), BATCH_WINDOWS):
                    clips = read_windows(path, starts[at:at + BATCH_WINDOWS], targets)
                    batch.add(file, clips, last=at + BATCH_WINDOWS >= len(starts))
                if truncated:
                    report.truncated.append((file.rel, float(starts[-1] + windows.seconds)))
                batch.finish_file(file, duration, starts)
            except audio.AudioError as error:
                batch.fail_file(file)
                report.unreadable.append((file.rel, error.problem))
            if progress:
                progress(done, len(todo), file.rel)
            if time.perf_counter() - last_commit > checkpoint_seconds:
                batch.flush()
                for update in updates:
                    update.commit()
                last_commit = time.perf_counter()
        batch.flush()


class _ComponentUpdate:
    """One component model's side of an indexing run: what it reuses, what it computed
    (appended to a spill file), and writing a new generation."""

    def __init__(self, library: LibraryIndex, scorer, windows: WindowParams, files: list[FileStat],
                 report: IndexReport):
        self.library, self.scorer, self.windows, self.files = library, scorer, windows, files
        self.folder = library.model_folder(scorer)
        self.folder.mkdir(parents=True, exist_ok=True)
        try:  # every byte it reuses checked, so damage is never carried into the next generation
            self.old = library._current(scorer, verify_vectors=True)
        except IndexDamagedError as error:
            report.notes.append(f"{scorer.name}: the index was damaged ({error}); re-indexing every file")
            self.old = None
        if self.old is not None and not self._compatible(self.old.meta, report):
            self.old = None
        self.old_rows = {rel: i for i, rel in enumerate(self.old.paths)} if self.old is not None else {}
        self.reuse = {f.rel: self.old_rows[f.rel] for f in files if f.rel in self.old_rows
                      and int(self.old.sizes[self.old_rows[f.rel]]) == f.size
                      and int(self.old.mtimes[self.old_rows[f.rel]]) == f.mtime_ns}
        self.report = report
        header = {"format": INDEX_FORMAT, "fingerprint": scorer.fingerprint, "dim": scorer.dim,
                  "window": dataclasses.asdict(windows)}
        # files an interrupted run computed: rel -> (rows, first row, count, duration, starts)
        self.resumed, self.leftovers = storage.adopt_spills(
            self.folder, header, {f.rel: f for f in files if f.rel not in self.reuse}, scorer.dim)
        self.spill = storage.Spill(self.folder, header)
        self.spill_path = self.spill.path
        self.spill_rows = 0
        self.complete = False  # whether the last generation written holds all that was computed
        self.new: dict[str, tuple[int, float, np.ndarray]] = {}  # rel -> (spill row, duration, starts)
        self.pending_rows: dict[str, int] = {}
        self.kept_files: list[str] = []
        self.generations = sorted(p.name for p in self.folder.glob("gen-*"))
        self.trained_ann: ann.AnnIndex | None = None  # the ANN of this run's last checkpoint

    def _compatible(self, meta: dict, report: IndexReport) -> bool:
        if meta.get("format") != INDEX_FORMAT:
            report.notes.append(f"{self.scorer.name}: index format changed; re-indexing every file")
            return False
        if meta["model"]["fingerprint"] != self.scorer.fingerprint:
            report.notes.append(f"{self.scorer.name}: the model's weights changed since {meta['updated']}; "
                                "re-indexing every file")
            return False
        if meta["window"] != dataclasses.asdict(self.windows):
            report.notes.append(f"{self.scorer.name}: window settings changed; re-indexing every file")
            return False
        return True

    def needs(self, file: FileStat) -> bool:
        return file.rel not in self.reuse and file.rel not in self.resumed

    def write_vectors(self, file: FileStat, vectors: np.ndarray) -> None:
        self.pending_rows.setdefault(file.rel, self.spill_rows)
        self.spill.write(np.ascontiguousarray(vectors, np.float32).tobytes())
        self.spill_rows += len(vectors)

    def finish(self, file: FileStat, duration: float, starts: np.ndarray) -> None:
        if file.rel in self.pending_rows:
            self.new[file.rel] = (self.pending_rows.pop(file.rel), duration, starts.astype(np.float32))
            self.spill.finished(file.rel, file.size, file.mtime_ns, self.new[file.rel][0], duration, starts)
            self.complete = False

    def fail(self, file: FileStat) -> None:
        self.pending_rows.pop(file.rel, None)  # its rows stay in the spill, unused

    def commit(self) -> int:
        """Write a generation of every reused and newly computed file, in library order;
        switch CURRENT to it. Returns its number of windows."""
        self.spill.flush()
        spill = (np.memmap(self.spill_path, np.float32, "r", shape=(self.spill_rows, self.scorer.dim))
                 if self.spill_rows else None)
        sources, paths, sizes, mtimes, durations, starts = [], [], [], [], [], []
        for f in self.files:
            if f.rel in self.reuse:
                i = self.reuse[f.rel]
                rows = self.old.window_range(i)
                sources.append((self.old.vectors, rows.start, rows.stop - rows.start))
                starts.append(np.asarray(self.old.window_start[rows]))
                durations.append(float(self.old.durations[i]))
            elif f.rel in self.new:
                row, duration, file_starts = self.new[f.rel]
                sources.append((spill, row, len(file_starts)))
                starts.append(file_starts)
                durations.append(duration)
            elif f.rel in self.resumed:
                rows_of, row, count, duration, file_starts = self.resumed[f.rel]
                sources.append((rows_of, row, count))
                starts.append(file_starts)
                durations.append(duration)
            else:
                continue
            paths.append(f.rel)
            sizes.append(f.size)
            mtimes.append(f.mtime_ns)
        counts = np.array([s[2] for s in sources], np.int64)
        model = model_record(self.scorer)
        report = {"unreadable": self.report.unreadable, "truncated": self.report.truncated}

        def fill(vectors):
            row = 0
            for source, first, count in _merge_runs(sources):
                vectors[row:row + count] = source[first:first + count]
                row += count

        name = write_generation(self.folder, self.library.library, model, self.windows, self.scorer.dim, paths,
                                sizes, mtimes, durations, starts, counts, fill, report, self._approximate(sources))
        self.generations.append(name)
        self.kept_files = paths
        self.complete = True
        return int(counts.sum())

    def _approximate(self, sources) -> Callable[[Path], dict | None]:
        """What writes a generation's ANN (search/ann.py), when its library is large enough:
        the previous generation's codes carried over, or else the codebooks this run trained
        at its last checkpoint reused (every window encoded again: cheap beside the model)."""
        params = self.library.ann_params

        def build(target: Path) -> dict | None:
            n_windows = sum(count for _, _, count in sources)
            if not ann.wanted(self.scorer, n_windows, params):
                return None
            previous, problem = ann.open_ann(self.old, self.library.library) if self.old is not None else (None, "")
            if problem:
                self.report.notes.append(f"{self.scorer.name}: {problem}")
            carried = _carried_rows(sources, self.old) if previous is not None else None
            previous = previous or self.trained_ann
            record = ann.build(target, self.scorer, previous, carried, params)
            self.trained_ann = ann.AnnIndex(target, record, ann.read(target))
            self.report.notes.append(f"{self.scorer.name}: {ann.describe(record)}")
            return record
        return build

    def close(self) -> None:
        """Without a generation holding all it computed (a write failed), the run's spill and
        journal stay for the next run; with one, they go, and so do the spills it took over
        and the earlier generations (also when the run then stops on an error)."""
        self.spill.close(keep=not self.complete)
        if self.complete:
            for path in self.leftovers:
                path.unlink(missing_ok=True)
            self.drop_old_generations()

    def drop_old_generations(self) -> None:
        """Earlier generations go; a query that still maps one keeps reading it (POSIX)."""
        for name in self.generations[:-1]:
            shutil.rmtree(self.folder / name, ignore_errors=True)


def model_record(scorer) -> dict:
    """What an index records about the model that made it."""
    return {"name": scorer.name, "key": scorer.key, "fingerprint": scorer.fingerprint,
            "description": scorer.description, "trained_on": scorer.trained_on, "synthetic": scorer.synthetic}


def write_generation(folder: Path, library: Path, model: dict, windows: WindowParams, dim: int,
                     paths: list[str], sizes, mtimes, durations, starts: list[np.ndarray], counts: np.ndarray,
                     fill: Callable[[np.ndarray], None], report: dict | None = None,
                     approximate: Callable[[Path], dict | None] | None = None) -> str:
    """Write the next generation of a model's index in `folder` and point CURRENT at it.
    `fill(vectors)` writes the (windows, dim) float32 rows into the new memory map, in file
    order (`counts[i]` rows for file i, whose window starts are `starts[i]`);
    `approximate(generation folder)` then writes its ANN files, if any, and returns their record."""
    numbers = [int(p.name.split("-")[1]) for p in folder.glob("gen-*")]
    name = f"gen-{max(numbers, default=-1) + 1:06d}"
    target = folder / name
    target.mkdir(parents=True)
    try:
        n_windows = int(np.sum(counts))
        vectors = np.lib.format.open_memmap(target / "vectors.npy", "w+", np.float32, (n_windows, dim))
        storage.reserve(target / "vectors.npy")
        fill(vectors)
        vectors.flush()
        del vectors
        np.save(target / "window_start.npy", np.concatenate(starts).astype(np.float32) if len(starts) else np.zeros(0, np.float32))
        first_window = np.concatenate([[0], np.cumsum(counts)[:-1]]) if len(counts) else np.zeros(0)
        np.save(target / "file_first_window.npy", first_window.astype(np.int64))
        np.save(target / "file_size.npy", np.asarray(sizes, np.int64))
        np.save(target / "file_mtime.npy", np.asarray(mtimes, np.int64))
        np.save(target / "file_duration.npy", np.asarray(durations, np.float64))
        (target / "paths.json").write_text(json.dumps(paths))
        ann_record = approximate(target) if approximate is not None else None
        meta = {"format": INDEX_FORMAT, "library": str(library), "model": model, "window": dataclasses.asdict(windows),
                "dim": dim, "files": len(paths), "windows": n_windows, "updated": time.strftime("%Y-%m-%d %H:%M:%S"),
                "package_version": __version__, **(report or {"unreadable": [], "truncated": []}), "ann": ann_record,
                "checksums": storage.checksums(target)}
        (target / "meta.json").write_text(json.dumps(meta, indent=1) + "\n")
        storage.write_atomic(folder / "CURRENT", name + "\n")
    except BaseException:  # a full disk, an interrupt: the half-written generation goes, CURRENT stays
        shutil.rmtree(target, ignore_errors=True)
        raise
    return name


def _carried_rows(sources, old: Index) -> np.ndarray:
    """For each window row of the `old` generation, its row in the new one (-1: not kept)."""
    carried = np.full(len(old.window_start), -1, np.int64)
    row = 0
    for source, first, count in sources:
        if source is old.vectors:
            carried[first:first + count] = np.arange(row, row + count)
        row += count
    return carried


def _merge_runs(sources):
    """Adjacent (array, first, count) runs that continue each other, merged into one copy."""
    merged = []
    for source, first, count in sources:
        if merged and merged[-1][0] is source and merged[-1][1] + merged[-1][2] == first:
            merged[-1][2] += count
        else:
            merged.append([source, first, count])
    return merged


class _Batch:
    """Collects windows across files so each model runs on full batches."""

    def __init__(self, updates: list[_ComponentUpdate]):
        self.updates = updates
        self.items: list[tuple[FileStat, dict[int, np.ndarray]]] = []
        self.size = 0
        self.finished: list[tuple[FileStat, float, np.ndarray]] = []

    def add(self, file: FileStat, clips: dict[int, np.ndarray], last: bool) -> None:
        self.items.append((file, clips))
        self.size += len(next(iter(clips.values())))
        if self.size >= BATCH_WINDOWS:
            self.flush()

    def finish_file(self, file: FileStat, duration: float, starts: np.ndarray) -> None:
        self.finished.append((file, duration, starts))

    def fail_file(self, file: FileStat) -> None:
        self.flush()
        self.finished = [item for item in self.finished if item[0] != file]
        for update in self.updates:
            update.fail(file)

    def flush(self) -> None:
        if self.items:
            for update in self.updates:
                wanted = [(f, clips) for f, clips in self.items if update.needs(f)]
                if not wanted:
                    continue
                rate, length = update.scorer.recording_rate, update.scorer.recording_samples
                windows = np.concatenate([clips[rate][:, :length] for _, clips in wanted])
                vectors = update.scorer.candidate_vectors(windows)
                row = 0
                for f, clips in wanted:
                    n = len(clips[rate])
                    update.write_vectors(f, vectors[row:row + n])
                    row += n
            self.items, self.size = [], 0
        for file, duration, starts in self.finished:
            for update in self.updates:
                if update.needs(file):
                    update.finish(file, duration, starts)
        self.finished = []


def _remember(index_root: Path, library: Path) -> None:
    """The library indexed last: `vocalsearch query` searches it when given no --library."""
    storage.write_atomic(index_root / "state.json", json.dumps({"last_library": str(library)}) + "\n")


def last_library(index_root: str | Path | None = None) -> Path | None:
    state = Path(index_root or default_index_root()).expanduser() / "state.json"
    try:
        return Path(json.loads(state.read_text())["last_library"])
    except (OSError, ValueError, KeyError, TypeError):  # none yet, or damaged: as if none
        return None


def known_libraries(index_root: str | Path | None = None) -> list[Path]:
    """Every library folder that has an index under `index_root`."""
    root = Path(index_root or default_index_root()).expanduser() / "libraries"
    found = []
    for record in sorted(root.glob("*/library.json")) if root.is_dir() else []:
        try:
            found.append(Path(json.loads(record.read_text())["library"]))
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return found
