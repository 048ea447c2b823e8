"""Free-space propagation (ASM, Fresnel TF) against analytic and independent references.

References used here are never produced by the code under test:
- the paraxial Gaussian beam in closed form (complex q parameter);
- the Fresnel diffraction of a square aperture, a product of 1-D Fresnel
  integral differences (scipy.special.fresnel);
- the first Rayleigh-Sommerfeld integral summed directly in real space;
- Parseval (power) and exact inverses.
"""
from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import fftconvolve
from scipy.special import fresnel, sici

import optics4f as o
from optics4f.sampling import AliasingError, SamplingWarning

from conftest import crandn, rel_l2

pytestmark = pytest.mark.usefixtures("scipy_fft_engine")


def _piston(z, wavelength):
    """exp(i k z), with k z reduced modulo 2 pi in float64 (k z reaches 1e6 rad)."""
    return np.exp(1j * np.mod(2 * np.pi * z / wavelength, 2 * np.pi))


# --------------------------------------------------------------------------------------
# Gaussian beam
# --------------------------------------------------------------------------------------
# w0 = 400 wavelengths: the paraxial closed form then differs from the exact (angular
# spectrum) solution only by the quartic term of k_z (see paraxial_gap), 1.9e-7 |z|/z_R,
# so |z| <= z_R keeps the ASM within 1e-6 of it. 10 samples per waist and a 128-sample
# window (6.4 w0 half-width, 4.5 w(z_R)) make aliasing and truncation negligible (< 1e-9).
GB_LAMBDA, GB_W0, GB_DX, GB_N = 0.5e-6, 200e-6, 20e-6, 128
GB_ZR = np.pi * GB_W0**2 / GB_LAMBDA


def paraxial_gap(z, wavelength=GB_LAMBDA, w0=GB_W0):
    """Relative L2 distance between exact and paraxial propagation of a Gaussian beam.

    k_z - (k - pi lambda f^2) = -pi lambda^3 f^4 / 4 + O(f^6) (cycles/m), so the phase
    error is delta = pi z lambda^3 f^4 / 4. Under the beam's power spectrum
    exp(-2 pi^2 w0^2 f^2), f^2 is exponential with mean 1/(2 pi^2 w0^2), so
    <f^8> = 4! (1/(2 pi^2 w0^2))^4 and the error sqrt(<delta^2>) is
    sqrt(384)/(64 pi^2) (lambda/w0)^2 |z|/z_R.
    """
    zr = np.pi * w0**2 / wavelength
    return np.sqrt(384) / (64 * np.pi**2) * (wavelength / w0) ** 2 * abs(z) / zr


def gaussian_beam(grid, z, wavelength=GB_LAMBDA, w0=GB_W0):
    """Paraxial Gaussian beam, u(z) = q0/q exp(ikz) exp(i k r^2 / (2 q)), q = z - i z_R.

    exp(+ikz) convention: at z = 0 this is exp(-r^2/w0^2); for z > 0 the wavefront
    curvature is positive (diverging) and the Gouy phase is -atan(z/z_R).
    """
    zr = np.pi * w0**2 / wavelength
    q0, q = -1j * zr, z - 1j * zr
    k = 2 * np.pi / wavelength
    return (q0 / q) * _piston(z, wavelength) * np.exp(1j * k * grid.r2() / (2 * q))


@pytest.mark.parametrize("z_over_zr", [-1.0, -0.3, 0.05, 0.4, 1.0])
@pytest.mark.parametrize("band_limit", [True, False])
def test_asm_gaussian_beam_closed_form(z_over_zr, band_limit):
    grid = o.Grid((GB_N, GB_N), GB_DX)
    z = z_over_zr * GB_ZR
    u0 = gaussian_beam(grid, 0.0)
    assert u0.dtype == np.complex128
    # pad 2.5: the exact (non band-limited) ASM is sampled well enough here not to warn.
    v = o.propagate_asm(u0, GB_DX, GB_LAMBDA, z, pad=2.5, band_limit=band_limit)
    assert v.dtype == np.complex128 and v.shape == u0.shape
    ref = gaussian_beam(grid, z)
    err = rel_l2(v, ref)
    assert err < 1e-6, err
    # The ASM is exact, so it must differ from the paraxial beam by the predicted quartic
    # term, no less: this checks the non-paraxial k_z itself (measured within 1%).
    assert err == pytest.approx(paraxial_gap(z), rel=0.05)


