"""The ``optics4f`` command line.

    optics4f               run the main job: `optics4f simulate` on the embedded default model
    optics4f simulate      optical inference of a student on the simulated hardware (table, figures, report)
    optics4f finetune      hardware-aware fine-tuning (SLM frame and/or electronic back end)
    optics4f demo          ideal 4f propagation of a test pattern, with a figure
    optics4f convert       a plain PyTorch model (TorchScript / ONNX) made an optics4f student

Each subcommand registers itself in ``COMMANDS``: a name, a one-line help, a
function that adds its arguments to a parser and a function that runs it.
Heavy imports (torch) happen inside the run functions, so ``optics4f --help``
is fast.

This module and :mod:`nets.calibrate` are the application layer
(docs/architecture.md#layers): the only modules that import both ``nets`` and
``calib``. They read calibration files (``calib.load``) and pass the objects to
the students' library, which takes them through the protocol
``optics4f.system.calibration.Calibration``.

Errors: a user error (a bad value, a missing or broken file, a size that cannot
fit in memory) ends the command with a one-line message naming the flag or the
file and exit status 1 (2 for a flag argparse refuses); ``--debug`` anywhere on
the line shows the traceback instead.
"""
from __future__ import annotations

import argparse
import sys

COMMANDS: dict = {}
DEFAULT_COMMAND = "simulate"


def int_arg(min: int | None = None, max: int | None = None):
    """argparse ``type`` for an integer in [min, max] ("2.9" and "-1" are refused with the flag named)."""

    def parse(text):
        from optics4f.validate import integer

        try:
            return integer("value", text, min=min, max=max)
        except (TypeError, ValueError) as e:
            raise argparse.ArgumentTypeError(str(e).replace("value=", "", 1)) from None

    return parse


def float_arg(kind: str | None = None, *, min: float | None = None, strict: bool = False, signed: bool = False):
    """argparse ``type`` for a finite float: a physical SI quantity ``kind`` (optics4f.validate.RANGES),
    or a number >= ``min`` (> ``min`` with ``strict``)."""

    def parse(text):
        from optics4f.validate import finite, physical

        try:
            v = float(text)
            v = physical("value", v, kind, signed=signed) if kind else finite("value", v)
        except (TypeError, ValueError) as e:
            msg = str(e).replace("value=", "", 1).replace("value ", "", 1)
            raise argparse.ArgumentTypeError(msg if "could not convert" not in msg else f"not a number: {text!r}") \
                from None
        if min is not None and (v < min or (strict and v == min)):
            raise argparse.ArgumentTypeError(f"must be {'>' if strict else '>='} {min:g}, got {text}")
        return v

    return parse


def refuse_inputs(out, inputs, flag: str):
    """Stop when the output ``out`` (of ``flag``) is, or contains, one of the command's inputs."""
    from optics4f.io.atomic import refuse_inputs as refuse

    if out is not None:
        refuse(out, [i for i in inputs if i], flag)


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
    p.add_argument("--n", type=int_arg(min=8), default=256, help="input samples per side (default 256)")

    def run(args):
        from optics4f.demo import run as demo_run

        return 0 if demo_run(args.out, args.n)["error"] < 1e-4 else 1

    return run


#: CLI training defaults per role: the recipe of the KD table (benchmarks/kd_table.py, mnist5k preset):
#: Adam under a cosine learning rate, random views (shift <= 2 px, rotation <= 10 deg, scale 0.9-1.1),
#: KD as function matching (T = 1, alpha = 1, the teacher labelling each view).
TRAIN_RECIPE = {
    "teacher": {"epochs": 30, "lr": 2e-3},
    "student": {"epochs": 60, "lr": 3e-3},
    "baseline": {"epochs": 60, "lr": 3e-3},
    "hardware": {"epochs": 4, "lr": 3e-4},
}
#: The segmentation preset of the same table (synthetic-seg): no views, pixel-wise KD at alpha = 0.5.
SEGMENT_RECIPE = {
    "teacher": {"epochs": 60, "lr": 3e-3},
    "student": {"epochs": 30, "lr": 3e-3, "alpha": 0.5},
    "baseline": {"epochs": 30, "lr": 3e-3},
    "hardware": {"epochs": 30, "lr": 3e-3, "alpha": 0.5},
}
TRAIN_VIEWS = {"shift": 2.0, "rotate": 10.0, "scale": 0.1}


