"""SLM export: mask placement by the 4f geometry, encodings, the export folder, errors, CLI."""
from __future__ import annotations

import json

import numpy as np
import pytest

from optics4f import kernel_to_mask
from optics4f.devices.presets import PRESETS, slm_preset
from optics4f.sampling import AliasingError, SamplingWarning
from optics4f.system import Hardware4f

from nets.export import export_masks, export_system, panel_mask, read_export
from nets.export.inspect import inspect_path

torch = pytest.importorskip("torch")

LAM, D = 532e-9, 8e-6


def _masks(rng, cout=2, kernel=3, image=16):
    """Masks (Cout, 1, M, M) of random real kernels on the model's padded grid, and the kernels."""
    m = image + kernel - 1
    k = rng.normal(size=(cout, kernel, kernel))
    return np.stack([kernel_to_mask(k[c].astype(np.complex128), (m, m)) for c in range(cout)])[:, None], k


def _listing(folder):
    return sorted(p.name for p in folder.iterdir())


# ----------------------------------------------------------------------------- placement
def test_panel_mask_equals_hardware_slm_target(rng, scipy_fft_engine):
    """Integer pitch ratio: the panel shows the tiled mask exactly where Hardware4f samples it."""
    masks, k = _masks(rng)
    slm = slm_preset("holoeye-pluto-2", resolution=(50, 60), fill_factor=1.0)  # no zero order: tiles 1 x 2
    cfg = export_system(slm, (16, 16), (18, 18), 2, tiled=True, encoding="phase")
    hw = Hardware4f(cfg, dtype=np.complex128)
    assert hw.geometry.slm_factor == (1, 1)
    mk = np.stack([kernel_to_mask(k[c].astype(np.complex128), hw.geometry.padded_shape) for c in range(2)])
    ref = hw.slm_target(hw.tiled_mask(mk))
    off = cfg.layout.offsets() * D * cfg.f2 / cfg.f1
    mine = panel_mask(masks[:, 0], kernel_pitch=D, panel_shape=slm.resolution, panel_pitch=slm.pitch, wavelength=LAM,
                      f1=cfg.f1, f2=cfg.f2, offsets=off).sum(axis=0)
    inside = np.abs(ref) > 0  # the part of the panel on the simulation's Fourier grid
    assert inside.sum() == 36 * 36
    np.testing.assert_allclose(mine[inside], ref[inside], atol=1e-12 * np.abs(ref).max())


