"""Accuracy of the MNIST-5k KD student against the approximation level of its electronic back end.

    python benchmarks/dyadic_table.py [--student PATH] [--hardware-student PATH] [--work DIR]
        [--json PATH] [--out DIR] [--adc-bits 12] [--shift-bits 8] [--quick]

Levels: ``float`` (the trained back end, float32, on the float camera image), ``adc`` (float
weights on the camera image quantised by an ``--adc-bits`` ADC) and ``1``..``4`` (every weight a
sum of at most that many signed powers of two, evaluated in integer shift-and-add arithmetic on
the ADC counts; ``nets.dyadic``). BatchNorm layers of the back end are folded into its Linear
layers first (inference). The ADC gain is a power of two set from the *training* images (the
largest camera value maps to full scale). The dyadic levels correct the biases on the training
camera images (the mean output of the approximated back end equals the float one's; off with
``--no-bias-correction``).

Students: ``--student`` / ``--hardware-student`` checkpoints (``model.pt`` from ``optics4f
train``); without them the script trains a teacher and a KD student on mnist5k into ``--work``
(reused when already there), and a hardware student when the hardware front end exists.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import write_json  # noqa: E402

from nets.dyadic import DyadicMLP, argmax_int, dense_ops, fold_backend, quantize_input  # noqa: E402

LEVELS = ("float", "adc", 1, 2, 3, 4)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--student", type=Path, help="trained ideal-optics KD student (model.pt)")
    p.add_argument("--hardware-student", type=Path, help="trained hardware-optics student (model.pt)")
    p.add_argument("--work", type=Path, default=Path("out/dyadic_table"),
                   help="where students are trained when not given (default out/dyadic_table)")
    p.add_argument("--teacher-epochs", type=int, default=8)
    p.add_argument("--student-epochs", type=int, default=20)
    p.add_argument("--adc-bits", type=int, default=12, help="camera ADC bits (default 12)")
    p.add_argument("--shift-bits", type=int, default=12,
                   help="exponent window of the dyadic weights (default 12; 8 zeroes the hardware student's small "
                        "weights and costs it about a point at 2 terms)")
    p.add_argument("--hidden-frac-bits", type=int, default=8, help="fractional bits of hidden activations")
    p.add_argument("--no-hardware", action="store_true", help="skip the hardware-optics student")
    p.add_argument("--no-bias-correction", action="store_true",
                   help="keep the trained biases (default: correct them on the training camera images so the "
                        "mean output is unchanged, nets.dyadic.DyadicMLP calibration)")
    p.add_argument("--hidden", type=int, nargs="*", default=[],
                   help="hidden widths of the back end of the students trained here (default: none, "
                        "one Linear layer as the SCLC classifier's default)")
    p.add_argument("--quick", action="store_true", help="2 teacher / 3 student epochs when training")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", type=Path, help="write records (model, level, accuracy, adds, shifts, multiplies)")
    p.add_argument("--out", type=Path, default=Path("out"), help="folder of the plot (default ./out)")
    return p.parse_args(argv)


def _train_or_load(role, out_dir, epochs, seed, teacher=None, model=None):
    from nets.train import train

    path = out_dir / "model.pt"
    if path.exists():
        print(f"  {role}: reusing {path}")
        return path
    print(f"  {role}: training {epochs} epochs on mnist5k into {out_dir} ...", flush=True)
    cfg = {"task": "classify", "dataset": "mnist5k", "role": role, "epochs": epochs, "seed": seed,
           "out_dir": str(out_dir), "progress": False, "eval_split": "val", "device": "cpu"}
    if teacher is not None:
        cfg["teacher"] = str(teacher)
    if model:
        cfg["model"] = model
    res = train(cfg)
    print(f"  {role}: val accuracy {res['final']['eval_acc']:.4f}")
    return Path(res["checkpoint"])


def students(args):
    """{"ideal": path, "hardware": path} of the students to evaluate."""
    found = {}
    epochs_t, epochs_s = (2, 3) if args.quick else (args.teacher_epochs, args.student_epochs)
    teacher = None
    if args.student is None or (args.hardware_student is None and not args.no_hardware):
        teacher = _train_or_load("teacher", args.work / "teacher", epochs_t, args.seed)
    suffix = "".join(f"_h{h}" for h in args.hidden)
    model = {"hidden": list(args.hidden)} if args.hidden else None
    found["ideal"] = args.student or _train_or_load("student", args.work / ("student" + suffix), epochs_s, args.seed,
                                                    teacher, model)
    if args.hardware_student is not None:
        found["hardware"] = args.hardware_student
    elif not args.no_hardware:
        try:
            import nets.models.hardware  # noqa: F401  (the hardware front end, when it exists)
        except ImportError as exc:
            print(f"  hardware student: skipped, no hardware front end here ({exc})")
        else:
            found["hardware"] = _train_or_load("hardware", args.work / ("hardware" + suffix), epochs_s, args.seed,
                                               teacher, model)
    return found


def camera_features(model, cfg, split):
    """Camera images (flattened, float64) and labels of a mnist5k split, as the model was trained."""
    import torch

    from nets.data import load_dataset

    tr = cfg.get("train", {})
    kw = {"size": tr.get("image_size"), "seed": tr.get("seed", 0)}
    if tr.get("pad") is not None:
        kw["pad"] = tr["pad"]
    ds = load_dataset(tr.get("dataset", "mnist5k"), split, **kw)
    feats = []
    with torch.no_grad():
        for i in range(0, len(ds.x), 250):
            feats.append(model.camera(ds.x[i:i + 250]).flatten(1).double())
    return torch.cat(feats).numpy(), ds.y.numpy()


def evaluate(path, args):
    import torch

    from nets.checkpoint import load_model

    model, cfg = load_model(path)
    model = model.double()
    x_train, _ = camera_features(model, cfg, "train")
    x_test, y = camera_features(model, cfg, "test")
    # ADC: power-of-two gain putting the largest training value at full scale.
    full = 2 ** (args.adc_bits - 1 if x_train.min() < 0 else args.adc_bits) - 1
    frac = int(np.floor(np.log2(full / np.max(np.abs(x_train)))))
    lo = -full - 1 if x_train.min() < 0 else 0
    counts = np.clip(quantize_input(x_test, frac), lo, full)
    weights, biases = fold_backend(model.backend)
    rows = []
    with torch.no_grad():
        logits = model.backend(torch.from_numpy(x_test)).numpy()
    float_ops = {"adds": 0, "shifts": 0, "multiplies": 0}
    for w in weights:
        for k, v in dense_ops(*w.shape).items():
            float_ops[k] += v
    rows.append({"level": "float", "accuracy": float(np.mean(logits.argmax(1) == y)), **float_ops})
    # Float weights on the ADC counts: the cost of the camera's quantisation alone.
    h = np.ldexp(counts.astype(np.float64), -frac)
    for i, (w, b) in enumerate(zip(weights, biases)):
        h = h @ w.T + b
        if i + 1 < len(weights):
            h = np.maximum(h, 0)
    rows.append({"level": "adc", "accuracy": float(np.mean(h.argmax(1) == y)), **float_ops})
    for terms in LEVELS[2:]:
        net = DyadicMLP(weights, biases, terms=terms, shift_bits=args.shift_bits, input_frac_bits=frac,
                        hidden_frac_bits=args.hidden_frac_bits,
                        calibration=None if args.no_bias_correction else x_train)
        acc, e = net.forward_int(counts)
        pred = argmax_int(acc, e)
        exact = bool(np.array_equal(np.ldexp(acc.astype(np.float64), e), net.forward_float(counts)))
        rel = float(np.sqrt(sum(d.error**2 for d in net.layers) / sum(np.sum(w**2) for w in weights)))
        ops = net.ops()
        rows.append({"level": terms, "accuracy": float(np.mean(pred == y)), "adds": ops["adds"],
                     "shifts": ops["shifts"], "multiplies": ops["multiplies"], "compares": ops["compares"],
                     "rel_frobenius_error": rel, "integer_equals_float": exact})
    info = {"path": str(path), "features": int(x_test.shape[1]), "adc_frac_bits": frac,
            "bias_correction": not args.no_bias_correction,
            "layers": [list(w.shape) for w in weights], "n_test": int(len(y))}
    return rows, info


def plot(path, results):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for i, (name, (rows, _)) in enumerate(results.items()):
        acc = {str(r["level"]): 100 * r["accuracy"] for r in rows}
        ks = [1, 2, 3, 4]
        ax.plot(ks, [acc[str(k)] for k in ks], "o-", color=f"C{i}", label=f"{name} optics, dyadic back end")
        ax.axhline(acc["float"], color=f"C{i}", ls="--", lw=1, label=f"{name} optics, float back end")
        ax.axhspan(acc["float"] - 1, acc["float"], color=f"C{i}", alpha=0.08)  # the 1-point target band
    lo, hi = ax.get_ylim()
    ax.set_ylim(min(lo, hi - 3), hi + 0.2)
    ax.set_xticks([1, 2, 3, 4])
    ax.set_xlabel("signed powers of two per weight")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("MNIST-5k KD student: multiplication-free back end (band: within 1 point)", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None):
    args = parse_args(argv)
    t0 = time.perf_counter()
    print("dyadic back end vs accuracy (MNIST-5k KD student)")
    found = students(args)
    results = {name: evaluate(path, args) for name, path in found.items()}
    records = []
    for name, (rows, info) in results.items():
        print(f"\n{name} optics: {info['path']}; back end {info['layers']} on {info['features']} camera values, "
              f"{args.adc_bits}-bit ADC (2^{info['adc_frac_bits']} counts per unit), {info['n_test']} test images, "
              f"bias correction {'on' if info['bias_correction'] else 'off'}")
        print(f"{'level':>6} {'accuracy':>9} {'adds':>9} {'shifts':>9} {'multiplies':>10} {'rel. error':>10}"
              "  int==float")
        for r in rows:
            err = f"{r['rel_frobenius_error']:10.4f}" if "rel_frobenius_error" in r else f"{'':>10}"
            ok = str(r.get("integer_equals_float", ""))
            print(f"{r['level']!s:>6} {100 * r['accuracy']:8.2f}% {r['adds']:9d} {r['shifts']:9d} "
                  f"{r['multiplies']:10d} {err}  {ok}")
            records.append({"model": name, **r})
        acc = {str(r["level"]): r["accuracy"] for r in rows}
        se = 100 * np.sqrt(acc["float"] * (1 - acc["float"]) / info["n_test"])
        print(f"(standard error of one accuracy on {info['n_test']} test images: {se:.2f} points)")
        two = next(r for r in rows if r["level"] == 2)
        ok = acc["float"] - acc["2"] <= 0.01 and two["multiplies"] == 0
        print(f"target (2 terms within 1 point of float, zero multiplies): "
              f"{'met' if ok else 'NOT met'} ({100 * (acc['2'] - acc['float']):+.2f} points)")
    png = args.out / "dyadic_table.png"
    plot(png, results)
    print(f"\nplot: {png}")
    if args.json:
        write_json(args.json, records)
        print(f"json: {args.json}")
    print(f"runtime {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
