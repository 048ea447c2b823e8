"""Dyadic-rational back end: representable set, optimal rounding, exact integer inference."""
import itertools

import numpy as np
import pytest

from nets.dyadic import DyadicMLP, approximate, dense_ops, dyadic_levels, quantize_input, round_to_levels


def brute_force_levels(terms, shift_bits):
    """{value: fewest terms} by enumerating every tuple of signed powers of two (or 0)."""
    atoms = [0] + [s * 2**p for p in range(shift_bits + 1) for s in (1, -1)]
    best = {}
    for combo in itertools.product(atoms, repeat=terms):
        v = sum(combo)
        n = sum(a != 0 for a in combo)
        best[v] = min(n, best.get(v, n))
    return best


def csd_truncation(n, terms):
    """Canonical-signed-digit (non-adjacent form) expansion of the integer ``n``, keeping
    its ``terms`` most significant nonzero digits: the greedy baseline."""
    digits, p = [], 0
    while n:
        if n % 2:
            d = 2 - (n % 4)  # +1 or -1, so that the next digit is 0
            digits.append(d * 2**p)
            n -= d
        n //= 2
        p += 1
    return sum(sorted(digits, key=abs, reverse=True)[:terms])


@pytest.mark.parametrize("terms,shift_bits", [(1, 3), (2, 3), (2, 5), (3, 4), (4, 3)])
def test_levels_match_brute_force(terms, shift_bits):
    values, signs, shifts = dyadic_levels(terms, shift_bits)
    ref = brute_force_levels(terms, shift_bits)
    assert values.tolist() == sorted(ref)
    # Each decomposition reproduces its value, uses allowed shifts and the fewest terms.
    recon = (signs.astype(np.int64) * (1 << shifts.astype(np.int64))).sum(axis=1)
    np.testing.assert_array_equal(recon, values)
    assert shifts.min() >= 0 and shifts.max() <= shift_bits
    np.testing.assert_array_equal(np.count_nonzero(signs, axis=1), [ref[v] for v in values.tolist()])


def test_round_to_levels_is_nearest():
    levels = np.array([-8, -3, 0, 1, 5, 16])
    x = np.array([-100, -5.6, -5.4, -0.2, 0.6, 3.0, 3.1, 10.4, 10.6, 99])
    got = levels[round_to_levels(x, levels)]
    np.testing.assert_array_equal(got, [-8, -8, -3, 0, 1, 1, 5, 5, 16, 16])


@pytest.mark.parametrize("terms", [1, 2, 3, 4])
@pytest.mark.parametrize("scale", ["row", "layer"])
def test_every_weight_is_a_budgeted_sum_of_signed_powers_of_two(terms, scale):
    rng = np.random.default_rng(terms)
    w = rng.normal(size=(7, 40)) * np.logspace(-2, 0, 7)[:, None]
    d = approximate(w, terms, shift_bits=6, scale=scale)
    assert d.signs.shape == (terms,) + w.shape
    assert np.all(np.count_nonzero(d.signs, axis=0) <= terms)
    assert d.shifts.min() >= 0 and d.shifts.max() <= 6
    recon = (d.signs.astype(np.int64) * (1 << d.shifts.astype(np.int64))).sum(axis=0)
    np.testing.assert_array_equal(recon, d.m)
    # w_hat as a float: m * 2**e computed independently with Python fractions-free powers.
    w_hat = d.m * (2.0 ** d.exponent[:, None])
    np.testing.assert_array_equal(w_hat, d.to_float())
    assert d.error == pytest.approx(np.linalg.norm(w - w_hat), rel=1e-12)
    if scale == "layer":
        assert np.all(d.exponent == d.exponent[0])


@pytest.mark.parametrize("terms", [1, 2, 3])
def test_frobenius_error_no_worse_than_nearest_rounding_at_any_scale(terms):
    rng = np.random.default_rng(10 + terms)
    w = rng.normal(size=(5, 30)) * 0.2
    shift_bits = 4
    ref_levels = np.array(sorted(brute_force_levels(terms, shift_bits)), dtype=float)
    d = approximate(w, terms, shift_bits)
    for j in range(w.shape[0]):
        err_j = np.sum((w[j] - d.to_float()[j]) ** 2)
        # Nearest-element rounding into the brute-force set, at every scale in a wide range.
        for e in range(-30, 8):
            grid = ref_levels * 2.0**e
            nearest = grid[np.argmin(np.abs(w[j][:, None] - grid[None, :]), axis=1)]
            assert err_j <= np.sum((w[j] - nearest) ** 2) * (1 + 1e-12)