@command("train", "train a teacher, a KD student, a linear baseline or a hardware student")
def _train(p: argparse.ArgumentParser):
    import json

    p.add_argument("role", choices=["teacher", "student", "baseline", "hardware"],
                   help="teacher: nonlinear CNN/U-Net; student: SCLC linear student by KD (needs --teacher); "
                        "baseline: the student without KD; hardware: the student through the hardware 4f layer")
    p.add_argument("--task", choices=["classify", "segment"], default="classify", help="default: classify")
    p.add_argument("--dataset", default="digits",
                   help="dataset name, folder (IDX, CIFAR-10, class folders train/<class>/*.png, images/+masks/) "
                        "or .npz file (nets.data; default: digits)")
    p.add_argument("--teacher", default=None, metavar="PATH", help="trained teacher checkpoint (model.pt) for KD")
    p.add_argument("--epochs", type=int_arg(min=1), default=None,
                   help="default: the KD table's recipe (teacher 30, student/baseline 60, hardware 4; "
                        "segmentation: teacher 60, the others 30)")
    p.add_argument("--batch-size", type=int_arg(min=1), default=64, help="per process (default 64)")
    p.add_argument("--lr", type=float_arg(min=0, strict=True), default=None,
                   help="Adam learning rate, cosine schedule (default: teacher 2e-3, student/baseline 3e-3, "
                        "hardware 3e-4)")
    p.add_argument("--schedule", choices=["cosine", "constant"], default="cosine", help="default cosine")
    p.add_argument("--augment", default=json.dumps(TRAIN_VIEWS), metavar="JSON",
                   help=f"random training views (nets.data.augment.Augment), default {json.dumps(TRAIN_VIEWS)}; "
                        "'{}' for none (classification only)")
    p.add_argument("--T", type=float_arg(min=0, strict=True), default=1.0, help="KD temperature (default 1)")
    p.add_argument("--alpha", type=float_arg(min=0), default=None,
                   help="KD weight; 0 = cross-entropy only (default 1; segmentation 0.5)")
    p.add_argument("--seed", type=int_arg(min=0), default=0, help="default 0")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N (default auto)")
    p.add_argument("--out", default=None, help="output folder (default runs/ROLE); an existing model there is "
                                               "kept unless --force")
    p.add_argument("--force", action="store_true", help="replace the model and checkpoint already in --out")
    p.add_argument("--image-size", type=int_arg(min=1), default=None, help="resize images to this many pixels per side")
    p.add_argument("--resize", type=int_arg(min=1), nargs=2, default=None, metavar=("H", "W"),
                   help="resize images to H x W pixels (needed when a class-folder set mixes sizes)")
    p.add_argument("--pad", type=int_arg(min=1), default=None,
                   help="then centre them on a dark canvas this many pixels wide")
    p.add_argument("--train-limit", type=int_arg(min=1), default=None, help="use this many training images")
    p.add_argument("--eval-limit", type=int_arg(min=1), default=None, help="use this many evaluation images")
    p.add_argument("--eval-split", default="val", help="split evaluated each epoch, for model selection (default val)")
    p.add_argument("--select", default="last", choices=("last", "best"),
                   help="keep the last epoch or the one best on --eval-split (default last)")
    p.add_argument("--max-steps", type=int_arg(min=1), default=None, help="batches per epoch at most")
    p.add_argument("--model", default="{}", metavar="JSON",
                   help='model config overrides, e.g. \'{"channels": [8], "pool": 2, "binning": 2}\'')
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")

    def run(args):
        from nets.train import train

        try:
            model = json.loads(args.model)
            augment = json.loads(args.augment) or None
        except json.JSONDecodeError as e:
            raise SystemExit(f"optics4f train: error: --model and --augment must be JSON objects: {e}") from e
        for flag, value in (("--model", model), ("--augment", augment)):
            if value is not None and not isinstance(value, dict):
                raise SystemExit(f"optics4f train: error: {flag} must be a JSON object, got {value!r}")
        if args.image_size is not None and args.resize is not None:
            raise SystemExit("optics4f train: give --image-size N or --resize H W, not both")
        if args.task != "classify":
            augment = None  # the views are for classification (a mask would need the same transform)
        recipe = (TRAIN_RECIPE if args.task == "classify" else SEGMENT_RECIPE)[args.role]
        alpha = recipe.get("alpha", 1.0) if args.alpha is None else args.alpha
        try:
            res = train(dict(task=args.task, dataset=args.dataset, role=args.role, teacher=args.teacher,
                             epochs=recipe["epochs"] if args.epochs is None else args.epochs,
                             batch_size=args.batch_size, lr=recipe["lr"] if args.lr is None else args.lr,
                             schedule=args.schedule, augment=augment, T=args.T, alpha=alpha,
                             seed=args.seed, device=args.device, out_dir=args.out, force=args.force,
                             image_size=list(args.resize) if args.resize else args.image_size, pad=args.pad,
                             train_limit=args.train_limit, eval_limit=args.eval_limit, eval_split=args.eval_split,
                             max_steps=args.max_steps, model=model, resume=args.resume, select=args.select,
                             progress=not args.no_progress))
        except (FileExistsError, FileNotFoundError, ValueError) as e:
            raise SystemExit(f"optics4f train: error: {e}") from e
        sel = res["selected"].get("eval_acc", float("nan"))
        test = f"; test accuracy {res['test']['acc']:.4f}" if res["test"] else ""
        print(f"{args.role}: epoch {res['selected_epoch']} kept, {args.eval_split} accuracy {sel:.4f}{test}; "
              f"model in {res['checkpoint']}")
        return 0

    return run


