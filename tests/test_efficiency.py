"""Efficiency model: op counts against torch's FLOP counter and hand counts; device timing formulas."""
import dataclasses

import numpy as np
import pytest

from nets.dyadic import DyadicMLP
from nets.efficiency import (Assumptions, Conv2d, Linear, MaxPool2d, ReLU, backend_energy, backend_ops,
                             count_ops, crossover, fit_time, gpu_cost, optical_frame, teacher_layers)


@pytest.mark.parametrize("n", [28, 64, 30])
def test_teacher_flops_match_torch_flop_counter(n):
    torch = pytest.importorskip("torch")
    from torch import nn
    from torch.utils.flop_counter import FlopCounterMode

    # Built here from torch modules, independently of the layer-list description.
    model = nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * (n // 2 // 2) ** 2, 64), nn.ReLU(), nn.Linear(64, 10))
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        out = model(torch.zeros(1, 1, n, n))
    ops = count_ops(teacher_layers(), (1, n, n))
    assert ops["flops"] == counter.get_total_flops()
    assert ops["out_shape"] == tuple(out.shape[1:])
    assert ops["kernels"] == 9  # Flatten is a view, not a kernel


def test_count_ops_by_hand():
    ops = count_ops([Conv2d(1, 16, 3), ReLU(), MaxPool2d(2), Linear(10)], (1, 28, 28))
    assert ops["macs"] == 28 * 28 * 16 * 9 + 16 * 14 * 14 * 10
    # ReLU: 16*28*28 comparisons; pooling 2x2: 3 comparisons per output.
    assert ops["other"] == 16 * 28 * 28 + 16 * 14 * 14 * 3
    assert ops["out_shape"] == (10,)


def test_count_ops_errors():
    with pytest.raises(ValueError, match="channels"):
        count_ops([Conv2d(3, 8, 3)], (1, 8, 8))
    with pytest.raises(ValueError, match="too small"):
        count_ops([MaxPool2d(2), MaxPool2d(2)], (1, 2, 2))


def test_optical_frame_limits():
    a = Assumptions(display_hz=1000, camera_fps=500, camera_pixel_rate=1e9, slm_hz=50,
                    laser_power_w=0.03, laser_efficiency=0.3, display_power_w=1, slm_power_w=2, camera_power_w=3)
    power = 0.1 + 1 + 2 + 3
    f = optical_frame(1000, 4, a)  # camera-limited single frame
    assert (f["frames"], f["limit"]) == (1, "camera")
    assert f["seconds"] == pytest.approx(2e-3) and f["joules"] == pytest.approx(2e-3 * power)
    f = optical_frame(4_000_000, 4, a)  # read-out limited: 4e6 px at 1e9 px/s
    assert f["limit"] == "readout" and f["seconds"] == pytest.approx(4e-3)
    f = optical_frame(1000, 4, dataclasses.replace(a, camera_fps=5000))
    assert f["limit"] == "display" and f["seconds"] == pytest.approx(1e-3)
    # Time-multiplexed channels: 4 channels, 1 per frame -> 4 frames, the SLM (50 Hz) limits.
    f = optical_frame(1000, 4, dataclasses.replace(a, channels_per_frame=1))
    assert (f["frames"], f["limit"]) == (4, "slm")
    assert f["seconds"] == pytest.approx(4 / 50) and f["joules"] == pytest.approx(4 / 50 * power)
    # 3 per frame -> 2 frames of 3 and 1 channel(s); read-out per frame of 3/4 of the pixels.
    f = optical_frame(8_000_000, 4, dataclasses.replace(a, channels_per_frame=3, slm_hz=1e6))
    assert f["frames"] == 2 and f["frame_s"] == pytest.approx(6e-3)


def test_gpu_cost():
    a = Assumptions(gpu_peak_flops=1e12, gpu_utilization=0.5, gpu_launch_s=1e-5, gpu_j_per_flop=2e-11)
    g = gpu_cost(1e9, 7, a)
    assert g["seconds"] == pytest.approx(7e-5 + 2e-3)
    assert g["joules"] == pytest.approx(2e-2)


def test_backend_ops_bounds_a_trained_dyadic_layer():
    rng = np.random.default_rng(0)
    w, b = rng.normal(size=(10, 200)), rng.normal(size=10)
    assert backend_ops(200, 10) == {"adds": 2000, "shifts": 0, "multiplies": 2000}
    for k in (1, 2, 3):
        exact = DyadicMLP([w], [b], terms=k, shift_bits=8).ops()
        bound = backend_ops(200, 10, terms=k)
        assert bound["multiplies"] == exact["multiplies"] == 0
        assert exact["adds"] <= bound["adds"] and exact["shifts"] <= bound["shifts"]
        assert exact["adds"] >= 0.5 * bound["adds"]  # a real bound, not a loose one


def test_backend_energy():
    a = Assumptions()
    assert backend_energy({"adds": 10, "shifts": 5, "multiplies": 0}, a) == pytest.approx(15 * 0.1e-12)
    assert backend_energy({"adds": 10, "shifts": 0, "multiplies": 10}, a) == pytest.approx(10 * (0.9 + 3.7) * 1e-12)


def test_fit_time_recovers_linear_model():
    flops = np.array([1e6, 1e7, 1e8, 1e9])
    t0, rate = fit_time(flops, 2e-4 + flops / 5e10)
    assert t0 == pytest.approx(2e-4, rel=1e-6) and rate == pytest.approx(5e10, rel=1e-6)
    t0, rate = fit_time(flops, flops / 1e9)  # no overhead: t0 clipped at 0, not negative
    assert t0 == pytest.approx(0, abs=1e-12) and rate == pytest.approx(1e9, rel=1e-6)


def test_crossover():
    ns = np.arange(10, 201, 10)
    digital_s = 1e-6 * ns**2  # quadratic digital time, constant optical frame
    hybrid_s = np.full(ns.shape, 2.5e-3)
    # both metrics must win: energy crosses later (at n = 100) than time (n = 50 + ...)
    digital_j = 1e-6 * ns**2
    hybrid_j = np.full(ns.shape, 9.5e-3)
    assert crossover(ns, hybrid_s, hybrid_s, digital_s, digital_s) == 60  # 1e-6 n^2 > 2.5e-3 from n = 60
    assert crossover(ns, hybrid_s, hybrid_j, digital_s, digital_j) == 100
    assert crossover(ns, hybrid_s * 1e3, hybrid_j, digital_s, digital_j) is None
    # A win that is lost again at the largest sizes is not a crossover.
    assert crossover(ns, hybrid_s, hybrid_s, digital_s[::-1], digital_s[::-1]) is None


def test_assumptions_have_sources_and_validate():
    a = Assumptions()
    names = [f.name for f in dataclasses.fields(a)]
    assert set(names) == set(Assumptions.SOURCES)
    assert len(a.describe()) == len(names)
    assert a.gpu_j_per_flop == pytest.approx(2.05e-11, rel=1e-2)
    with pytest.raises(ValueError, match="camera_fps"):
        Assumptions(camera_fps=0)
    with pytest.raises(ValueError, match="laser_power_w"):
        Assumptions(laser_power_w=-1)


def test_interpolate_time():
    from nets.efficiency import interpolate_time

    f, t = [1e6, 1e8, 1e7], [1e-4, 4e-3, 1e-3]  # unsorted on purpose
    for fi, ti in zip(f, t):
        assert interpolate_time(fi, f, t, 1e10) == pytest.approx(ti, rel=1e-12)
    # log-log midpoint between (1e7, 1e-3) and (1e8, 4e-3): geometric mean of the times.
    assert interpolate_time(10**7.5, f, t, 1e10) == pytest.approx(np.sqrt(4e-6), rel=1e-9)
    # beyond the range: last point plus extra FLOPs at the rate (continuous), and never negative below.
    assert interpolate_time(2e8, f, t, 1e10) == pytest.approx(4e-3 + 1e8 / 1e10)
    assert interpolate_time(1e5, f, t, 1e10) == pytest.approx(1e-4 - 9e5 / 1e10)
    assert interpolate_time(1e5, f, t, 1e9) == 0.0