@pytest.mark.parametrize("z_over_zr", [-0.7, 0.2, 1.0])
def test_fresnel_tf_gaussian_beam_closed_form(z_over_zr):
    # The Fresnel transfer function is the paraxial propagator: it must reproduce the
    # paraxial Gaussian beam to sampling accuracy, far below the ASM's 1e-6 floor.
    grid = o.Grid((GB_N, GB_N), GB_DX)
    z = z_over_zr * GB_ZR
    v = o.propagate_fresnel(gaussian_beam(grid, 0.0), GB_DX, GB_LAMBDA, z, pad=3)
    assert rel_l2(v, gaussian_beam(grid, z)) < 1e-8


def test_gaussian_beam_catches_wrong_sign_and_shift():
    # The closed-form comparison has teeth: the conjugate convention (exp(-ikz)),
    # a one-pixel shift or a 1% pitch error are all far outside 1e-6.
    grid = o.Grid((GB_N, GB_N), GB_DX)
    z = 0.4 * GB_ZR
    ref = gaussian_beam(grid, z)
    v = o.propagate_asm(gaussian_beam(grid, 0.0), GB_DX, GB_LAMBDA, z, pad=2.5)
    assert rel_l2(np.conj(v) * _piston(2 * z, GB_LAMBDA), ref) > 1e-2
    assert rel_l2(np.roll(v, 1, axis=-1), ref) > 1e-2
    v_pitch = o.propagate_asm(gaussian_beam(grid, 0.0), GB_DX * 1.01, GB_LAMBDA, z, pad=2.5)
    assert rel_l2(v_pitch, ref) > 1e-3


# --------------------------------------------------------------------------------------
# Square aperture against Fresnel integrals
# --------------------------------------------------------------------------------------
SQ_LAMBDA, SQ_DX = 0.5e-6, 4e-6


def fresnel_square_1d(x, half_width, z, wavelength):
    """1-D factor of the Fresnel diffraction of a slit |x'| < a lit by a unit plane wave.

    sqrt(1/(i lambda z)) * int exp(i pi (x'-x)^2/(lambda z)) dx' with t = sqrt(2/(lambda z)) (x'-x):
    = [C(t2) - C(t1) + i (S(t2) - S(t1))] / sqrt(2i). The square aperture is the product
    of two such factors times exp(ikz).
    """
    s = np.sqrt(2.0 / (wavelength * z))
    s1, c1 = fresnel(s * (-half_width - x))
    s2, c2 = fresnel(s * (half_width - x))
    return ((c2 - c1) + 1j * (s2 - s1)) / np.sqrt(2j)


def _square_setup(fresnel_number):
    """Grid, half-width a, distance z and padding for a square at Fresnel number a^2/(lambda z).

    Why the sizes: a hard edge is not band-limited, so a sampled aperture cannot equal
    the continuous one. We sample the *ideally low-passed* aperture (sine-integral edges,
    |f| < 1/(2 dx)), which the grid represents exactly. What is left out, the spectrum
    above 1/(2 dx), leaves the aperture at angles >= lambda/(2 dx) and lands at least
    D = lambda z/(2 dx) away; with a >= NF (2.25 + sqrt(2.25^2 + 300/NF)) pixels it misses
    the compared region |x| < 1.25 a by >= 150 pixels, where its amplitude is ~1e-5.
    The padded width is set to lambda z / dx ("critical sampling" of the Fresnel chirp),
    which puts that high-frequency part half a period away from the aperture.
    """
    m = int(np.ceil(max(30 * np.sqrt(fresnel_number),
                        fresnel_number * (2.25 + np.sqrt(2.25**2 + 300 / fresnel_number)))))
    a = (m + 0.5) * SQ_DX  # edges half-way between samples: 2m+1 samples across
    n = 2 * int(np.ceil(1.6 * a / SQ_DX))
    z = a**2 / (SQ_LAMBDA * fresnel_number)
    pad = 1.01 * SQ_LAMBDA * z / (n * SQ_DX**2)
    return o.Grid((n, n), SQ_DX), a, z, pad


