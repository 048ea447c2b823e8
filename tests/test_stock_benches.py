"""A lab's own bench: catalogue lenses, every SLM preset, export then simulate the frames as written.

The grid is focal lengths 50, 100, 200, 300 mm x wavelengths 532, 633, 780 nm x every preset,
with the embedded student shown on an 8 um display. A bench is physically able to run the
model when its panel holds one period lambda f1 / d of the mask (else it cuts the display's
spectrum): those must export and simulate from the files; the others must be refused with the
numbers and a fix. Long lenses work with a coarser display (24 um) and are run too.
"""
from __future__ import annotations

import itertools
import math

import pytest

from nets.cli import main
from nets.export.bundle import read_export
from nets.inference.simulate import DEFAULT_MODEL, simulate
from optics4f.devices.presets import PRESETS, preset_names

FOCAL = (0.05, 0.1, 0.2, 0.3)


@pytest.fixture(autouse=True)
def _scipy_engine(scipy_fft_engine):
    """Every bench has its own grid size: FFTW would plan (FFTW_MEASURE, seconds) for each one."""
    yield
WAVELENGTHS = (532e-9, 633e-9, 780e-9)


def _able(preset: str, f1: float, lam: float, display_pitch: float) -> bool:
    p = PRESETS[preset]
    return min(p["resolution"]) * p["pitch"] >= lam * f1 / display_pitch


def _export(tmp_path, preset, f1, lam, d, name="export"):
    out = tmp_path / name
    rc = main(["export", str(DEFAULT_MODEL), "--slm", preset, "--f1", repr(f1), "--wavelength", repr(lam),
               "--display-pitch", repr(d), "--out", str(out)])
    return rc, out


def _grid():
    for f1, lam, preset in itertools.product(FOCAL, WAVELENGTHS, preset_names()):
        yield pytest.param(preset, f1, lam, 8e-6, id=f"{preset}-{f1 * 1e3:.0f}mm-{lam * 1e9:.0f}nm")
    for f1, preset in itertools.product((0.2, 0.3), ("holoeye-pluto-2", "hamamatsu-x15213")):
        yield pytest.param(preset, f1, 633e-9, 24e-6, id=f"{preset}-{f1 * 1e3:.0f}mm-633nm-24um")


@pytest.mark.slow
@pytest.mark.parametrize("preset, f1, lam, d", list(_grid()))
def test_every_stock_bench_exports_and_simulates_or_says_why_not(preset, f1, lam, d, tmp_path):
    if not _able(preset, f1, lam, d):
        with pytest.raises(SystemExit, match=r"narrower than one period of the mask.*Use f1 <= .*display pitch >="):
            _export(tmp_path, preset, f1, lam, d)
        assert not (tmp_path / "export").exists()  # nothing half-written
        return
    rc, out = _export(tmp_path, preset, f1, lam, d)
    assert rc == 0
    bundle = read_export(out)
    assert bundle.config.f1 == f1 and bundle.config.wavelength == lam  # the bench is recorded as given
    assert min(bundle.config.geometry().slm_factor) >= 1  # at least one Fourier sample per SLM pixel
    res = simulate(DEFAULT_MODEL, frames=out, limit=4, calibration_images=4,
                   settings=_recorded(bundle))
    assert res.n_images == 4 and 0 <= res.optical_accuracy <= 1
    assert len(res.fidelity["channels"]) == 8


def _recorded(bundle):
    from nets.cli import _hardware_settings

    class NoFlags:  # no bench option given on the command line: the export's bench as recorded
        pass

    return _hardware_settings(NoFlags(), bundle.settings["bench"])


@pytest.mark.slow
@pytest.mark.parametrize("preset, f1, lam, d", [("holoeye-pluto-2", 0.1, 633e-9, 8e-6),
                                                ("hamamatsu-x15213", 0.3, 633e-9, 24e-6)])
