"""The library index under load, faults and bad input (issue 26, part 4), with the shipped
IMINET (the cheapest model `vocalsearch models` lists) on short generated sounds:

- searches from threads, from the page's search function and from command-line processes,
  while indexing runs switch generations: each answer is exactly one generation's;
- indexing processes killed with SIGKILL at random points: searches keep the last complete
  generation, and the next run computes only what the killed ones had not finished;
- damaged index files: a message naming the file and the command that rebuilds it, which does;
- a full disk (a real small tmpfs where this machine may mount one, and ENOSPC injected at
  each write), a read-only library and a read-only index folder: clear messages, nothing lost;
- thousands of good sounds among broken, truncated, mislabelled, lying and empty files and a
  named pipe: indexing finishes and its report lists each problem file.
"""

import errno
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from tests.search_fault_files import (RATE, broken_files, encoded, mutated_files, read_only, small_filesystem, tone,
                                      write_sounds)
from vocalsearch_tf.search import cli, engine, storage
from vocalsearch_tf.search.config import IndexWriteError
from vocalsearch_tf.search.index import BATCH_WINDOWS, LibraryIndex, read_windows, window_starts
from vocalsearch_tf.search.models import iminet_members, resolve

# one model of the shipped IMINET: these tests are about one index (an ensemble has one per member)
MODEL = str(iminet_members()[0])

# one process's searches through the command line's entry point (what `vocalsearch` runs),
# repeated, each printed as one JSON line; it loads the model, says so (a file), and starts
# when the test says go (a file): the searches, not the imports, overlap the indexing runs
QUERY_WORKER = r"""
import contextlib, io, json, pathlib, sys, time
from vocalsearch_tf.search import cli
from vocalsearch_tf.search.models import resolve
args, repeat, ready, go = json.loads(sys.argv[1]), int(sys.argv[2]), *map(pathlib.Path, sys.argv[3:5])
resolve(args[args.index("--model") + 1])
ready.touch()
deadline = time.monotonic() + 120
while not go.exists() and time.monotonic() < deadline:
    time.sleep(0.01)
for _ in range(repeat):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(args)
    print(json.dumps({"code": code, "out": out.getvalue(), "err": err.getvalue()}), flush=True)
"""
SUBPROCESS_ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}


@pytest.fixture(scope="module")
def iminet():
    return resolve(MODEL)


@pytest.fixture(scope="module")
def imitation(tmp_path_factory):
    path = tmp_path_factory.mktemp("imitation") / "hum.wav"
    path.write_bytes(encoded(tone(523.0, 1.5, seed=99)))
    return path


def answer(hits, sounds: int, windows: int) -> dict:
    return {"sounds": sounds, "windows": windows, "scores": {h["file"]: h["score"] for h in hits}}


def search_answer(imitation, library, root, scorer) -> dict:
    result = engine.search(imitation, LibraryIndex(library, root), scorer, top=100)
    return answer([{"file": h.file, "score": h.score} for h in result.hits], result.sounds, result.windows)


def generation_of(got: dict, generations: dict[str, dict], rtol: float = 1e-4) -> str | None:
    """Which generation's answer `got` is (its counts, and each file it lists with that
    generation's score), or None: a mix, or wrong. `got` without "windows": not compared."""
    for name, expected in generations.items():
        if got["sounds"] == expected["sounds"] and got.get("windows", expected["windows"]) == expected["windows"] \
                and set(got["scores"]) <= set(expected["scores"]) \
                and all(np.isclose(s, expected["scores"][f], rtol=rtol, atol=1e-6) for f, s in got["scores"].items()):
            return name
    return None