@pytest.mark.parametrize("fresnel_number", [1, 4, 15, 50])
def test_fresnel_tf_square_aperture(fresnel_number):
    grid, a, z, pad = _square_setup(fresnel_number)
    x = grid.x()
    # sampled ideal low-pass of the 1-D rect: [Si(pi (x+a)/dx) - Si(pi (x-a)/dx)] / pi
    s = (sici(np.pi * (x + a) / SQ_DX)[0] - sici(np.pi * (x - a) / SQ_DX)[0]) / np.pi
    u0 = np.outer(s, s).astype(np.complex128)
    v = o.propagate_fresnel(u0, SQ_DX, SQ_LAMBDA, z, pad=pad)
    fx = fresnel_square_1d(x, a, z, SQ_LAMBDA)
    ref = _piston(z, SQ_LAMBDA) * np.outer(fx, fx)
    inside = np.abs(x) < 1.25 * a
    region = np.ix_(inside, inside)
    err = rel_l2(v[region], ref[region])
    assert err < 1e-4, err  # measured 2e-5 at every NF
    # A one-pixel shift of the pattern is 4e-2 away, the conjugate phase 0.3 away.
    assert rel_l2(np.roll(ref, 1, axis=-1)[region], ref[region]) > 100 * 1e-4


@pytest.mark.parametrize("fresnel_number", [1, 15])
def test_asm_square_aperture_intensity_hard_edge(fresnel_number):
    # What a user does: sample a hard-edged square (2m+1 pixels) and propagate with the
    # default band-limited ASM. The hard edge aliases (its spectrum beyond 1/(2 dx)
    # folds back), which costs ~sqrt(dx/a)/10 in intensity; measured 1e-3 (NF=1) and
    # 4e-3 (NF=15). The ASM vs paraxial difference at these angles is below 1e-3.
    grid, a, z, pad = _square_setup(fresnel_number)
    x = grid.x()
    u0 = o.rectangular_pupil(grid, 2 * a - SQ_DX / 2).astype(np.complex128)
    assert u0.sum() == (2 * round(a / SQ_DX - 0.5) + 1) ** 2
    v = o.propagate_asm(u0, SQ_DX, SQ_LAMBDA, z, pad=pad)
    fx = fresnel_square_1d(x, a, z, SQ_LAMBDA)
    ref_i = np.abs(np.outer(fx, fx)) ** 2
    inside = np.abs(x) < 1.25 * a
    region = np.ix_(inside, inside)
    err = rel_l2(np.abs(v[region]) ** 2, ref_i[region])
    assert err < 1e-2, err


def test_fresnel_tf_coarse_sampling_warns_and_is_wrong():
    # Without padding the Fresnel chirp is undersampled (lambda z > L dx): the library
    # must say so, and the result is indeed far from the Fresnel-integral answer.
    grid, a, z, _ = _square_setup(1)
    x = grid.x()
    s = (sici(np.pi * (x + a) / SQ_DX)[0] - sici(np.pi * (x - a) / SQ_DX)[0]) / np.pi
    u0 = np.outer(s, s).astype(np.complex128)
    with pytest.warns(SamplingWarning, match="Fresnel transfer function is undersampled"):
        v = o.propagate_fresnel(u0, SQ_DX, SQ_LAMBDA, z, pad=1)
    fx = fresnel_square_1d(x, a, z, SQ_LAMBDA)
    assert rel_l2(v, _piston(z, SQ_LAMBDA) * np.outer(fx, fx)) > 0.1
    with pytest.raises(AliasingError, match="raise pad|Raise pad"):
        o.FresnelTF(grid.shape, SQ_DX, SQ_LAMBDA, z, pad=1, strict=True)


