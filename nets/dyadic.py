"""Multiplication-free electronic back end: dyadic-rational weights, shift-and-add inference.

After Cintra et al., "Low-complexity approximate convolutional neural networks",
IEEE TNNLS 29(12), 2018: every weight of a trained back end is replaced by a dyadic
rational, a sum of at most ``terms`` signed powers of two, so that a product
``w * x`` becomes a few bit shifts of ``x`` and additions.

The representable set
---------------------
A weight row ``j`` (or the whole layer) is approximated as

    w_hat_ij = m_ij * 2**e_j,    m_ij = sum_{t < terms} s_t * 2**p_t,
    s_t in {-1, 0, +1},   p_t in {0, ..., shift_bits},

with an integer scale exponent ``e_j`` per row (a power of two, so it costs one shift
of the accumulator, not a multiply). For a fixed ``e_j`` the set of ``m`` is finite
and is enumerated exactly (:func:`dyadic_levels`); each weight is rounded to the
*nearest* element of that set, which is the best per-weight choice and therefore
minimises the Frobenius error ``||W - W_hat||_F`` for that scale. (Cintra et al. pose
the choice as a zero-one linear program on the Frobenius norm; with a per-weight term
budget the program separates into independent per-weight problems, which nearest
rounding solves exactly. Truncating the canonical-signed-digit expansion greedily is
*not* optimal for ``terms >= 2``.) The scale exponent is then chosen by a 1-D
exhaustive search over a window of exponents, keeping the one with the least
Frobenius error (per row by default). :func:`allocate_terms` instead spends a total
budget of terms (additions) over the whole layer, solving Cintra et al.'s zero-one
program with ``scipy.optimize.milp``.

Integer inference
-----------------
:class:`DyadicMLP` evaluates ``Linear -> ReLU -> ... -> Linear`` on integer inputs
(fixed point with ``input_frac_bits`` fractional bits; camera ADC counts are integers
already) in int64 using only shifts, additions/subtractions, comparisons (ReLU) and
arithmetic right shifts (re-quantisation of hidden activations to
``hidden_frac_bits``). :meth:`DyadicMLP.forward_float` evaluates the same
approximated network in float64 with ordinary multiplications; because every
quantity is a dyadic rational within float64's 53-bit mantissa the two agree
*exactly* (the class checks the bound and refuses inputs that could break it).
:func:`fold_backend` turns a trained torch back end (BatchNorm folded into the Linear
layers) into the weight lists the class takes.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

__all__ = [
    "dyadic_levels",
    "round_to_levels",
    "approximate",
    "allocate_terms",
    "DyadicWeights",
    "DyadicMLP",
    "quantize_input",
    "dense_ops",
    "fold_backend",
    "argmax_int",
]

#: Largest exact integer magnitude in float64 (53-bit mantissa).
_FLOAT64_EXACT = 2**53
#: Headroom kept below int64 overflow.
_INT64_SAFE = 2**62


def _check_int(name: str, value, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if not lo <= int(value) <= hi:
        raise ValueError(f"{name} must be in [{lo}, {hi}], got {value}")
    return int(value)


@lru_cache(maxsize=64)
def _levels_cached(terms: int, shift_bits: int):
    # Breadth-first over the number of terms: level t holds the integers needing exactly
    # t signed powers of two; the first decomposition found uses the fewest terms.
    atoms = [(s, p) for p in range(shift_bits + 1) for s in (1, -1)]
    decomp = {0: ()}
    frontier = [0]
    for _ in range(terms):
        nxt = []
        for v in frontier:
            for s, p in atoms:
                u = v + s * (1 << p)
                if u not in decomp:
                    decomp[u] = decomp[v] + ((s, p),)
                    nxt.append(u)
        frontier = nxt
    values = np.array(sorted(decomp), dtype=np.int64)
    signs = np.zeros((values.size, terms), dtype=np.int8)
    shifts = np.zeros((values.size, terms), dtype=np.int8)
    for i, v in enumerate(values.tolist()):
        for t, (s, p) in enumerate(decomp[v]):
            signs[i, t], shifts[i, t] = s, p
    for a in (values, signs, shifts):
        a.setflags(write=False)
    return values, signs, shifts


def dyadic_levels(terms: int, shift_bits: int):
    """All integers that are a sum of at most ``terms`` signed powers of two ``2**p``,
    ``0 <= p <= shift_bits``, with a shortest decomposition of each.

    Parameters
    ----------
    terms : int
        Term budget per weight, 1..8.
    shift_bits : int
        Largest shift ``p`` (the width of the exponent window), 0..30.

    Returns
    -------
    values : (n,) int64, sorted ascending, including 0.
    signs : (n, terms) int8 in {-1, 0, +1}; ``values[i] == sum(signs[i] << shifts[i])``.
    shifts : (n, terms) int8 in [0, shift_bits]; unused terms have sign 0.
    """
    terms = _check_int("terms", terms, 1, 8)
    shift_bits = _check_int("shift_bits", shift_bits, 0, 30)
    return _levels_cached(terms, shift_bits)


def round_to_levels(x, levels):
    """Index of the element of the sorted array ``levels`` nearest to each entry of ``x``
    (ties go to the lower element). This is exact nearest-element rounding."""
    x = np.asarray(x, dtype=np.float64)
    hi = np.clip(np.searchsorted(levels, x), 1, levels.size - 1)
    lo = hi - 1
    pick_hi = np.abs(levels[hi] - x) < np.abs(x - levels[lo])
    return np.where(pick_hi, hi, lo)


@dataclass(frozen=True)
class DyadicWeights:
    """A weight matrix approximated by dyadic rationals: ``w_hat = m * 2**exponent[:, None]``.

    Attributes
    ----------
    m : (out, in) int64, each a sum of at most ``terms`` signed powers of two.
    exponent : (out,) int64, power-of-two scale of each row.
    signs, shifts : (terms, out, in) int8, the decomposition ``m = sum_t signs[t] << shifts[t]``.
    terms, shift_bits : the budget the approximation was made under.
    error : Frobenius norm ``||w - w_hat||_F`` (same units as ``w``).
    """

    m: np.ndarray
    exponent: np.ndarray
    signs: np.ndarray
    shifts: np.ndarray
    terms: int
    shift_bits: int
    error: float

    @property
    def shape(self):
        return self.m.shape

    def to_float(self) -> np.ndarray:
        """The approximated weights ``m * 2**exponent`` as float64 (exact)."""
        return np.ldexp(self.m.astype(np.float64), self.exponent[:, None])

    @property
    def terms_used(self) -> np.ndarray:
        """(out, in) number of nonzero power-of-two terms of each weight."""
        return np.count_nonzero(self.signs, axis=0)


def _exponent_window(wmax: float, terms: int, shift_bits: int):
    # From the smallest exponent whose largest level terms*2**shift_bits*2**e covers wmax,
    # minus a margin (clipping a few large weights can pay for finer resolution), up to
    # the one where wmax is a single term 2**e (coarser grids only lose).
    e_cover = int(np.ceil(np.log2(wmax / (terms * 2.0**shift_bits))))
    return range(e_cover - shift_bits - 2, int(np.ceil(np.log2(wmax))) + 2)


def approximate(w, terms: int, shift_bits: int = 8, scale: str = "row", exponents=None) -> DyadicWeights:
    """Approximate ``w`` by dyadic rationals of at most ``terms`` signed powers of two each.

    Parameters
    ----------
    w : array_like (out, in) or (in,), float
        Weights (any units; the approximation has the same units).
    terms : int
        Maximum number of signed powers of two per weight (the complexity budget), 1..8.
    shift_bits : int
        Width of the exponent window: each term is ``+-2**(p + e)`` with ``0 <= p <= shift_bits``.
    scale : "row" or "layer"
        One power-of-two scale exponent per output row (default) or one for the layer.
        Either costs one accumulator shift per output, no multiply.
    exponents : int or (out,) int, optional
        Fix the scale exponent(s) instead of searching; used to compare roundings at a scale.

    Returns
    -------
    DyadicWeights
        ``m`` is the nearest representable integer to ``w / 2**e`` for each weight (optimal
        per weight), and ``e`` minimises the Frobenius error over an exhaustive 1-D search.
    """
    w = np.asarray(w, dtype=np.float64)
    if w.ndim == 1:
        w = w[None, :]
    if w.ndim != 2 or w.size == 0:
        raise ValueError(f"w must be a non-empty (out, in) matrix, got shape {w.shape}")
    if not np.all(np.isfinite(w)):
        raise ValueError("w contains NaN or Inf; approximate finite trained weights")
    if scale not in ("row", "layer"):
        raise ValueError(f"scale must be 'row' or 'layer', got {scale!r}")
    values, signs_tab, shifts_tab = dyadic_levels(terms, shift_bits)
    n_out = w.shape[0]
    groups = [np.arange(n_out)] if scale == "layer" else [np.array([j]) for j in range(n_out)]

    if exponents is not None:
        fixed = np.broadcast_to(np.asarray(exponents), (n_out,))
        if fixed.dtype.kind not in "iu":
            raise TypeError("exponents must be integers (powers of two scale the weights)")
    idx = np.zeros(w.shape, dtype=np.int64)
    exps = np.zeros(n_out, dtype=np.int64)
    for rows in groups:
        block = w[rows]
        if exponents is not None:
            candidates = [int(fixed[rows[0]])]
            if scale == "layer" and np.any(fixed != fixed[0]):
                raise ValueError("scale='layer' needs one exponent for all rows")
        else:
            wmax = float(np.max(np.abs(block)))
            candidates = [0] if wmax == 0.0 else _exponent_window(wmax, terms, shift_bits)
        best = None
        for e in candidates:
            scaled = np.ldexp(block, -e)
            k = round_to_levels(scaled, values)
            err = float(np.sum((block - np.ldexp(values[k].astype(np.float64), e)) ** 2))
            # Ties in error (e.g. exactly representable rows) go to the cheaper scale:
            # fewer terms, then fewer nonzero shifts.
            cost = (err, int(np.count_nonzero(signs_tab[k])),
                    int(np.count_nonzero((signs_tab[k] != 0) & (shifts_tab[k] != 0))))
            if best is None or cost < best[0]:
                best = (cost, e, k)
        _, exps[rows], idx[rows] = best

    m = values[idx]
    w_hat = np.ldexp(m.astype(np.float64), exps[:, None])
    return DyadicWeights(
        m=m,
        exponent=exps,
        signs=np.moveaxis(signs_tab[idx], -1, 0).copy(),
        shifts=np.moveaxis(shifts_tab[idx], -1, 0).copy(),
        terms=int(terms),
        shift_bits=int(shift_bits),
        error=float(np.sqrt(np.sum((w - w_hat) ** 2))),
    )


def allocate_terms(w, total_terms: int, terms: int, shift_bits: int = 8, scale: str = "row",
                   time_limit: float = 60.0, mip_rel_gap: float = 1e-6) -> DyadicWeights:
    """Approximate ``w`` under a total budget of power-of-two terms (hence of additions).

    The zero-one linear program of Cintra et al. on the squared Frobenius error: binary
    ``z[i, k]`` picks ``k`` terms (0..``terms``) for weight ``i``,

        minimise  sum_ik err[i, k] z[i, k]   s.t.  sum_k z[i, k] = 1,  sum_ik k z[i, k] <= total_terms,

    where ``err[i, k]`` is the squared error of the nearest value with at most ``k`` terms
    (0 terms: the weight is dropped). The scale exponents are those :func:`approximate` picks
    for ``terms``. Solved by ``scipy.optimize.milp`` (HiGHS) to the relative optimality gap
    ``mip_rel_gap``; a solve that stops at ``time_limit`` seconds without a solution raises.

    Returns
    -------
    DyadicWeights with ``terms_used.sum() <= total_terms``.
    """
    from scipy.optimize import LinearConstraint, milp
    from scipy.sparse import csr_matrix

    total_terms = _check_int("total_terms", total_terms, 0, 2**62)
    base = approximate(w, terms, shift_bits, scale=scale)
    w = np.asarray(w, dtype=np.float64).reshape(base.shape)
    scaled = np.ldexp(w, -base.exponent[:, None]).ravel()
    n, kk = scaled.size, terms + 1
    err = np.empty((n, kk))
    idx = np.zeros((n, kk), dtype=np.int64)
    err[:, 0] = scaled**2
    for k in range(1, kk):
        values = dyadic_levels(k, shift_bits)[0]
        idx[:, k] = round_to_levels(scaled, values)
        err[:, k] = (scaled - values[idx[:, k]]) ** 2
    # Errors in units of the row scale: weight them back so rows with different exponents compare.
    err *= np.repeat(np.ldexp(1.0, 2 * base.exponent), base.shape[1])[:, None]
    rows = np.repeat(np.arange(n), kk)
    one_each = LinearConstraint(csr_matrix((np.ones(n * kk), (rows, np.arange(n * kk))), shape=(n, n * kk)), 1, 1)
    budget = LinearConstraint(np.tile(np.arange(kk, dtype=float), n)[None, :], 0, total_terms)
    res = milp(err.ravel() / max(err.max(), 1e-300), constraints=[one_each, budget], integrality=np.ones(n * kk),
               bounds=(0, 1), options={"time_limit": time_limit, "mip_rel_gap": mip_rel_gap})
    if res.status != 0 or res.x is None:
        raise RuntimeError(f"term allocation did not finish ({res.message}); raise time_limit or the budget")
    chosen = np.argmax(res.x.reshape(n, kk), axis=1)
    values_k = [None] + [dyadic_levels(k, shift_bits) for k in range(1, kk)]
    m = np.zeros(n, dtype=np.int64)
    signs = np.zeros((terms, n), dtype=np.int8)
    shifts = np.zeros((terms, n), dtype=np.int8)
    for k in range(1, kk):
        sel = chosen == k
        vals, sg, sh = values_k[k]
        m[sel] = vals[idx[sel, k]]
        signs[:k, sel] = sg[idx[sel, k]].T
        shifts[:k, sel] = sh[idx[sel, k]].T
    shape = base.shape
    w_hat = np.ldexp(m.reshape(shape).astype(np.float64), base.exponent[:, None])
    return DyadicWeights(m=m.reshape(shape), exponent=base.exponent, signs=signs.reshape((terms,) + shape),
                         shifts=shifts.reshape((terms,) + shape), terms=int(terms), shift_bits=int(shift_bits),
                         error=float(np.sqrt(np.sum((w - w_hat) ** 2))))


def quantize_input(x, frac_bits: int) -> np.ndarray:
    """Fixed-point integers ``round(x * 2**frac_bits)`` (int64) of a float array ``x``
    (``frac_bits`` may be negative: coarser than integers)."""
    frac_bits = _check_int("frac_bits", frac_bits, -40, 40)
    x = np.asarray(x, dtype=np.float64)
    if not np.all(np.isfinite(x)):
        raise ValueError("x contains NaN or Inf")
    return np.rint(np.ldexp(x, frac_bits)).astype(np.int64)


def dense_ops(n_out: int, n_in: int, bias: bool = True) -> dict:
    """Operation count of a float fully connected layer ``y = W x (+ b)``: one multiply per
    weight and ``n_in - 1`` additions per output (plus one for the bias)."""
    return {"adds": n_out * (n_in - 1 + int(bias)), "shifts": 0, "multiplies": n_out * n_in}


def _shift(a: np.ndarray, s) -> np.ndarray:
    """``a * 2**s`` for integer ``s`` (per last axis), floor for right shifts."""
    s = np.asarray(s, dtype=np.int64)
    return np.where(s >= 0, np.left_shift(a, np.maximum(s, 0)), np.right_shift(a, np.maximum(-s, 0)))


class DyadicMLP:
    """``Linear -> ReLU -> ... -> Linear`` with dyadic weights, evaluated by shifts and adds.

    Parameters
    ----------
    weights : list of (out, in) float arrays or :class:`DyadicWeights`
        Trained weights of each fully connected layer (``y = W x + b``, as ``torch.nn.Linear``),
        approximated here with ``terms``/``shift_bits``/``scale``, or already approximated.
    biases : list of (out,) float arrays or None
    terms : int
        Signed powers of two per weight (1..8).
    shift_bits : int
        Exponent window width of the weights (see :func:`approximate`).
    input_frac_bits : int
        Fractional bits of the fixed-point input (0 for integer camera counts; negative when
        one input count stands for a power of two larger than 1).
    hidden_frac_bits : int
        Fractional bits the hidden activations are re-quantised to (floor, an arithmetic
        right shift) after each ReLU.
    scale : "row" or "layer"
        Scale exponent per output row or per layer.
    calibration : (n, in) float array, optional
        Typical inputs (e.g. training camera images, in input units). When given, each
        layer's bias is corrected so that the approximated network's mean output over them
        equals the float network's: ``b_hat = b + W mean(h) - W_hat mean(h_hat)`` (h: the
        layer's input in the float network, h_hat: in the approximated one). Weight errors
        times a large common input offset otherwise shift every output alike (bias
        correction, as in data-free quantisation, Nagel et al., ICCV 2019).
    """

    def __init__(self, weights, biases=None, terms: int = 2, shift_bits: int = 8,
                 input_frac_bits: int = 8, hidden_frac_bits: int = 8, scale: str = "row", calibration=None):
        if len(weights) == 0:
            raise ValueError("weights must list at least one layer")
        biases = [None] * len(weights) if biases is None else list(biases)
        if len(biases) != len(weights):
            raise ValueError(f"got {len(weights)} weight matrices but {len(biases)} biases")
        self.input_frac_bits = _check_int("input_frac_bits", input_frac_bits, -40, 40)
        self.hidden_frac_bits = _check_int("hidden_frac_bits", hidden_frac_bits, 0, 40)
        self.layers: list[DyadicWeights] = []
        self.bias_int: list[np.ndarray] = []
        frac = self.input_frac_bits
        h = h_hat = None
        if calibration is not None:
            h = h_hat = np.atleast_2d(np.asarray(calibration, dtype=np.float64))
            if not np.all(np.isfinite(h)):
                raise ValueError("calibration contains NaN or Inf")
        for i, (w, b) in enumerate(zip(weights, biases)):
            if isinstance(w, DyadicWeights):  # already approximated (e.g. by allocate_terms)
                d, w = w, w.m
            else:
                w = np.asarray(w, dtype=np.float64)
                if w.ndim != 2:
                    raise ValueError(f"weights[{i}] must be (out, in), got shape {w.shape}")
                d = approximate(w, terms, shift_bits, scale=scale)
            if i and w.shape[1] != self.layers[-1].shape[0]:
                raise ValueError(
                    f"weights[{i}] takes {w.shape[1]} inputs but layer {i - 1} gives {self.layers[-1].shape[0]}")
            # The accumulator of row j counts units of 2**(e_j - frac); the bias is rounded
            # to that grid so it is one more integer addition.
            b = np.zeros(w.shape[0]) if b is None else np.asarray(b, dtype=np.float64).reshape(-1)
            if b.shape != (w.shape[0],):
                raise ValueError(f"biases[{i}] must have {w.shape[0]} entries, got {b.size}")
            w_float = w.astype(np.float64) if not isinstance(weights[i], DyadicWeights) else None
            b_used = b
            if h is not None:
                if h.shape[1] != w.shape[1]:
                    raise ValueError(f"calibration has {h.shape[1]} features, layer {i} takes {w.shape[1]}")
                w_hat = d.to_float()
                w_ref = w_hat if w_float is None else w_float
                b_used = b + w_ref @ h.mean(axis=0) - w_hat @ h_hat.mean(axis=0)
            self.bias_int.append(np.rint(np.ldexp(b_used, -(d.exponent - frac))).astype(np.int64))
            if h is not None and i + 1 < len(weights):
                b_hat = np.ldexp(self.bias_int[-1].astype(np.float64), d.exponent - frac)
                h = np.maximum(h @ w_ref.T + b, 0.0)
                h_hat = np.maximum(h_hat @ w_hat.T + b_hat, 0.0)
            self.layers.append(d)
            frac = self.hidden_frac_bits

    @property
    def n_inputs(self) -> int:
        return self.layers[0].shape[1]

    def _acc_units(self, i: int) -> np.ndarray:
        frac = self.input_frac_bits if i == 0 else self.hidden_frac_bits
        return self.layers[i].exponent - frac

    def _check_input(self, x_int, limit: int) -> np.ndarray:
        x = np.asarray(x_int)
        if x.dtype.kind not in "iu":
            raise TypeError("x_int must be integers; use quantize_input(x, input_frac_bits)")
        if x.shape[-1] != self.n_inputs:
            raise ValueError(f"x_int has {x.shape[-1]} features, the back end takes {self.n_inputs}")
        x = x.astype(np.int64)
        # Worst-case magnitude of any partial sum through the layers must stay exact: every
        # term |x| << shift counts in full, whatever order the additions take.
        bound = float(np.max(np.abs(x))) if x.size else 0.0
        for i, d in enumerate(self.layers):
            term_sum = np.where(d.signs != 0, np.ldexp(1.0, d.shifts.astype(np.int64)), 0.0).sum(axis=(0, 2))
            acc = bound * term_sum + np.abs(self.bias_int[i])
            if np.max(acc) >= limit:
                raise OverflowError(
                    f"layer {i} accumulator may reach {np.max(acc):.3g} >= {limit:.3g}: lower "
                    "input_frac_bits/hidden_frac_bits or shift_bits, or scale the input down")
            if i + 1 < len(self.layers):
                s = self._acc_units(i) + self.hidden_frac_bits
                bound = float(np.max(np.ldexp(acc, s)))
        return x

    def forward_int(self, x_int, chunk: int | None = None):
        """Integer shift-and-add evaluation.

        Parameters
        ----------
        x_int : (batch, in) integer array, input in units of ``2**-input_frac_bits``.

        Returns
        -------
        acc : (batch, out) int64 and exponent : (out,) int64 with
            ``logits = acc * 2**exponent`` exactly.
        """
        x = self._check_input(x_int, _INT64_SAFE)
        squeeze = x.ndim == 1
        x = np.atleast_2d(x)
        if chunk is None:  # bound each (chunk, out, in) int64 temporary to ~32 MB
            chunk = max(1, 2**22 // max(d.m.size for d in self.layers))
        outs = []
        for start in range(0, x.shape[0], chunk):
            h = x[start:start + chunk]
            for i, d in enumerate(self.layers):
                acc = np.broadcast_to(self.bias_int[i], (h.shape[0], d.shape[0])).copy()
                for t in range(d.terms):
                    # sign * (x << shift): shifts and a signed selection, no multiplication.
                    shifted = np.left_shift(h[:, None, :], d.shifts[t].astype(np.int64)[None])
                    s = d.signs[t][None]
                    acc += np.where(s > 0, shifted, np.where(s < 0, -shifted, 0)).sum(axis=-1)
                if i + 1 < len(self.layers):
                    acc = np.maximum(acc, 0)  # ReLU: a comparison
                    h = _shift(acc, self._acc_units(i) + self.hidden_frac_bits)
            outs.append(acc)
        acc = np.concatenate(outs, axis=0)
        return (acc[0] if squeeze else acc), self._acc_units(len(self.layers) - 1)

    def forward_float(self, x_int) -> np.ndarray:
        """The same approximated network in float64 with ordinary multiplications:
        ``x = x_int * 2**-input_frac_bits``, ``h = floor(relu(W_hat h + b_hat) * 2**F) / 2**F``
        between layers. Returns float64 logits (batch, out)."""
        x = self._check_input(x_int, _FLOAT64_EXACT)
        h = np.ldexp(x.astype(np.float64), -self.input_frac_bits)
        for i, d in enumerate(self.layers):
            b_hat = np.ldexp(self.bias_int[i].astype(np.float64), self._acc_units(i))
            h = h @ d.to_float().T + b_hat
            if i + 1 < len(self.layers):
                f = self.hidden_frac_bits
                h = np.ldexp(np.floor(np.ldexp(np.maximum(h, 0.0), f)), -f)
        return h

    def logits(self, x_int) -> np.ndarray:
        """float64 logits from the integer evaluation (``acc * 2**exponent``, exact)."""
        acc, e = self.forward_int(x_int)
        return np.ldexp(acc.astype(np.float64), e)

    def predict(self, x_int) -> np.ndarray:
        """Class index per sample from the integer path alone (:func:`argmax_int`)."""
        return argmax_int(*self.forward_int(x_int))

    def ops(self) -> dict:
        """Operations per inference (one sample).

        ``adds``: additions and subtractions (``n - 1`` to sum ``n`` operands per output,
        the bias being one operand when nonzero). ``shifts``: weight terms with a nonzero
        shift, plus one accumulator shift per output where it rescales (hidden
        re-quantisation; output alignment to a common exponent). ``compares``: ReLUs.
        ``multiplies``: always 0.
        """
        adds = shifts = compares = 0
        for i, d in enumerate(self.layers):
            operands = d.terms_used.sum(axis=1) + (self.bias_int[i] != 0)
            adds += int(np.maximum(operands - 1, 0).sum())
            shifts += int(np.count_nonzero((d.signs != 0) & (d.shifts != 0)))
            if i + 1 < len(self.layers):
                compares += d.shape[0]
                shifts += int(np.count_nonzero(self._acc_units(i) + self.hidden_frac_bits))
            else:
                e = self._acc_units(i)
                shifts += int(np.count_nonzero(e != e.min()))
        return {"adds": adds, "shifts": shifts, "compares": compares, "multiplies": 0}


def argmax_int(acc, exponent) -> np.ndarray:
    """Index of the largest ``acc * 2**exponent`` along the last axis, in integers: the
    accumulators are aligned to the smallest exponent by left shifts, then compared."""
    acc, exponent = np.asarray(acc), np.asarray(exponent)
    spread = exponent - exponent.min()
    if acc.size and float(np.max(np.abs(acc))) * 2.0 ** float(spread.max()) >= _INT64_SAFE:
        raise OverflowError("aligning the output rows' exponents would overflow int64; use scale='layer'")
    return np.argmax(np.left_shift(acc, spread), axis=-1)


def _bn_affine(bn):
    """(scale, shift) of an eval-mode BatchNorm: ``y = x * scale + shift``."""
    def arr(t):
        return None if t is None else t.detach().cpu().double().numpy()

    mean, var = arr(bn.running_mean), arr(bn.running_var)
    if mean is None or var is None:
        raise ValueError("BatchNorm without running statistics cannot be folded (track_running_stats=False)")
    scale = 1.0 / np.sqrt(var + bn.eps)
    shift = -mean * scale
    if getattr(bn, "weight", None) is not None:
        g, b = arr(bn.weight), arr(bn.bias)
        scale, shift = scale * g, shift * g + b
    return scale, shift


def fold_backend(modules):
    """Weights and biases of a ``[Flatten] [BatchNorm1d] Linear (ReLU [BatchNorm1d] Linear)*``
    back end (torch modules, in eval mode), with every BatchNorm folded into the adjacent
    Linear, as float64 lists for :class:`DyadicMLP`.

    A BatchNorm before a Linear scales its input columns (``W diag(s)``, ``b + W t``); one
    right after a Linear scales its rows. Dropout and Identity are skipped (inference).
    """
    weights, biases = [], []
    pending = None  # input affine (scale, shift) waiting for the next Linear
    prev = None  # last Linear or ReLU seen
    for i, m in enumerate(modules):
        kind = type(m).__name__
        if kind in ("Flatten", "Dropout", "Identity"):
            continue
        if kind == "BatchNorm1d":
            s, t = _bn_affine(m)
            if prev == "Linear":  # acts on the last Linear's output: scale its rows
                weights[-1] = weights[-1] * s[:, None]
                biases[-1] = biases[-1] * s + t
            else:
                pending = (s, t) if pending is None else (pending[0] * s, pending[1] * s + t)
        elif kind == "Linear":
            if prev == "Linear":
                raise ValueError(f"module {i}: two Linear layers without a ReLU between them")
            w = m.weight.detach().cpu().double().numpy()
            b = np.zeros(w.shape[0]) if m.bias is None else m.bias.detach().cpu().double().numpy()
            if pending is not None:  # W (x s + t) + b = (W diag(s)) x + (b + W t)
                b = b + w @ pending[1]
                w = w * pending[0][None, :]
                pending = None
            weights.append(w)
            biases.append(b)
            prev = kind
        elif kind == "ReLU":
            if prev != "Linear":
                raise ValueError(f"module {i}: ReLU must follow a Linear")
            prev = kind
        else:
            raise ValueError(f"module {i}: cannot fold {kind}; the back end must be "
                             "[Flatten] [BatchNorm1d] Linear (ReLU [BatchNorm1d] Linear)*")
    if prev != "Linear":
        raise ValueError("the back end must end with a Linear layer")
    return weights, biases
