"""``optics4f convert FILE --image-size H W [--in-channels C] --out DIR``: arguments and run.

Imports torch only when run, so ``optics4f --help`` stays fast.
"""
from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["add_arguments", "run"]


def add_arguments(p: argparse.ArgumentParser):
    p.add_argument("file", metavar="FILE", help="the model: TorchScript (torch.jit.trace(...).save) or ONNX (.onnx)")
    p.add_argument("--image-size", type=int, nargs=2, required=True, metavar=("H", "W"),
                   help="input image size the model takes, pixels (the display shows it)")
    p.add_argument("--in-channels", type=int, default=1, help="input channels: 1 grey, 3 RGB (default 1)")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="new folder for model.pt + model.json")
    p.add_argument("--force", action="store_true", help="replace an existing --out folder")
    p.add_argument("--front", type=int, default=None, metavar="N",
                   help="the first N layers go optical (default: the whole convolutional part)")
    p.add_argument("--dataset", default=None,
                   help="dataset (name, folder or .npz) for the check on real images; simulate and finetune use it")
    p.add_argument("--readout", choices=["field", "intensity"], default="field",
                   help="field: coherent detection, the original model exactly (default); intensity: a camera, "
                        "needs --refit")
    p.add_argument("--refit", type=int, default=None, metavar="EPOCHS",
                   help="with --readout intensity: refit the electronic back end on camera-intensity features "
                        "for EPOCHS epochs on --dataset")
    p.add_argument("--lr", type=float, default=1e-3, help="refit learning rate (default 1e-3)")
    p.add_argument("--train-limit", type=int, default=None, help="refit on this many training images")
    p.add_argument("--seed", type=int, default=0, help="default 0")


def run(args) -> int:
    from nets.convert import convert_file, refit_intensity, save_student

    fail = lambda msg: SystemExit(f"optics4f convert: error: {msg}")  # noqa: E731
    if args.readout == "intensity" and args.refit is None:
        raise fail("--readout intensity needs --refit EPOCHS --dataset DIR: the back end was trained on the "
                   "field and must be refitted on camera intensities")
    if args.refit is not None:
        if args.readout != "intensity":
            raise fail("--refit refits for a camera; add --readout intensity")
        if args.refit < 1:
            raise fail(f"--refit {args.refit}: give a number of epochs >= 1")
        if args.dataset is None:
            raise fail("--refit needs --dataset (name, folder or .npz) to train on")
    if args.in_channels < 1 or min(args.image_size) < 1:
        raise fail(f"--image-size {args.image_size} and --in-channels {args.in_channels} must be >= 1")
    out = Path(args.out)
    if out.exists() and not args.force:
        raise fail(f"--out {str(out)!r} already exists; give a new folder or --force to replace it")
    try:
        student, cfg = convert_file(args.file, tuple(args.image_size), args.in_channels, front=args.front,
                                    dataset=args.dataset, seed=args.seed)
        rep = cfg["convert"]
        print("optical front end: " + " -> ".join(rep["front_layers"]))
        print("electronic back end: " + (" -> ".join(rep["back_layers"]) or "(none)"))
        print(f"collapsed: one {rep['collapsed_kernel'][0]} x {rep['collapsed_kernel'][1]} kernel per channel pair "
              f"({cfg['model']['out_channels']} x {cfg['model']['in_channels']}), padded grid "
              f"{rep['padded_grid'][0]} x {rep['padded_grid'][1]}")
        print(f"max relative logit difference, field readout vs the original: random images "
              f"{rep['max_rel_diff_random']:.2e}"
              + (f"; random images dark within {rep['border']} px of the edge "
                 f"{rep['max_rel_diff_random_dark_border']:.2e} (stacked paddings crop at the border)"
                 if rep["border"] else "")
              + (f"; {rep['n_real_images']} real images {rep['max_rel_diff_real']:.2e}" if "max_rel_diff_real" in rep
                 else ""))
        if args.readout == "intensity":
            student, cfg = refit_intensity(student, cfg, args.dataset, args.refit, lr=args.lr,
                                           limit=args.train_limit, seed=args.seed)
            r = cfg["convert"]["refit"]
            print(f"refit on camera intensity ({args.refit} epochs): validation accuracy "
                  f"{r['intensity_val_accuracy']:.4f} (field readout {r['field_val_accuracy']:.4f})")
        path = save_student(student, cfg, out, force=args.force, inputs=[args.file])
    except (FileNotFoundError, FileExistsError, ValueError, TypeError) as e:
        raise fail(e) from e
    print(f"student: {path}")
    if args.readout == "field":
        print("note: a camera measures intensity; before `optics4f simulate`, refit for it: "
              f"optics4f convert {args.file} --image-size {args.image_size[0]} {args.image_size[1]} "
              f"--in-channels {args.in_channels} --readout intensity --refit EPOCHS --dataset DIR --out DIR2")
    return 0