def test_searches_during_index_updates_each_answer_from_one_generation(tmp_path, iminet, imitation):
    """Indexing runs alternate the library between two states (A: 60 sounds; B: 4 more, near
    the imitation's pitch) and switch CURRENT about every tenth of a second, while 3 threads
    search with the engine, 1 thread with the page's search function (what its Search button
    calls: the page's own queue would run its searches one at a time), and 2 processes with
    the command line (one naming the library, one using the library indexed last)."""
    pytest.importorskip("gradio", reason="the page needs the `app` extra")
    from vocalsearch_tf.search.app import SearchPage

    library, root = tmp_path / "library", tmp_path / "index"
    write_sounds(library, 60)
    extras = {f"near_{k}.wav": encoded(tone(523.0 * (1 + 0.01 * k), 0.3, seed=500 + k)) for k in range(4)}
    target = LibraryIndex(library, root)
    meta_windows = {}

    def switch(to_b: bool):
        for name, data in extras.items():
            if to_b:
                (library / name).write_bytes(data)
            else:
                (library / name).unlink(missing_ok=True)
        target.update(iminet)
        meta_windows[to_b] = (target.open(iminet).meta["files"], target.open(iminet).meta["windows"])

    switch(True)
    expected = {"B": search_answer(imitation, library, root, iminet)}
    switch(False)
    expected["A"] = search_answer(imitation, library, root, iminet)
    assert (expected["A"]["sounds"], expected["B"]["sounds"]) == (60, 64) == (meta_windows[False][0], meta_windows[True][0])
    assert (expected["A"]["windows"], expected["B"]["windows"]) == (meta_windows[False][1], meta_windows[True][1])

    stop, failures, switches = threading.Event(), [], [0]

    def updater():
        try:
            while not stop.is_set():
                switch(switches[0] % 2 == 0)
                switches[0] += 1
        except Exception as error:  # noqa: BLE001 (reported by the test)
            failures.append(f"indexing: {error!r}")

    common = ["query", str(imitation), "--index-dir", str(root), "--model", MODEL, "--top", "100", "--json"]
    go = tmp_path / "go"
    workers = [subprocess.Popen([sys.executable, "-c", QUERY_WORKER, json.dumps(args), "6", str(tmp_path / f"ready{k}"),
                                 str(go)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=SUBPROCESS_ENV)
               for k, args in enumerate([common + ["--library", str(library)], common])]
    seen: dict[str, list] = {"engine": [], "page": [], "command line": []}

    def engine_searches():
        while not stop.is_set() and len(seen["engine"]) < 150 and len(failures) < 20:
            try:
                seen["engine"].append(search_answer(imitation, library, root, iminet))
            except Exception as error:  # noqa: BLE001
                failures.append(f"engine: {error!r}")

    page = SearchPage(index_root=root)

    def page_searches():
        while not stop.is_set() and len(seen["page"]) < 6 and len(failures) < 20:
            status, shown = page.search(str(imitation), str(library), MODEL)
            counted = re.search(r"Top \d+ of (\d+) sounds", status)
            if counted is None:
                failures.append(f"page: {status}")
                continue
            hits = [re.search(r"<code>(.*?)</code> — score (\S+)", title).groups() for title in shown.titles]
            seen["page"].append({"sounds": int(counted.group(1)), "scores": {f: float(s) for f, s in hits},
                                 "shown": [float(s) for _, s in hits]})

    threads = [threading.Thread(target=updater)] + [threading.Thread(target=engine_searches) for _ in range(3)]
    threads.append(threading.Thread(target=page_searches))
    try:
        deadline = time.monotonic() + 180
        while not all((tmp_path / f"ready{k}").exists() for k in range(2)) and time.monotonic() < deadline:
            for worker in workers:
                assert worker.poll() is None, f"a search process ended before searching: {worker.stderr.read()[-2000:]}"
            time.sleep(0.05)
        for thread in threads:
            thread.start()
        go.touch()
        outputs = [worker.communicate(timeout=240) for worker in workers]
    finally:
        switches_during = switches[0]
        stop.set()
        for worker in workers:
            worker.kill()
        for thread in threads:
            thread.join(timeout=120)
        page.cleanup()
    assert not failures, failures[:5]
    for worker, (out, err) in zip(workers, outputs):
        assert worker.returncode == 0, err[-2000:]
        for line in out.splitlines():
            record = json.loads(line)
            assert record["code"] == 0 and "Traceback" not in record["err"], record["err"]
            result = json.loads(record["out"])
            seen["command line"].append(answer(result["hits"], result["sounds"], result["windows"]))
    assert switches_during >= 4, "the indexing runs did not overlap the searches"
    assert len(seen["command line"]) == 12 and len(seen["page"]) >= 1 and len(seen["engine"]) >= 10
    generations = {"engine": [], "page": [], "command line": []}
    for source, answers in seen.items():
        for got in answers:  # the page shows 20 scores to 4 significant digits, best first
            name = generation_of(got, expected, rtol=1e-3 if source == "page" else 1e-4)
            assert name is not None, f"{source}: an answer from no single generation: {got}"
            if source == "page":
                assert got["shown"] == sorted(got["shown"], reverse=True) and len(got["shown"]) == 20
            generations[source].append(name)
    assert set(generations["engine"]) == {"A", "B"}, "the engine's searches never met a switch of generation"
    print(f"\n{switches_during} generations written during the searches; answers by generation: "
          + ", ".join(f"{s}: {g.count('A')} A, {g.count('B')} B" for s, g in generations.items()))


def run_killed(command: list[str], kill_after_files: int, timeout: float = 180) -> int:
    """Starts `command` (an indexing run printing a tqdm bar), kills it with SIGKILL once its
    bar shows `kill_after_files` files done; returns the last count the bar showed."""
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=SUBPROCESS_ENV)
    chunks: list[bytes] = []
    reader = threading.Thread(target=lambda: chunks.extend(iter(lambda: process.stderr.read1(4096), b"")))
    reader.start()
    deadline, done = time.monotonic() + timeout, 0
    try:
        while time.monotonic() < deadline and process.poll() is None:
            counts = re.findall(rb"(\d+)/\d+ \[", b"".join(chunks))
            done = int(counts[-1]) if counts else 0
            if done >= kill_after_files:
                process.send_signal(signal.SIGKILL)
                break
            time.sleep(0.02)
    finally:
        process.kill()
        process.wait(timeout=30)
        reader.join(timeout=30)
    assert process.returncode == -signal.SIGKILL, b"".join(chunks)[-3000:].decode(errors="replace")
    return done


