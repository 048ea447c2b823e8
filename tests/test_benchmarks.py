"""The benchmark helpers (benchmarks/_timing.py) and a tiny run of bench_propagation.

Not timed tests: they check that the figures mean what they say (bytes, seconds, records).
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import _timing  # noqa: E402
import bench_propagation  # noqa: E402

KEYS = {"case", "n", "dtype", "seconds", "floor_seconds", "ratio", "peak_fields"}


def test_traced_peak_counts_numpy_arrays_and_temporaries():
    n = 1_000_000
    held = _timing.traced_peak_bytes(lambda: np.ones(n))  # float64: 8 MB, returned
    assert 8 * n <= held < 8 * n + 65536

    def temporary():
        tmp = np.ones(n, dtype=np.complex64)  # 8 MB, freed before returning
        return float(tmp.sum().real)

    assert 8 * n <= _timing.traced_peak_bytes(temporary) < 8 * n + 65536
    assert _timing.traced_peak_bytes(lambda: None) < 65536


def test_interleaved_medians_calls_and_times():
    calls = []
    med = _timing.interleaved_medians({"a": lambda: calls.append("a"),
                                       "sleep": lambda: (calls.append("s"), time.sleep(0.004))},
                                      repeats=5, warmup=2)
    assert calls == ["a", "a", "s", "s"] + ["a", "s"] * 5  # warm-up first, then round robin
    assert 0.004 <= med["sleep"] < 0.05
    assert med["a"] < 0.004
    with pytest.raises(ValueError, match="repeats"):
        _timing.interleaved_medians({"a": lambda: None}, repeats=0)


def test_repeats_for_fits_budget_and_is_odd():
    assert _timing.repeats_for(0.1, 1.0) == 11
    assert _timing.repeats_for(0.1, 1.25) == 13  # 12, made odd
    assert _timing.repeats_for(10.0, 1.0) == 3
    assert _timing.repeats_for(1e-9, 100.0) == 31


def test_write_json_roundtrip_leaves_no_temporary(tmp_path):
    path = tmp_path / "sub" / "out.json"
    _timing.write_json(path, [{"x": 1.5}])
    assert json.loads(path.read_text()) == [{"x": 1.5}]
    assert [p.name for p in path.parent.iterdir()] == ["out.json"]


def test_floor_pairs_cover_engines_and_transform_in_place():
    from optics4f import fft as offt

    pairs = _timing.floor_pairs((16, 16), np.complex64)
    assert set(pairs) == set(offt.available_engines())
    seconds, engine = _timing.fft_floor((16, 16), np.complex64, repeats=3)
    assert engine in pairs and 0 < seconds < 0.1


def test_bench_propagation_tiny_run_writes_records(tmp_path, capsys):
    path = tmp_path / "bench.json"
    records = bench_propagation.main(["--sizes", "32", "--budget", "0.02", "--no-diffractsim",
                                      "--json", str(path)])
    assert json.loads(path.read_text()) == records
    assert [(r["case"], r["dtype"]) for r in records] == [
        ("asm", "complex64"), ("fourf", "complex64"), ("asm", "complex128"), ("fourf", "complex128")]
    for r in records:
        assert set(r) == KEYS and r["n"] == 32
        assert r["ratio"] == pytest.approx(r["seconds"] / r["floor_seconds"])
        # a warm call allocates its (32, 32) output, 1/4 of a padded (64, 64) field, plus at most
        # NumPy's constant 64 KiB ufunc buffer
        field = 64 * 64 * np.dtype(r["dtype"]).itemsize
        assert 0.25 * field <= r["peak_fields"] * field < 0.25 * field + 128 * 1024
    assert "floor" in capsys.readouterr().out


def test_bench_propagation_diffractsim_record(tmp_path):
    pytest.importorskip("diffractsim")
    records = bench_propagation.main(["--sizes", "32", "--budget", "0.02", "--dtypes", "complex128"])
    ds = [r for r in records if r["case"] == "diffractsim_asm"]
    assert len(ds) == 1 and set(ds[0]) == KEYS
    assert ds[0]["dtype"] == "complex128" and ds[0]["seconds"] > 0


def test_bench_propagation_refuses_odd_sizes():
    with pytest.raises(SystemExit):
        bench_propagation.main(["--sizes", "33"])
