"""Candidate search models against a shipped one on the development check (issue 23, part 3):
what wins on the tuning part may replace it, the confirmation part reports.

    python -m vocalsearch_tf.search.compare_candidates --data data/transfer_check \\
        --model real=path/to/candidate.keras [--model ...] [--against iminet] [--out DIR]

A name given with several models (`--model ens=a.keras --model ens=b.keras`) is their
ensemble: the members' evidence (log-likelihoods) averaged per imitation and sound.

Each model is scored through the application's path (`choose_default.score_matrix`); the
result holds the check's usual cells (MRR with 95 % intervals, the difference from the
CQT-summary baseline) and, per candidate, part and subset, the paired difference of
reciprocal ranks from `--against` over all four categories, with its interval and verdict.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from vocalsearch_tf.evaluation import intervals
from vocalsearch_tf.experiments import transfer_check as check_module
from vocalsearch_tf.search.choose_default import score_matrix


def against(check: check_module.CheckSet, scores: dict, reference: str) -> dict:
    """Per candidate, part and subset: mean(rr - rr of `reference`) over the same imitations."""
    ranks = {name: check_module.reciprocal_ranks(check, s) for name, s in scores.items()}
    base = ranks[reference]
    out = {}
    for name, frame in ranks.items():
        if name == reference:
            continue
        for part in check.parts:
            for subset, processes in check_module.subsets(check).items():
                pick = ((frame.part == part) & frame.process.isin(processes)).to_numpy()
                if pick.any():
                    d = intervals.paired_difference(frame.rr[pick], base.rr[pick])
                    out.setdefault(name, {}).setdefault(part, {})[subset] = {**d, "verdict": intervals.verdict(d)}
    return out


def difference_table(differences: dict, reference: str) -> pd.DataFrame:
    rows = {}
    for name, parts in differences.items():
        for part, cells in parts.items():
            rows[f"{name} − {reference}, {part}"] = {
                subset: f"{d['difference']:+.3f} [{d['low']:+.3f}, {d['high']:+.3f}] {d['verdict']}"
                for subset, d in cells.items()}
    return pd.DataFrame(rows).T


def grouped(specs: list[str]) -> dict[str, list[str]]:
    """`NAME=spec` arguments by name, in order (a bare spec names itself); a name given more
    than once is an ensemble of its members."""
    out: dict[str, list[str]] = {}
    for spec in specs:
        name, model = spec.split("=", 1) if "=" in spec else (spec, spec)
        out.setdefault(name, []).append(model)
    return out


def ensemble(members: list[np.ndarray]) -> np.ndarray:
    """The members' (imitations, sounds) evidence averaged: one seed's quirks average out."""
    return np.mean(np.stack(members), axis=0)


def compare(check: check_module.CheckSet, matrices: dict[str, np.ndarray], reference: str) -> dict:
    as_scores = lambda m: check_module.part_scores(check, lambda s, q: m[np.ix_(q, s)])  # noqa: E731
    scores = {name: as_scores(m) for name, m in matrices.items()}
    scores[check_module.BASELINE] = check_module.part_scores(check, check_module.baseline_scores(check))
    result = check_module.result_of(check, scores)
    result["against"] = {"reference": reference, "differences": against(check, scores, reference)}
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vocalsearch_tf.search.compare_candidates",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="data/transfer_check")
    parser.add_argument("--model", action="append", required=True, help="NAME=path.keras (or a model name)")
    parser.add_argument("--against", default="iminet", help="the shipped model to compare with")
    parser.add_argument("--out", default=None, help="a folder for candidates.json and candidates.md")
    parser.add_argument("--what", default="candidate search models", help="what was compared (kept in the JSON)")
    args = parser.parse_args(argv)
    check = check_module.load_check(args.data)
    specs = grouped(args.model)
    specs.setdefault(args.against, [args.against])
    with tempfile.TemporaryDirectory(prefix="vocalsearch-candidates-") as index_root:
        matrices = {name: ensemble([score_matrix(check, spec, Path(index_root)) for spec in members])
                    for name, members in specs.items()}
    result = compare(check, matrices, args.against)
    result["models"] = specs
    result["what"] = f"{args.what}, against {args.against}, through the application's path on {args.data}"
    text = (check_module.report(result) + "\n\n### paired differences from " + args.against
            + " (all categories; pooled = the independent processes)\n\n"
            + difference_table(result["against"]["differences"], args.against).to_markdown())
    if args.out:
        check_module.write_record(Path(args.out), "candidates", result, text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
