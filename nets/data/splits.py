"""Deterministic, stratified train / validation / test splits.

The split is computed here rather than with scikit-learn so that a published
split (and the accuracies measured on it) never moves with a library upgrade:
it depends only on the labels, the fractions and the seed.

Rule: the split sizes are ``n * fractions`` rounded by the largest-remainder
method (they sum to ``n``); each class is given its share of every split, within
one sample of ``n_class * fraction``, by controlled rounding. Then, for each
class in increasing label order, its sample indices are permuted by one
``numpy.random.default_rng(seed)`` stream and cut into consecutive pieces of
those sizes. The indices of each split are returned in a seeded random order
(not grouped by class), so taking the first ``k`` of them is a random subset.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["SPLITS", "DEFAULT_FRACTIONS", "check_split", "split_counts", "stratified_split",
           "random_split", "stratified_subset"]

#: Split names, in the order their fractions are given.
SPLITS = ("train", "val", "test")

#: Default train / validation / test fractions of the built-in sets (70 / 10 / 20 %).
DEFAULT_FRACTIONS = (0.7, 0.1, 0.2)


def check_split(split: str, allowed: Sequence[str] = SPLITS + ("all",)) -> str:
    """Return ``split`` if it is one of ``allowed``, else raise a ValueError naming them."""
    if split not in allowed:
        raise ValueError(f"split={split!r} is not one of {', '.join(map(repr, allowed))}")
    return split


def _check_fractions(fractions) -> np.ndarray:
    f = np.asarray(fractions, dtype=np.float64)
    if f.shape != (len(SPLITS),) or np.any(f < 0) or not np.isfinite(f).all() or abs(f.sum() - 1) > 1e-9:
        raise ValueError(
            f"fractions={tuple(fractions)!r} must be three non-negative numbers (train, val, test) "
            "that sum to 1, e.g. (0.7, 0.1, 0.2)")
    return f


def split_counts(n: int, fractions=DEFAULT_FRACTIONS) -> np.ndarray:
    """Sizes (train, val, test) that ``n`` samples are cut into: ``n * fractions`` rounded by the
    largest-remainder method, so they sum to ``n`` exactly (ties go to the earlier split)."""
    f = _check_fractions(fractions)
    exact = n * f
    counts = np.floor(exact + 1e-9).astype(np.int64)  # 1e-9: 0.7*500 is 349.99999999999994
    rest = np.round(exact - counts, 9)  # float noise must not break ties (178 * 0.7 = 124.59999...)
    short = n - int(counts.sum())
    order = np.argsort(-rest, kind="stable")
    counts[order[:short]] += 1
    return counts


def _class_counts(n_c: np.ndarray, f: np.ndarray, rng) -> np.ndarray:
    """Counts (classes, splits): each row sums to its class size, each column to
    ``split_counts(n, f)``, and every cell is within one of ``n_c * f`` (controlled rounding:
    floors, then +1 to the cells with the largest remainders while their class and split are short;
    ties in seeded random order, so equal classes are not favoured by label)."""
    exact = n_c[:, None] * f[None, :]
    cnt = np.floor(exact + 1e-9).astype(np.int64)
    row_need = n_c - cnt.sum(axis=1)
    col_need = split_counts(int(n_c.sum()), f) - cnt.sum(axis=0)
    rest = np.round(exact - cnt, 9).ravel()
    for flat in np.lexsort((rng.random(rest.size), -rest)):
        c, s = divmod(int(flat), f.size)
        if row_need[c] > 0 and col_need[s] > 0:
            cnt[c, s] += 1
            row_need[c] -= 1
            col_need[s] -= 1
    for c in np.flatnonzero(row_need):  # rare leftovers: any split still short (totals always match)
        for s in np.flatnonzero(col_need):
            k = min(row_need[c], col_need[s])
            cnt[c, s] += k
            row_need[c] -= k
            col_need[s] -= k
    return cnt


def stratified_split(labels, fractions=DEFAULT_FRACTIONS, seed: int = 0) -> dict:
    """Indices of a stratified train / val / test split of ``labels`` (1-D integers).

    Returns ``{"train": idx, "val": idx, "test": idx}`` (int64 arrays, disjoint, together every
    index once). Split sizes are ``split_counts(len(labels), fractions)``; each class's share of
    a split is within one sample of its class size times the fraction. Same labels, fractions and
    seed give the same split on every machine.
    """
    y = np.asarray(labels)
    if y.ndim != 1 or (y.size and not np.issubdtype(y.dtype, np.integer)):
        raise ValueError(f"labels must be a 1-D integer array, got dtype {y.dtype} shape {y.shape}")
    f = _check_fractions(fractions)
    classes, n_c = np.unique(y, return_counts=True)
    rng = np.random.default_rng(seed)
    counts = _class_counts(n_c, f, rng)
    parts = {s: [np.zeros(0, np.int64)] for s in SPLITS}
    for c, row in zip(classes, counts):
        idx = rng.permutation(np.flatnonzero(y == c))
        edges = np.concatenate([[0], np.cumsum(row)])
        for s, a, b in zip(SPLITS, edges[:-1], edges[1:]):
            parts[s].append(idx[a:b])
    return {s: rng.permutation(np.concatenate(parts[s])).astype(np.int64) for s in SPLITS}


def random_split(n: int, fractions=DEFAULT_FRACTIONS, seed: int = 0) -> dict:
    """Indices of an unlabelled (one-class) split of ``n`` samples; see :func:`stratified_split`."""
    return stratified_split(np.zeros(int(n), dtype=np.int64), fractions, seed)


def stratified_subset(labels, limit: int, seed: int = 0) -> np.ndarray:
    """Positions of a stratified subset of exactly ``limit`` samples of ``labels`` (all of them
    when ``limit`` is at least their number), in a seeded random order.

    Each class gets ``limit * n_class / n`` samples, rounded by the largest-remainder method
    across classes so the total is exactly ``limit``.
    """
    y = np.asarray(labels)
    if isinstance(limit, bool) or not isinstance(limit, (int, np.integer)) or limit < 1:
        raise ValueError(f"limit={limit!r} must be a positive integer number of samples")
    if limit >= y.size:
        return np.arange(y.size)
    classes, n_c = np.unique(y, return_counts=True)
    exact = limit * n_c / y.size
    quota = np.floor(exact).astype(np.int64)
    quota[np.argsort(-(exact - quota), kind="stable")[:limit - int(quota.sum())]] += 1
    rng = np.random.default_rng(seed)
    picked = [rng.permutation(np.flatnonzero(y == c))[:q] for c, q in zip(classes, quota)]
    return rng.permutation(np.concatenate(picked)).astype(np.int64)
