"""optics4f tolerance: the spec, the benches against simulate and the old sweep, the statistics
against analytic answers, executors, resume and the CLI (docs/tolerance.md)."""
from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest

from nets.inference.optical import HardwareSettings
from nets.tolerance.result import SweepResult, ToleranceResult
from nets.tolerance.spec import Distribution, ToleranceSpec, parse_spec
from nets.tolerance.stats import sensitivity, tolerances_for_yield, yield_interval

M = 40  # test images per bench


def _spec(errors: dict, benches=4, images=M, **target) -> ToleranceSpec:
    return parse_spec({"run": {"benches": benches, "images": images, "seed": 3, "calibration_images": 16},
                       "target": {"threshold": 0.9, **target}, "errors": errors})


# -- the spec ----------------------------------------------------------------------------------------

def test_spec_converts_units_to_si_and_draws_independently_of_other_errors():
    s = _spec({"slm_rotation": {"dist": "uniform", "low": -2, "high": 2, "unit": "deg"},
               "z4": {"dist": "normal", "mean": 0, "sigma": 20, "unit": "nm"},
               "camera_bits": {"dist": "uniform", "low": 8, "high": 10, "unit": "bit"}})
    assert s.errors["slm_rotation"].params == pytest.approx((-math.radians(2), math.radians(2)))
    assert s.errors["z4"].params == pytest.approx((0.0, 20e-9))
    d = [s.draw(i) for i in range(200)]
    assert all(abs(v["slm_rotation"]) <= math.radians(2) for v in d)
    assert {v["camera_bits"] for v in d} == {8.0, 9.0, 10.0}  # integers, both ends included
    assert np.std([v["z4"] for v in d]) == pytest.approx(20e-9, rel=0.15)
    alone = _spec({"z4": {"dist": "normal", "mean": 0, "sigma": 20, "unit": "nm"}})
    assert [alone.draw(i)["z4"] for i in range(5)] == [v["z4"] for v in d[:5]]


@pytest.mark.parametrize("errors, match", [
    ({"tilt": {"dist": "fixed", "value": 0, "unit": "rad"}}, "unknown bench error 'tilt'"),
    ({"read_noise": {"dist": "fixed", "value": 5}}, "needs unit = 'e-'"),
    ({"read_noise": {"dist": "fixed", "value": 5, "unit": "mm"}}, "cannot convert to 'e-'"),
    ({"slm_rotation": {"dist": "uniform", "low": 1, "high": 0, "unit": "rad"}}, "low <= high"),
    ({"lut_gamma": {"dist": "fixed", "value": 9, "unit": "1"}}, "outside the allowed range"),
    ({"slm_bits": {"dist": "fixed", "value": 6.5, "unit": "bit"}}, "not a whole number"),
    ({"wavelength": {"dist": "triangle", "value": 1, "unit": "m"}}, "dist must be one of"),
    ({"wavelength": {"dist": "normal", "mean": 532e-9, "unit": "m"}}, "takes exactly"),
    ({}, "no \\[errors.NAME\\]"),
])
def test_spec_errors_name_the_entry(errors, match):
    with pytest.raises(ValueError, match=match):
        _spec(errors)


def test_scaled_distribution_keeps_its_centre():
    d = Distribution("slm_shift_x", "uniform", (1e-6, 5e-6))
    assert d.scaled(0.5).params == pytest.approx((2e-6, 4e-6))
    assert Distribution("z5", "normal", (1e-9, 4e-9)).scaled(0.25).params == pytest.approx((1e-9, 1e-9))


# -- statistics against analytic answers ------------------------------------------------------------

def test_wilson_interval_matches_its_formula():
    k, n, z = 8, 10, 1.959963984540054
    p = k / n
    c = (p + z * z / (2 * n)) / (1 + z * z / n)
    h = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    _, lo, hi = yield_interval(k, n, 0.95, "wilson")
    assert (lo, hi) == pytest.approx((c - h, c + h), abs=1e-9)
    _, elo, ehi = yield_interval(10, 10, 0.95, "exact")  # Clopper-Pearson at k = n: (alpha/2)^(1/n)
    assert ehi == 1.0 and elo == pytest.approx(0.025 ** (1 / 10), abs=1e-9)


