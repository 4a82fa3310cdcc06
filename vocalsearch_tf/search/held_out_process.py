"""The default's choice judged on an imitation process it never saw.

The maintainers' check imitates real sounds with a process the project has not seen, and the
development check's own pooled numbers cannot say how a choice made on these processes fares
on another. So, for each independent process in turn, everything `choose_default` fits or
chooses (the parts' temperatures, the fusion's weights, `default`) is redone on the tuning
part of the *other* processes, and every built-in is measured on the held-out process's
confirmation part: sounds and imitations the choice never saw, made by a process it never saw.
The question it answers is the one the maintainers ask: does the default rank at least as well
as IMISOUND there (`default − imisound`, paired, per category, 95 % interval)?
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from vocalsearch_tf.evaluation import intervals
from vocalsearch_tf.experiments import transfer_check as check_module
from vocalsearch_tf.search import choose_default
from vocalsearch_tf.search.models import FALLBACK_DEFAULT

PART = "confirmation"  # where a held-out process is measured: sounds the choice never saw either


def by_process(check: check_module.CheckSet, matrices: dict[str, np.ndarray], baseline: np.ndarray,
               probe: dict[str, np.ndarray] | None = None) -> dict:
    """Per independent process: what was chosen and fitted without it, and each model's
    confirmation MRR on it per category (with intervals), beside the default's paired
    difference from IMISOUND. `matrices`, `baseline`, `probe`: as `choose_default.measure`."""
    return {process: held_out(check, process, matrices, baseline, probe) for process in check.independent}


def held_out(check: check_module.CheckSet, process: str, matrices: dict[str, np.ndarray], baseline: np.ndarray,
             probe: dict[str, np.ndarray] | None = None) -> dict:
    """`by_process` for one process."""
    imitations = check.imitations
    seen = choose_default.with_imitations(check, set(imitations.index[imitations.process != process]))
    _, content = choose_default.measure(seen, matrices, baseline, probe)
    parts = list(content["fusion_weights"])
    weights = [content["fusion_weights"][name] for name in parts]
    unseen = choose_default.with_imitations(check, set(imitations.index[imitations.process == process]))  # read: PART only
    as_scores = lambda score: check_module.part_scores(unseen, score)  # noqa: E731
    scores = {name: as_scores(lambda s, q, m=m: m[np.ix_(q, s)]) for name, m in matrices.items()}
    live_probe = {name: m for name, m in (probe or {}).items() if m is not None}
    scores["fusion"] = as_scores(choose_default.fused_scores(matrices, parts, weights))
    scores["fusion-guarded"] = as_scores(choose_default.fused_scores(matrices, parts, weights, True, live_probe))
    scores[check_module.BASELINE] = as_scores(lambda s, q: baseline[np.ix_(q, s)])
    summary = check_module.result_of(unseen, scores)["summary"]
    chosen = content["default"]
    return {"default": chosen, "fusion_weights": content["fusion_weights"],
            "fusion_weights_from": content["fusion_weights_from"],
            "imitations": int(unseen.imitations.part.eq(PART).sum()),
            "mrr": {name: {code: {k: cell[k] for k in ("mean", "low", "high", "n")}
                           for code, cell in cells[PART]["pooled"].items()} for name, cells in summary.items()},
            "default_minus_imisound": _paired(unseen, scores[chosen], scores[FALLBACK_DEFAULT])}


def _paired(check: check_module.CheckSet, scores: dict, reference: dict) -> dict:
    """Per category and over all, on `PART`: `scores`' paired MRR difference from `reference`,
    with its verdict."""
    a, b = (check_module.reciprocal_ranks(check, s) for s in (scores, reference))
    a, b = a[a.part == PART], b[b.part == PART]
    out = {}
    for code in [*sorted(a.code.unique()), "all"]:
        keep = (a.code == code).to_numpy() if code != "all" else np.ones(len(a), bool)
        difference = intervals.paired_difference(a.rr[keep].to_numpy(), b.rr[keep].to_numpy())
        out[code] = {**difference, "verdict": intervals.verdict(difference)}
    return out


def table(held: dict) -> str:
    """Markdown: per held-out process, each model's mean confirmation MRR over the categories
    and the default chosen without it; then the default's paired difference from IMISOUND."""
    mrr, against = {}, {}
    for process, cell in held.items():
        label = f"{process} ({cell['imitations']} imitations)"
        mrr[label] = {"default chosen without it": cell["default"],
                      "fusion weights": " / ".join(f"{w:.2f}" for w in cell["fusion_weights"].values()),
                      **{name: f"{np.mean([c['mean'] for c in cells.values()]):.3f}" for name, cells in cell["mrr"].items()}}
        against[label] = {code: f"{d['difference']:+.3f} [{d['low']:+.3f}, {d['high']:+.3f}] {d['verdict']}"
                          for code, d in cell["default_minus_imisound"].items()}
    return ("### each independent process held out: chosen and fitted on the others' tuning part, measured on "
            "its confirmation part (MRR, mean of the categories; the fusion's weights in the order "
            f"{' / '.join(next(iter(held.values()))['fusion_weights'])})\n\n" + pd.DataFrame(mrr).T.to_markdown()
            + f"\n\n### the default chosen without the process − {FALLBACK_DEFAULT}, on it (paired, 95 % interval)"
            "\n\n" + pd.DataFrame(against).T.to_markdown())


def _analyse(check, matrices, probe, baseline) -> tuple[str, dict, str]:
    held = by_process(check, matrices, baseline, probe)
    what = ("each independent process held out: the search default chosen and the fusion fitted on the other "
            "processes' tuning part, every search model measured on its confirmation part")
    return what, {"by_process": held}, table(held)


def main(argv=None) -> int:
    return choose_default.saved_scores_main(argv, "python -m vocalsearch_tf.search.held_out_process", __doc__,
                                            "held_out_process", _analyse)


if __name__ == "__main__":
    import sys

    sys.exit(main())