def library_with_index(tmp_path: Path, iminet, count: int) -> tuple[Path, Path, LibraryIndex]:
    """A library of `count` generated sounds and its index (under tmp_path), made with `iminet`."""
    library, root = tmp_path / "library", tmp_path / "index"
    write_sounds(library, count)
    target = LibraryIndex(library, root)
    target.update(iminet)
    return library, root, target


def test_index_runs_killed_at_random_points_lose_nothing_finished(tmp_path, iminet, imitation):
    """Three `vocalsearch index` processes, each SIGKILLed after a seeded random number of
    files, then a run that finishes: it computes only the files no killed run had journalled
    (each kill loses at most the batch in flight), and every row of its index holds its own
    file's vectors."""
    library, root, target = library_with_index(tmp_path, iminet, 20)
    first_generation = target.open(iminet).folder.name
    new = write_sounds(library, 600, first=20)
    rng = np.random.default_rng(26)
    command = [sys.executable, "-m", "vocalsearch_tf.search.cli", "index", str(library), "--index-dir", str(root),
               "--model", MODEL]
    shown_done = []
    for kill_after in rng.integers(60, 160, size=3):
        shown_done.append(run_killed(command, int(kill_after)))
        current = target.open(iminet)  # the last complete generation, still whole
        assert current.folder.name == first_generation and current.n_files == 20
        assert engine.search(imitation, target, iminet, top=5).sounds == 20
    computed = []
    report = target.update(iminet, progress=lambda done, total, name: computed.append(name))
    assert report.files == 620 and report.added == 600 and report.unchanged == 20
    assert len(computed) + report.resumed == 600 and set(computed) <= set(new)
    assert report.resumed >= sum(shown_done) - 3 * BATCH_WINDOWS, (report.resumed, shown_done)
    assert not list(target.model_folder(iminet).glob("spill-*")), "the killed runs' spills were not removed"
    index = target.open(iminet)  # every row the right file's: sampled files' vectors computed afresh
    assert index.paths == sorted(p.name for p in library.iterdir()) and len(index.vectors) == 620
    for file in rng.choice(620, size=40, replace=False):
        clip = read_windows(library / index.paths[file], np.zeros(1), {RATE: iminet.recording_samples})[RATE]
        np.testing.assert_allclose(index.vectors[index.window_range(file)], iminet.candidate_vectors(clip),
                                   rtol=1e-4, atol=1e-4, err_msg=index.paths[file])  # oneDNN: batch-dependent rounding
    print(f"\nkilled after {shown_done} files shown done; the last run took {report.resumed} from their "
          f"journals and computed {len(computed)}")