@pytest.mark.parametrize("method", ["wilson", "exact"])
def test_yield_interval_covers_the_true_yield(method):
    """A toy bench population with a known yield: P(x >= t) for x ~ U(0, 1) is 1 - t."""
    true, n, reps = 0.8, 40, 400
    rng = np.random.default_rng(11)
    covered = 0
    for _ in range(reps):
        k = int((rng.uniform(0, 1, n) >= 1 - true).sum())
        _, lo, hi = yield_interval(k, n, 0.95, method)
        covered += lo <= true <= hi
    assert covered / reps >= 0.90


def test_sensitivity_finds_an_even_effect_and_its_share():
    """y = x1^2 + 0.01 x2 + e: a straight line finds nothing in x1 (even); the quadratic first-order
    index gives Var(x1^2) / Var(y) = (4/45) / (4/45 + 0.01^2/3 + 0.1^2) for x ~ U(-1, 1)."""
    rng = np.random.default_rng(0)
    n = 3000
    x1, x2 = rng.uniform(-1, 1, n), rng.uniform(-1, 1, n)
    y = x1 ** 2 + 0.01 * x2 + rng.normal(0, 0.1, n)
    rows = sensitivity({"x2": x2, "x1": x1}, y, n_boot=50)
    assert [r["error"] for r in rows] == ["x1", "x2"]
    want = (4 / 45) / (4 / 45 + 1e-4 / 3 + 0.01)
    assert rows[0]["share"] == pytest.approx(want, abs=0.02)
    assert rows[0]["low"] <= rows[0]["share"] <= rows[0]["high"]
    assert rows[1]["share"] < 0.01


def test_tolerance_for_a_yield_matches_the_analytic_width():
    """y = 1 - x^2, x ~ U(-a, a): yield P(|x| <= sqrt(1 - t)) = sqrt(1 - t) / a, so the goal g needs
    the half-width sqrt(1 - t) / g."""
    a, t, g = 0.5, 0.91, 0.95
    spec = _spec({"slm_shift_x": {"dist": "uniform", "low": -a, "high": a, "unit": "m"}}, threshold=t, yield_goal=g)
    x = np.random.default_rng(1).uniform(-a, a, 400)
    res = tolerances_for_yield(spec, {"slm_shift_x": x}, 1 - x ** 2)
    assert res["predicted_yield_as_drawn"] == pytest.approx(math.sqrt(1 - t) / a, abs=0.02)
    assert res["all"]["scale"] == pytest.approx(math.sqrt(1 - t) / g / a, rel=0.03)
    assert res["each"]["slm_shift_x"]["tolerance"]["high"] == pytest.approx(math.sqrt(1 - t) / g, rel=0.03)


# -- benches against simulate and the old sweep ------------------------------------------------------

def _run(spec, tmp_path=None, **kw):
    from nets.tolerance.run import run_tolerance

    return run_tolerance(spec, out=tmp_path, **kw)


def test_zero_width_error_reproduces_simulate_exactly():
    from nets.inference.simulate import simulate

    base = HardwareSettings(camera_bits=10, slm_rotation=math.radians(0.5), seed=7)
    spec = _spec({"read_noise": {"dist": "uniform", "low": 5, "high": 5, "unit": "e-"},
                  "z4": {"dist": "fixed", "value": 0, "unit": "m"}}, benches=2)
    res = _run(spec, settings=base, workers=1)
    for rec in res.benches:
        assert rec["noise_seed"] == 7 + rec["index"]
        sim = simulate(settings=base.replace(seed=rec["noise_seed"]), limit=M, calibration_images=16)
        assert rec["accuracy"] == sim.optical_accuracy
        assert rec["digital_accuracy"] == sim.digital_accuracy


def _old_sweep(param_settings, values, **kw):
    """The retired one-parameter ``simulate --sweep`` (nets/inference/sweep.py until issue 16 closed):
    one full ``simulate`` run per value with one HardwareSettings field changed."""
    from nets.inference.simulate import simulate

    return [simulate(settings=param_settings(v), **kw).optical_accuracy for v in values]


