"""The ``optics4f`` command line.

    optics4f               run the main job: `optics4f simulate` on the embedded default model
    optics4f simulate      optical inference of a student on the simulated hardware (table, figures, report)
    optics4f finetune      hardware-aware fine-tuning (SLM frame and/or electronic back end)
    optics4f demo          ideal 4f propagation of a test pattern, with a figure

Each subcommand registers itself in ``COMMANDS``: a name, a one-line help, a
function that adds its arguments to a parser and a function that runs it.
Heavy imports (torch) happen inside the run functions, so ``optics4f --help``
is fast.
"""
from __future__ import annotations

import argparse
import sys

COMMANDS: dict = {}
DEFAULT_COMMAND = "simulate"


def command(name: str, help: str):
    """Decorator registering ``fn(parser)`` as the argument builder of subcommand ``name``;
    the builder returns the run function ``run(args) -> int``."""

    def deco(fn):
        COMMANDS[name] = (help, fn)
        return fn

    return deco


@command("demo", "propagate a test pattern through an ideal 4f system and save a figure")
def _demo(p: argparse.ArgumentParser):
    from pathlib import Path

    p.add_argument("--out", type=Path, default=Path("out"), help="output folder (default: ./out)")
    p.add_argument("--n", type=int, default=256, help="input samples per side (default 256)")

    def run(args):
        from optics4f.demo import run as demo_run

        return 0 if demo_run(args.out, args.n)["error"] < 1e-4 else 1

    return run


@command("train", "train a teacher, a KD student, a linear baseline or a hardware student")
def _train(p: argparse.ArgumentParser):
    import json

    p.add_argument("role", choices=["teacher", "student", "baseline", "hardware"],
                   help="teacher: nonlinear CNN/U-Net; student: SCLC linear student by KD (needs --teacher); "
                        "baseline: the student without KD; hardware: the student through the hardware 4f layer")
    p.add_argument("--task", choices=["classify", "segment"], default="classify", help="default: classify")
    p.add_argument("--dataset", default="digits", help="dataset name or folder (nets.data; default: digits)")
    p.add_argument("--teacher", default=None, metavar="PATH", help="trained teacher checkpoint (model.pt) for KD")
    p.add_argument("--epochs", type=int, default=10, help="default 10")
    p.add_argument("--batch-size", type=int, default=64, help="per process (default 64)")
    p.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (default 1e-3)")
    p.add_argument("--T", type=float, default=10.0, help="KD temperature (default 10)")
    p.add_argument("--alpha", type=float, default=0.5, help="KD weight; 0 = cross-entropy only (default 0.5)")
    p.add_argument("--seed", type=int, default=0, help="default 0")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N (default auto)")
    p.add_argument("--out", default="runs/train", help="output folder (default runs/train)")
    p.add_argument("--image-size", type=int, default=None, help="resize images to this many pixels per side")
    p.add_argument("--pad", type=int, default=None, help="then centre them on a dark canvas this many pixels wide")
    p.add_argument("--train-limit", type=int, default=None, help="use this many training images")
    p.add_argument("--eval-limit", type=int, default=None, help="use this many evaluation images")
    p.add_argument("--eval-split", default="val", help="split evaluated each epoch, for model selection (default val)")
    p.add_argument("--select", default="last", choices=("last", "best"),
                   help="keep the last epoch or the one best on --eval-split (default last)")
    p.add_argument("--max-steps", type=int, default=None, help="batches per epoch at most")
    p.add_argument("--model", default="{}", metavar="JSON",
                   help='model config overrides, e.g. \'{"channels": [8], "pool": 2, "binning": 2}\'')
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")

    def run(args):
        from nets.train import train

        try:
            model = json.loads(args.model)
        except json.JSONDecodeError as e:
            raise SystemExit(f"--model must be a JSON object: {e}")
        res = train(dict(task=args.task, dataset=args.dataset, role=args.role, teacher=args.teacher,
                         epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, T=args.T, alpha=args.alpha,
                         seed=args.seed, device=args.device, out_dir=args.out, image_size=args.image_size, pad=args.pad,
                         train_limit=args.train_limit, eval_limit=args.eval_limit, eval_split=args.eval_split,
                         max_steps=args.max_steps, model=model, resume=args.resume, select=args.select,
                         progress=not args.no_progress))
        sel = res["selected"].get("eval_acc", float("nan"))
        test = f"; test accuracy {res['test']['acc']:.4f}" if res["test"] else ""
        print(f"{args.role}: epoch {res['selected_epoch']} kept, {args.eval_split} accuracy {sel:.4f}{test}; "
              f"model in {res['checkpoint']}")
        return 0

    return run