def test_band_limit_rescues_long_distance_asm():
    # Far field of a small square (NF = 0.1): lambda z = 2.8 L dx, so the exact transfer
    # function is undersampled on the 2x padded grid. Without the band limit the
    # chirp aliases (it warns, and is 10% off); with it, the result matches the Fresnel
    # integrals (paraxial is accurate here: the light stays within 0.03 rad) to 1e-3.
    lam, dx, n, m = 0.5e-6, 2e-6, 128, 8
    grid = o.Grid((n, n), dx)
    x = grid.x()
    a = (m + 0.5) * dx
    s = (sici(np.pi * (x + a) / dx)[0] - sici(np.pi * (x - a) / dx)[0]) / np.pi
    u0 = np.outer(s, s).astype(np.complex128)
    z = a**2 / (lam * 0.1)
    fx = fresnel_square_1d(x, a, z, lam)
    ref = _piston(z, lam) * np.outer(fx, fx)
    central = np.ix_(np.abs(x) < n * dx / 4, np.abs(x) < n * dx / 4)
    v_bl = o.propagate_asm(u0, dx, lam, z, pad=2, band_limit=True)
    assert rel_l2(v_bl[central], ref[central]) < 3e-3  # measured 1.1e-3
    with pytest.warns(SamplingWarning):
        v_exact = o.propagate_asm(u0, dx, lam, z, pad=2, band_limit=False)
    assert rel_l2(v_exact[central], ref[central]) > 5e-2


# --------------------------------------------------------------------------------------
# Rayleigh-Sommerfeld
# --------------------------------------------------------------------------------------
def rs_kernel(x, y, z, wavelength):
    """First Rayleigh-Sommerfeld impulse response for the exp(+ikr) convention, 1/m^2.

    h = -2 dG/dz with G = exp(ikr)/(4 pi r):  h = z/(2 pi r^2) (1/r - i k) exp(ikr)
      = z/(i lambda r^2) (1 + i/(k r)) exp(ikr).
    """
    k = 2 * np.pi / wavelength
    r = np.sqrt(x**2 + y**2 + z**2)
    return z / (2 * np.pi * r**2) * (1.0 / r - 1j * k) * np.exp(1j * k * r)


def test_band_limited_asm_matches_direct_rayleigh_sommerfeld():
    # A non-paraxial beam: w0 = 3 lambda (divergence ~0.1 rad), z = 40 lambda, pitch
    # lambda/2 so that the grid holds the whole propagating spectrum. The RS integral
    # is summed directly on the same samples: its integrand's local frequency stays
    # below 1/(2 dx) + the beam's bandwidth < 1/dx, so the rectangle rule is exact to
    # rounding, and the evanescent part it includes is e^-250 at z = 40 lambda.
    lam, dx, n, w0, z = 0.5e-6, 0.25e-6, 64, 1.5e-6, 20e-6
    grid = o.Grid((n, n), dx)
    u0 = np.exp(-grid.r2() / w0**2).astype(np.complex128)
    # Direct sum  U(x) = sum_x' u0(x') h(x - x') dx^2  for all x: a linear convolution
    # with h sampled on all offsets -(n-1)..(n-1) (fftconvolve only evaluates the sum).
    off = np.arange(-(n - 1), n) * dx
    h = rs_kernel(off[None, :], off[:, None], z, lam)
    ref = fftconvolve(u0, h)[n - 1:2 * n - 1, n - 1:2 * n - 1] * dx * dx
    # spot-check the convolution against the literal double sum at two output points
    yy, xx = grid.mesh()
    for i, j in [(32, 32), (5, 50)]:
        lit = np.sum(u0 * rs_kernel(grid.x()[j] - xx, grid.y()[i] - yy, z, lam)) * dx * dx
        assert abs(lit - ref[i, j]) < 1e-12 * np.abs(ref).max()

    v = o.propagate_asm(u0, dx, lam, z, pad=2, band_limit=True)
    assert rel_l2(v, ref) < 1e-10
    # the reference is genuinely non-paraxial (Fresnel is off) and pitch-sensitive
    with pytest.warns(SamplingWarning):
        vf = o.propagate_fresnel(u0, dx, lam, z, pad=2)
    assert rel_l2(vf, ref) > 1e-3
    assert rel_l2(o.propagate_asm(u0, dx * 1.01, lam, z, pad=2), ref) > 1e-3


