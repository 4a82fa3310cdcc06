"""The `vocalsearch` command line.

    vocalsearch index DIR [--model NAME|PATH]          index (or update the index of) a folder of sounds
    vocalsearch query IMITATION [IMITATION ...] [--library DIR] [--top 10] [--model NAME|PATH] [--json]
    vocalsearch evaluate DIR IMITATIONS.csv [--model NAME|PATH] [--json]   MRR, recall@k on your own imitations
    vocalsearch models                                 the models it can use
    vocalsearch app [--library DIR ...] [--host ADDR]  the web page (needs the `app` extra); beyond
                                                       127.0.0.1 it needs a password and --library

Indexes live under ~/.cache/vocalsearch (or --index-dir, or $VOCALSEARCH_INDEX_DIR); nothing
is written into the library folder. Exit status: 0 done, 1 a problem the message explains,
2 a usage error.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from vocalsearch_tf.search.serving import APP_DESCRIPTION, add_serving_arguments  # noqa: E402

DEFAULT_RESULTS = "results"


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _results_dir(args) -> Path | None:
    folder = Path(args.results_dir or os.environ.get("VOCALSEARCH_RESULTS_DIR", DEFAULT_RESULTS)).expanduser()
    return folder if folder.is_dir() else None


def _common(parser: argparse.ArgumentParser, model: bool = True) -> None:
    if model:
        parser.add_argument("--model", default="default",
                            help="'default' (the shipped model that measured best on real recordings), 'iminet', 'imisound', 'fusion', "
                                 "a name from `vocalsearch models`, a .keras / IMISOUND .npz path, or A+B to fuse")
    parser.add_argument("--index-dir", default=None,
                        help="where indexes live (default $VOCALSEARCH_INDEX_DIR or ~/.cache/vocalsearch)")
    parser.add_argument("--results-dir", default=None,
                        help="where trained models are looked for (default ./results or $VOCALSEARCH_RESULTS_DIR)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vocalsearch", description="Search your own sounds by vocal imitation.")
    commands = parser.add_subparsers(dest="command", required=True)
    index = commands.add_parser("index", help="index a folder of sounds (only new or changed files are computed)")
    index.add_argument("library", help="the folder of sounds (WAV, FLAC, OGG, MP3; searched recursively)")
    index.add_argument("--json", action="store_true", help="print the report as JSON")
    _common(index)
    query = commands.add_parser("query", help="rank the library's sounds for recorded imitations")
    query.add_argument("imitations", nargs="+", metavar="imitation",
                       help="audio files of your vocal imitations (one model load for all)")
    query.add_argument("--library", default=None, help="the indexed folder (default: the one indexed last)")
    query.add_argument("--top", type=int, default=10, help="how many sounds to list (default 10)")
    query.add_argument("--json", action="store_true",
                       help="print the results as JSON (a list, one object per imitation, when several)")
    _common(query)
    evaluate = commands.add_parser("evaluate", help="MRR and recall@k of a model on your own labelled imitations")
    evaluate.add_argument("library", help="the indexed folder of sounds")
    evaluate.add_argument("imitations_csv", metavar="IMITATIONS.csv",
                          help="columns imitation (relative to the CSV) and target (relative to the library)")
    evaluate.add_argument("--json", action="store_true", help="print the measures and every rank as JSON")
    _common(evaluate)
    models = commands.add_parser("models", help="list the models a library can be searched with")
    models.add_argument("--json", action="store_true")
    _common(models, model=False)
    app = commands.add_parser("app", help="serve the search page (needs: pip install 'vocalsearch_tf[app]')",
                              description=APP_DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_serving_arguments(app)
    _common(app, model=False)
    return parser


def run_index(args) -> int:
    from tqdm.auto import tqdm

    from vocalsearch_tf.search.index import LibraryIndex
    from vocalsearch_tf.search.models import resolve

    library = LibraryIndex(args.library, args.index_dir)
    scorer = resolve(args.model, _results_dir(args), library.root, _log)
    _log(f"model {scorer.label()}")
    bar = None

    def progress(done, total, name):
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, desc="indexing", unit="file", file=sys.stderr)
        bar.update(1)

    try:
        report = library.update(scorer, progress=progress)
    finally:
        if bar is not None:
            bar.close()
    print(json.dumps(report.as_dict(), indent=2) if args.json else str(report))
    return 0


def run_query(args) -> int:
    from vocalsearch_tf.search import engine
    from vocalsearch_tf.search.config import SearchError
    from vocalsearch_tf.search.index import LibraryIndex, last_library
    from vocalsearch_tf.search.models import resolve
    from vocalsearch_tf.signal.audio import AudioError

    folder = args.library or last_library(args.index_dir)
    if folder is None:
        raise SearchError("no library given and none indexed yet: run `vocalsearch index DIR` first, "
                          "or pass --library DIR")
    library = LibraryIndex(folder, args.index_dir)
    scorer = resolve(args.model, _results_dir(args), library.root, _log)
    indexes = engine.open_indexes(library, scorer)
    results = []  # a SearchResult, or the error that stopped one imitation's search
    for imitation in args.imitations:
        try:
            results.append(engine.search(imitation, library, scorer, args.top, indexes=indexes))
        except (SearchError, AudioError) as error:
            if len(args.imitations) == 1:
                raise
            _log(f"vocalsearch: error: {error}")
            results.append(error)
    if args.json:
        objects = [r.as_dict() if isinstance(r, engine.SearchResult) else {"query": q, "error": str(r)}
                   for q, r in zip(args.imitations, results)]
        print(json.dumps(objects[0] if len(objects) == 1 else objects, indent=2))
    else:
        print("\n\n".join(r.table() if isinstance(r, engine.SearchResult) else f"{q}: error: {r}"
                           for q, r in zip(args.imitations, results)))
    return 0 if all(isinstance(r, engine.SearchResult) for r in results) else 1


def run_evaluate(args) -> int:
    from vocalsearch_tf.search.index import LibraryIndex
    from vocalsearch_tf.search.measure import evaluate
    from vocalsearch_tf.search.models import resolve

    library = LibraryIndex(args.library, args.index_dir)
    scorer = resolve(args.model, _results_dir(args), library.root, _log)
    result = evaluate(args.imitations_csv, library, scorer)
    print(json.dumps(result.as_dict(), indent=2) if args.json else result.table())
    return 0


def run_models(args) -> int:
    from vocalsearch_tf.search.models import BUILT_IN, SYNTHETIC_NOTE, available_models, default_name, measurement_note

    entries = available_models(_results_dir(args))
    measured = {e.name: measurement_note(default_name() if e.name == "default" else e.name)
                for e in entries if e.name in ("default", *BUILT_IN)}
    if args.json:
        print(json.dumps([{**e.__dict__, "measured": measured.get(e.name)} for e in entries], indent=2))
        return 0
    width = max(len(e.name) for e in entries)
    for entry in entries:
        note = f" ({SYNTHETIC_NOTE})" if entry.synthetic else ""
        print(f"{entry.name:<{width}}  {entry.description}{note}")
        if entry.name in measured:
            print(f"{'':<{width}}  {measured[entry.name]}")
    return 0


def run_app(args) -> int:
    from vocalsearch_tf.search.serving import ServingError, serving_options

    try:  # refused before Gradio and TensorFlow load
        options = serving_options(args)
    except ServingError as error:
        _log(str(error))
        return 2
    try:
        from vocalsearch_tf.search import app
    except ImportError as error:
        raise SystemExit(f"vocalsearch app needs the `app` extra ({error}): pip install 'vocalsearch_tf[app]'")
    app.serve(**options, index_root=args.index_dir, results_dir=_results_dir(args))
    return 0


def main(argv=None) -> int:
    from vocalsearch_tf.search.config import SearchError
    from vocalsearch_tf.signal.audio import AudioError

    args = build_parser().parse_args(argv)
    command = {"index": run_index, "query": run_query, "evaluate": run_evaluate, "models": run_models,
               "app": run_app}[args.command]
    try:
        return command(args)
    except (SearchError, AudioError) as error:
        if getattr(args, "json", False):
            print(json.dumps({"error": str(error)}))
        _log(f"vocalsearch: error: {error}")
        return 1
    except KeyboardInterrupt:
        _log("vocalsearch: interrupted (finished work is kept)")
        return 130


if __name__ == "__main__":
    sys.exit(main())
