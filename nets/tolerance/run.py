"""The benches of a tolerance run, on a local process pool or a Dask cluster, resumable
(docs/tolerance.md).

Every bench is an independent task: its error values come from the spec's seeded draw
(:meth:`ToleranceSpec.draw`) and its camera noise seed is the bench seed + its index, so a bench's
result depends on nothing but the spec, the model and its index, whichever executor runs it and in
whatever order. Each worker process loads the model and data and exports the frames once
(:func:`.bench.context`).

The output folder holds ``run.json`` (what was run: spec, bench, model and its sha256) and
``benches.jsonl``, one line per finished bench, appended with one write and flushed to disk as it
finishes. Run again with the same spec and folder, a run resumes from the lines already there (a
line cut by a crash is dropped); another spec in the same folder is refused without ``--force``.
The report (``report/``: JSON, CSV and figures) is written at the end with one folder rename.
"""
from __future__ import annotations

import json
import os
import threading
from pathlib import Path

from .result import ToleranceResult

__all__ = ["run_tolerance", "evaluate_bench", "read_benches"]

_LOCK = threading.Lock()


def evaluate_bench(ctx_args: tuple, index: int, values: dict, noise_seed: int) -> dict:
    """One bench's record: {index, noise_seed, values (SI), metrics...}; runs in a worker."""
    import warnings

    ctx = evaluate_bench_context(ctx_args)
    with warnings.catch_warnings():
        # a drawn wavelength or panel can sample the SLM below one Fourier sample per pixel: that is
        # the bench's physics being simulated, not a set-up mistake to warn about per bench
        warnings.simplefilter("ignore")
        metrics = ctx.evaluate(values, noise_seed)
    return {"index": int(index), "noise_seed": int(noise_seed), "values": values, **metrics}


def _keep_freed_memory():
    """Let glibc keep freed heap memory for reuse (trim and mmap thresholds of 1 GiB) in a worker
    process. Dask's nanny starts workers with MALLOC_TRIM_THRESHOLD_=65536, which returns every
    freed array to the system, so each bench's fresh arrays page-fault again (docs/tolerance.md).
    No-op off glibc."""
    import ctypes
    import sys

    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    m_trim_threshold, m_mmap_threshold = -1, -3  # glibc's mallopt parameter numbers
    libc.mallopt(m_trim_threshold, 1 << 30)
    libc.mallopt(m_mmap_threshold, 1 << 30)


def _init_worker(ctx_args: tuple):
    """Pool (and Dask worker) initializer: one torch and FFT thread per worker process (the workers
    are the parallelism), freed memory kept for reuse, model, data and frames loaded before the
    first bench."""
    import signal
    import threading

    import torch

    from optics4f.fft import set_fft_engine

    if threading.current_thread() is threading.main_thread():
        # Ctrl-C reaches the whole process group: the parent stops the run (cancelling queued benches,
        # letting the running ones finish and be written); a worker dying mid-task would hang the pool
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    torch.set_num_threads(1)
    set_fft_engine(os.environ.get("OPTICS4F_FFT_ENGINE", "auto"), threads=1)
    _keep_freed_memory()
    evaluate_bench_context(ctx_args)


def _init_dask_worker(ctx_args: tuple, client_pid: int):
    """:func:`_init_worker` on a Dask worker in another process; only the context in the client's own."""
    if os.getpid() != client_pid:
        _init_worker(ctx_args)
    else:
        evaluate_bench_context(ctx_args)


def evaluate_bench_context(ctx_args):
    """The process's bench context (model, data, frames), built once."""
    from .bench import context

    with _LOCK:  # threads of one Dask worker share the process's context: build it once
        return context(*ctx_args)


def read_benches(path) -> list:
    """Records of ``benches.jsonl`` (complete lines; a line cut by a crash is dropped)."""
    out = []
    p = Path(path)
    if not p.is_file():
        return out
    for line in p.read_text().splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(rec, dict) and "index" in rec:
            out.append(rec)
    return out