def test_stock_bench_accuracy_is_within_one_and_a_half_points_when_well_represented(preset, f1, lam, d,
                                                                                      tmp_path, capsys):
    """The README's lab bench: a 100 mm lens (and a 300 mm one with 24 um display pixels), 633 nm."""
    rc, out = _export(tmp_path, preset, f1, lam, d)
    assert rc == 0
    report = tmp_path / "report.json"
    assert main(["simulate", str(DEFAULT_MODEL), "--frames", str(out), "--limit", "400", "--no-figures",
                 "--report", str(report), "--out", str(tmp_path / "sim")]) == 0
    import json

    res = json.loads(report.read_text())
    assert res["fidelity"]["well_represented"]
    assert abs(res["optical_accuracy"] - res["digital_accuracy"]) <= 0.015
    assert "well represented: yes" in capsys.readouterr().out
    assert math.isclose(res["config"]["system"]["f1"], f1)


def test_fidelity_flags_a_two_bit_panel(tmp_path):
    """The report explains a poor bench: 2-bit phase levels give a low kernel correlation."""
    from nets.inference.optical import HardwareSettings

    good = simulate(DEFAULT_MODEL, limit=8, calibration_images=8,
                    settings=HardwareSettings(slm_preset="holoeye-pluto-2", f1=0.1, wavelength=633e-9))
    poor = simulate(DEFAULT_MODEL, limit=8, calibration_images=8,
                    settings=HardwareSettings(slm_preset="holoeye-pluto-2", f1=0.1, wavelength=633e-9, slm_bits=2))
    from nets.inference.fidelity import MIN_WEIGHT

    g = min(r["correlation"] for r in good.fidelity["channels"] if r["weight"] >= MIN_WEIGHT)
    p = min(r["correlation"] for r in poor.fidelity["channels"] if r["weight"] >= MIN_WEIGHT)
    assert good.fidelity["well_represented"] and g > 0.99
    assert not poor.fidelity["well_represented"] and p < 0.95
    assert {r["phase_levels"] for r in poor.fidelity["channels"]} <= {2, 3, 4}
    assert all(r["levels"] == 4 for r in poor.fidelity["channels"])


def test_simulate_frames_rebuilds_the_bench_the_export_recorded(tmp_path):
    """export records lenses, wavelength, display, camera and misalignment; simulate --frames needs no
    flag repeated, overrides camera settings given explicitly, and refuses a different geometry."""
    import json

    out = tmp_path / "export"
    assert main(["export", str(DEFAULT_MODEL), "--slm", "holoeye-pluto-2", "--f1", "0.075", "--wavelength",
                 "633e-9", "--camera-bits", "10", "--read-noise", "3", "--out", str(out)]) == 0
    rep = tmp_path / "a.json"
    assert main(["simulate", str(DEFAULT_MODEL), "--frames", str(out), "--limit", "4", "--no-figures",
                 "--report", str(rep), "--out", str(tmp_path / "a")]) == 0
    system = json.loads(rep.read_text())["config"]["system"]
    assert (system["f1"], system["wavelength"]) == (0.075, 633e-9)
    assert (system["camera"]["bit_depth"], system["camera"]["read_noise"]) == (10, 3.0)
    rep = tmp_path / "b.json"
    assert main(["simulate", str(DEFAULT_MODEL), "--frames", str(out), "--limit", "4", "--no-figures",
                 "--camera-bits", "12", "--report", str(rep), "--out", str(tmp_path / "b")]) == 0
    assert json.loads(rep.read_text())["config"]["system"]["camera"]["bit_depth"] == 12
    with pytest.raises(SystemExit, match=r"exported for f1 = 0.075, not 0.1"):
        main(["simulate", str(DEFAULT_MODEL), "--frames", str(out), "--f1", "0.1", "--limit", "4"])