def test_nearest_rounding_beats_csd_truncation():
    x = np.arange(-250, 251)
    assert csd_truncation(43, 2) == 48  # 43 = 64 - 16 - 4 - 1; 40 = 32 + 8 is nearer
    e = np.zeros(1, dtype=np.int64)
    for terms in (2, 3):
        d = approximate(x[None].astype(float), terms, shift_bits=8, exponents=e)
        ours = np.abs(x - d.to_float()[0])
        theirs = np.abs(x - np.array([csd_truncation(int(v), terms) for v in x]))
        assert np.all(ours <= theirs)
        assert np.sum(ours < theirs) >= 4  # truncating the CSD expansion is not optimal


def test_error_falls_with_terms_and_approaches_the_weights():
    rng = np.random.default_rng(4)
    w = rng.normal(size=(10, 64)) * 0.05
    errs = [approximate(w, k, shift_bits=10).error / np.linalg.norm(w) for k in (1, 2, 3, 4)]
    assert all(a > b for a, b in zip(errs, errs[1:]))
    # One term is a power of two: relative error per weight at most 1/3 (nearest of 2^p, 2^(p+1)).
    assert errs[0] < 1 / 3
    assert errs[3] < 5e-3


def _mlp_case(seed=0, n_in=60, n_hidden=24, n_out=10):
    rng = np.random.default_rng(seed)
    ws = [rng.normal(size=(n_hidden, n_in)) / np.sqrt(n_in), rng.normal(size=(n_out, n_hidden)) / np.sqrt(n_hidden)]
    bs = [rng.normal(size=n_hidden) * 0.1, rng.normal(size=n_out) * 0.1]
    return rng, ws, bs


@pytest.mark.parametrize("terms", [1, 2, 4])
@pytest.mark.parametrize("scale", ["row", "layer"])
def test_integer_shift_add_inference_equals_float_evaluation_exactly(terms, scale):
    rng, ws, bs = _mlp_case(terms)
    net = DyadicMLP(ws, bs, terms=terms, shift_bits=8, input_frac_bits=6, hidden_frac_bits=7, scale=scale)
    x = quantize_input(rng.uniform(-1, 1, size=(300, 60)), 6)
    acc, e = net.forward_int(x)
    assert acc.dtype == np.int64
    ref = net.forward_float(x)
    np.testing.assert_array_equal(np.ldexp(acc.astype(np.float64), e), ref)
    np.testing.assert_array_equal(net.predict(x), np.argmax(ref, axis=1))
    # Chunking does not change the result.
    acc1, _ = net.forward_int(x, chunk=7)
    np.testing.assert_array_equal(acc1, acc)


def test_integer_inference_on_camera_counts_three_layers():
    rng = np.random.default_rng(5)
    ws = [rng.normal(size=(16, 49)) * 0.01, rng.normal(size=(12, 16)) * 0.3, rng.normal(size=(4, 12))]
    net = DyadicMLP(ws, None, terms=3, shift_bits=6, input_frac_bits=0, hidden_frac_bits=4)
    counts = rng.integers(0, 1024, size=(50, 49))  # 10-bit ADC counts
    acc, e = net.forward_int(counts)
    np.testing.assert_array_equal(np.ldexp(acc.astype(np.float64), e), net.forward_float(counts))


def test_fine_approximation_matches_the_float_network():
    """With many terms and bits the dyadic network is the trained float network
    (torch.nn.functional.linear semantics: y = x W^T + b, ReLU between layers)."""
    torch = pytest.importorskip("torch")
    rng, ws, bs = _mlp_case(7)
    x = rng.uniform(0, 1, size=(100, 60))
    with torch.no_grad():
        h = torch.relu(torch.nn.functional.linear(torch.tensor(x), torch.tensor(ws[0]), torch.tensor(bs[0])))
        ref = torch.nn.functional.linear(h, torch.tensor(ws[1]), torch.tensor(bs[1])).numpy()
    net = DyadicMLP(ws, bs, terms=6, shift_bits=16, input_frac_bits=16, hidden_frac_bits=16)
    np.testing.assert_allclose(net.logits(quantize_input(x, 16)), ref, atol=2e-4)
    coarse = DyadicMLP(ws, bs, terms=1, shift_bits=4, input_frac_bits=16, hidden_frac_bits=16)
    assert np.max(np.abs(coarse.logits(quantize_input(x, 16)) - ref)) > 1e-2  # the check can fail