def test_shift_alone_reproduces_the_old_sweep():
    settings = HardwareSettings()
    values = [0, 16, 40]  # SLM pixels, the sweep's unit (accuracy falls between 16 and 48)
    old = _old_sweep(lambda v: settings.replace(slm_shift=(0.0, float(v) * settings.pitch)), values, limit=M,
                     calibration_images=16)
    new = [_run(_spec({"slm_shift_x": {"dist": "fixed", "value": v * settings.pitch, "unit": "m"}}, benches=1),
                settings=settings, workers=1).benches[0]["accuracy"] for v in values]
    assert new == old
    assert new[0] > new[-1] + 0.1  # the range reaches the fall, so the comparison is not of flat lines


def test_bench_errors_reproduce_simulate_bench_errors_uncalibrated():
    from nets.inference.calibrated import compare

    res = compare(errors="lut_gamma=1.4,gray_2pi=230,z4=60e-9", limit=M, calibration_images=16)
    spec = _spec({"lut_gamma": {"dist": "fixed", "value": 1.4, "unit": "1"},
                  "gray_2pi": {"dist": "fixed", "value": 230, "unit": "gray level"},
                  "z4": {"dist": "fixed", "value": 60, "unit": "nm"}}, benches=1)
    rec = _run(spec, workers=1).benches[0]
    assert rec["accuracy"] == res.uncalibrated_accuracy
    assert rec["accuracy"] < res.error_free_accuracy


def test_sensitivity_ranks_rotation_above_a_little_read_noise():
    spec = _spec({"slm_rotation": {"dist": "uniform", "low": -4, "high": 4, "unit": "deg"},
                  "read_noise": {"dist": "uniform", "low": 5, "high": 5.05, "unit": "e-"}}, benches=12)
    res = _run(spec, workers=1)
    s = {r.error: r for r in res.sensitivity}
    assert res.sensitivity[0].error == "slm_rotation"
    assert s["slm_rotation"].share > 0.5 > s["read_noise"].share + 0.3
    assert s["slm_rotation"].low > s["read_noise"].share


# -- executors, resume, CLI --------------------------------------------------------------------------

@pytest.mark.slow
def test_local_pool_and_dask_cluster_give_identical_results():
    distributed = pytest.importorskip("distributed")
    spec = _spec({"slm_rotation": {"dist": "uniform", "low": -3, "high": 3, "unit": "deg"},
                  "full_well": {"dist": "normal", "mean": 2000, "sigma": 500, "unit": "e-"}}, benches=4, images=20)
    one = _run(spec, workers=1).benches
    pool = _run(spec, workers=2).benches
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cl, \
            distributed.Client(cl) as client:
        dask = _run(spec, scheduler=client).benches
    assert pool == one and dask == one
    assert len({r["accuracy"] for r in one}) > 1  # the benches differ, so identity is a real check


def test_interrupted_run_resumes_from_the_benches_written(tmp_path):
    out = tmp_path / "run"
    spec = _spec({"slm_rotation": {"dist": "uniform", "low": -3, "high": 3, "unit": "deg"}}, benches=4, images=20)
    full = _run(spec, out, workers=1)
    assert full.computed == 4
    lines = (out / "benches.jsonl").read_text().splitlines()
    assert len(lines) == 4
    (out / "benches.jsonl").write_text("\n".join(lines[:2]) + "\n" + lines[2][:25])  # killed mid-write
    again = _run(spec, out, workers=1)
    assert (again.computed, again.resumed) == (2, 2)
    assert again.benches == full.benches
    assert len((out / "benches.jsonl").read_text().splitlines()) == 4
    other = _spec({"slm_rotation": {"dist": "uniform", "low": -1, "high": 1, "unit": "deg"}}, benches=4, images=20)
    with pytest.raises(FileExistsError, match="another spec"):
        _run(other, out, workers=1)
    assert _run(other, out, workers=1, force=True).computed == 4