def _load_array(path, what, wavelength=None):
    """--lut: phase per gray level (rad) from .npy or a text table (optics4f.io.vendor.read_lut_text);
    --flatness: a correction map (rad at ``wavelength``) from .npy, text, a vendor gray image, a Santec CSV
    or a slmsuite phase file (optics4f.io.vendor.load_flatness)."""
    import numpy as np
    from pathlib import Path

    from optics4f.io import vendor

    if what == "--flatness":
        return vendor.load_flatness(path, wavelength)
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} file {str(path)!r} does not exist")
    if path.suffix == ".npy":
        return np.load(path, allow_pickle=False)
    try:
        a = np.loadtxt(path, ndmin=2)
    except (ValueError, UnicodeDecodeError):
        a = None
    if a is not None and a.shape[1] == 1:
        return a[:, 0]
    table = vendor.read_lut_text(path)
    return vendor.lut_table(table, int(table["gray"][-1]) + 1)


@command("export", "turn a saved student's Fourier masks into SLM frame files (+ HDF5 sidecar, manifest)")
def _export(p: argparse.ArgumentParser):
    from pathlib import Path

    p.add_argument("model", metavar="MODEL", help="saved SCLC student (model.pt from `optics4f train student`)")
    p.add_argument("--slm", required=True, metavar="PRESET",
                   help="SLM preset (holoeye-pluto-2, meadowlark-1920x1152, hamamatsu-x15213, santec-slm-200, "
                        "thorlabs-exulus-hd, ti-dlp6500)")
    p.add_argument("--out", required=True, type=Path, metavar="DIR", help="output folder (created)")
    p.add_argument("--force", action="store_true", help="replace the export files of an existing folder")
    p.add_argument("--system", default=None, metavar="TOML", help="the bench's SystemConfig (its SLM is replaced)")
    p.add_argument("--wavelength", type=float, default=532e-9, help="working wavelength, m (default 532e-9)")
    p.add_argument("--display-pitch", type=float, default=8e-6, help="input display pixel pitch, m (default 8e-6)")
    p.add_argument("--f1", type=float, default=None, help="Fourier lens focal length, m (default: from the geometry)")
    p.add_argument("--f2", type=float, default=None, help="imaging lens focal length, m (default f1)")
    p.add_argument("--encoding", default="auto", choices=["auto", "double_phase", "phase", "amplitude", "lee"],
                   help="auto: double_phase (phase panel), amplitude, lee (DMD)")
    p.add_argument("--per-channel", action="store_true",
                   help="one frame per output channel instead of one tiled frame per input channel")
    p.add_argument("--format", action="append", dest="formats", default=None,
                   choices=["png", "bmp", "csv", "bmp1", "rgb24"],
                   help="frame format, repeatable; the first is the one read back (default: png; bmp1 for a DMD)")
    p.add_argument("--fill", default="periodic", choices=["periodic", "zero"],
                   help="mask beyond its central period on the panel (default periodic)")
    p.add_argument("--bits", type=int, default=None, help="override the panel bit depth")
    p.add_argument("--gray-2pi", type=float, default=None, help="gray level of 2 pi at the design wavelength")
    p.add_argument("--sign", type=int, choices=[-1, 1], default=None, help="-1: gray up = phase down; +1: up")
    p.add_argument("--quantization", choices=["round", "floor"], default=None)
    p.add_argument("--design-wavelength", type=float, default=None, help="wavelength of the panel's LUT/2 pi level, m")
    p.add_argument("--lut", default=None, metavar="FILE",
                   help="measured phase per gray level (rad): .npy or text (one column, or two: level, phase)")
    p.add_argument("--flatness", default=None, metavar="FILE",
                   help="wavefront correction, panel shape: rad (.npy/text), or a vendor gray image (.bmp/.png/.tif; "
                        "FILE:gray_2pi=205,wavelength=633e-9 gives the vendor's 2 pi level and wavelength), a "
                        "Santec .csv or a slmsuite phase .h5")
    p.add_argument("--calibration", nargs="+", default=(), metavar="FILE",
                   help="calibration HDF5 files (calib) applied in order (LUT, flatness, ...)")
    p.add_argument("--write-lut", action="store_true", help="also write lut.txt, the linearising two-column LUT")

    def run(args):
        from optics4f.devices.presets import slm_preset
        from optics4f.system import SystemConfig

        from nets.export import export_model

        try:
            over = {k: v for k, v in (("bit_depth", args.bits), ("gray_2pi", args.gray_2pi), ("sign", args.sign),
                                      ("quantization", args.quantization),
                                      ("design_wavelength", args.design_wavelength)) if v is not None}
            if args.lut:
                over["lut"] = _load_array(args.lut, "--lut")
            if args.flatness:
                over["flatness"] = _load_array(args.flatness, "--flatness", args.wavelength)
            slm = slm_preset(args.slm, **over)
            system = SystemConfig.load_toml(args.system) if args.system else None
            cals = []
            if args.calibration:
                from calib.base import load as load_calibration

                cals = [load_calibration(f) for f in args.calibration]
            manifest = export_model(args.model, slm, args.out, system=system, tiled=not args.per_channel,
                                    encoding=args.encoding, wavelength=args.wavelength,
                                    display_pitch=args.display_pitch, f1=args.f1, f2=args.f2, formats=args.formats,
                                    fill=args.fill, force=args.force, write_lut=args.write_lut, calibrations=cals)
        except (KeyError, ValueError, TypeError, OSError) as e:
            msg = e.args[0] if isinstance(e, KeyError) and e.args else e
            raise SystemExit(f"optics4f export: error: {msg}")
        from nets.export import read_export

        b = read_export(manifest)
        print(f"exported {b.n_frames} frame(s) of {b.slm.resolution[1]} x {b.slm.resolution[0]} px "
              f"({b.slm.name}, {b.slm.bit_depth} bit, {b.encoding}) to {manifest.parent}")
        return 0

    return run


