"""calib.kernel: un-inversion, least-squares identification and comparison, against
scipy.signal.fftconvolve, the ideal FourF pass and the closed-form kernel of a phase grating."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import fftconvolve
from scipy.special import jv

from calib.base import load
from calib.bench import SimulatedBench, bench_config
from calib.kernel import (
    KernelCalibration,
    calibrate_kernel,
    compare_kernels,
    crop_kernel,
    identify_transfer,
    impulse_intensity,
    programmed_kernel,
    random_probes,
    uninvert,
)
from optics4f.fourf import FourF
from optics4f.kernels import kernel_to_mask

LAM = 633e-9


def test_uninvert_undoes_the_4f_inversion(rng):
    """FourF with an identity mask gives v(x) = -(f1/f2) u(-x): uninvert(v) = -u on the same indices."""
    u = np.zeros((32, 32), dtype=np.complex128)
    u[10:14, 18:25] = rng.standard_normal((4, 7)) + 1j * rng.standard_normal((4, 7))
    f = FourF((32, 32), 8e-6, LAM, 0.1, pad=2.0, dtype=np.complex128)
    v = f.apply(u, np.ones(f.padded_shape))
    np.testing.assert_allclose(uninvert(v), -u, atol=1e-12)
    np.testing.assert_allclose(uninvert(uninvert(u)), u)
    with pytest.raises(ValueError, match="even"):
        uninvert(np.zeros((5, 6)))


def test_identify_transfer_matches_fftconvolve(rng):
    """Outputs made independently with scipy's linear convolution ('same': kernel centre kh//2)."""
    k = rng.standard_normal((5, 7)) + 1j * rng.standard_normal((5, 7))
    x = random_probes(3, (48, 48), 20, rng)
    y = np.stack([fftconvolve(xi, k, mode="same") for xi in x])
    r = identify_transfer(x, y, inverted=False)
    np.testing.assert_allclose(crop_kernel(r["kernel"], k.shape), k, atol=1e-9)
    assert r["residual"] < 1e-8  # the 1e-9 regularisation
    # ... and outside the support the identified kernel is zero
    full = r["kernel"].copy()
    full[24 - 2:24 + 3, 24 - 3:24 + 4] = 0
    assert np.abs(full).max() < 1e-8
    # A one-pixel shift of the outputs is not the same kernel: the comparison says so.
    shifted = identify_transfer(x, np.roll(y, 1, axis=-1), inverted=False)
    assert compare_kernels(crop_kernel(shifted["kernel"], k.shape), k)["relative_error"] > 0.5


def test_identify_through_the_ideal_4f(rng):
    """An ideal 4f pass with the mask of a kernel k: the identified kernel is -(f1/f2) k."""
    k = rng.standard_normal((5, 5)) + 1j * rng.standard_normal((5, 5))
    f = FourF((32, 32), 8e-6, LAM, 0.1, pad=2.0, dtype=np.complex128)
    mask = kernel_to_mask(k, f.padded_shape)
    x = random_probes(4, (32, 32), 16, rng)
    y = f.apply(x.astype(np.complex128), mask)
    cal = calibrate_kernel(x, y, mask, kernel_shape=(5, 5))
    np.testing.assert_allclose(cal["kernel"], -k, atol=1e-9)
    assert complex(cal["scale"]) == pytest.approx(-1.0)
    assert cal["relative_error"] < 1e-8 and cal["correlation"] == pytest.approx(1.0)
    np.testing.assert_allclose(cal["programmed"], k, atol=1e-12)
    np.testing.assert_allclose(programmed_kernel(mask, (5, 5)), k, atol=1e-12)


def test_compare_kernels(rng):
    k = rng.standard_normal((7, 7)) + 1j * rng.standard_normal((7, 7))
    c = compare_kernels((2 - 3j) * k, k)
    assert c["scale"] == pytest.approx(2 - 3j) and c["relative_error"] < 1e-12
    other = rng.standard_normal((7, 7)) + 1j * rng.standard_normal((7, 7))
    assert compare_kernels(other, k)["relative_error"] > 0.8
    with pytest.raises(ValueError, match="same shape"):
        compare_kernels(k, k[:5])
    with pytest.raises(ValueError, match="zeros"):
        compare_kernels(k, 0 * k)


def grating(bench, beta, spacing):
    hw = bench.system
    g = hw.fourier_grid
    period = hw.geometry.padded_shape[1] / spacing * g.dx
    y, x = g.y()[:, None], g.x()[None, :]
    return np.exp(1j * beta * (np.cos(2 * np.pi * x / period) + np.cos(2 * np.pi * y / period)))


def jacobi_anger(beta, spacing, size):
    k = np.zeros((size, size), dtype=np.complex128)
    c, r = size // 2, (size // 2) // spacing
    for n in range(-r, r + 1):
        for m in range(-r, r + 1):
            k[c + n * spacing, c + m * spacing] = 1j ** (m + n) * jv(m, beta) * jv(n, beta)
    return k