# --------------------------------------------------------------------------------------
# Power, inverses, evanescent waves
# --------------------------------------------------------------------------------------
def test_asm_unpadded_is_unitary_on_propagating_fields(rng):
    # pitch 1 um > lambda/sqrt(2): every grid frequency propagates; z short enough that
    # the band limit cuts nothing. pad=1 is then a unitary (circular) operator, so power
    # is conserved and -z undoes +z for ANY field, including white noise.
    lam, dx, n, z = 0.5e-6, 1e-6, 64, 50e-6
    u = crandn(rng, (3, n, n))
    fwd = o.AngularSpectrum((n, n), dx, lam, z, pad=1, dtype=np.complex128)
    bwd = o.AngularSpectrum((n, n), dx, lam, -z, pad=1, dtype=np.complex128)
    v = fwd.apply(u)
    np.testing.assert_allclose(np.sum(np.abs(v) ** 2, axis=(-2, -1)),
                               np.sum(np.abs(u) ** 2, axis=(-2, -1)), rtol=1e-12)
    assert rel_l2(bwd.apply(v), u) < 1e-12
    # the adjoint of a lossless propagation is the propagation by -z
    assert rel_l2(fwd.adjoint(v), bwd.apply(v)) < 1e-14


def test_asm_padded_power_and_round_trip_for_compact_field():
    # With padding the window crops, so conservation needs a field that stays inside:
    # a Gaussian beam out to z_R/2 (its edge amplitude is then 5e-15).
    grid = o.Grid((GB_N, GB_N), GB_DX)
    u0 = gaussian_beam(grid, 0.0)
    op = o.AngularSpectrum(grid.shape, GB_DX, GB_LAMBDA, 0.5 * GB_ZR, pad=2, dtype=np.complex128)
    v = op.apply(u0)
    p0, p1 = np.sum(np.abs(u0) ** 2), np.sum(np.abs(v) ** 2)
    assert abs(p1 / p0 - 1) < 1e-12
    back = o.AngularSpectrum(grid.shape, GB_DX, GB_LAMBDA, -0.5 * GB_ZR, pad=2, dtype=np.complex128).apply(v)
    # floor: k_z z = 2.5e5 cycles carries a float64 phase error ~3e-10 rad, and the crop
    # between the two steps keeps the two errors from cancelling (measured 1.3e-11)
    assert rel_l2(back, u0) < 1e-10


def test_asm_drops_evanescent_waves(rng):
    # pitch 0.3 um < lambda/2: the grid corners are evanescent. The ASM keeps exactly
    # the propagating part: output power = power of the input's propagating spectrum.
    lam, dx, n, z = 0.5e-6, 0.3e-6, 32, 2e-6
    u = crandn(rng, (n, n))
    v = o.propagate_asm(u, dx, lam, z, pad=1, band_limit=False)
    fy, fx = o.Grid((n, n), dx).freqs()
    prop = fy[:, None] ** 2 + fx[None, :] ** 2 < 1 / lam**2
    spec = np.fft.fft2(u)
    assert 0.1 < prop.mean() < 0.95  # the test exercises both kinds
    np.testing.assert_allclose(np.sum(np.abs(v) ** 2), np.sum(np.abs(spec[prop]) ** 2) / n**2, rtol=1e-12)


def test_fresnel_tf_unitary_and_round_trip(rng):
    lam, dx, n, z = 0.5e-6, 2e-6, 64, 0.5e-3  # lambda z = 2.5e-10 <= L dx = 2.56e-10
    u = crandn(rng, (2, n, n))
    op = o.FresnelTF((n, n), dx, lam, z, pad=1, dtype=np.complex128)
    v = op.apply(u)
    np.testing.assert_allclose(np.sum(np.abs(v) ** 2), np.sum(np.abs(u) ** 2), rtol=1e-12)
    assert rel_l2(op.adjoint(v), u) < 1e-12
    back = o.FresnelTF((n, n), dx, lam, -z, pad=1, dtype=np.complex128).apply(v)
    assert rel_l2(back, u) < 1e-12