@command("calibrate", "calibration lab loop: write probe frames, fit captured frames, or --simulate the loop")
def _calibrate(p: argparse.ArgumentParser):
    from nets.calibrate import add_arguments

    return add_arguments(p)


@command("inspect", "report what an exported frame, sidecar, LUT file or export folder holds")
def _inspect(p: argparse.ArgumentParser):
    p.add_argument("path", metavar="FILE", help="frame (.png/.bmp/.csv), sidecar (.h5), LUT (.txt), or export folder")
    p.add_argument("--json", action="store_true", help="print the report as JSON")

    def run(args):
        import json

        from nets.export.inspect import format_report, inspect_path

        try:
            rep = inspect_path(args.path)
        except (ValueError, TypeError, OSError) as e:
            raise SystemExit(f"optics4f inspect: error: {e}")
        print(json.dumps(rep, indent=2, default=str) if args.json else format_report(rep))
        return 0

    return run


def _hardware_args(p: argparse.ArgumentParser):
    """Arguments of the simulated bench (nets.inference.optical.HardwareSettings)."""
    p.add_argument("--slm", default=None, metavar="PRESET",
                   help="SLM panel preset (optics4f.devices.preset_names()); default: a phase panel covering the "
                        "Fourier grid at the display pitch")
    p.add_argument("--slm-bits", type=int, default=None, help="SLM bit depth (default: the preset's, else 8)")
    p.add_argument("--camera-bits", type=int, default=12, help="camera ADC bits; 0 = analogue (default 12)")
    p.add_argument("--no-noise", action="store_true", help="no shot or read noise")
    p.add_argument("--full-well", type=float, default=2e4, help="camera full well, e- (default 2e4)")
    p.add_argument("--read-noise", type=float, default=5.0, help="camera read noise, e- rms (default 5)")
    p.add_argument("--shift", type=float, nargs=2, default=(0.0, 0.0), metavar=("DY", "DX"),
                   help="Fourier-plane SLM shift, m")
    p.add_argument("--rotation", type=float, default=0.0, help="SLM rotation, degrees")
    p.add_argument("--defocus", type=float, default=0.0, help="SLM distance from the Fourier plane, m")
    p.add_argument("--seed", type=int, default=0, help="camera noise seed (default 0)")


