"""Does raising the input resolution favour the optical network? Latency and energy per image
of the nonlinear teacher (CPU measured here, GPU modelled) against the hybrid optical system
(display, SLM, camera, then the electronic back end), for input sizes 28 to 1024.

    python benchmarks/efficiency_vs_resolution.py [--quick] [--json PATH] [--out DIR]
        [--student-channels 8] [--binning 1] [--terms 2] [--camera-fps 2000 ...]

Every model assumption is printed with its unit and source and can be overridden on the
command line (``--display-hz``, ``--camera-fps``, ``--gpu-j-per-flop``, ...; see ``--help``).
The teacher is ``nets.models.TeacherCNN`` (its default widths); the student's back end is the
SCLC classifier's fully connected layer on ``channels x (N/binning)^2`` camera pixels. The
comparison is at equal accuracy by assumption (the KD tables measure how close the student
gets). Digital times are measured on this machine (torch, batch 1, median of repeats) at a few
sizes and interpolated in between with ``t = t0 + FLOPs / rate`` (``nets.efficiency.fit_time``).
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import machine_summary, repeats_for, write_json  # noqa: E402

from nets.dyadic import DyadicMLP, quantize_input  # noqa: E402
from nets.efficiency import (Assumptions, backend_energy, backend_ops, count_ops, crossover, fit_time,  # noqa: E402
                             gpu_cost, interpolate_time, optical_frame, teacher_layers)

SIZES = [28, 64, 128, 256, 512, 1024]
QUICK_SIZES = [28, 64, 128, 256]


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help=f"measure at {QUICK_SIZES} only (model up to 1024)")
    p.add_argument("--json", type=Path, help="write the table as JSON records to this path")
    p.add_argument("--out", type=Path, default=Path("out"), help="folder of the plot (default ./out)")
    p.add_argument("--student-channels", type=int, default=8, help="optical output channels (default 8)")
    p.add_argument("--binning", type=int, default=1, help="camera binning of the student (default 1)")
    p.add_argument("--terms", type=int, default=2, help="terms per weight of the dyadic back end (default 2)")
    p.add_argument("--n-classes", type=int, default=10)
    p.add_argument("--budget", type=float, default=4.0, help="seconds of timing per measured size (default 4)")
    p.add_argument("--threads", type=int, default=1,
                   help="torch CPU threads for the measured times (default 1: on a shared machine more threads "
                        "wait on each other; --cpu-power-w should match the cores used)")
    defaults = Assumptions()
    for f in dataclasses.fields(Assumptions):
        unit, source = Assumptions.SOURCES[f.name]
        p.add_argument("--" + f.name.replace("_", "-"), type=type(getattr(defaults, f.name)),
                       default=getattr(defaults, f.name), help=f"[{unit}] {source}".replace("%", "%%"))
    args = p.parse_args(argv)
    try:
        args.assumptions = Assumptions(**{f.name: getattr(args, f.name) for f in dataclasses.fields(Assumptions)})
    except ValueError as exc:
        p.error(f"--{str(exc).replace('_', '-')}")
    return args


def teacher_model(n):

    try:
        from nets.models import TeacherCNN
    except ImportError:  # the layer list alone still gives the op counts
        TeacherCNN = None
    if TeacherCNN is not None:
        return TeacherCNN(in_channels=1, image_size=n, n_classes=10).eval(), "nets.models.TeacherCNN"
    from torch import nn
    c, layers = 1, []
    for w in (16, 32):
        layers += [nn.Conv2d(c, w, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
        c = w
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(c * (n // 4) ** 2, 64), nn.ReLU(),
                         nn.Linear(64, 10)).eval(), "torch Sequential of teacher_layers()"


def best_of(fns: dict, repeats: int, warmup: int = 2) -> dict:
    """Fastest and median wall time (s) of each callable, timed round-robin. The fastest is the
    figure used: on a shared machine the slower samples measure the neighbours' load."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    samples = {k: [] for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            samples[k].append(time.perf_counter() - t0)
    return {k: (float(np.min(v)), float(np.median(v))) for k, v in samples.items()}