def test_per_channel_export_simulates_time_multiplexed(tmp_path):
    """--per-channel: one frame per (output, input) pair, each its own exposure on the whole camera."""
    out = tmp_path / "export"
    assert main(["export", str(DEFAULT_MODEL), "--slm", "santec-slm-200", "--per-channel", "--out", str(out)]) == 0
    bundle = read_export(out)
    assert bundle.n_frames == 8 and not bundle.tiled
    res = simulate(DEFAULT_MODEL, frames=out, limit=64, calibration_images=16, settings=_recorded(bundle))
    assert res.optical.per_channel
    assert res.optical_accuracy >= res.digital_accuracy - 0.05
    assert sorted(r["out_channel"] for r in res.fidelity["channels"]) == list(range(8))
    assert res.fidelity["well_represented"]


def test_a_labs_camera_pitch_is_read_onto_the_feature_grid():
    """f2 = 2 f1 images an 8 um display pixel onto 16 um; a 5.86 um camera samples it finer, and the
    electronics gather its counts by area onto the feature grid: the student still classifies."""
    from nets.inference.optical import HardwareSettings

    base = dict(f1=0.05, f2=0.1, noise=False, camera_bits=None)
    ref = simulate(DEFAULT_MODEL, limit=64, calibration_images=16, settings=HardwareSettings(**base))
    lab = simulate(DEFAULT_MODEL, limit=64, calibration_images=16,
                   settings=HardwareSettings(camera_pitch=5.86e-6, **base))
    assert lab.config["system"]["camera"]["pixel_pitch"] == 5.86e-6
    assert abs(lab.optical_accuracy - ref.optical_accuracy) <= 2 / 64
    with pytest.raises(ValueError, match=r"cannot resolve the output tiles.*f2/f1 >= 2.5"):
        simulate(DEFAULT_MODEL, limit=4, calibration_images=4,
                 settings=HardwareSettings(f1=0.05, camera_pitch=20e-6))


def test_one_bench_file_for_export_simulate_and_finetune(tmp_path):
    """--bench FILE (the bench options' keys, SI) is read by export, simulate and finetune alike; flags win."""
    import json

    bench = tmp_path / "bench.toml"
    bench.write_text('format = "optics4f.bench"\nwavelength = 633e-9\nf1 = 0.075\ndisplay_pitch = 8e-6\n'
                     'slm_preset = "holoeye-pluto-2"\ncamera_bits = 10\nread_noise = 3.0\n')
    out = tmp_path / "export"
    assert main(["export", str(DEFAULT_MODEL), "--bench", str(bench), "--slm", "holoeye-pluto-2",
                 "--camera-bits", "11", "--out", str(out)]) == 0
    recorded = read_export(out).settings["bench"]
    assert (recorded["f1"], recorded["wavelength"], recorded["read_noise"]) == (0.075, 633e-9, 3.0)
    assert recorded["camera_bits"] == 11  # the flag wins over the file
    rep = tmp_path / "r.json"
    assert main(["simulate", str(DEFAULT_MODEL), "--bench", str(bench), "--limit", "4", "--no-figures",
                 "--report", str(rep), "--out", str(tmp_path / "s")]) == 0
    system = json.loads(rep.read_text())["config"]["system"]
    assert (system["f1"], system["camera"]["bit_depth"]) == (0.075, 10)
    bad = tmp_path / "bad.toml"
    bad.write_text('focal = 0.1\n')
    with pytest.raises(SystemExit, match=r"bad.toml.*unknown key 'focal'.*f1"):
        main(["simulate", str(DEFAULT_MODEL), "--bench", str(bad), "--limit", "4"])
    from nets.cli import _hardware_settings, build_parser

    ft = build_parser().parse_args(["finetune", str(DEFAULT_MODEL), "--bench", str(bench), "--f2", "0.15"])
    assert (_hardware_settings(ft).f1, _hardware_settings(ft).f2) == (0.075, 0.15)  # finetune reads it too
    wrong = tmp_path / "nm.toml"
    wrong.write_text('wavelength = 633\n')
    with pytest.raises(SystemExit, match=r"wavelength=633.*did you mean 633e-9"):
        main(["simulate", str(DEFAULT_MODEL), "--bench", str(wrong), "--limit", "4"])