def _identity(spec, settings, model_path, dataset) -> dict:
    from nets.export.sidecar import sha256

    return {"spec": spec.to_dict(), "hardware": settings.to_dict(), "model": str(model_path),
            "model_sha256": sha256(model_path), "dataset": dataset}


def _prepare(out: Path, ident: dict, force: bool) -> dict:
    """The records already in ``out`` for this run (resume), after making the folder if new."""
    from optics4f.io.atomic import atomic_dir, atomic_open

    run_json = out / "run.json"
    if out.exists() and not force:
        if not run_json.is_file():
            raise FileExistsError(f"--out {str(out)!r} exists and is not a tolerance run folder; give a new folder "
                                  "(or --force to replace it)")
        old = json.loads(run_json.read_text())
        if old != json.loads(json.dumps(ident)):
            diff = sorted(k for k in ident if old.get(k) != json.loads(json.dumps(ident[k])))
            raise FileExistsError(f"--out {str(out)!r} holds a tolerance run of another {', '.join(diff)}; give a new "
                                  "folder, or --force to discard it and start again")
        done = {r["index"]: r for r in read_benches(out / "benches.jsonl")}
        # rewrite without a cut last line, so the appends continue on a clean line
        with atomic_open(out / "benches.jsonl", "w", overwrite=True) as f:
            f.writelines(json.dumps(r) + "\n" for r in sorted(done.values(), key=lambda r: r["index"]))
        return done
    with atomic_dir(out, overwrite=force, what="--out") as tmp:
        (tmp / "run.json").write_text(json.dumps(ident, indent=2) + "\n")
        (tmp / "benches.jsonl").write_text("")
    return {}


def _append(path: Path, rec: dict):
    line = (json.dumps(rec) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    try:
        # one write of the whole line (O_APPEND); a crash mid-write leaves a cut line, dropped on resume
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)


def _pause_profiler(dask_worker=None) -> bool:
    """Stop a Dask worker's statistical profiler (True if it was running). It walks the stack of
    every running task on the worker's event loop every 10 ms (``distributed.worker.profile``): CPU
    time taken from the benches, and with one worker per core, throughput (measured in
    docs/tolerance.md)."""
    pc = dask_worker.periodic_callbacks.get("profile") if dask_worker is not None else None
    if pc is None or not pc.is_running():
        return False
    pc.stop()
    return True


def _resume_profiler(dask_worker=None):
    """Start the profiler :func:`_pause_profiler` stopped again (the cluster is left as found)."""
    pc = dask_worker.periodic_callbacks.get("profile") if dask_worker is not None else None
    if pc is not None and not pc.is_running():
        pc.start()


def dask_executor(scheduler, ctx_args):
    """(client, submit, as_completed, close) on a Dask cluster (``scheduler``: address or
    ``distributed.Client``): every worker set up (one thread per library, freed memory kept, model,
    data and frames loaded) and its profiler paused until ``close``."""
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise ImportError("--scheduler needs Dask: pip install 'optics4f[dask]' (dask and distributed)") from None
    import warnings

    client = scheduler if isinstance(scheduler, Client) else Client(str(scheduler))
    own = client is not scheduler
    # the cluster's workers: one thread each (workers in other processes only: an in-process
    # cluster must not change this process's threads), model and frames loaded before the benches
    try:
        client.run(_init_dask_worker, ctx_args, os.getpid())
        paused = [w for w, was in client.run(_pause_profiler).items() if was]
        threaded = {w: n for w, n in client.nthreads().items() if n > 1}
    except BaseException:
        if own:
            client.close()
        raise
    if threaded:
        warnings.warn(f"Dask workers with several threads ({threaded}) run benches side by side in one process, "
                      "where Python code takes turns (the GIL); one single-threaded worker per core (dask worker "
                      "ADDRESS --nworkers N --nthreads 1) is the set-up measured in docs/tolerance.md", stacklevel=3)

    def close():
        try:
            if paused:
                client.run(_resume_profiler, workers=paused)
        except Exception:  # a cluster gone (or Ctrl-C) leaves nothing to restore
            pass
        finally:
            if own:
                client.close()

    return client, (lambda fn, *a: client.submit(fn, *a, pure=False)), as_completed, close