def measure(sizes, features_of, n_classes, terms, budget):
    """Best-of-repeats seconds (batch 1) of the teacher, the float back end and the integer
    dyadic back end (NumPy emulation)."""
    import torch

    rows = []
    for n in sizes:
        model, name = teacher_model(n)
        x = torch.rand(1, 1, n, n)
        feats = features_of(n)
        fc = torch.nn.Linear(feats, n_classes).eval()
        z = torch.rand(1, feats)
        with torch.no_grad():
            t0 = time.perf_counter()
            model(x)
            model(x)
            fc(z)
            guess = (time.perf_counter() - t0) / 2
            reps = repeats_for(guess, budget, lo=3, hi=21)
            times = best_of({"teacher": lambda model=model, x=x: model(x), "backend": lambda fc=fc, z=z: fc(z)}, reps)
        row = {"n": n, "teacher_cpu_s": times["teacher"][0], "teacher_cpu_median_s": times["teacher"][1],
               "backend_cpu_s": times["backend"][0], "backend_cpu_median_s": times["backend"][1],
               "repeats": reps, "teacher_impl": name}
        # Integer shift-and-add back end, emulated in NumPy (timed where it fits in memory).
        if feats * n_classes <= 2**21:
            rng = np.random.default_rng(0)
            net = DyadicMLP([rng.normal(size=(n_classes, feats)) / np.sqrt(feats)], None, terms=terms,
                            shift_bits=8, input_frac_bits=0)
            counts = quantize_input(rng.uniform(0, 4095, size=(1, feats)), 0)  # 12-bit camera counts
            dyadic = best_of({"d": lambda net=net, counts=counts: net.forward_int(counts)}, 5, 1)
            row["backend_dyadic_emulated_s"] = dyadic["d"][0]
        rows.append(row)
        print(f"  measured n={n:5d}: teacher {row['teacher_cpu_s'] * 1e3:9.3f} ms (median "
              f"{row['teacher_cpu_median_s'] * 1e3:.3f}), float back end "
              f"{row['backend_cpu_s'] * 1e3:8.3f} ms" + (
                  f", dyadic back end (NumPy emulation) {row['backend_dyadic_emulated_s'] * 1e3:8.3f} ms"
                  if "backend_dyadic_emulated_s" in row else ""), flush=True)
    return rows