def _hardware_settings(args):
    import math

    from nets.inference.optical import HardwareSettings

    return HardwareSettings(slm_preset=args.slm, slm_bits=args.slm_bits,
                            camera_bits=None if args.camera_bits == 0 else args.camera_bits, noise=not args.no_noise,
                            full_well=args.full_well, read_noise=args.read_noise, slm_shift=tuple(args.shift),
                            slm_rotation=math.radians(args.rotation), fourier_defocus=args.defocus, seed=args.seed)


@command("simulate", "optical inference of a saved student on the simulated hardware (default: the embedded model)")
def _simulate(p: argparse.ArgumentParser):
    from pathlib import Path

    p.add_argument("model", nargs="?", default=None,
                   help="student checkpoint (model.pt); default: the embedded MNIST-5k student")
    p.add_argument("--frames", default=None, metavar="DIR",
                   help="export folder from `optics4f export` to run; default: export MODEL to a temporary folder")
    p.add_argument("--dataset", default=None, help="dataset name or folder (default: the model's)")
    p.add_argument("--limit", type=int, default=None, help="evaluate this many test images (default: all)")
    p.add_argument("--out", type=Path, default=Path("out/simulate"), help="figures folder (default out/simulate)")
    p.add_argument("--report", type=Path, default=None, help="JSON report path (default OUT/report.json)")
    p.add_argument("--no-figures", action="store_true", help="do not write figures")
    p.add_argument("--sweep", default=None, metavar="PARAM",
                   help="accuracy vs one parameter (CSV + PNG in OUT): slm_bits, camera_bits, full_well, "
                        "read_noise, shift, rotation, defocus")
    p.add_argument("--values", default=None, help="comma-separated sweep values (default: a standard range)")
    p.add_argument("--calibration", nargs="+", default=[], metavar="FILE",
                   help="calibration HDF5 files (calib) applied in order to the system (SLM LUT, flatness, ...)")
    p.add_argument("--bench-errors", default=None, metavar="SPEC",
                   help="true bench errors the export does not know, e.g. lut_gamma=1.3,gray_2pi=230,z4=40e-9 "
                        "(zJ: ANSI Zernike J, RMS m on the SLM): compares error-free, uncalibrated and calibrated "
                        "(--calibration applied to the export, or --calibrate)")
    p.add_argument("--calibrate", action="store_true",
                   help="with --bench-errors: measure the calibration on the simulated erroneous bench first")
    p.add_argument("--progress", action="store_true", help="progress bars")
    _hardware_args(p)

    def run(args):
        settings = _hardware_settings(args)
        if args.bench_errors is not None or args.calibrate:
            return _simulate_bench_errors(args, settings)
        if args.sweep and args.calibration:
            raise SystemExit("optics4f simulate: --sweep does not take --calibration yet; run single simulations")
        if args.sweep:
            from nets.inference.sweep import parse_values, sweep, write_sweep

            try:
                values = parse_values(args.values, args.sweep)
            except ValueError as e:
                raise SystemExit(str(e))
            rows = sweep(args.sweep, values, args.model, settings, progress=args.progress, limit=args.limit,
                         dataset=args.dataset)
            for r in rows:
                print(f"{args.sweep} = {r['value']:g}: optical {r['optical_accuracy']:.4f} "
                      f"(digital {r['digital_accuracy']:.4f})")
            for path in write_sweep(rows, args.out):
                print(f"wrote {path}")
            return 0
        from nets.inference.figures import save_figures
        from nets.inference.report import format_confusion, format_table, write_report
        from nets.inference.simulate import simulate

        try:
            from nets.inference.simulate import load_calibrations

            res = simulate(args.model, frames=args.frames, settings=settings, dataset=args.dataset,
                           limit=args.limit, calibrations=load_calibrations(args.calibration),
                           progress=args.progress)
        except (FileNotFoundError, ValueError) as e:
            raise SystemExit(f"optics4f simulate: {e}")
        print(format_table(res))
        if "confusion" in res:
            print(format_confusion(res["confusion"], res["classes"]))
        report = write_report(args.report or args.out / "report.json", res)
        print(f"report: {report}")
        if not args.no_figures:
            paths = save_figures(res, args.out)
            print("figures: " + ", ".join(str(p) for p in paths))
        return 0

    return run