def test_operation_count_by_hand():
    # Row 0: [1, 0.75] -> scale 2**-2: m = [4, 3] = [1<<2, 1 + (1<<1)]: 3 terms, 2 nonzero shifts,
    # 2 additions. Row 1: [0.5, 0] -> scale 2**-1: m = [1, 0]: 1 term, no shift, no addition.
    # Output alignment: exponents -2 and -1 -> one shift. No bias.
    net = DyadicMLP([np.array([[1.0, 0.75], [0.5, 0.0]])], None, terms=2, shift_bits=2, input_frac_bits=0)
    d = net.layers[0]
    np.testing.assert_array_equal(d.exponent, [-2, -1])
    np.testing.assert_array_equal(d.m, [[4, 3], [1, 0]])
    assert net.ops() == {"adds": 2, "shifts": 3, "compares": 0, "multiplies": 0}
    np.testing.assert_array_equal(net.logits(np.array([[3, 5]])), [[3 + 3.75, 1.5]])


def test_operation_count_hidden_layer_with_bias():
    # Exactly representable weights: every weight a single power of two, bias nonzero.
    w1 = np.array([[0.5, 0.25, 0.0], [1.0, 0.0, 0.0]])
    w2 = np.array([[2.0, 1.0]])
    net = DyadicMLP([w1, w2], [np.array([0.5, 0.0]), np.array([1.0])], terms=1, shift_bits=3,
                    input_frac_bits=2, hidden_frac_bits=2)
    ops = net.ops()
    # adds: row (0.5, 0.25, bias) 2, row (1.0) 0, output (2, 1, bias) 2 -> 4. compares: 2 ReLUs.
    assert ops["adds"] == 4 and ops["compares"] == 2 and ops["multiplies"] == 0
    x = quantize_input(np.array([[1.0, 2.0, 3.0], [-4.0, 1.0, 0.0]]), 2)
    # float: h = relu([0.5+0.5+0.5, 1]) = [1.5, 1]; y = 3+1+1 = 5 ; h = relu([-2+.25+.5, -4]) = 0; y = 1
    np.testing.assert_array_equal(net.logits(x), [[5.0], [1.0]])


def test_dense_ops():
    assert dense_ops(10, 784) == {"adds": 7840, "shifts": 0, "multiplies": 7840}
    assert dense_ops(10, 784, bias=False)["adds"] == 7830


def test_errors_are_clear():
    with pytest.raises(ValueError, match="terms"):
        dyadic_levels(0, 4)
    with pytest.raises(ValueError, match="NaN"):
        approximate(np.array([[1.0, np.nan]]), 2)
    with pytest.raises(ValueError, match="scale"):
        approximate(np.ones((2, 2)), 2, scale="column")
    net = DyadicMLP([np.ones((2, 3))], None, terms=1, shift_bits=2, input_frac_bits=0)
    with pytest.raises(TypeError, match="quantize_input"):
        net.forward_int(np.ones((1, 3)))
    with pytest.raises(ValueError, match="features"):
        net.forward_int(np.ones((1, 4), dtype=np.int64))
    with pytest.raises(OverflowError, match="frac_bits"):
        net.forward_float(np.full((1, 3), 2**52, dtype=np.int64))
    with pytest.raises(ValueError, match=r"weights\[1\]"):
        DyadicMLP([np.ones((2, 3)), np.ones((1, 5))])


def test_fold_backend_matches_torch():
    torch = pytest.importorskip("torch")
    from torch import nn

    from nets.dyadic import fold_backend

    torch.manual_seed(0)
    seq = nn.Sequential(nn.Flatten(), nn.BatchNorm1d(12, affine=False), nn.Linear(12, 8), nn.BatchNorm1d(8),
                        nn.ReLU(), nn.Dropout(0.5), nn.BatchNorm1d(8), nn.Linear(8, 3))
    with torch.no_grad():  # non-trivial running statistics and affine parameters
        for bn in (seq[1], seq[3], seq[6]):
            bn.running_mean.uniform_(-2, 2)
            bn.running_var.uniform_(0.1, 5)
            if bn.affine:
                bn.weight.uniform_(0.5, 2)
                bn.bias.uniform_(-1, 1)
    seq.eval()
    x = torch.rand(50, 3, 4, dtype=torch.float64)
    with torch.no_grad():
        ref = seq.double()(x).numpy()
    ws, bs = fold_backend(seq)
    assert [w.shape for w in ws] == [(8, 12), (3, 8)]
    h = np.maximum(x.reshape(50, -1).numpy() @ ws[0].T + bs[0], 0)
    np.testing.assert_allclose(h @ ws[1].T + bs[1], ref, rtol=1e-10, atol=1e-10)
    with pytest.raises(ValueError, match="without a ReLU"):
        fold_backend(nn.Sequential(nn.Linear(3, 3), nn.Linear(3, 3)))
    with pytest.raises(ValueError, match="Conv2d"):
        fold_backend(nn.Sequential(nn.Conv2d(1, 1, 3)))