@pytest.fixture(scope="module")
def indexed_library(tmp_path_factory, iminet, imitation):
    """A small library indexed once (the pristine index to copy), and its search answer."""
    base = tmp_path_factory.mktemp("damage")
    library = base / "library"
    write_sounds(library, 12)
    LibraryIndex(library, base / "pristine").update(iminet)
    return library, base / "pristine", search_answer(imitation, library, base / "pristine", iminet)


def _flip(path: Path, at: int | None = None) -> None:
    """One bit changed at byte `at` (default: the middle, past an .npy header)."""
    data = bytearray(path.read_bytes())
    data[len(data) // 2 if at is None else at] ^= 0x10
    path.write_bytes(bytes(data))


def _cut(path: Path, fraction: float = 0.5) -> None:
    path.write_bytes(path.read_bytes()[: int(path.stat().st_size * fraction)])


DAMAGES = {  # what is done to the index, and the file the message must name
    "vectors.npy cut in half": (lambda gen, model: _cut(gen / "vectors.npy"), "vectors.npy"),
    "vectors.npy one byte flipped": (lambda gen, model: _flip(gen / "vectors.npy"), "vectors.npy"),
    "vectors.npy header overwritten": (lambda gen, model: (gen / "vectors.npy").write_bytes(
        b"garbage!" * 2 + (gen / "vectors.npy").read_bytes()[16:]), "vectors.npy"),
    "meta.json cut": (lambda gen, model: _cut(gen / "meta.json"), "meta.json"),
    "meta.json not JSON": (lambda gen, model: (gen / "meta.json").write_bytes(b"\x00\x01 not json"), "meta.json"),
    "paths.json one byte flipped": (lambda gen, model: _flip(gen / "paths.json", 5), "paths.json"),
    "file_first_window.npy one byte flipped": (lambda gen, model: _flip(gen / "file_first_window.npy", -8),
                                               "file_first_window.npy"),
    "window_start.npy cut": (lambda gen, model: _cut(gen / "window_start.npy", 0.9), "window_start.npy"),
    "file_duration.npy deleted": (lambda gen, model: (gen / "file_duration.npy").unlink(), "file_duration.npy"),
    "CURRENT garbage": (lambda gen, model: (model / "CURRENT").write_bytes(b"\xff\xfe garbage"), "CURRENT"),
    "CURRENT empty": (lambda gen, model: (model / "CURRENT").write_text(""), "CURRENT"),
    "CURRENT names a missing generation": (lambda gen, model: (model / "CURRENT").write_text("gen-000099\n"),
                                           "CURRENT"),
    "generation folder deleted": (lambda gen, model: shutil.rmtree(gen), "CURRENT"),
}


@pytest.mark.parametrize("damage", sorted(DAMAGES))
def test_a_damaged_index_names_the_file_and_indexing_again_rebuilds_it(indexed_library, tmp_path, iminet, imitation,
                                                                        capsys, damage):
    library, pristine, before = indexed_library
    root = tmp_path / "index"
    shutil.copytree(pristine, root)
    model_folder = LibraryIndex(library, root).model_folder(iminet)
    hurt, named = DAMAGES[damage]
    hurt(model_folder / (model_folder / "CURRENT").read_text().strip(), model_folder)
    query = ["query", str(imitation), "--library", str(library), "--index-dir", str(root), "--model", MODEL,
             "--top", "100"]
    assert cli.main(query + ["--json"]) == 1
    out, err = capsys.readouterr()
    message = json.loads(out)["error"]
    assert "damaged" in message and named in message and f"vocalsearch index {library}" in message, message
    assert "Traceback" not in err
    assert cli.main(["index", str(library), "--index-dir", str(root), "--model", MODEL]) == 0
    out, _ = capsys.readouterr()
    assert "12 sounds indexed" in out and "damaged" in out and "re-indexing every file" in out
    assert cli.main(query + ["--json"]) == 0
    result = json.loads(capsys.readouterr()[0])
    assert generation_of(answer(result["hits"], result["sounds"], result["windows"]), {"pristine": before})
    assert len(list(model_folder.glob("gen-*"))) == 1


def test_damage_in_vectors_too_large_to_check_per_query_is_not_carried_into_the_next_generation(
        indexed_library, tmp_path, iminet, imitation, monkeypatch):
    """Above storage.VERIFY_VECTORS_BYTES a query checks vectors.npy's size only; the next
    indexing run checks every byte it would reuse, and rebuilds a damaged generation."""
    library, pristine, before = indexed_library
    root = tmp_path / "index"
    shutil.copytree(pristine, root)
    monkeypatch.setattr(storage, "VERIFY_VECTORS_BYTES", 0)
    target = LibraryIndex(library, root)
    _flip(target.open(iminet).folder / "vectors.npy")
    report = target.update(iminet)
    assert any("vectors.npy" in note and "corrupted" in note for note in report.notes), report.notes
    assert report.unchanged == 0 and report.files == 12
    assert generation_of(search_answer(imitation, library, root, iminet), {"pristine": before})


def full_disk(path="") -> OSError:
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))