def test_cli_writes_table_json_csv_with_units_and_figures(tmp_path, capsys):
    from nets.cli import main

    spec = tmp_path / "tol.toml"
    spec.write_text('[run]\nbenches = 8\nimages = 20\ncalibration_images = 16\n[target]\nthreshold = 0.8\n'
                    '[errors.slm_rotation]\ndist = "uniform"\nlow = -3\nhigh = 3\nunit = "deg"\n'
                    '[errors.camera_defocus]\ndist = "normal"\nmean = 0\nsigma = 50e-6\nunit = "m"\n')
    out = tmp_path / "tol"
    assert main(["tolerance", "--spec", str(spec), "--out", str(out), "--workers", "1", "--camera-bits", "10"]) == 0
    text = capsys.readouterr().out
    assert "yield" in text and "slm_rotation" in text
    rep = out / "report"
    summary = json.loads((rep / "summary.json").read_text())
    assert summary["n_benches"] == 8 and summary["hardware"]["camera_bits"] == 10
    # the typed result writes this JSON and reads it back unchanged
    assert list(summary) == ["metric", "threshold", "n_benches", "n_images", "yield", "distribution", "sensitivity",
                             "tolerances", "spec", "benches", "computed", "resumed", "model", "hardware", "executor",
                             "workers"]
    assert list(summary["yield"]) == ["passed", "benches", "yield", "confidence", "wilson", "clopper_pearson"]
    assert ToleranceResult.from_dict(summary).to_json() == (rep / "summary.json").read_text()
    with open(rep / "benches.csv") as f:
        header = next(csv.reader(f))
    assert header[2:] == ["slm_rotation (rad)", "camera_defocus (m)", "accuracy (1)", "digital_accuracy (1)"]
    for name in ("yield_histogram.png", "sensitivity.png", "metric_vs_errors.png", "sensitivity.csv",
                 "tolerances.csv"):
        assert (rep / name).stat().st_size > 0
    with pytest.raises(SystemExit, match="--spec"):
        main(["tolerance", "--spec", str(tmp_path / "missing.toml"), "--out", str(tmp_path / "x")])


@pytest.mark.slow
def test_benchmark_tiny_run_writes_its_records(tmp_path):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import bench_tolerance

    recs = bench_tolerance.main(["--benches", "3", "--images", "5", "--no-dask", "--json", str(tmp_path / "b.json")])
    assert [(r["executor"], r["workers"]) for r in recs] == [("local", 1), ("local", 2)]
    assert json.loads((tmp_path / "b.json").read_text())[1]["efficiency"] == pytest.approx(
        recs[1]["benches_per_minute"] / recs[0]["benches_per_minute"] / 2)
    assert {"case", "benches_per_minute"} <= set(recs[0]) and recs[0]["case"] == "tolerance"


# -- the grid sweep ----------------------------------------------------------------------------------

def test_sweep_values_are_si_and_checked():
    from nets.tolerance.sweep import DEFAULT_RANGES, parse_sweep

    assert parse_sweep("slm_rotation:deg=1,2")[1] == pytest.approx([math.radians(1), math.radians(2)])
    assert parse_sweep("z5:nm=10")[1] == pytest.approx([10e-9])
    assert parse_sweep("read_noise")[1] == DEFAULT_RANGES["read_noise"]
    for bad, match in (("fill_factor=1.5", "not allowed"), ("camera_bits=2.5", "whole numbers"),
                       ("slm_rotation:deg=a", "comma-separated"), ("spin=1", "unknown bench error")):
        with pytest.raises(ValueError, match=match):
            parse_sweep(bad)


def test_grid_sweep_seeds_are_the_benches_of_simulate():
    from nets.inference.simulate import simulate
    from nets.tolerance.sweep import grid_sweep

    res = grid_sweep([("slm_shift_x", [0.0, 320e-6]), ("read_noise", [5.0])], seeds=2, images=M,
                     calibration_images=16)
    assert [p.values for p in res.points] == [{"slm_shift_x": 0.0, "read_noise": 5.0},
                                             {"slm_shift_x": 320e-6, "read_noise": 5.0}]
    for pt in res.points:
        acc = pt.stats["accuracy"]
        for s, a in enumerate(acc.per_seed):
            sim = simulate(settings=HardwareSettings(slm_shift=(0.0, pt.values["slm_shift_x"]), seed=s), limit=M,
                           calibration_images=16)
            assert a == sim.optical_accuracy
        assert acc.mean == pytest.approx(np.mean(acc.per_seed))
        assert acc.std == pytest.approx(np.std(acc.per_seed, ddof=1))


