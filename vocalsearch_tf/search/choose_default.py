"""The search models measured on the development check of transfer, and `default` chosen by
the measurement (`make measure-search`; the set is `make transfer-check`'s).

    python -m vocalsearch_tf.search.choose_default --data data/transfer_check [--model SPEC ...]

Every imitation goes through the application's own path: the set's sounds are indexed like
a user's library (4 s windows, a sound scoring as its best window) and each imitation is
read, trimmed and searched as `vocalsearch query` does (`engine.component_scores`); it then
ranks the sounds of its category in its part, as the check's other systems do
(`experiments/transfer_check.py`: chance, the CQT-summary baseline and the intervals come
from there).

On the **tuning part**, pooled over the imitation processes independent of the embedded
data, the fusion's weights are fitted (`fusion.fit_weights`: the likelihood of each
imitation's true sound among its category's, every source package weighing the same; one
part alone where it ranks better), each part's own inverse temperature too, and
`default` is chosen (`choose`): IMISOUND (unsupervised: no imitation-sound pairs) unless another built-in beats it
there by a paired bootstrap interval that excludes zero **and still ranks at least as well
as IMISOUND if its learned part ranks at chance** (that part's scores shuffled per
imitation, over the sounds and the probe bank, `at_chance`): a network trained on the
embedded pairs once ranked other imitators' imitations at chance while winning here, and a
default must not fall below IMISOUND where that happens again. `fusion-guarded`
(`fusion.guarded_logits`, its guard tested on each imitation's sounds and the probe bank,
`search.probe_bank`) is built for that case; `fusion` and `iminet` fall with their network. The
**confirmation part** only reports (MRR per category with bootstrap 95 % intervals). All of
it lands in `default_model/measured.json`, which the page and the command line read.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

from vocalsearch_tf.evaluation import intervals
from vocalsearch_tf.experiments import transfer_check as check_module
from vocalsearch_tf.search import engine, fusion, probe_bank
from vocalsearch_tf.search.index import LibraryIndex
from vocalsearch_tf.search.models import BUILT_IN, FALLBACK_DEFAULT, FUSION_PARTS, LEARNED_PARTS, MEASURED, resolve

COMPONENTS = FUSION_PARTS  # the parts of the built-in `fusion`
PREFERRED = FALLBACK_DEFAULT  # no pairs learnt: a model trained on the embedded pairs must earn its place
# Of winners the check cannot tell apart (paired, beyond noise), the first here: the one that
# fuses more evidence, then the one that learns no pairs. The largest point estimate picked by
# noise: without `transform` it chose cqt-summary by .0001 over fusion-guarded, and ranked
# .13 below it on `transform` (`held_out_process.md`, 2026-12-08).
TIE_ORDER = ("fusion-guarded", "fusion", "cqt-summary", "iminet")
CHANCE_SEED = 0
SMALL_LIBRARY = 10  # sounds a query ranks in the maintainers' check (10 a category)


def score_matrix(check: check_module.CheckSet, spec: str, index_root: Path) -> np.ndarray:
    """(imitations, sounds) evidence of one model through the search path: a single model's,
    or an ensemble's mean over its members."""
    return score_matrices(check, spec, index_root)[0]