def inject_full_disk(monkeypatch, where: str) -> None:
    """ENOSPC raised at one of the indexer's writes, as a full disk raises it there."""
    if where == "spill":  # at the 70th file's vectors: the first batch's 64 are journalled
        calls, write = [0], storage.Spill.write

        def failing_write(self, data):
            calls[0] += 1
            if calls[0] >= 70:
                raise full_disk(self.path)
            write(self, data)
        monkeypatch.setattr(storage.Spill, "write", failing_write)
    elif where == "vectors.npy":  # reserving its blocks

        def failing_fallocate(fd, offset, size):
            raise full_disk()
        monkeypatch.setattr(os, "posix_fallocate", failing_fallocate)
    elif where == "window_start.npy":
        save = np.save

        def failing_save(file, *args, **kwargs):
            if Path(file).name == where:
                raise full_disk(file)
            save(file, *args, **kwargs)
        monkeypatch.setattr(np, "save", failing_save)
    else:  # meta.json, or CURRENT (written beside as .CURRENT.<pid>.part, then renamed)
        write_text = Path.write_text

        def failing_write_text(self, *args, **kwargs):
            if self.name.lstrip(".").startswith(where):
                raise full_disk(self)
            return write_text(self, *args, **kwargs)
        monkeypatch.setattr(Path, "write_text", failing_write_text)


