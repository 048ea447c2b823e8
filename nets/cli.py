"""The ``optics4f`` command line.

    optics4f               run the main job on the embedded default
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
DEFAULT_COMMAND = "demo"


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
    p.add_argument("--eval-split", default="test", help="evaluation split (default test)")
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
                         max_steps=args.max_steps, model=model, resume=args.resume,
                         progress=not args.no_progress))
        print(f"{args.role}: best eval accuracy {res['best_eval_acc']:.4f}; model in {res['checkpoint']}")
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
