"""Training never replaces an earlier model without --force, nor its own inputs even with it."""
import pytest

from nets.checkpoint import load_checkpoint
from nets.cli import TRAIN_RECIPE, build_parser, main
from nets.train import TrainConfig

TINY = ["--dataset", "digits", "--epochs", "1", "--batch-size", "16", "--train-limit", "40", "--eval-limit", "20",
        "--device", "cpu", "--no-progress"]
TEACHER = TINY + ["--model", '{"widths": [4], "hidden": 0}']


def test_train_refuses_an_existing_model_then_force_replaces_it(tmp_path):
    out = tmp_path / "t"
    assert main(["train", "teacher", "--out", str(out)] + TEACHER) == 0
    before = (out / "model.pt").read_bytes()
    with pytest.raises(SystemExit, match="already holds model.pt.*--force"):
        main(["train", "teacher", "--out", str(out), "--seed", "1"] + TEACHER)
    assert (out / "model.pt").read_bytes() == before  # untouched
    assert main(["train", "teacher", "--out", str(out), "--seed", "1", "--force"] + TEACHER) == 0
    assert (out / "model.pt").read_bytes() != before


def test_student_into_its_teachers_folder_refuses_even_with_force(tmp_path):
    t = tmp_path / "teacher"
    assert main(["train", "teacher", "--out", str(t)] + TEACHER) == 0
    before = (t / "model.pt").read_bytes()
    for extra in ([], ["--force"]):
        with pytest.raises(SystemExit, match="folder of the teacher.*--force does not override"):
            main(["train", "student", "--teacher", str(t / "model.pt"), "--out", str(t)] + TINY + extra)
    assert (t / "model.pt").read_bytes() == before
    assert load_checkpoint(t / "model.pt")["config"]["train"]["role"] == "teacher"


def test_default_out_folders_and_recipe():
    assert {TrainConfig(role=r, teacher="t.pt").out_dir for r in ("teacher", "student", "baseline", "hardware")} \
        == {"runs/teacher", "runs/student", "runs/baseline", "runs/hardware"}
    a = build_parser().parse_args(["train", "student", "--teacher", "t.pt"])
    assert (a.T, a.alpha, a.schedule, a.epochs, a.lr, a.out) == (1.0, None, "cosine", None, None, None)
    assert TRAIN_RECIPE["student"] == {"epochs": 60, "lr": 3e-3}  # benchmarks/kd_table.py, mnist5k preset
    assert '"rotate": 10.0' in a.augment
