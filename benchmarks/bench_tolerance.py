"""Benchmark: tolerance benches per minute on one process, a local pool and a Dask cluster.

The spec (100 benches, 200 test images each on the embedded MNIST-5k student; ``--quick``: 30
benches of 50 images) draws every bench from SLM shift, rotation, Fourier defocus, a Zernike
defocus term, full well and read noise. Each executor is started and its workers load the model,
data and frames first (the warm-up, reported as ``startup_s``); the timing covers the benches
alone, i.e. a long run's steady state:

* local, 1 worker: the benches one after another in this process (``run_tolerance(workers=1)``'s path);
* local, 2 workers: ``concurrent.futures.ProcessPoolExecutor`` with the run's initializer;
* dask, 2 workers: a ``distributed.LocalCluster`` of 2 single-threaded worker processes, set up as
  ``optics4f tolerance --scheduler`` sets up a cluster (``nets.tolerance.run.dask_executor``).

``efficiency`` = (benches per minute / the 1-worker figure) / workers. Every executor uses one
torch, BLAS and FFT thread per worker, so the workers are the only parallelism. The machine's load
average is recorded with each record: on a shared machine other processes take cores too.

Usage::

    python benchmarks/bench_tolerance.py [--quick] [--json PATH] [--benches N] [--images M] [--repeat R]

``--json PATH`` writes records with keys ``case`` ("tolerance"), ``executor`` ("local", "dask"),
``workers``, ``benches_per_minute`` and ``efficiency`` (plus ``seconds``, ``startup_s``,
``benches``, ``images``, ``load_average``, ``cpu_count``, ``round``). ``--repeat R`` runs R rounds of
every executor, interleaved, each round's efficiencies against its own 1-worker figure: on a shared
machine the load changes between runs, and a round compares executors under about the same load.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

for _v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OPTICS4F_FFT_THREADS"):
    os.environ.setdefault(_v, "1")  # inherited by the spawned workers

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _timing import machine_summary, write_json  # noqa: E402

SPEC = {
    "slm_shift_y": {"dist": "normal", "mean": 0.0, "sigma": 40e-6, "unit": "m"},
    "slm_shift_x": {"dist": "normal", "mean": 0.0, "sigma": 40e-6, "unit": "m"},
    "slm_rotation": {"dist": "uniform", "low": -1.5, "high": 1.5, "unit": "deg"},
    "fourier_defocus": {"dist": "normal", "mean": 0.0, "sigma": 2e-3, "unit": "m"},
    "z4": {"dist": "normal", "mean": 0.0, "sigma": 30e-9, "unit": "m"},
    "full_well": {"dist": "uniform", "low": 5e3, "high": 2e4, "unit": "e-"},
    "read_noise": {"dist": "uniform", "low": 2, "high": 20, "unit": "e-"},
}


def _jobs(spec, settings):
    return [(i, spec.draw(i), settings.seed + i) for i in range(spec.benches)]


def _ctx_args(spec, settings):
    from nets.inference.simulate import DEFAULT_MODEL

    return (("bench_tolerance", spec.images, spec.calibration_images), str(DEFAULT_MODEL), settings, spec.images,
            spec.calibration_images, None)


def _warm(args):
    """Worker start: one thread, model, data and frames loaded, and one nominal bench run (FFT plans,
    compiled kernels), so that the timing sees only the steady state."""
    from nets.tolerance.run import _init_worker, evaluate_bench

    _init_worker(args)
    evaluate_bench(args, -1, {}, 0)


def run_local(spec, settings, workers: int) -> tuple:
    """(startup s, benches s, records) on this process (1) or a spawned process pool."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, wait

    from nets.tolerance.run import evaluate_bench

    args, jobs = _ctx_args(spec, settings), _jobs(spec, settings)
    t0 = time.perf_counter()
    if workers == 1:
        _warm(args)
        t1 = time.perf_counter()
        recs = [evaluate_bench(args, *j) for j in jobs]
        return t1 - t0, time.perf_counter() - t1, recs
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"), initializer=_warm,
                             initargs=(args,)) as pool:
        wait([pool.submit(os.getpid) for _ in range(workers)])  # every worker started and warm
        t1 = time.perf_counter()
        recs = [f.result() for f in [pool.submit(evaluate_bench, args, *j) for j in jobs]]
        return t1 - t0, time.perf_counter() - t1, recs