def index_from_command_line(library: Path, root: Path, capsys) -> tuple[int, str]:
    """`vocalsearch index LIBRARY --model iminet`: its exit status and what it printed to stderr."""
    code = cli.main(["index", str(library), "--index-dir", str(root), "--model", MODEL])
    return code, capsys.readouterr().err


@pytest.mark.parametrize("where", ["spill", "vectors.npy", "window_start.npy", "meta.json", "CURRENT"])
def test_a_full_disk_at_any_write_keeps_the_last_index_and_the_next_run_finishes(tmp_path, iminet, imitation,
                                                                                 monkeypatch, capsys, where):
    library, root, target = library_with_index(tmp_path, iminet, 20)
    before = search_answer(imitation, library, root, iminet)
    write_sounds(library, 100, first=20)
    with monkeypatch.context() as patch:
        inject_full_disk(patch, where)
        code, err = index_from_command_line(library, root, capsys)
    assert code == 1 and "Traceback" not in err
    assert "No space left on device" in err and str(target.folder) in err and f"vocalsearch index {library}" in err
    current = target.open(iminet)  # whole, and no half-written generation beside it
    assert [p.name for p in target.model_folder(iminet).glob("gen-*")] == [current.folder.name]
    if where == "spill":  # the run stopped computing, and committed the files it had finished
        finished = current.n_files - 20
        assert 0 < finished < 100
    else:  # every file was computed, then writing the generation failed: the last one answers
        finished = 100
        assert generation_of(search_answer(imitation, library, root, iminet), {"before": before})
    computed = []
    report = target.update(iminet, progress=lambda done, total, name: computed.append(name))
    assert report.files == 120 and report.unchanged + report.resumed == 20 + finished
    assert len(computed) == 100 - finished, len(computed)


def test_a_small_filesystem_filling_up_fails_cleanly_and_the_next_run_finishes(tmp_path, iminet, imitation):
    """A real 1 MiB tmpfs as the index folder: the spill fits, the new generation does not.
    Written into a memory map, a full tmpfs kills the process (SIGBUS): run in a subprocess."""
    library = tmp_path / "library"
    write_sounds(library, 100)
    with small_filesystem(tmp_path / "small", "1m") as resize:
        if not resize:
            pytest.skip("mounting a tmpfs needs root with mount rights (CAP_SYS_ADMIN); the injected "
                        "ENOSPC tests cover the writes")
        root = tmp_path / "small" / "index"
        target = LibraryIndex(library, root)
        target.update(iminet)
        write_sounds(library, 300, first=100)
        done = subprocess.run([sys.executable, "-m", "vocalsearch_tf.search.cli", "index", str(library),
                               "--index-dir", str(root), "--model", MODEL],
                              capture_output=True, text=True, timeout=240, env=SUBPROCESS_ENV)
        assert done.returncode == 1, f"exit status {done.returncode}: {done.stderr[-3000:]}"
        assert "No space left on device" in done.stderr and "Traceback" not in done.stderr
        assert engine.search(imitation, target, iminet, top=5).sounds == 100
        assert resize("8m")
        computed = []
        report = target.update(iminet, progress=lambda done, total, name: computed.append(name))
        assert report.files == 400 and report.resumed == 300 and computed == []


def snapshot(folder: Path) -> dict:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(folder.rglob("*"))}


def test_a_library_on_a_read_only_medium_is_indexed_and_searched(tmp_path, iminet, imitation, monkeypatch):
    library = tmp_path / "library"
    write_sounds(library, 15)
    before = snapshot(library)
    with read_only(library, monkeypatch) as how:
        target = LibraryIndex(library, tmp_path / "index")
        report = target.update(iminet)
        assert report.files == 15 and not report.unreadable, how
        assert engine.search(imitation, target, iminet, top=3).sounds == 15
    assert snapshot(library) == before
    print(f"\nread-only library: {how}")


