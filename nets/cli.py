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
