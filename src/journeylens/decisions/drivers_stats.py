"""How much of a target's explained variance each driver carries: Johnson's relative weights and
the exact Shapley (LMG) decomposition of R², from a weighted correlation matrix.

Everything here reads an already aggregated matrix: one row per distinct feature pattern with its
count of journeys (grouping journeys by identical rows is exact for every moment used below).

- **R² of any subset** of predictors is ``r_S' R_SS^+ r_S`` (``R`` the predictors' correlation
  matrix, ``r`` their correlations with the target, ``+`` the pseudo-inverse, so a predictor that
  duplicates others adds nothing instead of failing) — the R² of an OLS fit with an intercept,
  never refitted per row. All ``2^p`` subsets are solved in one batched call per subset size.
- **LMG** (Lindeman, Merenda & Gold 1980; Grömping 2006) is the Shapley value of R²: predictor
  ``j`` gets ``sum over S not holding j of |S|! (p - |S| - 1)! / p! x (R²(S + j) - R²(S))``. The
  shares sum to the full model's R² exactly. Exact up to ``MAX_EXACT`` predictors.
- **Relative weights** (Johnson 2000, after Johnson 1966): with ``R = Q diag(l) Q'`` and
  ``Z = Q diag(sqrt l) Q'`` (the orthogonal predictors closest to the originals), ``b = Z^+ r``
  and the raw weight of ``j`` is ``sum_k Z_jk² b_k²``; they sum to R² as well, cost one
  eigendecomposition and track LMG closely (tests/test_drivers.py: within 0.005 of R² on the
  stack-loss data, whose predictors correlate at 0.78).
- **Bootstrap**: journeys resampled with replacement: each pattern's count drawn from a
  multinomial over the patterns (the same as resampling the journeys one by one); 95% percentile
  intervals. Replicates in which a predictor or the target is constant are left out and counted.
"""

from __future__ import annotations

import functools
import itertools
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Decomposition:
    """R² and its split over predictors: relative weights, LMG (None when not exact), betas."""

    r2: float
    weights: Array
    lmg: Array | None
    beta: Array


def weighted_correlation(x: Array, y: Array, w: Array) -> tuple[Array, Array]:
    """(R among the columns of ``x``, r of each column with ``y``) with row weights ``w``; NaN
    where a column is constant."""
    data = np.column_stack([x, y])
    total = w.sum()
    centred = data - (w @ data) / total
    cov = (centred * w[:, None]).T @ centred / total
    sd = np.sqrt(np.diag(cov))
    with np.errstate(divide="ignore", invalid="ignore"):
        corr = cov / np.outer(sd, sd)
    corr[np.diag_indices_from(corr)] = np.where(sd > 0, 1.0, np.nan)
    return corr[:-1, :-1], corr[:-1, -1]


def standardised_betas(rxx: Array, rxy: Array) -> Array:
    """Coefficients of the full model on standardised predictors and target."""
    return np.asarray(np.linalg.pinv(rxx) @ rxy, dtype=np.float64)


def relative_weights(rxx: Array, rxy: Array) -> Array:
    """Johnson's raw relative weights (they sum to the full model's R²)."""
    values, vectors = np.linalg.eigh(rxx)
    z = vectors @ np.diag(np.sqrt(np.clip(values, 0.0, None))) @ vectors.T
    b = np.linalg.pinv(z) @ rxy
    return np.asarray((z**2) @ (b**2), dtype=np.float64)


@functools.cache
def _subsets(p: int) -> list[tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]]:
    """Per subset size k >= 1: (indices of every k-subset (m, k), their bit masks (m,))."""
    out = []
    for k in range(1, p + 1):
        idx = np.array(list(itertools.combinations(range(p), k)), dtype=np.int64)
        out.append((idx, (np.int64(1) << idx).sum(axis=1)))
    return out


def subset_r2(rxx: Array, rxy: Array) -> Array:
    """R² of every subset of predictors, indexed by bit mask (entry 0, the empty set, is 0)."""
    p = len(rxy)
    r2 = np.zeros(1 << p)
    for idx, masks in _subsets(p):
        sub = rxx[idx[:, :, None], idx[:, None, :]]
        rs = rxy[idx]
        r2[masks] = np.einsum("mi,mij,mj->m", rs, np.linalg.pinv(sub, hermitian=True), rs)
    return r2


@functools.cache
def _shapley_terms(p: int) -> list[tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], Array]]:
    """Per predictor j: (masks without j, the same with j, Shapley weights |S|!(p-|S|-1)!/p!)."""
    masks = np.arange(1 << p, dtype=np.int64)
    sizes = np.array([bin(m).count("1") for m in range(1 << p)])
    factor = np.array([math.factorial(s) * math.factorial(p - s - 1) / math.factorial(p) for s in range(p)])
    terms = []
    for j in range(p):
        without = masks[(masks >> j) & 1 == 0]
        terms.append((without, without | (1 << j), factor[sizes[without]]))
    return terms


def lmg(rxx: Array, rxy: Array) -> Array:
    """Exact LMG (Shapley) shares of R² over all ``2^p`` subsets."""
    r2 = subset_r2(rxx, rxy)
    return np.array([w @ (r2[with_] - r2[without]) for without, with_, w in _shapley_terms(len(rxy))])


def decompose(rxx: Array, rxy: Array, exact: bool) -> Decomposition:
    """R², relative weights, betas and (``exact``) LMG of one correlation matrix."""
    beta = standardised_betas(rxx, rxy)
    return Decomposition(
        r2=float(rxy @ beta),
        weights=relative_weights(rxx, rxy),
        lmg=lmg(rxx, rxy) if exact else None,
        beta=beta,
    )


@dataclass(frozen=True)
class Intervals:
    """95% percentile intervals of the bootstrap (``None`` parts when not computed)."""

    replicates: int
    dropped: int
    r2: tuple[float, float]
    weights: tuple[Array, Array]
    shares: tuple[Array, Array]
    lmg: tuple[Array, Array] | None


def _bounds(values: Array) -> tuple[Array, Array]:
    lo, hi = np.percentile(values, [2.5, 97.5], axis=0)
    return np.asarray(lo), np.asarray(hi)


def bootstrap(x: Array, y: Array, counts: Array, replicates: int, seed: int, exact: bool) -> Intervals | None:
    """Percentile intervals from ``replicates`` resamples of the journeys behind the patterns."""
    if replicates <= 0:
        return None
    rng = np.random.default_rng(seed)
    n = int(counts.sum())
    draws = rng.multinomial(n, counts / n, size=replicates).astype(np.float64)
    r2s, weights, lmgs = [], [], []
    for w in draws:
        keep = w > 0
        rxx, rxy = weighted_correlation(x[keep], y[keep], w[keep])
        if not (np.isfinite(rxx).all() and np.isfinite(rxy).all()):
            continue
        d = decompose(rxx, rxy, exact)
        r2s.append(d.r2)
        weights.append(d.weights)
        if d.lmg is not None:
            lmgs.append(d.lmg)
    if not r2s:
        return None
    r2 = np.array(r2s)
    raw = np.array(weights)
    lo, hi = np.percentile(r2, [2.5, 97.5])
    with np.errstate(divide="ignore", invalid="ignore"):
        shares = raw / r2[:, None]
    return Intervals(
        replicates=len(r2s),
        dropped=replicates - len(r2s),
        r2=(float(lo), float(hi)),
        weights=_bounds(raw),
        shares=_bounds(shares),
        lmg=_bounds(np.array(lmgs)) if lmgs else None,
    )