@command("convert", "turn a plain PyTorch model (TorchScript or ONNX file) into an optics4f student")
def _convert(p: argparse.ArgumentParser):
    from nets.convert.cli import add_arguments, run

    add_arguments(p)
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
    from optics4f.validate import finite_array

    where = f"{what} file {str(path)!r}"
    if path.suffix == ".npy":
        try:
            a = np.load(path, allow_pickle=False)
        except (ValueError, OSError, EOFError) as e:
            raise ValueError(f"{where} cannot be read as a .npy array: {' '.join(str(e).split())}") from None
        return finite_array(where, a)
    try:
        a = np.loadtxt(path, ndmin=2)
    except (ValueError, UnicodeDecodeError):
        a = None
    if a is not None and a.shape[1] == 1:
        return finite_array(where, a[:, 0])
    try:
        table = vendor.read_lut_text(path)
        return finite_array(where, vendor.lut_table(table, int(table["gray"][-1]) + 1))
    except ValueError as e:
        msg = str(e).replace(repr(str(path)), "").strip()
        raise ValueError(f"{where}: {msg}") from None


@command("export", "turn a saved student's Fourier masks into SLM frame files (+ HDF5 sidecar, manifest)")
def _export(p: argparse.ArgumentParser):
    from pathlib import Path

    p.add_argument("model", metavar="MODEL", help="saved SCLC student (model.pt from `optics4f train student`)")
    p.add_argument("--out", required=True, type=Path, metavar="DIR", help="output folder (created)")
    p.add_argument("--force", action="store_true", help="replace the export files of an existing folder")
    p.add_argument("--system", "--config", dest="system", default=None, metavar="TOML",
                   help="the bench's SystemConfig (its SLM is replaced by --slm)")
    _hardware_args(p)
    p.add_argument("--encoding", default="auto", choices=["auto", "double_phase", "phase", "amplitude", "lee"],
                   help="auto: double_phase (phase panel), amplitude, lee (DMD)")
    p.add_argument("--per-channel", action="store_true",
                   help="one frame per output channel instead of one tiled frame per input channel")
    p.add_argument("--format", action="append", dest="formats", default=None,
                   choices=["png", "bmp", "csv", "bmp1", "rgb24"],
                   help="frame format, repeatable; the first is the one read back (default: png; bmp1 for a DMD)")
    p.add_argument("--fill", default="periodic", choices=["periodic", "zero"],
                   help="mask beyond its central period on the panel (default periodic)")
    p.add_argument("--bits", type=int_arg(min=1, max=16), default=None, help="override the panel bit depth")
    p.add_argument("--gray-2pi", type=float_arg(min=0, strict=True), default=None,
                   help="gray level of 2 pi at the design wavelength")
    p.add_argument("--sign", type=int, choices=[-1, 1], default=None, help="-1: gray up = phase down; +1: up")
    p.add_argument("--quantization", choices=["round", "floor"], default=None)
    p.add_argument("--design-wavelength", type=float_arg("wavelength"), default=None,
                   help="wavelength of the panel's LUT/2 pi level, m")
    p.add_argument("--lut", default=None, metavar="FILE",
                   help="measured phase per gray level (rad): .npy or text (one column, or two: level, phase)")
    p.add_argument("--flatness", default=None, metavar="FILE",
                   help="wavefront correction, panel shape: rad (.npy/text), or a vendor gray image (.bmp/.png/.tif; "
                        "FILE:gray_2pi=205,wavelength=633e-9 gives the vendor's 2 pi level and wavelength), a "
                        "Santec .csv or a slmsuite phase .h5")
    p.add_argument("--calibration", nargs="+", default=(), metavar="FILE",
                   help="calibration HDF5 files (calib) applied in order (LUT, flatness, ...)")
    p.add_argument("--write-lut", action="store_true", help="also write lut.txt, the linearising two-column LUT")
    p.add_argument("--slmsuite", default=None, type=Path, metavar="DIR",
                   help="also write the frames in slmsuite's conventions into DIR (phase HDF5 files with 'phase' "
                        "and 'display', gray = rint(-phase 2^b / 2 pi) - 1 mod 2^b; nets.export.slmsuite)")

    def run(args):
        from optics4f.devices.presets import slm_preset
        from optics4f.sampling import AliasingError
        from optics4f.system import SystemConfig

        from nets.export import export_model

        if args.slm is None:
            raise SystemExit("optics4f export: error: --slm PRESET is required (the panel the frames are for: "
                             "holoeye-pluto-2, meadowlark-1920x1152, hamamatsu-x15213, santec-slm-200, "
                             "thorlabs-exulus-hd, ti-dlp6500)")
        refuse_inputs(args.out, [args.model, args.system, args.lut, args.flatness, *args.calibration], "--out")
        bench = _hardware_settings(args)
        try:
            over = {k: v for k, v in (("bit_depth", args.bits), ("gray_2pi", args.gray_2pi), ("sign", args.sign),
                                      ("quantization", args.quantization),
                                      ("design_wavelength", args.design_wavelength)) if v is not None}
            if args.lut:
                over["lut"] = _load_array(args.lut, "--lut")
            if args.flatness:
                over["flatness"] = _load_array(args.flatness, "--flatness", bench.wavelength)
            slm = slm_preset(args.slm, **over)
            system = SystemConfig.load_toml(args.system) if args.system else None
            cals = _load_calibrations(args.calibration)
            manifest = export_model(args.model, slm, args.out, system=system, tiled=not args.per_channel,
                                    encoding=args.encoding, bench=bench, formats=args.formats,
                                    fill=args.fill, force=args.force, write_lut=args.write_lut, calibrations=cals,
                                    strict=True)
        except (KeyError, ValueError, TypeError, OSError, AliasingError) as e:
            msg = e.args[0] if isinstance(e, KeyError) and e.args else e
            raise SystemExit(f"optics4f export: error: {msg}") from e
        from nets.export import read_export

        b = read_export(manifest)
        print(f"exported {b.n_frames} frame(s) of {b.slm.resolution[1]} x {b.slm.resolution[0]} px "
              f"({b.slm.name}, {b.slm.bit_depth} bit, {b.encoding}) to {manifest.parent}")
        if args.slmsuite is not None:
            from nets.export.slmsuite import export_slmsuite

            try:
                files = export_slmsuite(manifest.parent, args.slmsuite, force=args.force)
            except (ValueError, OSError) as e:
                raise SystemExit(f"optics4f export: error: --slmsuite: {e}") from e
            print(f"slmsuite conventions: {len(files)} file(s) in {args.slmsuite}")
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

        from calib.report import calibration_report
        from nets.export.inspect import format_report, inspect_path

        try:
            rep = inspect_path(args.path, h5_reports=(calibration_report,))
        except (ValueError, TypeError, OSError) as e:
            raise SystemExit(f"optics4f inspect: error: {e}") from e
        print(json.dumps(rep, indent=2, default=str) if args.json else format_report(rep))
        return 0

    return run