def test_cli_sweep_default_range_reaches_the_fall(tmp_path, capsys):
    from nets.cli import main

    out = tmp_path / "sw"
    assert main(["tolerance", "--sweep", "slm_rotation", "--seeds", "1", "--images", str(M), "--workers", "1",
                 "--out", str(out), "--no-figures"]) == 0
    with open(out / "sweep.csv") as f:
        rows = list(csv.reader(f))
    assert rows[0][:3] == ["slm_rotation (rad)", "accuracy_mean (1)", "accuracy_std (1)"]
    acc = [float(r[1]) for r in rows[1:]]
    assert acc[0] > acc[-1] + 0.3
    text = (out / "sweep.json").read_text()
    res = SweepResult.from_dict(json.loads(text))
    assert res.to_json() == text and [pt.stats["accuracy"].mean for pt in res.points] == acc
    with pytest.raises(SystemExit, match="not both"):
        main(["tolerance", "--sweep", "slm_rotation", "--spec", "x.toml", "--out", str(tmp_path / "o")])


def test_simulate_sweep_runs_the_grid_and_keeps_the_old_names(tmp_path, capsys):
    """``simulate --sweep shift --values 40`` (the retired syntax: SLM pixels along x) runs the grid
    sweep at slm_shift_x = 40 pixels in metres, saying the new syntax, with simulate's numbers."""
    from nets.cli import main
    from nets.inference.simulate import simulate

    settings = HardwareSettings()
    assert main(["simulate", "--sweep", "shift", "--values", "40", "--seeds", "1", "--limit", str(M),
                 "--out", str(tmp_path), "--no-figures"]) == 0
    err = capsys.readouterr().err
    assert "--values is deprecated" in err and "--sweep slm_shift_x:um=320" in err
    res = SweepResult.from_dict(json.loads((tmp_path / "sweep_slm_shift_x" / "sweep.json").read_text()))
    assert [(p.name, p.unit, p.values) for p in res.params] == [("slm_shift_x", "m", (40 * settings.pitch,))]
    sim = simulate(settings=settings.replace(slm_shift=(0.0, 40 * settings.pitch)), limit=M)
    assert res.points[0].stats["accuracy"].per_seed == (sim.optical_accuracy,)
    assert res.images == M and res.noise_seeds == [0]
    with pytest.raises(SystemExit, match="earlier sweep"):  # an earlier sweep is never replaced
        main(["simulate", "--sweep", "slm_shift_x=0", "--out", str(tmp_path)])
    with pytest.raises(SystemExit, match="--values .* one --sweep"):
        main(["simulate", "--sweep", "slm_bits", "--sweep", "camera_bits", "--values", "2", "--out", str(tmp_path)])


def _profiler_running(dask_worker=None):
    from distributed import get_worker

    return (dask_worker or get_worker()).periodic_callbacks["profile"].is_running()


def test_dask_executor_pauses_the_workers_profiler_and_restores_it(monkeypatch):
    """The Dask workers' statistical profiler (which walks every running task's stack every 10 ms)
    is off while the benches run and on again afterwards (docs/tolerance.md, Executors)."""
    distributed = pytest.importorskip("distributed")
    from nets.tolerance import run

    monkeypatch.setattr(run, "_init_dask_worker", lambda *a: None)  # no model to load for this check
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cl, \
            distributed.Client(cl) as client:
        assert all(client.run(_profiler_running).values())
        _, submit, _, close = run.dask_executor(client, None)
        assert submit(_profiler_running).result() is False
        close()
        assert all(client.run(_profiler_running).values())


def test_old_sweep_names_give_the_old_si_values():
    """The retired sweep's conversions (pixels x display pitch, np.deg2rad, mm x 1e-3) are what the
    old names with --values run now, bit for bit, so their benches are the old ones."""
    from nets.tolerance.cli import sweep_texts
    from nets.tolerance.sweep import parse_sweep

    pitch = 8e-6
    cases = [("shift", "0,16,40", "slm_shift_x", [v * pitch for v in (0.0, 16.0, 40.0)]),
             ("rotation", "0.5,4", "slm_rotation", [float(np.deg2rad(v)) for v in (0.5, 4.0)]),
             ("defocus", "2,20", "fourier_defocus", [v * 1e-3 for v in (2.0, 20.0)]),
             ("full_well", "30,1000", "full_well", [30.0, 1000.0])]
    for old, values, new, si in cases:
        (text,), note = sweep_texts([old], values, pitch)
        name, got, _ = parse_sweep(text)
        assert (name, got) == (new, si)
        assert "--values is deprecated" in note
    assert sweep_texts(["slm_rotation:deg=1"], None, pitch) == (["slm_rotation:deg=1"], None)  # no note
