"""KD loss against a hand computation in float64 NumPy, its limits, its gradient and pixel-wise KD."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from nets.kd import DEFAULT_ALPHA, DEFAULT_T, kd_loss, soft_kl


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _hand_kd(s, t, y, T, alpha):
    """alpha T^2 mean_n sum_k p_t log(p_t / p_s) + (1 - alpha) mean_n (-log softmax(s)_y), written out."""
    pt, ps = _softmax(t / T), _softmax(s / T)
    kl = np.mean(np.sum(pt * (np.log(pt) - np.log(ps)), axis=1))
    ce = np.mean(-np.log(_softmax(s)[np.arange(len(y)), y]))
    return alpha * T * T * kl + (1 - alpha) * ce, kl, ce


def test_defaults_are_the_reference_values():
    assert DEFAULT_T == 10.0 and DEFAULT_ALPHA == 0.5


@pytest.mark.parametrize("T, alpha", [(10.0, 0.5), (1.0, 0.5), (4.0, 0.9), (2.5, 1.0)])
def test_kd_loss_against_hand_computation(rng, T, alpha):
    s = rng.standard_normal((7, 5)) * 3
    t = rng.standard_normal((7, 5)) * 3
    y = rng.integers(0, 5, 7)
    ref, _, _ = _hand_kd(s, t, y, T, alpha)
    got = kd_loss(torch.from_numpy(s), torch.from_numpy(t), torch.from_numpy(y), T=T, alpha=alpha)
    assert got.dtype == torch.float64
    assert abs(got.item() - ref) < 1e-12 * max(1.0, abs(ref))


def test_limits(rng):
    s = torch.from_numpy(rng.standard_normal((6, 4)))
    t = torch.from_numpy(rng.standard_normal((6, 4)))
    y = torch.from_numpy(rng.integers(0, 4, 6))
    _, kl, ce = _hand_kd(s.numpy(), t.numpy(), y.numpy(), 10.0, 0.5)
    assert abs(kd_loss(s, t, y, alpha=0.0).item() - ce) < 1e-12          # alpha = 0: cross-entropy
    assert abs(kd_loss(s, None, y, alpha=0.0).item() - ce) < 1e-12       # no teacher needed then
    assert abs(kd_loss(s, t, y, T=10.0, alpha=1.0).item() - 100 * kl) < 1e-12  # alpha = 1: T^2 KL only
    assert abs(kd_loss(s, s.clone(), y, alpha=0.5).item() - 0.5 * ce) < 1e-12  # identical logits: KL = 0
    assert soft_kl(s, t, 10.0).item() > 0


def test_gradient_of_soft_term_is_T_times_probability_difference(rng):
    """d/ds [T^2 KL(p_t || p_s)] = T (p_s - p_t) / N (Hinton et al.), and the teacher gets no gradient."""
    T, n = 4.0, 5
    s = torch.from_numpy(rng.standard_normal((n, 3))).requires_grad_()
    t = torch.from_numpy(rng.standard_normal((n, 3))).requires_grad_()
    y = torch.zeros(n, dtype=torch.int64)
    kd_loss(s, t, y, T=T, alpha=1.0).backward()
    expected = T * (_softmax(s.detach().numpy() / T) - _softmax(t.detach().numpy() / T)) / n
    np.testing.assert_allclose(s.grad.numpy(), expected, rtol=0, atol=1e-14)
    assert t.grad is None


def test_pixelwise_kd_equals_kd_over_flattened_pixels(rng):
    s = rng.standard_normal((2, 3, 4, 5)) * 2
    t = rng.standard_normal((2, 3, 4, 5)) * 2
    y = rng.integers(0, 3, (2, 4, 5))
    flat = lambda a: a.transpose(0, 2, 3, 1).reshape(-1, 3)  # noqa: E731 (N, K, H, W) -> (N H W, K)
    ref, _, _ = _hand_kd(flat(s), flat(t), y.reshape(-1), 10.0, 0.5)
    got = kd_loss(torch.from_numpy(s), torch.from_numpy(t), torch.from_numpy(y))
    assert abs(got.item() - ref) < 1e-12 * abs(ref)


def test_errors():
    s = torch.zeros(2, 3)
    y = torch.zeros(2, dtype=torch.int64)
    with pytest.raises(ValueError, match="same shape"):
        kd_loss(s, torch.zeros(2, 4), y)
    with pytest.raises(ValueError, match="temperature"):
        kd_loss(s, s, y, T=0)
    with pytest.raises(ValueError, match="alpha"):
        kd_loss(s, s, y, alpha=1.5)
    with pytest.raises(ValueError, match="needs teacher_logits"):
        kd_loss(s, None, y, alpha=0.5)