def _hardware_args(p: argparse.ArgumentParser, geometry: bool = True):
    """The bench options shared by export, simulate and finetune (nets.inference.optical.HardwareSettings).

    Every option defaults to None ("not given"): simulate --frames then keeps the bench the export
    recorded, and a fresh bench takes the HardwareSettings defaults."""
    p.add_argument("--bench", default=None, metavar="TOML",
                   help="bench description file (nets.inference.bench_file: the keys of these options, SI units); "
                        "options given here win over it")
    if geometry:
        p.add_argument("--wavelength", type=float_arg("wavelength"), default=None,
                       help="working wavelength, m (default 532e-9)")
        p.add_argument("--display-pitch", type=float_arg("pitch"), default=None,
                       help="input display pixel pitch, m (default 8e-6)")
        p.add_argument("--f1", type=float_arg("focal_length"), default=None,
                       help="Fourier lens focal length, m (any stock lens; default: one Fourier sample per SLM pixel)")
        p.add_argument("--f2", type=float_arg("focal_length"), default=None,
                       help="imaging lens focal length, m (default f1)")
        p.add_argument("--camera-pitch", type=float_arg("pitch"), default=None,
                       help="camera pixel pitch, m (default: display pitch * f2/f1, one pixel per imaged display "
                            "pixel)")
    p.add_argument("--slm", default=None, metavar="PRESET",
                   help="SLM panel preset (optics4f.devices.preset_names()); default: a phase panel covering the "
                        "Fourier grid at the display pitch")
    p.add_argument("--slm-bits", type=int_arg(min=1, max=16), default=None,
                   help="SLM bit depth (default: the preset's, else 8)")
    p.add_argument("--camera-bits", type=int_arg(min=0, max=16), default=None,
                   help="camera ADC bits; 0 = analogue (default 12)")
    p.add_argument("--no-noise", action="store_const", const=True, default=None, help="no shot or read noise")
    p.add_argument("--full-well", type=float_arg(min=0, strict=True), default=None,
                   help="camera full well, e- (default 2e4)")
    p.add_argument("--read-noise", type=float_arg(min=0), default=None, help="camera read noise, e- rms (default 5)")
    p.add_argument("--shift", type=float_arg(), nargs=2, default=None, metavar=("DY", "DX"),
                   help="Fourier-plane SLM shift, m")
    p.add_argument("--rotation", type=float_arg(), default=None, help="SLM rotation, degrees")
    p.add_argument("--defocus", type=float_arg("distance", signed=True), default=None,
                   help="SLM distance from the Fourier plane, m")
    p.add_argument("--seed", type=int_arg(min=0), default=None, help="camera noise seed (default 0)")