def test_a_read_only_index_folder_still_answers_and_indexing_says_what_to_do(tmp_path, iminet, imitation,
                                                                             monkeypatch, capsys):
    library, root, target = library_with_index(tmp_path, iminet, 15)
    expected = search_answer(imitation, library, root, iminet)
    write_sounds(library, 5, first=15)
    with read_only(root, monkeypatch) as how:
        assert generation_of(search_answer(imitation, library, root, iminet), {"before": expected}), how
        code, err = index_from_command_line(library, root, capsys)
        assert code == 1 and "Traceback" not in err, err
        refused = "Read-only file system" in err or (os.geteuid() != 0 and "Permission denied" in err)
        assert refused and "--index-dir" in err and str(target.folder) in err, (how, err)
    with pytest.raises(IndexWriteError):
        with read_only(root, monkeypatch):
            target.update(iminet)
    assert target.update(iminet).files == 20


def test_a_header_claiming_ages_gives_the_bounded_window_list_of_its_first_hour():
    starts, truncated = window_starts(1e13)  # 5e12 windows: never built
    assert truncated and len(starts) == 1800 and starts[-1] == 1799 * 2.0


def test_thousands_of_sounds_among_broken_files_are_indexed_and_every_problem_file_listed(tmp_path, iminet,
                                                                                          imitation):
    rng = np.random.default_rng(4)
    library = tmp_path / "library"
    good = [f"good/{folder:02d}/{name}" for folder in range(20)
            for name in write_sounds(library / "good" / f"{folder:02d}", 100, first=100 * folder, seconds=0.25)]
    broken = broken_files(rng)
    for name, (data, _) in broken.items():
        (library / "bad" / name).parent.mkdir(parents=True, exist_ok=True)
        (library / "bad" / name).write_bytes(data)
    mutated = mutated_files(rng, 60)
    for name, data in mutated.items():
        (library / "bad" / name).write_bytes(data)
    os.mkfifo(library / "bad" / "a named pipe.wav")
    outcome: dict = {}
    worker = threading.Thread(target=lambda: outcome.update(report=LibraryIndex(library, tmp_path / "index")
                                                            .update(iminet)), daemon=True)
    started = time.perf_counter()
    worker.start()
    worker.join(timeout=300)
    if worker.is_alive():  # stuck, e.g. opening the pipe: open its other end so the thread ends
        os.close(os.open(library / "bad" / "a named pipe.wav", os.O_WRONLY | os.O_NONBLOCK))
        pytest.fail("indexing did not finish within 300 s")
    report = outcome["report"]
    index = LibraryIndex(library, tmp_path / "index").open(iminet)
    unreadable = dict(report.unreadable)
    printed = str(report)
    for name, (_, expected) in broken.items():
        rel = f"bad/{name}"
        if expected == "unreadable":
            assert rel in unreadable and f"{rel}: {unreadable[rel]}" in printed, (name, rel in index.paths)
        else:
            assert rel in index.paths, (name, unreadable.get(rel))
    assert "not a regular file" in unreadable["bad/a named pipe.wav"]
    assert "its header claims" in unreadable["bad/claims 50 days.flac"]
    assert any(note.startswith("bad/claims 2 years.mp3: its header claims") for note in report.notes), report.notes
    assert float(index.durations[index.paths.index("bad/claims 2 years.mp3")]) < 1.0
    every = set(good) | {f"bad/{n}" for n in [*broken, *mutated, "a named pipe.wav"]}
    assert set(index.paths) | set(unreadable) == every and not set(index.paths) & set(unreadable)
    assert set(good) <= set(index.paths) and index.vectors.shape[0] < len(index.paths) + 100
    assert engine.search(imitation, LibraryIndex(library, tmp_path / "index"), iminet, top=3).sounds == len(index.paths)
    print(f"\n{len(index.paths)} files indexed, {len(unreadable)} listed unreadable, "
          f"{sum(n.startswith('bad/') for n in report.notes)} shortened; {time.perf_counter() - started:.1f} s")
