"""simulate keeps earlier results: a numbered default folder, --out refused without --force, and
--force never replaces a folder of the user's own files (nets/inference/results_folder.py)."""
from __future__ import annotations

import json

import pytest

from nets.inference.results_folder import choose_results_folder


def test_default_folder_is_numbered_past_earlier_results(tmp_path):
    default = tmp_path / "out" / "simulate"
    assert choose_results_folder(None, default, False, "x") == default
    default.mkdir(parents=True)
    assert choose_results_folder(None, default, False, "x") == default  # empty: reused
    (default / "report.json").write_text("{}")
    assert choose_results_folder(None, default, False, "x") == default.with_name("simulate-2")
    (tmp_path / "out" / "simulate-2").mkdir()
    (tmp_path / "out" / "simulate-2" / "a.png").write_bytes(b"")
    assert choose_results_folder(None, default, False, "x") == default.with_name("simulate-3")


def test_given_folder_with_results_needs_force_and_foreign_files_are_never_replaced(tmp_path):
    out = tmp_path / "res"
    out.mkdir()
    (out / "report.json").write_text("{}")
    with pytest.raises(SystemExit, match="--force"):
        choose_results_folder(out, tmp_path / "d", False, "optics4f simulate")
    assert choose_results_folder(out, tmp_path / "d", True, "optics4f simulate") == out
    (out / "notes.txt").write_text("mine")
    with pytest.raises(SystemExit, match="notes.txt"):
        choose_results_folder(out, tmp_path / "d", True, "optics4f simulate")
    (tmp_path / "f").write_text("")
    with pytest.raises(SystemExit, match="is a file"):
        choose_results_folder(tmp_path / "f", tmp_path / "d", True, "x")


def test_cli_rerun_keeps_the_first_results(tmp_path, monkeypatch, capsys):
    from nets.cli import main

    monkeypatch.chdir(tmp_path)
    args = ["simulate", "--limit", "10", "--no-figures", "--no-noise"]
    assert main(args) == 0
    assert main(args) == 0  # the default folder holds results: the next one is numbered
    first = json.loads((tmp_path / "out/simulate/report.json").read_text())
    second = json.loads((tmp_path / "out/simulate-2/report.json").read_text())
    assert first["n_images"] == second["n_images"] == 10
    before = (tmp_path / "out/simulate/report.json").read_bytes()
    with pytest.raises(SystemExit, match="already holds results"):
        main(args + ["--out", "out/simulate"])
    assert (tmp_path / "out/simulate/report.json").read_bytes() == before
    assert main(args + ["--out", "out/simulate", "--limit", "12", "--force"]) == 0
    assert json.loads((tmp_path / "out/simulate/report.json").read_text())["n_images"] == 12
    own = tmp_path / "mine"
    own.mkdir()
    (own / "data.csv").write_text("1,2\n")
    with pytest.raises(SystemExit, match="data.csv"):
        main(args + ["--out", "mine", "--force"])
    assert (own / "data.csv").read_text() == "1,2\n" and sorted(p.name for p in own.iterdir()) == ["data.csv"]