#: HardwareSettings field of each bench option (value converters where the flag's unit differs).
_BENCH_FLAGS = {
    "wavelength": ("wavelength", float), "display_pitch": ("pitch", float), "f1": ("f1", float),
    "f2": ("f2", float), "camera_pitch": ("camera_pitch", float), "slm": ("slm_preset", str),
    "slm_bits": ("slm_bits", int),
    "camera_bits": ("camera_bits", lambda b: None if b == 0 else int(b)),
    "no_noise": ("noise", lambda v: not v), "full_well": ("full_well", float), "read_noise": ("read_noise", float),
    "shift": ("slm_shift", tuple), "rotation": ("slm_rotation", lambda deg: __import__("math").radians(deg)),
    "defocus": ("fourier_defocus", float), "seed": ("seed", int),
}


def _given_bench(args) -> dict:
    """HardwareSettings fields of the bench options given on the command line (a --bench file first,
    then the flags)."""
    out = {}
    if getattr(args, "bench", None):
        from nets.inference.bench_file import load_bench

        out.update(load_bench(args.bench))
    for flag, (field, conv) in _BENCH_FLAGS.items():
        v = getattr(args, flag, None)
        if v is not None:
            out[field] = conv(v)
    return out


def _hardware_settings(args, base=None):
    """HardwareSettings: ``base`` (a recorded bench, dict or HardwareSettings; default the defaults)
    with the bench options given on the command line applied."""
    import dataclasses

    from nets.inference.optical import HardwareSettings

    if isinstance(base, dict):
        known = {f.name for f in dataclasses.fields(HardwareSettings)}
        base = HardwareSettings(**{k: v for k, v in base.items() if k in known})
    return (base or HardwareSettings()).replace(**_given_bench(args))