def test_asm_transfer_function_convention():
    # H = exp(+i 2 pi z sqrt(1/lambda^2 - f^2)) at a few frequencies, zero when evanescent.
    lam, dx, n, z = 0.5e-6, 0.2e-6, 16, 3e-6
    grid = o.Grid((n, n), dx)
    h = o.propagation.asm_transfer_function(grid, lam, z, band_limit=False)
    fy, fx = grid.freqs()
    assert h[0, 0] == pytest.approx(np.exp(2j * np.pi * z / lam), abs=1e-12)
    kz = np.sqrt(1 / lam**2 - fx[3] ** 2 - fy[2] ** 2)
    assert h[2, 3] == pytest.approx(np.exp(2j * np.pi * z * kz), abs=1e-12)
    assert fx[n // 2] ** 2 > 1 / lam**2 and h[0, n // 2] == 0


# --------------------------------------------------------------------------------------
# Sampling checks
# --------------------------------------------------------------------------------------
def test_undersampled_asm_without_band_limit_warns_and_strict_raises():
    lam, dx, n, z = 0.5e-6, 2e-6, 64, 50e-3
    with pytest.warns(SamplingWarning, match="ASM transfer function is undersampled"):
        o.AngularSpectrum((n, n), dx, lam, z, pad=1, band_limit=False)
    with pytest.raises(AliasingError, match="band_limit=True"):
        o.propagate_asm(np.ones((n, n)), dx, lam, z, pad=1, band_limit=False, strict=True)
    # the band-limited operator is silent (SamplingWarning is an error in this suite)
    o.AngularSpectrum((n, n), dx, lam, z, pad=1, band_limit=True)


def test_fresnel_undersampling_warns_and_strict_raises():
    lam, dx, n = 0.5e-6, 2e-6, 64
    z_ok = n * 2 * dx * dx / lam  # exactly the limit lambda z = L dx at pad 2
    o.FresnelTF((n, n), dx, lam, z_ok, pad=2)
    with pytest.warns(SamplingWarning, match="lambda\\*\\|z\\|"):
        o.FresnelTF((n, n), dx, lam, 1.1 * z_ok, pad=2)
    with pytest.warns(SamplingWarning):  # a negative distance is checked the same way
        o.FresnelTF((n, n), dx, lam, -1.1 * z_ok, pad=2)
    with pytest.raises(AliasingError):
        o.FresnelTF((n, n), dx, lam, 1.1 * z_ok, pad=2, strict=True)
    o.FresnelTF((n, n), dx, lam, 1.1 * z_ok, pad=2, band_limit=True)


def test_propagator_argument_errors():
    with pytest.raises(ValueError, match="wavelength"):
        o.AngularSpectrum((8, 8), 1e-6, -0.5e-6, 1e-3)
    with pytest.raises(ValueError, match="z must be finite"):
        o.AngularSpectrum((8, 8), 1e-6, 0.5e-6, np.inf)
    with pytest.raises(ValueError, match="pitch"):
        o.AngularSpectrum((8, 8), 0.0, 0.5e-6, 1e-3)
    op = o.AngularSpectrum((8, 8), 1e-6, 0.5e-6, 1e-5)
    with pytest.raises(ValueError, match="spatial shape"):
        op.apply(np.ones((8, 10)))


def test_sampling_warnings_point_at_the_caller():
    # The warning's location is the user's line, not a library frame.
    lam, dx, n = 0.5e-6, 2e-6, 64
    with pytest.warns(SamplingWarning) as rec:
        o.FresnelTF((n, n), dx, lam, 1.0, pad=2)
    with pytest.warns(SamplingWarning) as rec_asm:
        o.AngularSpectrum((n, n), dx, lam, 50e-3, pad=1, band_limit=False)
    with pytest.warns(SamplingWarning) as rec_lens:
        o.ThinLens((n, n), 10e-6, lam, 0.01)
    for r in (rec, rec_asm, rec_lens):
        assert r[0].filename == __file__, r[0].filename