def _simulate_bench_errors(args, settings):
    """``optics4f simulate --bench-errors SPEC [--calibration FILE... | --calibrate]``."""
    from nets.inference.calibrated import compare, format_comparison
    from nets.inference.report import write_report

    if args.bench_errors is None:
        raise SystemExit("optics4f simulate: --calibrate needs --bench-errors SPEC (the errors to calibrate)")
    if args.calibrate and args.calibration:
        raise SystemExit("optics4f simulate: give --calibration FILE... or --calibrate, not both")
    if args.sweep or args.frames:
        raise SystemExit("optics4f simulate: --bench-errors exports the model itself; drop --sweep / --frames")
    try:
        res = compare(args.model, args.bench_errors, calibrations=args.calibration or None, measure=args.calibrate,
                      settings=settings, dataset=args.dataset, limit=args.limit)
    except (FileNotFoundError, ValueError) as e:
        raise SystemExit(f"optics4f simulate: {e}")
    print(format_comparison(res))
    print(f"report: {write_report(args.report or args.out / 'report.json', res)}")
    return 0


@command("finetune", "hardware-aware fine-tuning of a student: retrain the SLM frame (a) or refit the back end (b)")
def _finetune(p: argparse.ArgumentParser):
    from pathlib import Path

    p.add_argument("model", nargs="?", default=None, help="student checkpoint; default: the embedded student")
    p.add_argument("--teacher", default=None, help="teacher checkpoint for KD (default: the one the model names)")
    p.add_argument("--mode", choices=["frontend", "backend", "both"], default="both",
                   help="frontend: (a) SLM frame + back end through the hardware model; backend: (b) back end only, "
                        "optics fixed; both (default)")
    p.add_argument("--epochs", type=int, default=1, help="default 1")
    p.add_argument("--train-limit", type=int, default=None, help="training images (default: all)")
    p.add_argument("--limit", type=int, default=None, help="test images (default: all)")
    p.add_argument("--dataset", default=None, help="dataset name or folder (default: the model's)")
    p.add_argument("--report", type=Path, default=Path("out/finetune/report.json"),
                   help="JSON report (default out/finetune/report.json)")
    _hardware_args(p)

    def run(args):
        from nets.inference.finetune import finetune
        from nets.inference.report import public, write_report

        modes = ("frontend", "backend") if args.mode == "both" else (args.mode,)
        try:
            res = finetune(args.model, args.teacher, modes=modes, settings=_hardware_settings(args),
                           dataset=args.dataset, train_limit=args.train_limit, limit=args.limit, epochs=args.epochs,
                           seed=args.seed)
        except (FileNotFoundError, ValueError) as e:
            raise SystemExit(f"optics4f finetune: {e}")
        print(f"digital (ideal)            {res['digital_accuracy']:.4f}")
        print(f"simulated optical, before  {res['optical_accuracy']:.4f}")
        for m, label in (("frontend", "(a) SLM + back end"), ("backend", "(b) back end only")):
            if f"{m}_accuracy" in res:
                print(f"{label:26s} {res[m + '_accuracy']:.4f}  (recovers {100 * res[m + '_recovered']:.0f} % of the gap)")
        print(f"report: {write_report(args.report, public(res))}")
        return 0

    return run


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="optics4f", description="Physical-optics simulation of 4f optical CNNs.")
    from optics4f import __version__

    parser.add_argument("--version", action="version", version=f"optics4f {__version__}")
    sub = parser.add_subparsers(dest="command")
    for name, (help_, builder) in COMMANDS.items():
        sp = sub.add_parser(name, help=help_, description=help_)
        sp.set_defaults(_run=builder(sp))
    return parser


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if not argv or argv[0].startswith("--") and argv[0] not in ("--help", "--version"):
        argv = [DEFAULT_COMMAND] + argv
    args = parser.parse_args(argv)
    return int(args._run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