@command("simulate", "optical inference of a saved student on the simulated hardware (default: the embedded model)")
def _simulate(p: argparse.ArgumentParser):
    from pathlib import Path

    p.add_argument("model", nargs="?", default=None,
                   help="student checkpoint (model.pt); default: the embedded MNIST-5k student")
    p.add_argument("--frames", default=None, metavar="DIR",
                   help="export folder from `optics4f export` to run; default: export MODEL to a temporary folder")
    p.add_argument("--dataset", default=None, help="dataset name or folder (default: the model's)")
    p.add_argument("--limit", type=int_arg(min=1), default=None, help="evaluate this many test images (default: all)")
    p.add_argument("--out", type=Path, default=None,
                   help="results folder: report.json and figures (default out/simulate, or the first free "
                        "out/simulate-N when it holds earlier results)")
    p.add_argument("--force", action="store_true",
                   help="replace the results already in --out (only a folder of simulate results)")
    p.add_argument("--report", type=Path, default=None, help="JSON report path (default OUT/report.json)")
    p.add_argument("--no-figures", action="store_true", help="do not write figures")
    from nets.tolerance.cli import add_simulate_sweep_arguments

    add_simulate_sweep_arguments(p, int_arg)  # --sweep NAME[:UNIT][=V1,...] (a grid), --seeds, --workers
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
        from nets.inference.results_folder import choose_results_folder

        compare_mode = args.bench_errors is not None or args.calibrate
        # --out holds the report unless --report moves it, and the figures (none in compare mode)
        args.uses_out = args.report is None or not (compare_mode or args.no_figures)
        inputs = [args.model, args.frames, *args.calibration]
        if args.sweep and not compare_mode:
            args.out = args.out or Path("out/simulate")  # each sweep has its own new folder in it
        elif args.uses_out:
            args.out = choose_results_folder(args.out, Path("out/simulate"), args.force, "optics4f simulate")
            refuse_inputs(args.out, inputs, "--out")
        if args.report is not None:
            refuse_inputs(args.report, inputs, "--report")
            if args.report.exists() and not args.force:
                raise SystemExit(f"optics4f simulate: --report {str(args.report)!r} exists; give a new path or --force")
        settings = _simulate_settings(args)
        if args.bench_errors is not None or args.calibrate:
            return _simulate_bench_errors(args, settings)
        if args.sweep and args.calibration:
            raise SystemExit("optics4f simulate: --sweep does not take --calibration yet; run single simulations")
        if args.sweep:
            from nets.tolerance.cli import run_simulate_sweep

            return run_simulate_sweep(args, settings)
        if args.values is not None:
            raise SystemExit("optics4f simulate: --values goes with --sweep NAME (better: --sweep NAME=V1,V2,...)")
        from nets.inference.figures import save_figures
        from nets.inference.report import format_confusion, format_table, write_report
        from nets.inference.simulate import simulate

        try:
            res = simulate(args.model, frames=args.frames, settings=settings, dataset=args.dataset,
                           limit=args.limit, calibrations=_load_calibrations(args.calibration),
                           progress=args.progress)
        except (FileNotFoundError, ValueError) as e:
            raise SystemExit(f"optics4f simulate: {e}") from e
        print(format_table(res.to_json()))
        if res.confusion is not None:
            print(format_confusion(res.confusion, res.classes))
        from nets.inference.fidelity import format_fidelity

        print(format_fidelity(res.fidelity))
        figures = []
        if args.uses_out:
            with _results_set(args, inputs) as tmp:
                if args.report is None:
                    write_report(tmp / "report.json", res.to_json())
                figures = [] if args.no_figures else [p.name for p in save_figures(res, tmp)]
        if args.report is not None:
            write_report(args.report, res.to_json())
        print(f"report: {args.report or args.out / 'report.json'}")
        if figures:
            print("figures: " + ", ".join(str(args.out / name) for name in figures))
        return 0

    return run


def _simulate_settings(args):
    """The simulated bench: the one an export recorded (``--frames``), else the defaults, with the
    bench options given on the command line applied (geometry options must match the export's)."""
    if not args.frames:
        return _hardware_settings(args)
    from nets.export.bundle import read_export

    try:
        recorded = read_export(args.frames).settings.get("bench")
    except (ValueError, OSError) as e:
        raise SystemExit(f"optics4f simulate: --frames {args.frames}: {e}") from e
    if recorded:
        given = _given_bench(args)
        flags = {"wavelength": "--wavelength", "pitch": "--display-pitch", "f1": "--f1", "f2": "--f2",
                 "slm_preset": "--slm"}
        for key, flag in flags.items():
            if key in given and given[key] != recorded.get(key):
                raise SystemExit(f"optics4f simulate: the frames in {args.frames} were exported for {key} = "
                                 f"{recorded.get(key)!r}, not {given[key]!r} ({flag}); the export records its bench, "
                                 "so drop that option or export again for the new bench")
    return _hardware_settings(args, recorded)


def _results_set(args, inputs):
    """The new hidden folder simulate's results are written into, switched in as ``--out`` at the end."""
    from optics4f.io.atomic import atomic_dir

    return atomic_dir(args.out, overwrite=args.force, inputs=inputs, what="--out")


