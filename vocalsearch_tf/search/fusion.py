"""Fusing search models so that a fusion is not worse than its best part.

TASLP eq. 2-5 multiply the components' likelihoods. Off the paper's data that product is
ruled by its most confident part, right or wrong: a sigmoid's outputs span 0..1 over a
library while IMISOUND's eq.-3 softmax of cosine distances varies by a factor of e^2 at
most, so `iminet x imisound` ranked by the network alone (the maintainers' independent
check on real sounds: MRR .31 fused, .48 for IMISOUND alone).

A calibrated fusion gives each part an inverse temperature beta >= 0, fitted on validation
imitations by maximum likelihood of each imitation's true sound among its candidates: the
part's likelihood over a library is softmax(beta * evidence), and the fusion is the product
of these, renormalised over the library (a posterior that takes the parts as independent).
Fitted jointly (`fit_weights`), the betas of a fusion make its validation likelihood at least
that of each part alone (beta = 0 for the others is one of the choices), and a part that
ranks at chance gets beta near 0: a flat likelihood that moves no ranking. beta is kept
>= 0 so that no part is trusted upside down. Without fitted betas a fusion is the paper's
product (`Fusion.calibrated` says which).

Fitted weights trust a learned part as far as it ranked the validation imitations, which
are not every imitator's. A guarded fusion (`guarded_logits`, the built-in `fusion-guarded`)
weighs its learned part per query by how far the part's ranking is related to its
training-free parts' (`config.GuardParams`): where the network carries it agrees with them
(median Spearman .59 on the development check, over its sounds and the bank), where it
ranks at chance it is independent of them, agrees by noise alone and drops out, leaving
the training-free parts' ranking.
The ranking tested is the library's and a fixed bank of real recordings' (`probe_agreement_on`,
`search.probe_bank`): on the library alone a small library could not tell the two apart.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import optimize, stats
from scipy.special import logsumexp

from vocalsearch_tf.search import probe_bank
from vocalsearch_tf.search.config import GUARD, GuardParams, ModelLoadError
from vocalsearch_tf.search.scorers import Scorer


def log_softmax(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.float64)
    return x - logsumexp(x) if len(x) else x


Stacked = list[tuple[np.ndarray, np.ndarray, np.ndarray]]


def _stacked(parts: Sequence[Sequence[np.ndarray]], targets: Sequence[int], weights: np.ndarray) -> Stacked:
    """Queries grouped by their number of candidates: (queries, parts, candidates) evidence,
    targets and query weights."""
    groups: dict[int, list[int]] = {}
    for q in range(len(targets)):
        groups.setdefault(len(parts[0][q]), []).append(q)
    return [(np.stack([np.stack([np.asarray(part[q], np.float64) for part in parts]) for q in queries]),
             np.asarray([targets[q] for q in queries]), weights[queries]) for queries in groups.values()]


def mean_nll(betas: np.ndarray, stacked: Stacked) -> tuple[float, np.ndarray]:
    """Weighted mean negative log-likelihood of the targets under softmax(betas . evidence),
    and its gradient."""
    total, grad, count = 0.0, np.zeros(len(betas)), 0.0
    for evidence, targets, weights in stacked:
        logits = np.einsum("p,qpc->qc", betas, evidence)
        norm = logsumexp(logits, axis=1)
        p = np.exp(logits - norm[:, None])
        rows = np.arange(len(targets))
        total += float(weights @ (norm - logits[rows, targets]))
        grad += weights @ (np.einsum("qpc,qc->qp", evidence, p) - evidence[rows, :, targets])
        count += float(weights.sum())
    return total / count, grad / count


def fit_weights(parts: Sequence[Sequence[np.ndarray]], targets: Sequence[int],
                groups: Sequence | None = None) -> list[float]:
    """The betas (one per part, each >= 0) maximising the targets' likelihood.

    `parts[i][q]` is part i's evidence over query q's candidates (candidates may differ in
    number between queries, not between parts); `targets[q]` indexes query q's true sound.
    With `groups` (a label per query, such as its sound's source package) every group weighs
    the same in the likelihood, however many queries it holds.
    The objective is convex in the betas, so L-BFGS-B from 0 reaches its minimum.
    """
    if not len(parts) or not len(targets) or any(len(part) != len(targets) for part in parts):
        raise ValueError("fit_weights needs, for every part, one evidence row per target")
    if groups is not None and len(groups) != len(targets):
        raise ValueError(f"fit_weights: {len(groups)} group labels for {len(targets)} targets")
    stacked = _stacked(parts, targets, group_weights(groups, len(targets)))
    # a scale-free start and bound: evidence spreads differ by orders of magnitude between models
    spread = np.array([np.median([np.std(row) for row in part]) for part in parts])
    scale = 1.0 / np.maximum(spread, 1e-12)
    result = optimize.minimize(lambda b: _scaled(b * scale, stacked, scale),
                               np.zeros(len(parts)), jac=True, method="L-BFGS-B",
                               bounds=[(0.0, 1e3)] * len(parts))
    return [float(b) for b in result.x * scale]


def group_weights(groups: Sequence | None, n: int) -> np.ndarray:
    """Per query 1 / (its group's size): every group sums to one; all ones without groups."""
    if groups is None:
        return np.ones(n)
    labels, inverse, counts = np.unique(np.asarray(groups), return_inverse=True, return_counts=True)
    return 1.0 / counts[inverse]


def _scaled(betas, stacked, scale):
    value, grad = mean_nll(betas, stacked)
    return value, grad * scale


def fit_inverse_temperature(rows: Sequence[np.ndarray], targets: Sequence[int],
                            groups: Sequence | None = None) -> float:
    """One part's beta: `fit_weights` with that part alone."""
    return fit_weights([rows], targets, groups)[0]


def calibrated_posterior(evidence: Sequence[np.ndarray], betas: Sequence[float]) -> np.ndarray:
    """softmax over the library of sum_i beta_i * evidence_i (the parts' calibrated product)."""
    logits = sum(beta * np.asarray(e, np.float64) for beta, e in zip(betas, evidence))
    return np.exp(log_softmax(logits))


def rank_agreement(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Spearman correlation of each row of `a` with the same row of `b` (1-D: one value);
    0 where either row is constant (no ranking to agree with)."""
    ra, rb = (stats.rankdata(np.atleast_2d(x), axis=-1) for x in (a, b))
    ra, rb = ra - ra.mean(-1, keepdims=True), rb - rb.mean(-1, keepdims=True)
    norm = np.sqrt((ra ** 2).sum(-1) * (rb ** 2).sum(-1))
    agreement = np.divide((ra * rb).sum(-1), norm, out=np.zeros(len(ra)), where=norm > 0)
    return agreement if np.ndim(a) > 1 else agreement[0]


def guard_gate(agreement: np.ndarray, n: int, params: GuardParams = GUARD) -> np.ndarray:
    """The learned part's weight, 0..1, for a ranking of `n` sounds that agrees this much in
    either direction: a part at chance ranks independently of the others; a ranking that
    opposes theirs is no chance ranking (on the check IMINET is as often right there)."""
    if n < 3:
        return np.zeros_like(np.asarray(agreement, np.float64))
    low = max(params.z / np.sqrt(n - 1), params.floor)
    return np.clip((np.abs(np.asarray(agreement, np.float64)) - low) / params.width, 0.0, 1.0)


def guarded_logits(learned: np.ndarray, reference: np.ndarray, params: GuardParams = GUARD,
                   agreement_on: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """reference + gate * learned, per row (a query's weighted evidence over the library);
    `agreement_on`: the (learned, reference) evidence the gate tests instead, such as a query's
    over the library and the probe bank (`probe_agreement_on`)."""
    a, b = agreement_on if agreement_on is not None else (learned, reference)
    gate = guard_gate(rank_agreement(a, b), np.shape(a)[-1], params)
    return reference + np.asarray(gate)[..., None] * learned if np.ndim(learned) > 1 else reference + gate * learned


def probe_agreement_on(library: Sequence[np.ndarray], probe: Sequence[np.ndarray | None],
                       guarded: Sequence[bool]) -> tuple[np.ndarray, np.ndarray] | None:
    """What the guard tests with a probe bank (`search.probe_bank`): the guarded parts' and the
    unguarded parts' weighted evidence over the library followed by the bank, the unguarded
    being those the bank holds. None where the bank lacks a guarded part or every other part.
    Rows: a query's 1-D evidence, or (queries, sounds)."""
    learned = [k for k, flag in enumerate(guarded) if flag]
    others = [k for k, flag in enumerate(guarded) if not flag and probe[k] is not None]
    if not learned or not others or any(probe[k] is None for k in learned):
        return None
    side = lambda ks: np.concatenate([sum(library[k] for k in ks), sum(probe[k] for k in ks)], axis=-1)  # noqa: E731
    return side(learned), side(others)


def guarded_fusion_logits(weighted: Sequence[np.ndarray], guarded: Sequence[bool],
                          weighted_probe: Sequence[np.ndarray | None] | None = None) -> np.ndarray:
    """A guarded fusion's logits from its parts' weighted evidence over the library (and over
    the probe bank, where given): the unguarded parts plus the guarded ones, gated by their
    agreement (`guarded_logits`, `probe_agreement_on`)."""
    learned = sum(w for w, flag in zip(weighted, guarded) if flag)
    reference = sum(w for w, flag in zip(weighted, guarded) if not flag)
    on = None if weighted_probe is None else probe_agreement_on(weighted, weighted_probe, guarded)
    return guarded_logits(learned, reference, agreement_on=on)


class Fusion(Scorer):
    """Several models searched as one: calibrated (each part's beta fitted on validation
    imitations, `betas` or the parts' own `inverse_temperature`) or, failing that, the
    paper's product of likelihoods (TASLP eq. 2-5). `guarded`, per part: the learned ones,
    weighed per query by their agreement with the others (`guarded_logits`; calibrated only)."""

    def __init__(self, parts: list[Scorer], name: str | None = None, betas: Sequence[float] | None = None,
                 calibrated_on: str = "", guarded: Sequence[bool] | None = None, probe: dict | None = None):
        flat = [c for part in parts for c in part.components]
        self.probe = [probe_bank.vectors_for(c, probe or {}) for c in flat]  # the guard's bank, per component
        self.guarded = [bool(flag) for part, flag in zip(parts, guarded or [False] * len(parts))
                        for _ in part.components]
        self._shares = [share for part in parts for share in part.shares]
        if len(flat) < 2:
            raise ModelLoadError("a fusion needs at least two models, e.g. iminet+imisound")
        if len({c.key for c in flat}) < len(flat):
            raise ModelLoadError(f"a fusion of a model with itself ({'+'.join(c.name for c in flat)}) adds nothing")
        if betas is None and all(c.inverse_temperature is not None for c in flat):
            betas = [c.inverse_temperature for c in flat]
        if betas is not None and len(betas) != len(flat):
            raise ModelLoadError(f"{len(betas)} fusion weights for {len(flat)} models")
        self._parts, self.betas, self.calibrated_on = flat, None if betas is None else list(betas), calibrated_on
        self.name = name or "+".join(c.name for c in flat)
        self.key = "+".join(c.key for c in flat)
        self.fingerprint = "+".join(c.fingerprint for c in flat)
        how = (f"calibrated fusion (weights {', '.join(f'{b:.3g}' for b in self.betas)}"
               + (f", fitted on {calibrated_on}" if calibrated_on else "") + ")" if self.calibrated
               else "fusion, product of likelihoods (TASLP eq. 2-5; not calibrated)")
        self.description = f"{how} of " + " and ".join(c.description for c in flat)
        if self.calibrated and any(self.guarded) and not all(self.guarded):
            self.description += ("; guarded: the learned part counts as far as its ranking agrees with the "
                                 "training-free parts'")
        self.synthetic = any(c.synthetic for c in flat)
        self.trained_on = "; ".join(f"{c.name}: {c.trained_on}" for c in flat)

    @property
    def components(self):
        return list(self._parts)

    @property
    def shares(self) -> list[float]:
        return list(self._shares)

    @property
    def calibrated(self) -> bool:
        return self.betas is not None

    def probe_evidence(self, queries: list[np.ndarray]) -> list[np.ndarray | None] | None:
        """Per component, its evidence over the probe bank for the query vectors (None where
        the bank has no vectors of its weights); None without a bank."""
        if not any(v is not None for v in self.probe):
            return None
        return [None if v is None else probe_bank.evidence(c, q, v) for c, q, v in zip(self._parts, queries, self.probe)]

    def combine(self, best, probe=None):
        if self.calibrated:
            evidence = [c.evidence(b) for c, b in zip(self._parts, best)]
            if not any(self.guarded) or all(self.guarded):
                return calibrated_posterior(evidence, self.betas)
            weighted = [beta * np.asarray(e, np.float64) for beta, e in zip(self.betas, evidence)]
            on_bank = None if probe is None else [None if p is None else beta * p for beta, p in zip(self.betas, probe)]
            return np.exp(log_softmax(guarded_fusion_logits(weighted, self.guarded, on_bank)))
        return np.prod([c.likelihoods(b) ** share for c, b, share in zip(self._parts, best, self.shares)], axis=0)


class Ensemble(Fusion):
    """Several trainings of one model searched as one: the mean of the members' evidence,
    softmax'd at the ensemble's inverse temperature (one seed's quirks average out). In a
    fusion its members count 1/K each (`shares`), in the product of likelihoods too."""

    def __init__(self, members: list[Scorer], name: str, description: str, trained_on: str,
                 inverse_temperature: float | None = None, calibrated_on: str = ""):
        k = len(members)
        for member in members:
            member.inverse_temperature = None if inverse_temperature is None else inverse_temperature / k
        super().__init__(members, name=name, betas=[(1.0 if inverse_temperature is None else inverse_temperature) / k] * k,
                         calibrated_on=calibrated_on)
        self._shares = [1.0 / k] * k
        self.inverse_temperature = inverse_temperature
        self.description, self.trained_on = description, trained_on

    def mean_evidence(self, best: list[np.ndarray]) -> np.ndarray:
        """The members' evidence averaged: what the ensemble's likelihood is a softmax of."""
        return np.mean([c.evidence(b) for c, b in zip(self.components, best)], axis=0)