def test_panel_mask_shifted_delta_non_integer_ratio():
    """A delta kernel at x0 has H(nu) = exp(-2 pi i nu x0) at nu = (j - N//2) p / (lambda f1), any p."""
    m, (ty, tx) = 12, (2, -3)
    k = np.zeros((m, m), complex)
    k[m // 2 + ty, m // 2 + tx] = 1
    mask = np.fft.fftshift(np.fft.fft2(np.fft.ifftshift(k)))
    f1, p, shape = 0.0731, 9.2e-6, (17, 22)  # f1 p ratio not an integer number of DFT samples
    got = panel_mask(mask, kernel_pitch=D, panel_shape=shape, panel_pitch=p, wavelength=LAM, f1=f1)
    nu_y = (np.arange(shape[0]) - shape[0] // 2) * p / (LAM * f1)
    nu_x = (np.arange(shape[1]) - shape[1] // 2) * p / (LAM * f1)
    want = np.exp(-2j * np.pi * (nu_y[:, None] * ty * D + nu_x[None, :] * tx * D))
    np.testing.assert_allclose(got, want, atol=1e-12)
    # a tile ramp moving the output by (Y, X) multiplies by exp(2 pi i (X u + Y v) / (lambda f2))
    f2, off = 0.05, (3 * D, -5 * D)
    got2 = panel_mask(mask, kernel_pitch=D, panel_shape=shape, panel_pitch=p, wavelength=LAM, f1=f1, f2=f2, offsets=off)
    v = (np.arange(shape[0]) - shape[0] // 2) * p
    u = (np.arange(shape[1]) - shape[1] // 2) * p
    ramp = np.exp(2j * np.pi * (off[1] * u[None, :] + off[0] * v[:, None]) / (LAM * f2))
    np.testing.assert_allclose(got2, want * ramp, atol=1e-12)
    # fill="zero" keeps only the central period |nu d| < 1/2
    z = panel_mask(mask, kernel_pitch=D, panel_shape=shape, panel_pitch=p, wavelength=LAM, f1=f1 / 4, fill="zero")
    nu = (np.arange(shape[1]) - shape[1] // 2) * p / (LAM * f1 / 4) * D
    assert np.all(z[:, (nu >= 0.5) | (nu < -0.5)] == 0) and np.all(np.abs(z[:, np.abs(nu) < 0.49]) > 0.99)


# ----------------------------------------------------------------------------- end to end through the optics
@pytest.mark.parametrize("preset", ["santec-slm-200", "holoeye-pluto-2"])
def test_exported_frames_reproduce_ideal_4f_output(tmp_path, rng, preset, scipy_fft_engine):
    """Frames read back from the files, through the simulated 4f system, give scale x the ideal output."""
    masks, k = _masks(rng)
    slm = slm_preset(preset, resolution=(160, 200), fill_factor=1.0)
    cfg = export_system(slm, (16, 16), (18, 18), 2, tiled=True)  # double phase
    export_masks(masks, tmp_path / "x", cfg)
    b = read_export(tmp_path / "x")
    hw = Hardware4f(b.config, dtype=np.complex128)
    img = rng.uniform(size=(16, 16))
    u = hw.input_field(img)
    v = hw.propagate(u, hw.fourier_mask(frame=b.frames[0]))
    mk = np.stack([kernel_to_mask(k[c].astype(np.complex128), hw.geometry.padded_shape) for c in range(2)])
    ideal = hw.fourf.apply(u, hw.tiled_mask(mk))
    got, ref = b.config.layout.read_tiles(v), b.config.layout.read_tiles(ideal)
    for c in range(2):
        alpha = np.vdot(ref[c], got[c]) / np.vdot(ref[c], ref[c])
        err = np.linalg.norm(got[c] - alpha * ref[c]) / np.linalg.norm(alpha * ref[c])
        assert err < 0.05, (c, err)  # 8/10-bit double phase: a few percent at most
        assert abs(alpha - b.scale[0]) < 0.01 * abs(b.scale[0]), (alpha, b.scale[0])


def test_lee_frames_are_the_hologram_of_the_panel_target(tmp_path, rng):
    from optics4f.devices.encoding import lee_hologram

    masks, _ = _masks(rng, cout=1)
    slm = slm_preset("ti-dlp6500", resolution=(150, 160))
    cfg = export_system(slm, (16, 16), (18, 18), 1, encoding="lee")
    export_masks(masks, tmp_path / "d", cfg, formats=["bmp1", "png", "rgb24"])
    b = read_export(tmp_path / "d")
    target = panel_mask(masks[0, 0], kernel_pitch=D, panel_shape=slm.resolution, panel_pitch=slm.pitch,
                        wavelength=LAM, f1=cfg.f1)
    assert np.array_equal(b.frames[0], lee_hologram(target, cfg.lee_carrier).pattern.astype(np.uint8))
    assert np.array_equal(b.amplitude[0], b.frames[0]) and b.phase is None
    assert b.scale[0] == pytest.approx(1 / (np.pi * np.abs(target).max()))
    from nets.export.formats import read_png, read_rgb24

    assert np.array_equal(read_png(tmp_path / "d" / "frame_000.png"), b.frames[0])
    assert np.array_equal(read_rgb24(tmp_path / "d" / "dmd_rgb24_000.bmp", 1), b.frames)


def test_amplitude_panel_frames(tmp_path, rng):
    from optics4f.devices.slm import SLM

    masks, _ = _masks(rng, cout=1)
    slm = SLM(resolution=(40, 44), pitch=8e-6, mode="amplitude", bit_depth=8, name="lcd")
    cfg = export_system(slm, (16, 16), (18, 18), 1)
    export_masks(masks, tmp_path / "a", cfg)
    b = read_export(tmp_path / "a")
    target = panel_mask(masks[0, 0], kernel_pitch=D, panel_shape=slm.resolution, panel_pitch=slm.pitch,
                        wavelength=LAM, f1=cfg.f1)
    amax = np.abs(target).max()
    assert b.encoding == "amplitude" and b.scale[0] == pytest.approx(1 / amax)
    assert np.array_equal(b.frames[0], np.floor(255 * np.abs(target) / amax + 0.5).astype(np.uint8))
    np.testing.assert_allclose(b.amplitude[0], np.abs(target) / amax, atol=1e-6)  # float32 in the sidecar


def test_two_input_channels_frame_layout(tmp_path, rng):
    """Input channels are separate frames (time-multiplexed); one amax keeps their relative weights."""
    from optics4f.devices.encoding import double_phase

    m1, _ = _masks(rng, cout=2)
    m2, _ = _masks(rng, cout=2)
    masks = np.concatenate([m1, 0.5 * m2], axis=1)  # (2, 2, M, M)
    slm = slm_preset("santec-slm-200", resolution=(144, 152))  # one mask period: 4 x 36 pixels (f1 factor 4)
    cfg = export_system(slm, (16, 16), (18, 18), 2, tiled=True)
    export_masks(masks, tmp_path / "t", cfg)
    b = read_export(tmp_path / "t")
    assert b.tiled and b.channels == [{"out_channel": None, "in_channel": 0}, {"out_channel": None, "in_channel": 1}]
    off = cfg.layout.offsets() * D
    kw = dict(kernel_pitch=D, panel_shape=slm.resolution, panel_pitch=slm.pitch, wavelength=LAM, f1=cfg.f1, f2=cfg.f2)
    targets = np.stack([panel_mask(masks[:, i], offsets=off, **kw).sum(axis=0) for i in range(2)])
    amax = np.abs(targets).max()
    for i in range(2):
        want = slm.encode(np.angle(np.exp(1j * double_phase(targets[i], amax).pattern)), LAM)
        assert np.array_equal(b.frames[i], want)
    export_masks(masks, tmp_path / "p", cfg, tiled=False)
    p = read_export(tmp_path / "p")
    assert [(c["out_channel"], c["in_channel"]) for c in p.channels] == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert p.config.layout is None and not p.tiled


# ----------------------------------------------------------------------------- phase fidelity
@pytest.mark.parametrize("kw", [dict(), dict(sign=1, quantization="floor"), dict(gray_2pi=200),
                                dict(design_wavelength=633e-9), dict(lut="measured"), dict(flatness="map")])
def test_frames_reproduce_phase_within_one_gray_level(tmp_path, rng, kw):
    kw = dict(kw)
    res = (80, 96)  # one mask period at the default double-phase f1 (4x the minimum) is 72 pixels
    if kw.get("lut") == "measured":
        kw["lut"] = -2.1 * np.pi * (np.arange(256) / 255) ** 1.2
    if kw.get("flatness") == "map":
        yy, xx = np.mgrid[:res[0], :res[1]]
        kw["flatness"] = 0.0005 * ((yy - 40) ** 2 + (xx - 48) ** 2)  # rad, a defocus-like panel shape
    slm = slm_preset("holoeye-pluto-2", resolution=res, **kw)
    masks, _ = _masks(rng, cout=2)
    cfg = export_system(slm, (16, 16), (18, 18), 2, tiled=False)
    export_masks(masks, tmp_path / "p", cfg, formats=["png", "bmp", "csv"])
    b = read_export(tmp_path / "p")
    assert b.frames.shape == (2, *res) and [c["out_channel"] for c in b.channels] == [0, 1]
    assert b.slm == slm  # every setting (LUT and flatness arrays included) comes back from the sidecar
    shown = b.slm.gray_to_phase(b.frames, LAM) - (0 if b.slm.flatness is None else b.slm.flatness)
    err = np.abs(np.angle(np.exp(1j * (shown - b.phase))))
    lut = b.slm.phase_lut() * b.slm.wavelength_scale(LAM)
    step = np.abs(np.diff(lut)).max()  # the largest phase step between neighbouring levels
    limit = 1.0 if b.slm.quantization == "floor" else 0.5
    assert err.max() <= limit * step * (1 + 1e-6) + 1e-6
    # every file holds the same frames
    from nets.export.formats import read_bmp, read_santec_csv

    for i in range(2):
        assert np.array_equal(read_bmp(tmp_path / "p" / f"frame_{i:03d}.bmp"), b.frames[i])
        assert np.array_equal(read_santec_csv(tmp_path / "p" / f"frame_{i:03d}.csv"), b.frames[i])
    rep = inspect_path(tmp_path / "p" / "frame_001.png")
    assert rep["export"]["matches_sidecar_frame"] and rep["export"]["max_phase_error_gray_levels"] <= limit + 0.05


# ----------------------------------------------------------------------------- model export, presets, folder
def _student(path, image=8, channels=2):
    from nets.checkpoint import model_config, save_checkpoint
    from nets.models import SCLCClassifier

    torch.manual_seed(0)
    m = SCLCClassifier(image_size=image, channels=(channels,), kernel_sizes=3)
    save_checkpoint(path, m, {"model": model_config("sclc_classifier", image_size=image, channels=[channels],
                                                    kernel_sizes=3)})
    return m


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_presets_give_native_resolution(tmp_path, preset):
    from nets.export import export_model

    _student(tmp_path / "m.pt", channels=1)
    slm = slm_preset(preset)
    export_model(tmp_path / "m.pt", slm, tmp_path / "o")
    b = read_export(tmp_path / "o")
    assert b.frames.shape == (1, *PRESETS[preset]["resolution"])
    assert b.frames.dtype == (np.uint8 if slm.bit_depth <= 8 else np.uint16)
    assert int(b.frames.max()) <= slm.max_gray
    man = json.loads((tmp_path / "o" / "manifest.json").read_text())
    assert man["slm"]["resolution"] == list(PRESETS[preset]["resolution"])
    import hashlib

    for name, entry in man["files"].items():
        assert entry["sha256"] == hashlib.sha256((tmp_path / "o" / name).read_bytes()).hexdigest()


def test_export_model_uses_collapsed_masks(tmp_path):
    from nets.export import export_model

    m = _student(tmp_path / "m.pt")
    slm = slm_preset("santec-slm-200", resolution=(64, 64))
    export_model(tmp_path / "m.pt", slm, tmp_path / "o", tiled=False)
    b = read_export(tmp_path / "o")
    with torch.no_grad():
        masks = m.frontend.collapse().numpy()
    cfg = b.config
    target = panel_mask(masks[:, 0], kernel_pitch=D, panel_shape=slm.resolution, panel_pitch=slm.pitch,
                        wavelength=LAM, f1=cfg.f1)
    from optics4f.devices.encoding import double_phase

    want = slm.encode(np.angle(np.exp(1j * double_phase(target).pattern)), LAM)
    assert np.array_equal(b.frames, want)
    assert b.settings["model_sha256"] and len(b.settings["model_sha256"]) == 64


def test_existing_output_refused_and_force_replaces(tmp_path, rng):
    masks, _ = _masks(rng)
    slm = slm_preset("holoeye-pluto-2", resolution=(80, 96))
    cfg = export_system(slm, (16, 16), (18, 18), 2, tiled=False)
    out = tmp_path / "o"
    export_masks(masks, out, cfg, formats=["png", "bmp"])
    before = {n: (out / n).read_bytes() for n in _listing(out)}
    with pytest.raises(FileExistsError, match="--force"):
        export_masks(masks * 0.5, out, cfg)
    assert {n: (out / n).read_bytes() for n in _listing(out)} == before
    assert _listing(tmp_path) == ["o"]  # no temporary folder left
    export_masks(masks[:1], out, cfg, formats=["png"], force=True)  # fewer frames, one format
    assert _listing(out) == ["frame_000.png", "manifest.json", "sidecar.h5"]  # stale files removed
    assert read_export(out).n_frames == 1


def test_undersampled_geometry_is_an_error_and_leaves_nothing(tmp_path, rng):
    masks, _ = _masks(rng)
    slm = slm_preset("holoeye-pluto-2", resolution=(40, 48))
    cfg = export_system(slm, (16, 16), (18, 18), 2, tiled=False)
    f1_min = 18 * D * slm.pitch / LAM
    with pytest.raises(AliasingError, match=r"f1 >= "):
        export_masks(masks, tmp_path / "o", cfg.replace(f1=0.9 * f1_min), tiled=False)
    assert _listing(tmp_path) == []
    # tiles need the whole tiled span free of replicas
    cfg_t = export_system(slm, (16, 16), (18, 18), 2, tiled=True, encoding="phase")
    with pytest.raises(AliasingError):
        export_masks(masks, tmp_path / "t", cfg_t.replace(f1=cfg_t.f1 * 0.6))
    assert _listing(tmp_path) == []
    # a panel narrower than one period of the mask low-passes the image: a warning, or an error with strict
    small = cfg.replace(slm=slm.replace(resolution=(12, 48)))
    with pytest.raises(AliasingError, match="narrower than one period"):
        export_masks(masks, tmp_path / "s", small, tiled=False, strict=True)
    assert _listing(tmp_path) == []
    with pytest.warns(SamplingWarning, match="narrower than one period"):
        export_masks(masks, tmp_path / "s", small, tiled=False)


def test_failed_write_leaves_nothing(tmp_path, rng, monkeypatch):
    """An error while writing (a failing sidecar write, after the frame files) removes every file and folder made."""
    from nets.export import bundle

    masks, _ = _masks(rng, cout=1)
    cfg = export_system(slm_preset("holoeye-pluto-2", resolution=(80, 96)), (16, 16), (18, 18), 1)

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(bundle, "write_sidecar", boom)
    with pytest.raises(OSError, match="disk full"):
        export_masks(masks, tmp_path / "new" / "deeper" / "o", cfg, formats=["png", "bmp", "csv"])
    assert _listing(tmp_path) == []


def test_tampered_file_fails_checksum(tmp_path, rng):
    masks, _ = _masks(rng, cout=1)
    cfg = export_system(slm_preset("holoeye-pluto-2", resolution=(80, 96)), (16, 16), (18, 18), 1)
    export_masks(masks, tmp_path / "o", cfg)
    p = tmp_path / "o" / "frame_000.png"
    from nets.export.formats import read_png, write_png

    a = read_png(p)
    a[0, 0] ^= 1
    write_png(p, a, overwrite=True)
    with pytest.raises(ValueError, match="frame_000.png"):
        read_export(tmp_path / "o")


def test_bad_models_give_clear_errors(tmp_path):
    from nets.checkpoint import model_config, save_checkpoint
    from nets.export import export_model
    from nets.models import TeacherCNN

    slm = slm_preset("holoeye-pluto-2", resolution=(20, 24))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        export_model(tmp_path / "none.pt", slm, tmp_path / "o")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint at all")
    with pytest.raises(ValueError, match="junk.pt"):
        export_model(tmp_path / "junk.pt", slm, tmp_path / "o")
    save_checkpoint(tmp_path / "t.pt", TeacherCNN(), {"model": model_config("teacher_cnn")})
    with pytest.raises(ValueError, match="teacher"):
        export_model(tmp_path / "t.pt", slm, tmp_path / "o")
    _student(tmp_path / "s.pt")
    with pytest.raises(ValueError, match="complex"):
        export_model(tmp_path / "s.pt", slm.replace(mode="complex"), tmp_path / "o")
    assert not (tmp_path / "o").exists()


def test_hardware_student_phase_goes_on_the_panel(tmp_path):
    from nets.checkpoint import model_config, save_checkpoint
    from nets.export import export_model
    from nets.models import SCLCClassifier

    torch.manual_seed(1)
    kw = dict(image_size=8, channels=[2], kernel_sizes=3, frontend="hardware")
    m = SCLCClassifier(**kw)
    with torch.no_grad():
        m.frontend.layer.phase.uniform_(-7.0, 7.0)  # any trained phase, beyond one period too
    save_checkpoint(tmp_path / "h.pt", m, {"model": model_config("sclc_classifier", **kw)})
    src = m.frontend.layer.config.slm
    slm = slm_preset("holoeye-pluto-2", resolution=(src.resolution[0] + 24, src.resolution[1] + 31))
    export_model(tmp_path / "h.pt", slm, tmp_path / "o")
    b = read_export(tmp_path / "o")
    assert b.encoding == "phase" and b.tiled and b.config.layout.n_channels == 2
    my, mx = src.resolution
    y0, x0 = slm.resolution[0] // 2 - my // 2, slm.resolution[1] // 2 - mx // 2
    trained = m.frontend.layer.phase.detach().numpy()[0].astype(np.float64)
    shown = b.slm.gray_to_phase(b.frames[0], LAM)
    err = np.angle(np.exp(1j * (shown[y0:y0 + my, x0:x0 + mx] - trained)))
    assert np.abs(err).max() <= 0.5 * 2 * np.pi / 255 + 1e-9  # the trained phase, within half a gray level
    outside = np.ones(slm.resolution, bool)
    outside[y0:y0 + my, x0:x0 + mx] = False
    yy, xx = np.nonzero(outside)
    want = np.pi * ((yy + xx) % 2)  # pixels the student never had: 0 / pi checkerboard
    assert np.abs(np.angle(np.exp(1j * (shown[outside] - want)))).max() <= 0.5 * 2 * np.pi / 255 + 1e-9
    with pytest.raises(ValueError, match="pitch"):
        export_model(tmp_path / "h.pt", slm_preset("hamamatsu-x15213"), tmp_path / "p")
    with pytest.raises(ValueError, match="more than the panel"):
        export_model(tmp_path / "h.pt", slm.replace(resolution=(my - 2, mx)), tmp_path / "p")
    assert not (tmp_path / "p").exists()


# ----------------------------------------------------------------------------- CLI
def test_cli_export_inspect_and_errors(tmp_path, capsys):
    from nets.cli import main

    _student(tmp_path / "m.pt")
    out = tmp_path / "e"
    assert main(["export", str(tmp_path / "m.pt"), "--slm", "santec-slm-200", "--out", str(out), "--format", "png",
                 "--format", "csv", "--write-lut"]) == 0
    assert (out / "frame_000.csv").is_file() and (out / "lut.txt").is_file()
    assert main(["inspect", str(out), "--json"]) == 0
    rep = json.loads(capsys.readouterr().out.split("\n", 1)[1])
    assert rep["checksums"] == "ok" and rep["frames"]["shape"] == [1, 1200, 1920]
    assert rep["max_phase_error_gray_levels"] <= 0.5 + 1e-6
    with pytest.raises(SystemExit, match="--force"):
        main(["export", str(tmp_path / "m.pt"), "--slm", "santec-slm-200", "--out", str(out)])
    with pytest.raises(SystemExit, match="known presets"):
        main(["export", str(tmp_path / "m.pt"), "--slm", "no-such-panel", "--out", str(tmp_path / "n")])
    assert not (tmp_path / "n").exists()
    assert main(["inspect", str(out / "sidecar.h5")]) == 0
    assert "float_pattern: phase (rad)" in capsys.readouterr().out
    # a measured LUT from a two-column text file, and the bit-depth override
    lut = -2.2 * np.pi * (np.arange(1024) / 1023) ** 1.1
    np.savetxt(tmp_path / "lut.txt", np.column_stack([np.arange(1024), lut]))
    assert main(["export", str(tmp_path / "m.pt"), "--slm", "santec-slm-200", "--bits", "10", "--lut",
                 str(tmp_path / "lut.txt"), "--out", str(tmp_path / "l"), "--per-channel"]) == 0
    b = read_export(tmp_path / "l")
    np.testing.assert_allclose(b.slm.lut, lut, rtol=1e-15)
    assert not b.tiled and b.n_frames == 2


def test_cli_calibration_lut_is_applied(tmp_path):
    pytest.importorskip("calib.lut")
    from calib.lut import LUTCalibration

    from nets.cli import main

    _student(tmp_path / "m.pt", channels=1)
    lut = -2.05 * np.pi * (np.arange(256) / 255) ** 1.1
    cal = LUTCalibration(kind="lut", values={"lut": lut, "wavelength": 633e-9}, units={"lut": "rad", "wavelength": "m"})
    cal.save(tmp_path / "lut.h5")
    out = tmp_path / "e"
    assert main(["export", str(tmp_path / "m.pt"), "--slm", "holoeye-pluto-2", "--out", str(out),
                 "--calibration", str(tmp_path / "lut.h5")]) == 0
    b = read_export(out)
    np.testing.assert_array_equal(b.slm.lut, lut)
    assert b.slm.design_wavelength == 633e-9
    shown = b.slm.gray_to_phase(b.frames, LAM)
    err = np.abs(np.angle(np.exp(1j * (shown - b.phase))))
    assert err.max() <= 0.5 * np.abs(np.diff(lut)).max() * 633 / 532 + 1e-9