def _load_calibrations(paths) -> list:
    """Calibration objects from the files of ``--calibration`` (``calib.load``)."""
    from calib.base import load

    return [load(p) for p in paths or ()]


def _simulate_bench_errors(args, settings):
    """``optics4f simulate --bench-errors SPEC [--calibration FILE... | --calibrate]``."""
    from calib.bench_errors import measure_calibrations
    from nets.inference.calibrated import compare, format_comparison
    from nets.inference.report import write_report

    if args.bench_errors is None:
        raise SystemExit("optics4f simulate: --calibrate needs --bench-errors SPEC (the errors to calibrate)")
    if args.calibrate and args.calibration:
        raise SystemExit("optics4f simulate: give --calibration FILE... or --calibrate, not both")
    if args.sweep or args.frames:
        raise SystemExit("optics4f simulate: --bench-errors exports the model itself; drop --sweep / --frames")
    try:
        res = compare(args.model, args.bench_errors, calibrations=_load_calibrations(args.calibration) or None,
                      measure=measure_calibrations if args.calibrate else None,
                      settings=settings, dataset=args.dataset, limit=args.limit)
    except (FileNotFoundError, ValueError) as e:
        raise SystemExit(f"optics4f simulate: {e}") from e
    print(format_comparison(res))
    if args.report is not None:
        write_report(args.report, res.to_json())
    else:
        with _results_set(args, [args.model, *args.calibration]) as tmp:
            write_report(tmp / "report.json", res.to_json())
    print(f"report: {args.report or args.out / 'report.json'}")
    return 0


@command("finetune", "hardware-aware fine-tuning of a student: retrain the SLM frame (a) or refit the back end (b)")
def _finetune(p: argparse.ArgumentParser):
    from pathlib import Path

    p.add_argument("model", nargs="?", default=None, help="student checkpoint; default: the embedded student")
    p.add_argument("--teacher", default=None, help="teacher checkpoint for KD (default: the one the model names)")
    p.add_argument("--mode", choices=["frontend", "backend", "both"], default="both",
                   help="frontend: (a) SLM frame + back end through the hardware model; backend: (b) back end only, "
                        "optics fixed; both (default)")
    p.add_argument("--epochs", type=int_arg(min=1), default=1, help="epochs per mode, >= 1 (default 1)")
    p.add_argument("--lr", type=float_arg(min=0, strict=True), default=1e-2,
                   help="back-end learning rate, Adam (default 1e-2)")
    p.add_argument("--train-limit", type=int_arg(min=1), default=None, help="training images (default: all)")
    p.add_argument("--val-limit", type=int_arg(min=1), default=None,
                   help="validation images, for selection (default: all)")
    p.add_argument("--limit", type=int_arg(min=1), default=None, help="test images (default: all)")
    p.add_argument("--dataset", default=None, help="dataset name, folder or .npz (default: the model's)")
    p.add_argument("--out", type=Path, default=Path("runs/finetune"), metavar="DIR",
                   help="new folder for the kept model (model.pt + model.json) and report.json (default "
                        "runs/finetune)")
    p.add_argument("--force", action="store_true", help="replace an existing --out folder")
    p.add_argument("--report", type=Path, default=None, help="also write the JSON report here")
    _hardware_args(p)

    def run(args):
        import json

        from nets.convert.convert import save_student
        from nets.inference.finetune import finetune
        from nets.inference.report import write_report

        refuse_inputs(args.report, [args.model, args.teacher], "--report")
        modes = ("frontend", "backend") if args.mode == "both" else (args.mode,)
        if args.out.exists() and not args.force:
            raise SystemExit(f"optics4f finetune: error: --out {str(args.out)!r} already exists; give a new folder "
                             "or --force to replace it")
        try:
            settings = _hardware_settings(args)
            res = finetune(args.model, args.teacher, modes=modes, settings=settings,
                           dataset=args.dataset, train_limit=args.train_limit, limit=args.limit,
                           val_limit=args.val_limit, epochs=args.epochs, lr=args.lr, seed=settings.seed)
            cfg = dict(res.model_config)
            if args.dataset is not None:
                from nets.data import dataset_reference

                cfg["train"] = dict(cfg.get("train", {}), dataset=dataset_reference(args.dataset))
            public_res = res.to_json()
            cfg["finetune"] = public_res
            report = json.dumps(public_res, indent=2, default=str) + "\n"
            path = save_student(res.student, cfg, args.out, force=args.force,
                                inputs=[p for p in (args.model, args.teacher) if p],
                                extra_files={"report.json": report})
        except (FileNotFoundError, FileExistsError, ValueError) as e:
            raise SystemExit(f"optics4f finetune: error: {e}") from e
        print(f"                           test ({res.n_images})  validation ({res.n_val_images})")
        print(f"digital (ideal)            {res.digital_accuracy:.4f}       {res.val_digital_accuracy:.4f}")
        print(f"simulated optical, before  {res.optical_accuracy:.4f}       {res.val_optical_accuracy:.4f}")
        for m, label in (("frontend", "(a) SLM + back end"), ("backend", "(b) back end only")):
            if m in res.modes:
                mr = res.modes[m]
                gap = ("gap within one test image: no recovery figure" if mr.recovered is None
                       else f"recovers {100 * mr.recovered:.0f} % of the gap")
                print(f"{label:26s} {mr.accuracy:.4f}       {mr.val_accuracy:.4f}  "
                      f"(epoch {mr.epoch} kept on validation; {gap})")
        print(f"model kept: {res.kept} (best on validation of the start and (b)) -> {path}")
        front, back = res.modes.get("frontend"), res.modes.get("backend")
        if front is not None and front.val_accuracy > (back.val_accuracy if back else res.val_optical_accuracy):
            print("note: (a) did best on validation, but a retrained SLM frame is not a student's masks and is "
                  "not saved as a model; train a hardware student (optics4f train hardware) to keep it")
        print(f"report: {args.out / 'report.json'}")
        if args.report:
            write_report(args.report, public_res)
        return 0

    return run