def run_dask(spec, settings, workers: int) -> tuple:
    """(startup s, benches s, records) on a LocalCluster of ``workers`` single-threaded processes,
    set up by the tolerance run's own Dask executor (``nets.tolerance.run.dask_executor``)."""
    from distributed import Client, LocalCluster, wait

    from nets.tolerance.run import dask_executor, evaluate_bench

    args, jobs = _ctx_args(spec, settings), _jobs(spec, settings)
    t0 = time.perf_counter()
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        _, submit, _, close = dask_executor(client, args)  # workers loaded, their profilers paused
        try:
            # one nominal bench on each worker's task thread, where FFT plans are kept per thread
            wait([client.submit(evaluate_bench, args, -1, {}, 0, workers=[w], allow_other_workers=False, pure=False)
                  for w in client.nthreads()])
            t1 = time.perf_counter()
            recs = client.gather([submit(evaluate_bench, args, *j) for j in jobs])
            return t1 - t0, time.perf_counter() - t1, recs
        finally:
            close()


def main(argv=None) -> list:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="30 benches of 50 images (under 2 minutes)")
    p.add_argument("--benches", type=int, default=None, help="benches (default 100; --quick 30)")
    p.add_argument("--images", type=int, default=None, help="test images per bench (default 200; --quick 50)")
    p.add_argument("--no-dask", action="store_true", help="skip the Dask cluster")
    p.add_argument("--repeat", type=int, default=1,
                   help="rounds of every executor, interleaved (each round's efficiencies against its own 1 worker)")
    p.add_argument("--json", type=Path, default=None, help="write the records here")
    a = p.parse_args(argv)
    if a.repeat < 1:
        p.error(f"--repeat must be >= 1, got {a.repeat}")
    from nets.inference.optical import HardwareSettings
    from nets.tolerance.spec import parse_spec

    n = a.benches or (30 if a.quick else 100)
    m = a.images or (50 if a.quick else 200)
    spec = parse_spec({"run": {"benches": n, "images": m, "seed": 0}, "errors": SPEC})
    settings = HardwareSettings()
    print(machine_summary())
    print(f"tolerance benches: {n} benches x {m} images, embedded student; load average {os.getloadavg()}")
    cases = [("local", 1, run_local), ("local", 2, run_local)]
    if not a.no_dask:
        cases.append(("dask", 2, run_dask))
    records, ref = [], None
    for rnd in range(a.repeat):  # rounds interleave the executors, so a load change hits them alike
        base = None
        for executor, workers, fn in cases:
            load = os.getloadavg()[0]
            startup, secs, recs = fn(spec, settings, workers)
            recs = sorted(recs, key=lambda r: r["index"])
            if ref is None:
                ref = recs
            elif recs != ref:
                raise SystemExit(f"{executor} with {workers} workers gave other results than 1 local worker")
            bpm = 60.0 * n / secs
            base = base or bpm
            rec = {"case": "tolerance", "executor": executor, "workers": workers, "benches_per_minute": bpm,
                   "efficiency": bpm / base / workers, "seconds": secs, "startup_s": startup, "benches": n,
                   "images": m, "load_average": load, "cpu_count": os.cpu_count(), "round": rnd}
            records.append(rec)
            print(f"{executor:6s} {workers} worker(s): {bpm:7.1f} benches/min  efficiency {rec['efficiency']:.2f}  "
                  f"({secs:.1f} s for the benches, {startup:.1f} s start-up; load average {load:.2f})", flush=True)
    if a.repeat > 1:
        import statistics

        for executor, workers, _ in cases[1:]:
            eff = [r["efficiency"] for r in records if (r["executor"], r["workers"]) == (executor, workers)]
            print(f"{executor:6s} {workers} worker(s): efficiency median {statistics.median(eff):.2f} over "
                  f"{len(eff)} rounds ({min(eff):.2f}-{max(eff):.2f})")
    if a.json:
        write_json(a.json, records)
    return records


if __name__ == "__main__":
    main()