@pytest.mark.parametrize("errors, lo, hi", [({}, 0.0, 0.035), ({"gray_2pi": 230}, 0.15, 1.0)])
def test_bench_kernel_against_the_closed_form(errors, lo, hi):
    """A phase grating exp(i beta (cos + cos)) on the SLM has the Jacobi-Anger kernel. On a bench
    without errors the identified kernel is that (SLM pixels of 1/16 grating period and 8-bit
    quantisation: ~2.5 %); a panel
    whose 2 pi is at gray 230 while the frame assumes 255 gives a kernel the comparison flags."""
    bench = SimulatedBench(bench_config(64, wavelength=LAM, slm=errors), seed=2)
    hw = bench.system
    beta, spacing = 0.8, 4
    frame = bench.slm.replace(gray_2pi=255).encode(np.angle(hw.slm_target(grating(bench, beta, spacing))), LAM)
    probes = random_probes(8, bench.config.display.resolution, 8, bench.rng)
    v = hw.propagate(hw.input_field(probes), hw.fourier_mask(frame=frame))  # noise-free fields
    shown = bench.config.display.amplitude(bench.config.display.frame(probes))
    cal = calibrate_kernel(shown, v, jacobi_anger(beta, spacing, 17))
    assert lo <= cal["relative_error"] <= hi
    assert abs(abs(complex(cal["scale"])) - 1.0) < (0.03 if not errors else 1.0)


def test_holographic_measurement_on_the_bench(tmp_path):
    """Noisy 4-step holography: the identified kernel matches the bench's noise-free impulse response."""
    bench = SimulatedBench(bench_config(32, wavelength=LAM), seed=5)
    hw = bench.system
    frame = bench.slm.encode(np.angle(hw.slm_target(grating(bench, 0.8, 4))), LAM)
    h_true = crop_kernel(uninvert(bench.fields(frame, bench.point_image())[0]), (17, 17))
    probes = random_probes(16, bench.config.display.resolution, 4, bench.rng)
    v = hw.propagate(hw.input_field(probes), hw.fourier_mask(frame=frame))
    cam = bench.camera
    e = float(cam.mean_electrons(np.full((1, 32, 32), np.abs(v).max() + 1.0, np.complex64), hw.out_grid.pitch,
                                 LAM).max())
    import dataclasses

    bench = bench.replace(camera=dataclasses.replace(cam, exposure_time=cam.exposure_time * 0.6 * cam.full_well / e))
    out = bench.system.detect_holographic(v, rng=bench.rng)
    assert np.linalg.norm(out - v) / np.linalg.norm(v) > 0.01  # the noise is real
    cal = calibrate_kernel(probes, out, jacobi_anger(0.8, 4, 17), truth=h_true)
    assert compare_kernels(cal["kernel"], h_true)["relative_error"] < 0.03
    back = load(cal.save(tmp_path / "k.h5"))
    assert isinstance(back, KernelCalibration)
    np.testing.assert_array_equal(back["kernel"], cal["kernel"])
    assert complex(back["scale"]) == complex(cal["scale"])
    assert back.apply_to_config(bench.config) is bench.config  # a verification: changes no device


def test_impulse_intensity_with_an_intensity_camera():
    bench = SimulatedBench(bench_config(32, wavelength=LAM), seed=1)
    hw = bench.system
    frame = bench.slm.encode(np.angle(hw.slm_target(grating(bench, 0.8, 4))), LAM)
    point = bench.point_image()
    bench.set_exposure(frame, point, peak=0.6)
    frames = bench.record(np.repeat(frame[None], 8, axis=0), np.repeat(point[None], 8, axis=0))
    measured = impulse_intensity(frames, bench.dark_frame(8), (17, 17))
    expected = np.abs(jacobi_anger(0.8, 4, 17)) ** 2
    expected /= expected.sum()
    assert measured.sum() == pytest.approx(1.0)
    assert np.abs(measured - expected).sum() < 0.08  # total variation distance of the tap powers
    assert np.unravel_index(np.argmax(measured), measured.shape) == (8, 8)


def test_precompensate_divides_out_the_distortion(rng):
    n = 16
    prog = np.zeros((3, 3), dtype=np.complex128)
    prog[1, 1] = 1.0  # an identity kernel: its transfer is 1 everywhere
    distortion = np.exp(-0.2 * rng.uniform(0, 1, (n, n))) * np.exp(1j * rng.uniform(-1, 1, (n, n)))
    cal = KernelCalibration(values={"kernel": prog, "programmed": prog, "transfer": 2j * distortion,
                                    "scale": np.asarray(2j)}, units={"kernel": "1", "programmed": "1",
                                                                     "transfer": "1", "scale": "1"})
    wanted = rng.standard_normal((n, n)) + 1j * rng.standard_normal((n, n))
    np.testing.assert_allclose(cal.precompensate(wanted), wanted / distortion)
    with pytest.raises(ValueError, match="shape"):
        cal.precompensate(wanted[:4])


def test_calibrate_kernel_from_npy_files(rng, tmp_path):
    k = rng.standard_normal((3, 3)) + 1j * rng.standard_normal((3, 3))
    x = random_probes(2, (32, 32), 12, rng)
    y = uninvert(np.stack([fftconvolve(xi, k, mode="same") for xi in x]))  # what a 4f camera records
    np.save(tmp_path / "probes.npy", x)
    np.save(tmp_path / "fields.npy", y)
    cal = calibrate_kernel(tmp_path / "probes.npy", tmp_path / "fields.npy", k)
    np.testing.assert_allclose(cal["kernel"], k, atol=1e-8)
    with pytest.raises(FileNotFoundError):
        calibrate_kernel(tmp_path / "probes.npy", tmp_path / "missing.npy", k)