def test_allocate_terms_solves_the_zero_one_program():
    from nets.dyadic import allocate_terms

    rng = np.random.default_rng(8)
    w = rng.normal(size=(1, 5))
    terms, shift_bits = 2, 3
    sets = {k: np.array(sorted(brute_force_levels(k, shift_bits)), dtype=float) for k in (1, 2)}
    sets[0] = np.zeros(1)
    for budget in range(0, 11):
        d = allocate_terms(w, budget, terms, shift_bits)
        assert d.terms_used.sum() <= budget
        recon = (d.signs.astype(np.int64) * (1 << d.shifts.astype(np.int64))).sum(axis=0)
        np.testing.assert_array_equal(recon, d.m)
        # Brute force over every allocation of 0..2 terms to the 5 weights, same scale.
        scaled = w[0] * 2.0 ** -d.exponent[0]
        err = {k: np.min((scaled[:, None] - sets[k][None, :]) ** 2, axis=1) for k in (0, 1, 2)}
        best = min(sum(err[k][i] for i, k in enumerate(ks))
                   for ks in itertools.product((0, 1, 2), repeat=5) if sum(ks) <= budget)
        assert d.error**2 * 2.0 ** (-2 * d.exponent[0]) == pytest.approx(best, rel=1e-9, abs=1e-12)


def test_allocate_terms_with_ample_budget_is_per_weight_rounding_and_runs_exactly():
    from nets.dyadic import allocate_terms

    rng, ws, bs = _mlp_case(9, n_in=40, n_hidden=12, n_out=5)
    full = approximate(ws[0], 2, 8)
    ample = allocate_terms(ws[0], 2 * ws[0].size, 2, 8)
    assert ample.error == pytest.approx(full.error, rel=1e-6)  # solver tolerance
    tight = allocate_terms(ws[0], ws[0].size, 2, 8)  # one term per weight on average
    assert tight.terms_used.sum() <= ws[0].size
    assert full.error < tight.error < approximate(ws[0], 1, 8).error  # better than 1 term each
    net = DyadicMLP([tight, ws[1]], bs, terms=2, input_frac_bits=6, hidden_frac_bits=6)
    x = quantize_input(rng.uniform(-1, 1, size=(40, 40)), 6)
    np.testing.assert_array_equal(net.logits(x), net.forward_float(x))


def test_single_sample_and_negative_input_frac_bits():
    rng, ws, bs = _mlp_case(11, n_in=20, n_hidden=6, n_out=3)
    net = DyadicMLP(ws, bs, terms=2, input_frac_bits=-3, hidden_frac_bits=4)  # one count = 8 units
    x = quantize_input(rng.uniform(0, 4000, size=20), -3)
    np.testing.assert_array_equal(quantize_input([8.0, 12.0, 20.0], -3), [1, 2, 2])  # round half even
    acc, e = net.forward_int(x)
    assert acc.shape == (3,)
    np.testing.assert_array_equal(np.ldexp(acc.astype(float), e), net.forward_float(x[None])[0])


def test_bias_correction_removes_the_mean_output_error():
    # Camera images ride on a large common offset: weight errors times the offset shift
    # every output; the corrected biases cancel that on average.
    rng, ws, bs = _mlp_case(12, n_in=50, n_hidden=16, n_out=4)
    x = 100.0 + rng.normal(size=(400, 50))
    h = np.maximum(x @ ws[0].T + bs[0], 0)
    ref = h @ ws[1].T + bs[1]
    plain = DyadicMLP(ws, bs, terms=2, input_frac_bits=4, hidden_frac_bits=4)
    fixed = DyadicMLP(ws, bs, terms=2, input_frac_bits=4, hidden_frac_bits=4, calibration=x)
    xq = quantize_input(x, 4)
    err_plain = np.abs(np.mean(plain.logits(xq) - ref, axis=0))
    err_fixed = np.abs(np.mean(fixed.logits(xq) - ref, axis=0))
    assert np.max(err_plain) > 1.0  # the uncorrected offset error is large ...
    assert np.max(err_fixed) < 0.05 * np.max(err_plain)  # ... and the correction removes it
    np.testing.assert_array_equal(fixed.logits(xq), fixed.forward_float(xq))  # still exact
    with pytest.raises(ValueError, match="calibration"):
        DyadicMLP(ws, bs, calibration=x[:, :10])