def model_table(ns, a, layers, features_of, n_classes, terms, teacher_fit, backend_fit, channels, binning):
    """Per-resolution model figures (dict of arrays over ``ns``)."""
    cols = {k: [] for k in ("teacher_flops", "teacher_cpu_s", "teacher_cpu_j", "teacher_gpu_s", "teacher_gpu_j",
                            "optics_s", "optics_j", "optics_frames", "optics_limit", "backend_macs",
                            "backend_cpu_s", "hybrid_cpu_s", "hybrid_cpu_j", "hybrid_gpu_s", "hybrid_gpu_j",
                            "backend_float_j", "backend_dyadic_j", "backend_dyadic_adds", "backend_dyadic_shifts")}
    for n in ns:
        ops = count_ops(layers, (1, n, n))
        t_cpu = interpolate_time(ops["flops"], *teacher_fit)
        g = gpu_cost(ops["flops"], ops["kernels"], a)
        feats = features_of(n)
        optics = optical_frame(channels * (n // binning) ** 2, channels, a)
        fops, dops = backend_ops(feats, n_classes), backend_ops(feats, n_classes, terms=terms)
        b_cpu = interpolate_time(2 * fops["multiplies"], *backend_fit)
        b_gpu = gpu_cost(2 * fops["multiplies"], 1, a)
        for k, v in (("teacher_flops", ops["flops"]), ("teacher_cpu_s", t_cpu),
                     ("teacher_cpu_j", t_cpu * a.cpu_power_w),
                     ("teacher_gpu_s", g["seconds"]), ("teacher_gpu_j", g["joules"]),
                     ("optics_s", optics["seconds"]), ("optics_j", optics["joules"]),
                     ("optics_frames", optics["frames"]), ("optics_limit", optics["limit"]),
                     ("backend_macs", fops["multiplies"]), ("backend_cpu_s", b_cpu),
                     ("hybrid_cpu_s", optics["seconds"] + b_cpu),
                     ("hybrid_cpu_j", optics["joules"] + b_cpu * a.cpu_power_w),
                     ("hybrid_gpu_s", optics["seconds"] + b_gpu["seconds"]),
                     ("hybrid_gpu_j", optics["joules"] + b_gpu["joules"]),
                     ("backend_float_j", backend_energy(fops, a)), ("backend_dyadic_j", backend_energy(dops, a)),
                     ("backend_dyadic_adds", dops["adds"]), ("backend_dyadic_shifts", dops["shifts"])):
            cols[k].append(v)
    return {k: np.array(v) for k, v in cols.items()}


def plot(path, ns, t, measured, cross):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    mn = np.array([r["n"] for r in measured])
    for ax, what, unit in ((axes[0], "s", "latency per image (s)"), (axes[1], "j", "energy per image (J)")):
        ax.loglog(ns, t[f"teacher_cpu_{what}"], "C0-", label="teacher, this CPU (measured, interpolated)")
        ax.loglog(ns, t[f"teacher_gpu_{what}"], "C1-", label="teacher, GPU (model)")
        ax.loglog(ns, t[f"hybrid_cpu_{what}"], "C2--", label="hybrid optics + CPU back end")
        ax.loglog(ns, t[f"hybrid_gpu_{what}"], "C3--", label="hybrid optics + GPU back end")
        if what == "s":
            ax.loglog(mn, [r["teacher_cpu_s"] for r in measured], "C0o", label="teacher, measured")
        else:
            ax.loglog(mn, [r["teacher_cpu_s"] * t["cpu_power_w"] for r in measured], "C0o")
            ax.loglog(ns, t["optics_j"] + t["backend_dyadic_j"], "C4:", label="hybrid, dyadic back end")
        for key, color in (("cpu", "C2"), ("gpu", "C3")):
            if cross[key] is not None:
                ax.axvspan(cross[key], ns[-1], color=color, alpha=0.08)
                ax.axvline(cross[key], color=color, lw=0.8)
        ax.set_xlabel("input size N (pixels per side)")
        ax.set_ylabel(unit)
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend(fontsize=7)
    axes[1].legend(fontsize=7)
    fig.suptitle("teacher vs hybrid optical system (shaded: the hybrid is faster and cheaper than the teacher "
                 "on the same digital platform; green CPU, red GPU)", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None):
    args = parse_args(argv)
    a = args.assumptions
    import torch

    torch.set_num_threads(args.threads)
    t_start = time.perf_counter()
    print("efficiency vs resolution:", machine_summary(), f"; torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads")
    print("\nassumptions (override with --name value):")
    print("\n".join(a.describe()))
    print("  accuracy: not modelled; the comparison is at equal accuracy by assumption "
          "(the KD student's accuracy relative to the teacher is measured by the KD tables)")
    layers = teacher_layers(n_classes=args.n_classes)
    ch, b = args.student_channels, args.binning

    def features_of(n):
        return ch * (n // b) ** 2

    print(f"\nteacher: {layers}\nstudent: {ch} optical channels, camera binning {b}, back end Linear("
          f"{ch} x (N/{b})^2 -> {args.n_classes}); dyadic back end with {args.terms} terms per weight")
    sizes = QUICK_SIZES if args.quick else SIZES
    print(f"\nmeasuring digital times on this machine at N = {sizes} (batch 1, best of repeats):")
    measured = measure(sizes, features_of, args.n_classes, args.terms, args.budget)
    tflops = [count_ops(layers, (1, r["n"], r["n"]))["flops"] for r in measured]
    bflops = [2 * features_of(r["n"]) * args.n_classes for r in measured]
    tfit = fit_time(tflops, [r["teacher_cpu_s"] for r in measured])
    bfit = fit_time(bflops, [r["backend_cpu_s"] for r in measured])
    print(f"  fit: teacher t = {tfit[0] * 1e3:.3f} ms + FLOPs / {tfit[1]:.3g} FLOP/s; "
          f"back end t = {bfit[0] * 1e6:.1f} us + FLOPs / {bfit[1]:.3g} FLOP/s "
          "(its rate extrapolates beyond the measured sizes; log-log interpolation between them)")
    teacher_fit = (tflops, [r["teacher_cpu_s"] for r in measured], tfit[1])
    backend_fit = (bflops, [r["backend_cpu_s"] for r in measured], bfit[1])

    ns = np.arange(28, 1025, 4)
    t = model_table(ns, a, layers, features_of, args.n_classes, args.terms, teacher_fit, backend_fit, ch, b)
    t["cpu_power_w"] = a.cpu_power_w
    cross = {"cpu": crossover(ns, t["hybrid_cpu_s"], t["hybrid_cpu_j"], t["teacher_cpu_s"], t["teacher_cpu_j"]),
             "gpu": crossover(ns, t["hybrid_gpu_s"], t["hybrid_gpu_j"], t["teacher_gpu_s"], t["teacher_gpu_j"])}

    meas = {r["n"]: r for r in measured}
    print(f"\n{'N':>5} {'teacher':>9} {'teach CPU':>10} {'teach GPU':>10} {'optics':>9} {'limit':>8} "
          f"{'hyb CPU':>9} {'hyb GPU':>9} | {'teach CPU':>9} {'teach GPU':>9} {'hyb CPU':>9} {'hyb GPU':>9} "
          f"{'dyadic BE':>9}")
    print(f"{'':>5} {'GFLOP':>9} {'ms':>10} {'ms':>10} {'ms':>9} {'':>8} {'ms':>9} {'ms':>9} | "
          f"{'mJ':>9} {'mJ':>9} {'mJ':>9} {'mJ':>9} {'uJ':>9}")
    records = []
    for n in SIZES:
        i = int(np.flatnonzero(ns == n)[0])
        rec = {"n": int(n), "teacher_flops": int(t["teacher_flops"][i]),
               "teacher_cpu_s": meas[n]["teacher_cpu_s"] if n in meas else float(t["teacher_cpu_s"][i]),
               "teacher_cpu_measured": n in meas}
        rec["teacher_cpu_j"] = rec["teacher_cpu_s"] * a.cpu_power_w
        for k in ("teacher_gpu_s", "teacher_gpu_j", "optics_s", "optics_j", "backend_cpu_s", "hybrid_cpu_s",
                  "hybrid_cpu_j", "hybrid_gpu_s", "hybrid_gpu_j", "backend_float_j", "backend_dyadic_j"):
            rec[k] = float(t[k][i])
        for k in ("optics_frames", "backend_macs", "backend_dyadic_adds", "backend_dyadic_shifts"):
            rec[k] = int(t[k][i])
        rec["optics_limit"] = str(t["optics_limit"][i])
        if n in meas:
            rec["backend_cpu_s"] = meas[n]["backend_cpu_s"]
            if "backend_dyadic_emulated_s" in meas[n]:
                rec["backend_dyadic_emulated_s"] = meas[n]["backend_dyadic_emulated_s"]
        records.append(rec)
        print(f"{n:5d} {rec['teacher_flops'] / 1e9:9.4f} {rec['teacher_cpu_s'] * 1e3:9.3f}{'*' if n in meas else ' '} "
              f"{rec['teacher_gpu_s'] * 1e3:10.4f} {rec['optics_s'] * 1e3:9.3f} {rec['optics_limit']:>8} "
              f"{rec['hybrid_cpu_s'] * 1e3:9.3f} {rec['hybrid_gpu_s'] * 1e3:9.3f} | {rec['teacher_cpu_j'] * 1e3:9.3f} "
              f"{rec['teacher_gpu_j'] * 1e3:9.4f} {rec['hybrid_cpu_j'] * 1e3:9.3f} {rec['hybrid_gpu_j'] * 1e3:9.3f} "
              f"{rec['backend_dyadic_j'] * 1e6:9.3f}")
    print("(* measured on this CPU, best of repeats; other CPU figures interpolated/extrapolated. "
          "GPU figures are modelled.)")
    for key, what in (("cpu", "the teacher on this CPU (hybrid back end on the same CPU)"),
                      ("gpu", "the teacher on the modelled GPU (hybrid back end on the same GPU)")):
        c = cross[key]
        msg = (f"from N = {c}" if c is not None else "nowhere in 28..1024 under these assumptions")
        print(f"crossover vs {what}: the hybrid optical system is faster and uses less energy {msg}")
        for k, v in (("faster", f"hybrid_{key}_s"), ("cheaper", f"hybrid_{key}_j")):
            w = t[v] < t[v.replace("hybrid", "teacher")]
            first = ns[np.argmax(w)] if w.any() else None
            print(f"    {k} alone from N = {first}" if first is not None else f"    never {k}")

    # What the optics would need to beat the modelled GPU at the largest size.
    i = len(ns) - 1
    frame_budget = t["teacher_gpu_s"][i] - (t["hybrid_gpu_s"][i] - t["optics_s"][i])
    if t["hybrid_gpu_s"][i] >= t["teacher_gpu_s"][i] and frame_budget > 0:
        energy_budget = t["teacher_gpu_j"][i] - (t["hybrid_gpu_j"][i] - t["optics_j"][i])
        print(f"    to beat the modelled GPU at N = {ns[i]}: optical time per image < {frame_budget * 1e3:.3f} ms "
              f"(> {1 / frame_budget:.0f} frames/s for every device, read-out > "
              f"{ch * (ns[i] // b) ** 2 / frame_budget:.3g} pixel/s) and total device power < "
              f"{max(energy_budget, 0) / frame_budget:.3g} W")

    png = args.out / "efficiency_vs_resolution.png"
    plot(png, ns, t, measured, cross)
    print(f"\nplot: {png}")
    if args.json:
        write_json(args.json, {"assumptions": dataclasses.asdict(a),
                               "sources": {k: list(v) for k, v in Assumptions.SOURCES.items()},
                               "crossover": cross, "measured": measured, "records": records})
        print(f"json: {args.json}")
    print(f"runtime {time.perf_counter() - t_start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