def executor(workers: int, scheduler, ctx_args):
    """(submit(fn, *args) -> future, as_completed(futures), close()) for the chosen executor."""
    if scheduler is not None:
        return dask_executor(scheduler, ctx_args)[1:]
    if workers == 1:  # in this process, one bench at a time as the loop asks for it
        class _Lazy:
            def __init__(self, fn, a):
                self.fn, self.a = fn, a

            def result(self):
                return self.fn(*self.a)

        return (lambda fn, *a: _Lazy(fn, a)), iter, lambda: None
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    # spawn: a forked child of a process that has run torch threads can hang
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"), initializer=_init_worker,
                               initargs=(ctx_args,))
    return pool.submit, as_completed, lambda: pool.shutdown(cancel_futures=True)


def run_tolerance(spec, model=None, settings=None, out=None, *, dataset=None, workers: int | None = None,
                  scheduler=None, force: bool = False, progress: bool = False) -> ToleranceResult:
    """Run (or resume) the benches of ``spec`` and return the analysis (:func:`.report.analyse`), a
    :class:`.result.ToleranceResult`.

    Parameters
    ----------
    spec : ToleranceSpec
    model : student checkpoint (None: the embedded student)
    settings : HardwareSettings, the nominal bench (None: the defaults)
    out : run folder (module docstring); None: no files, nothing resumable
    workers : local worker processes (None: all cores; 1: this process)
    scheduler : Dask scheduler address (``tcp://host:8786``) or a ``distributed.Client``; overrides ``workers``
    """
    from tqdm.auto import tqdm

    from nets.inference.optical import HardwareSettings
    from nets.inference.simulate import DEFAULT_MODEL

    from .report import analyse

    settings = settings or HardwareSettings()
    model_path = Path(model) if model is not None else DEFAULT_MODEL
    workers = (os.cpu_count() or 1) if workers is None else int(workers)
    if workers < 1:
        raise ValueError(f"--workers must be >= 1, got {workers}")
    ident = _identity(spec, settings, model_path, dataset)
    done = {} if out is None else _prepare(Path(out), ident, force)
    # what a worker's context depends on (not the errors): one context serves every spec of a session
    key = json.dumps({k: ident[k] for k in ("hardware", "model", "model_sha256", "dataset")}, sort_keys=True)
    ctx_args = ((key, spec.images, spec.calibration_images), str(model_path), settings, spec.images,
                spec.calibration_images, dataset)
    todo = [i for i in range(spec.benches) if i not in done]
    computed = 0
    if todo:
        submit, as_completed, close = executor(min(workers, len(todo)), scheduler, ctx_args)
        try:
            bar = tqdm(total=spec.benches, initial=len(done), unit="bench", desc="tolerance", disable=not progress)
            futures = [submit(evaluate_bench, ctx_args, i, spec.draw(i), settings.seed + i) for i in todo]
            for f in as_completed(futures):
                rec = f.result()
                done[rec["index"]] = rec
                computed += 1
                if out is not None:
                    _append(Path(out) / "benches.jsonl", rec)
                bar.update(1)
            bar.close()
        finally:
            close()
    records = [done[i] for i in range(spec.benches)]
    res = analyse(spec, records)
    res.computed, res.resumed, res.model = computed, len(records) - computed, str(model_path)
    res.hardware, res.executor = settings.to_dict(), "dask" if scheduler is not None else "local"
    res.workers = workers if scheduler is None else None
    return res