def score_matrices(check: check_module.CheckSet, spec: str, index_root: Path,
                   bank: dict | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """`score_matrix`, and the same evidence over the probe bank `bank` (`probe_bank.load`):
    (imitations, bank recordings), None where the bank lacks the model's vectors."""
    scorer = resolve(spec)
    if len(scorer.components) != 1 and not isinstance(scorer, fusion.Ensemble):
        raise ValueError(f"{spec}: measure the parts of a fusion, not the fusion itself")
    vectors = [probe_bank.vectors_for(c, bank or {}) for c in scorer.components]
    library = LibraryIndex(check.root / "sound_recordings", index_root)
    library.update(scorer)
    indexes = engine.open_indexes(library, scorer)
    if any(index.paths != indexes[0].paths for index in indexes):
        raise ValueError(f"{spec}: its members' indexes of {library.library} hold different sounds")
    column = {name: k for k, name in enumerate(indexes[0].paths)}
    order = np.array([column[Path(p).name] for p in check.sounds.path])
    rows, probe_rows = [], []
    for path in check.imitations.path:
        samples, rate = engine.load_imitation(path)
        queries = engine.query_vectors(samples, rate, scorer)
        best, _ = engine.component_scores(samples, rate, scorer, indexes, queries)
        rows.append(np.mean([c.evidence(np.asarray(b, np.float64)) for c, b in zip(scorer.components, best)], axis=0)[order])
        if all(v is not None for v in vectors):
            probe_rows.append(np.mean([probe_bank.evidence(c, q, v) for c, q, v in zip(scorer.components, queries, vectors)],
                                      axis=0))
    return np.stack(rows), (np.stack(probe_rows) if probe_rows else None)


def ranked_blocks(check: check_module.CheckSet):
    """(sound rows, imitation rows) of each category in each part: the sounds those imitations rank."""
    sounds, imitations = check.sounds, check.imitations
    for part in check.parts:
        for category in sounds.category.unique():
            s = sounds.index[(sounds.part == part) & (sounds.category == category)].to_numpy()
            q = imitations.index[(imitations.part == part) & (imitations.category == category)].to_numpy()
            if len(s) and len(q):
                yield s, q


def baseline_matrix(check: check_module.CheckSet) -> np.ndarray:
    """The CQT-summary baseline's (imitations, sounds) scores, block by block: it standardises
    over the sounds an imitation ranks, so each block is scored as `part_scores` asks for it;
    imitations and sounds that never meet are NaN."""
    score = check_module.baseline_scores(check)
    matrix = np.full((len(check.imitations), len(check.sounds)), np.nan)
    for s, q in ranked_blocks(check):
        matrix[np.ix_(q, s)] = score(s, q)
    return matrix


def save_scores(path: Path, check: check_module.CheckSet, matrices: dict, probe: dict, baseline: np.ndarray) -> None:
    """The score matrices of a check, with the files they score (rows: imitations, columns: sounds)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, sounds=np.array([Path(p).name for p in check.sounds.path]),
                        imitations=np.array([Path(p).name for p in check.imitations.path]), baseline=baseline,
                        **{f"scores/{name}": m for name, m in matrices.items()},
                        **{f"probe/{name}": m for name, m in probe.items() if m is not None})


def load_scores(path: Path, check: check_module.CheckSet) -> tuple[dict, dict, np.ndarray]:
    """`save_scores`' matrices, probe evidence and baseline, refused unless they score this
    check's sounds and imitations in its order."""
    with np.load(path) as saved:
        for key, table in (("sounds", check.sounds), ("imitations", check.imitations)):
            if list(saved[key]) != [Path(p).name for p in table.path]:
                raise ValueError(f"{path}: its {key} are not those of {check.root}, in that order; "
                                 f"score the check again (`choose_default --save-scores`)")
        matrices = {k.split("/", 1)[1]: saved[k] for k in saved.files if k.startswith("scores/")}
        probe = {k.split("/", 1)[1]: saved[k] for k in saved.files if k.startswith("probe/")}
        return matrices, probe, saved["baseline"]


def saved_scores_main(argv, prog: str, doc: str, stem: str, analyse) -> int:
    """The command line of an analysis of a check's saved scores (`--save-scores`):
    `analyse(check, matrices, probe, baseline)` -> (what, its result, markdown). With --report,
    the result is a record `stem` beside the check's others (`transfer_check.recorded`); it
    holds no IMINET runs, so its `mrr` is empty."""
    parser = argparse.ArgumentParser(prog=prog, description=doc.split("\n\n")[0])
    parser.add_argument("--data", default="data/transfer_check", help="the check set (`make transfer-check`)")
    parser.add_argument("--scores", required=True, help="its score matrices (`choose_default --save-scores`)")
    parser.add_argument("--report", default=None, help=f"a folder to write {stem}.{{json,md}} in")
    args = parser.parse_args(argv)
    check = check_module.load_check(args.data)
    matrices, probe, baseline = load_scores(Path(args.scores), check)
    what, result, text = analyse(check, matrices, probe, baseline)
    if args.report:
        record = {"what": f"{what} on {args.data} ({datetime.date.today().isoformat()})", "mrr": {}, **result}
        check_module.write_record(Path(args.report), stem, record, text)
    print(text)
    return 0


def _rows(cells) -> tuple[list[np.ndarray], list[int], list]:
    """Evidence rows, targets and imitation ids of the imitations in `cells` (part -> code ->
    CategoryScores)."""
    rows, targets, ids = [], [], []
    for by_code in cells.values():
        for cell in by_code.values():
            rows += list(cell.scores)
            targets += list(cell.targets)
            ids += list(cell.query_ids)
    return rows, targets, ids


def _package_groups(check: check_module.CheckSet, ids) -> np.ndarray | None:
    """The source package of each imitation in `ids`, or None where the check does not say."""
    package_of = check_module.imitation_packages(check)
    return package_of[list(ids)].to_numpy() if len(package_of) else None


def fused_evidence(matrices: dict[str, np.ndarray], parts: list[str], weights, guarded: bool = False,
                   probe: dict[str, np.ndarray] | None = None) -> np.ndarray:
    """The built-in fusion's logits, (imitations, sounds); `guarded`: the parts weighted 0
    left out and its learned parts guarded by their agreement with the others, over the
    sounds and the probe bank (`probe`: name -> (imitations, bank) evidence), as `models`
    builds `fusion-guarded`."""
    used = [(name, w) for name, w in zip(parts, weights) if w > 0]
    flags = [name in LEARNED_PARTS for name, _ in used]
    if not guarded or all(flags) or not any(flags):
        return sum(w * matrices[name] for name, w in zip(parts, weights))
    bank = [w * probe[name] if (probe or {}).get(name) is not None else None for name, w in used]
    return fusion.guarded_fusion_logits([w * matrices[name] for name, w in used], flags, bank)


def fused_scores(matrices: dict[str, np.ndarray], parts: list[str], weights, guarded: bool = False,
                 probe: dict[str, np.ndarray] | None = None):
    """`fused_evidence` as `part_scores` asks for it: each imitation's library is the sounds it
    ranks, so the guard sees those (and the bank), as a search of that library would."""
    return lambda s, q: fused_evidence({name: m[np.ix_(q, s)] for name, m in matrices.items()}, parts, weights,
                                       guarded, {name: m[q] for name, m in (probe or {}).items()})


def at_chance(matrix: np.ndarray, seed: int = CHANCE_SEED, probe: np.ndarray | None = None):
    """A part that ranks at chance: each imitation's scores shuffled over the sounds (with
    `probe`, over the sounds and the probe bank together; then both, split again)."""
    if probe is None:
        return np.random.default_rng(seed).permuted(matrix, axis=1)
    both = at_chance(np.concatenate([matrix, probe], axis=1), seed)
    return both[:, :matrix.shape[1]], both[:, matrix.shape[1]:]


def measure(check: check_module.CheckSet, matrices: dict[str, np.ndarray],
            baseline: np.ndarray | None = None, probe: dict[str, np.ndarray] | None = None) -> tuple[dict, dict]:
    """The check's result for each model (components as given: those of `COMPONENTS` in
    `matrices`; `fusion` of them fitted on the tuning part), and `measured.json`'s content.
    `baseline`: the CQT-summary baseline's (imitations, sounds) scores, computed from the
    audio when not given; `probe`: the components' evidence over the probe bank, where the
    guard of `fusion-guarded` tests its learned part."""
    probe = {name: m for name, m in (probe or {}).items() if m is not None}
    parts = [name for name in COMPONENTS if name in matrices]
    independent = set(check.independent)
    tuning = check.imitations.index[(check.imitations.part == "tuning")
                                    & check.imitations.process.isin(independent)].to_numpy()
    tune_set = set(tuning)
    as_scores = lambda m: check_module.part_scores(check, lambda s, q: m[np.ix_(q, s)])  # noqa: E731
    scores = {name: as_scores(m) for name, m in matrices.items()}
    tuned = {name: check_module.part_scores(with_imitations(check, tune_set), lambda s, q, m=m: m[np.ix_(q, s)])
             for name, m in matrices.items()}
    _, targets, ids = _rows(tuned[parts[0]])
    groups = _package_groups(check, ids)
    betas = {name: fusion.fit_inverse_temperature(_rows(tuned[name])[0], targets, groups) for name in parts}
    fitted = fusion.fit_weights([_rows(tuned[n])[0] for n in parts], targets, groups)
    fused = lambda w, guarded=False, m=matrices, p=probe: check_module.part_scores(  # noqa: E731
        check, fused_scores(m, parts, w, guarded, p))
    weights, weights_from = fusion_weights(check, fused, fitted, betas)
    scores["fusion"], scores["fusion-guarded"] = fused(weights), fused(weights, guarded=True)
    failed, failed_probe = dict(matrices), dict(probe)
    for name in (n for n in parts if n in LEARNED_PARTS):
        if name in probe:
            failed[name], failed_probe[name] = at_chance(matrices[name], probe=probe[name])
        else:
            failed[name] = at_chance(matrices[name])
    if_failed = {name: as_scores(failed[name]) if name in failed else scores[name] for name in scores}
    for name, guarded in (("fusion", False), ("fusion-guarded", True)):
        if_failed[name] = fused(weights, guarded, failed, failed_probe)
    scores[check_module.BASELINE] = (check_module.part_scores(check, check_module.baseline_scores(check))
                                     if baseline is None else as_scores(baseline))
    result = check_module.result_of(check, scores)
    packages = check_module.sound_packages(check)
    if len(packages):
        result["per_package"] = check_module.per_package(check, scores, packages)
    mean = lambda name, part: float(np.mean([c["mean"] for c in result["summary"][name][part]["pooled"].values()]))  # noqa: E731
    chosen, against_preferred, holds_up = choose(check, scores, if_failed)
    measured_models = [name for name in BUILT_IN if name in scores]
    confirmed = max(measured_models, key=lambda name: mean(name, "confirmation"))
    card = lambda cells: {c: {"mrr": v["mean"], "low": v["low"], "high": v["high"], "n": v["n"]}  # noqa: E731
                          for c, v in cells.items()}
    models = {name: {"tuning": card(result["summary"][name]["tuning"]["pooled"]),
                     "confirmation": card(result["summary"][name]["confirmation"]["pooled"]),
                     "confirmation_per_process": {p: card(v) for p, v in result["summary"][name]["confirmation"].items()
                                                  if p != "pooled"}}
              for name in (*measured_models, check_module.BASELINE)}
    for name in parts:
        models[name]["beta"] = betas[name]
    n_sounds = result["counts"]["confirmation"]
    what = (f"the development check of transfer ({len(check.sounds)} real recordings from "
            f"{_packages(check)} packaged libraries, "
            f"imitated by {', '.join(check.independent)}; each imitation ranks the "
            f"{next(iter(n_sounds.values()))['sounds']} sounds of its category)")
    content = {"default": chosen, "best_on_confirmation": confirmed,
               "chosen_on": (f"tuning part, pooled over processes"
                             + (", every source package weighing the same" if len(packages) else "")
                             + f"; {PREFERRED} unless another wins by a paired 95 % interval and, with its "
                             + f"learned part at chance, still ranks at least as well as {PREFERRED}; of "
                             + f"winners within noise of the best, the first of {', '.join(TIE_ORDER)}"),
               "against_preferred": against_preferred,
               "check": {"what": what, "tuning": f"{what}, tuning part ({len(tuning)} imitations)",
                         "chance": result["chance"]["confirmation"], "date": datetime.date.today().isoformat()},
               "fusion_weights": dict(zip(parts, weights)), "fusion_weights_from": weights_from,
               "guard_tested_on": (f"the sounds and a probe bank of {next(iter(probe.values())).shape[1]} real "
                                   f"recordings ({', '.join(sorted(probe))})" if probe else "the sounds"),
               "fusion_against_parts": fusion_against_parts(check, scores),
               "fusion_guarded_against_parts": fusion_against_parts(check, scores, "fusion-guarded"), "models": models,
               "if_learned_parts_rank_at_chance": learned_failure(
                   check, {**if_failed, check_module.BASELINE: scores[check_module.BASELINE]}, holds_up)}
    content["on_small_libraries"] = small_libraries(
        check, {"as_measured": (matrices, probe), "at_chance": (failed, failed_probe)}, parts, weights)
    result["if_learned_parts_rank_at_chance"] = content["if_learned_parts_rank_at_chance"]
    result["on_small_libraries"] = content["on_small_libraries"]
    return result, content


def learned_failure(check, if_failed: dict, holds_up: dict) -> dict:
    """Per model: MRR per category on both parts (independent processes) with its learned
    parts at chance, and whether it then still ranks at least as well as `PREFERRED` (tuning)."""
    result = check_module.result_of(check, if_failed)["summary"]
    return {name: {"holds_up": holds_up.get(name, name == PREFERRED),
                   **{part: {code: cell["mean"] for code, cell in result[name][part]["pooled"].items()}
                      for part in ("tuning", "confirmation")}}
            for name in if_failed if name != check_module.BASELINE}


def small_libraries(check: check_module.CheckSet, variants: dict[str, tuple[dict, dict]], parts: list[str], weights,
                    size: int = SMALL_LIBRARY, seed: int = CHANCE_SEED) -> dict:
    """Per variant (name -> (matrices, probe)) and model: MRR per category on both parts when
    each independent imitation ranks `size` sounds, its own and others of its category and
    part drawn per imitation: the maintainers' check's setting, where a guard sees those
    sounds (and the bank) only. Recorded, not chosen on."""
    rng = np.random.default_rng(seed)
    sounds, imitations = check.sounds, check.imitations[check.imitations.process.isin(check.independent)]
    own = dict(zip(sounds.sound_id, sounds.index))
    libraries = []
    for i, imitation in imitations.iterrows():
        others = sounds.index[(sounds.category == imitation.category) & (sounds.part == imitation.part)
                              & (sounds.sound_id != imitation.sound_id)].to_numpy()
        drawn = rng.choice(others, min(size - 1, len(others)), replace=False)
        libraries.append((i, imitation.part, imitation.category, np.concatenate([[own[imitation.sound_id]], drawn])))
    out = {"size": size, "chance": {}}
    for variant, (matrices, probe) in variants.items():
        ranked = {}
        for i, part, category, library in libraries:
            rows = {name: matrices[name][i, library] for name in parts}
            bank = {name: m[i] for name, m in probe.items()}
            rows["fusion"] = fused_evidence(rows, parts, weights)
            rows["fusion-guarded"] = fused_evidence(rows, parts, weights, guarded=True, probe=bank)
            for name, row in rows.items():  # ties counted against the target
                ranked.setdefault(name, {}).setdefault(part, {}).setdefault(category, []).append(1.0 / np.sum(row >= row[0]))
            out["chance"].setdefault(category, float(np.mean(1.0 / np.arange(1, len(library) + 1))))
        out[variant] = {name: {part: {check_module.CATEGORY_CODES.get(c, c): float(np.mean(v)) for c, v in sorted(cells.items())}
                               for part, cells in by_part.items()} for name, by_part in ranked.items()}
    out["chance"] = {check_module.CATEGORY_CODES.get(c, c): v for c, v in sorted(out["chance"].items())}
    return out


def small_library_table(small: dict) -> str:
    """Markdown: confirmation MRR per category on `size`-sound libraries, as measured and at chance."""
    import pandas as pd

    rows = {name: {f"{code} ({how})": f"{value:.3f}" for how, key in (("as measured", "as_measured"), ("IMINET at chance", "at_chance"))
                   for code, value in small[key][name]["confirmation"].items()} for name in small["as_measured"]}
    return (f"### confirmation part, pooled, each imitation ranking {small['size']} sounds of its category "
            f"(chance {', '.join(f'{c} {v:.3f}' for c, v in small['chance'].items())})\n\n"
            + pd.DataFrame(rows).T.to_markdown())


def beyond_noise(reference: np.ndarray, alternatives: dict[str, np.ndarray],
                 groups: np.ndarray | None = None) -> tuple[str | None, dict]:
    """The alternative that beats `reference` by a paired 95 % interval above zero (of
    several, the largest difference; the first given on a tie), or None; and every
    alternative's difference. A point estimate alone would pick among ties by noise. With
    `groups` (each imitation's source package) every group weighs the same."""
    differ = (intervals.paired_difference if groups is None
              else lambda a, b: intervals.balanced_paired_difference(a, b, groups))
    against = {name: differ(ranks, reference) for name, ranks in alternatives.items()}
    winners = [name for name in alternatives if intervals.verdict(against[name]) == "better"]
    order = list(alternatives)
    best = max(winners, key=lambda name: (against[name]["difference"], -order.index(name)), default=None)
    return best, against


def fusion_weights(check, fused, fitted: list[float], betas: dict[str, float]) -> tuple[list[float], str]:
    """The likelihood fit, unless one part alone ranks the tuning imitations better beyond
    noise: the likelihood of the true sound and its rank are different objectives, and the
    fusion must not be worse than its best part."""
    # a part alone at its own beta (kept above 0: a beta of 0 would rank nothing)
    alone = {f"{name} alone": [max(betas[name], 1e-6) if other == name else 0.0 for other in betas]
             for name in betas}
    best, _ = beyond_noise(_tuning_ranks(check, fused(fitted)),
                           {how: _tuning_ranks(check, fused(w)) for how, w in alone.items()},
                           _tuning_packages(check, fused(fitted)))
    return (fitted, "likelihood fit") if best is None else (alone[best], best)


def fusion_against_parts(check: check_module.CheckSet, scores: dict, fused: str = "fusion") -> dict:
    """Per part (tuning, confirmation) and component: the fusion's (`fused`) paired MRR
    difference from the component alone per category, on the independent processes' imitations."""
    parts = [name for name in COMPONENTS if name in scores]
    ranks = {name: check_module.reciprocal_ranks(check, scores[name]) for name in ("fusion", *parts)}
    ranks["fusion"] = check_module.reciprocal_ranks(check, scores[fused])
    independent = ranks["fusion"].process.isin(check.independent)
    out = {}
    for part in ("tuning", "confirmation"):
        out[part] = {}
        for name in parts:
            cells = {}
            for code in sorted(ranks["fusion"].code.unique()):
                keep = (independent & ranks["fusion"].part.eq(part) & ranks["fusion"].code.eq(code)).to_numpy()
                difference = intervals.paired_difference(ranks["fusion"].rr[keep], ranks[name].rr[keep])
                cells[code] = {**difference, "verdict": intervals.verdict(difference)}
            out[part][name] = cells
    return out


def failure_table(failed: dict) -> str:
    """Markdown: each model's confirmation MRR per category with its learned part at chance."""
    import pandas as pd

    rows = {name: {**{c: f"{v:.3f}" for c, v in cells["confirmation"].items()},
                   f"holds up against {PREFERRED} (tuning)": "yes" if cells["holds_up"] else "no"}
            for name, cells in failed.items()}
    return ("### confirmation part, pooled, if the learned part (iminet) ranked at chance "
            "(its scores shuffled per imitation)\n\n" + pd.DataFrame(rows).T.to_markdown())


def choose(check: check_module.CheckSet, scores: dict, if_failed: dict | None = None) -> tuple[str, dict, dict]:
    """`default`: the unsupervised `PREFERRED` unless a built-in beats it beyond noise on the
    tuning part (reciprocal ranks of the independent processes' imitations), every source
    package weighing the same where the check says which package a sound came from: what
    must carry is sources, not the packages that happen to hold most imitations. Only a
    built-in that still ranks at least as well as `PREFERRED` there with its learned parts
    at chance (`if_failed`; point estimate) may replace it: which do is the third result.
    Of several, the largest difference, unless it does not beat another beyond noise: then
    the first of those in `TIE_ORDER`."""
    reference, groups = _tuning_ranks(check, scores[PREFERRED]), _tuning_packages(check, scores[PREFERRED])
    candidates = [name for name in BUILT_IN if name != PREFERRED and name in scores]
    ranks = {name: _tuning_ranks(check, scores[name]) for name in candidates}
    _, against = beyond_noise(reference, ranks, groups)
    differ = (lambda a: float(np.mean(a - reference))) if groups is None else (
        lambda a: intervals.balanced_paired_difference(a, reference, groups, resamples=1)["difference"])
    holds_up = {name: differ(_tuning_ranks(check, (if_failed or scores)[name])) >= 0 for name in candidates}
    winners = [name for name in candidates if holds_up[name] and intervals.verdict(against[name]) == "better"]
    best = max(winners, key=lambda name: (against[name]["difference"], -candidates.index(name)), default=None)
    return (_first_of_ties(best, winners, ranks, groups) if best else PREFERRED), against, holds_up


def _first_of_ties(best: str, winners: list[str], ranks: dict[str, np.ndarray], groups) -> str:
    """`best`, or the first in `TIE_ORDER` of the winners it does not beat beyond noise."""
    _, others = beyond_noise(ranks[best], {name: ranks[name] for name in winners if name != best}, groups)
    tied = [best, *(name for name, cell in others.items() if intervals.verdict(cell) != "worse")]
    return min(tied, key=lambda name: TIE_ORDER.index(name) if name in TIE_ORDER else len(TIE_ORDER))


def _tuning_packages(check, scores) -> np.ndarray | None:
    """The source package of each of `_tuning_ranks`' imitations, or None without provenance."""
    ranks = check_module.reciprocal_ranks(check, scores)
    return _package_groups(check, ranks.imitation_id[(ranks.part == "tuning") & ranks.process.isin(check.independent)])


def _tuning_ranks(check, scores) -> np.ndarray:
    ranks = check_module.reciprocal_ranks(check, scores)
    return ranks.rr[(ranks.part == "tuning") & ranks.process.isin(check.independent)].to_numpy()


def with_imitations(check: check_module.CheckSet, rows: set) -> check_module.CheckSet:
    """The check with only the imitations in `rows` (index labels), every sound kept."""
    keep = check.imitations.index.isin(sorted(rows))
    return dataclasses.replace(check, imitations=check.imitations[keep])


def _packages(check) -> int:
    provenance = check.root / "provenance.csv"
    if not provenance.exists():
        return 0
    import pandas as pd

    return int(pd.read_csv(provenance).package.nunique())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vocalsearch_tf.search.choose_default", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="data/transfer_check", help="the check set (`make transfer-check`)")
    parser.add_argument("--out", default=str(MEASURED), help="measured.json to write")
    parser.add_argument("--report", default=None, help="where to write the full result (JSON and markdown)")
    parser.add_argument("--save-scores", default=None,
                        help="an .npz to keep the score matrices in, for analyses that need no rescoring "
                             "(`search.held_out_process`)")
    args = parser.parse_args(argv)
    check = check_module.load_check(args.data)
    bank = probe_bank.load()
    with tempfile.TemporaryDirectory(prefix="vocalsearch-choose-default-") as index_root:
        both = {name: score_matrices(check, name, Path(index_root), bank) for name in COMPONENTS}
    matrices, probe = {name: m for name, (m, _) in both.items()}, {name: p for name, (_, p) in both.items()}
    baseline = baseline_matrix(check)
    if args.save_scores:
        save_scores(Path(args.save_scores), check, matrices, probe, baseline)
    result, content = measure(check, matrices, baseline, probe)
    result["what"] = (f"the search models (`vocalsearch models`) through the application's path on "
                      f"{content['check']['what']}, {content['check']['date']}; default chosen on the tuning "
                      f"part: {content['default']}")
    Path(args.out).write_text(json.dumps(content, indent=1) + "\n")
    text = check_module.report(result)
    for part, cells in result.get("per_package", {}).items():
        text += (f"\n\n### {part} part, per source package (the independent processes, all categories)\n\n"
                 + check_module.package_table(cells).to_markdown())
    text += "\n\n" + failure_table(content["if_learned_parts_rank_at_chance"])
    text += "\n\n" + small_library_table(content["on_small_libraries"])
    if args.report:
        check_module.write_record(Path(args.report), "search_models", result, text)
    print(text)
    print(json.dumps({k: content[k] for k in ("default", "best_on_confirmation", "fusion_weights")}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