@command("tolerance", "Monte Carlo tolerance analysis: yield and sensitivity over every bench error at once")
def _tolerance(p: argparse.ArgumentParser):
    from nets.tolerance.cli import add_arguments

    return add_arguments(p, _hardware_args, _hardware_settings, int_arg, refuse_inputs)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="optics4f", description="Physical-optics simulation of 4f optical CNNs.")
    from optics4f import __version__

    parser.add_argument("--version", action="version", version=f"optics4f {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks instead of one-line errors")
    sub = parser.add_subparsers(dest="command")
    for name, (help_, builder) in COMMANDS.items():
        sp = sub.add_parser(name, help=help_, description=help_)
        sp.set_defaults(_run=builder(sp))
    return parser


def _one_line(e: BaseException) -> str:
    """The message of ``e`` on one line, with what a bare KeyError or OSError leaves unsaid."""
    if isinstance(e, KeyError):
        msg = f"missing entry {e.args[0]!r}" if e.args else "missing entry"
    elif isinstance(e, OSError) and e.filename is not None and str(e.filename) not in str(e):
        msg = f"{e} ({e.filename})"
    else:
        msg = str(e) or type(e).__name__
    return " ".join(msg.split())


def main(argv=None) -> int:
    """Run the command line; returns the exit status. ``--debug`` anywhere: tracebacks instead of one-line errors."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    argv = [a for a in argv if a != "--debug"]
    parser = build_parser()
    if not argv or argv[0].startswith("--") and argv[0] not in ("--help", "--version"):
        argv = [DEFAULT_COMMAND] + argv
    args = parser.parse_args(argv)  # argparse names a bad flag and exits 2 itself
    prog = f"optics4f {args.command or DEFAULT_COMMAND}"
    # Errors leave as SystemExit(message): Python prints the one line to stderr and exits with status 1.
    try:
        return int(args._run(args) or 0)
    except SystemExit as e:
        if isinstance(e.code, str):
            msg = " ".join(e.code.split())
            raise SystemExit(msg if msg.startswith("optics4f") else f"{prog}: error: {msg}") from None
        raise
    except KeyboardInterrupt:
        if debug:
            raise
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except (ValueError, TypeError, KeyError, OSError, MemoryError, ImportError) as e:
        if debug:
            raise
        raise SystemExit(f"{prog}: error: {_one_line(e)}") from None
    except Exception as e:  # a bug, not a user error: still one line, with the way to the traceback
        if debug:
            raise
        raise SystemExit(f"{prog}: internal error: {type(e).__name__}: {_one_line(e)} (run again with --debug "
                         "for the traceback, and report it)") from None


if __name__ == "__main__":
    sys.exit(main())
