"""Typed results (nets.inference.results): the JSON report keeps its keys, order and values; from_json
reads a report back."""
from __future__ import annotations

import json

from nets.inference.results import ComparisonResult, FinetuneResult, ModeResult, SimulationResult

CONFIG = {"model": "student.pt", "hardware": {"slm_bits": 8}, "exposure_time": 1e-3}


def _simulation(**kw) -> SimulationResult:
    args = {"task": "classify", "n_images": 4, "dataset": "mnist5k", "split": "test", "digital_accuracy": 0.75,
            "optical_accuracy": 0.5, "agreement": 0.75, "classes": ["0", "1"], "fidelity": {"threshold": 0.97},
            "config": CONFIG, "seconds": 2.5, "confusion": [[1, 1], [1, 1]], "confusion_digital": [[2, 0], [1, 1]],
            "optical": object(), "images": object(), "labels": object(), "tiles": object()}
    return SimulationResult(**{**args, **kw})


def test_simulation_report_keys_order_and_values():
    d = _simulation().to_json()
    assert list(d) == ["task", "n_images", "dataset", "split", "digital_accuracy", "optical_accuracy", "difference",
                       "agreement", "confusion", "confusion_digital", "classes", "fidelity", "config", "seconds"]
    assert d["difference"] == -0.25  # optical - digital: the hardware lost a quarter of the images
    assert d["confusion"] == [[1, 1], [1, 1]] and d["confusion_digital"] == [[2, 0], [1, 1]]
    assert d["config"] is CONFIG and d["seconds"] == 2.5
    json.dumps(d)  # no live objects left


def test_segmentation_report_has_miou_not_confusion():
    r = _simulation(task="segment", confusion=None, confusion_digital=None, digital_miou=0.6, optical_miou=0.4)
    d = r.to_json()
    assert "confusion" not in d and "confusion_digital" not in d
    assert (d["digital_miou"], d["optical_miou"]) == (0.6, 0.4)
    assert list(d).index("digital_miou") == list(d).index("agreement") + 1


def test_simulation_from_json_round_trip():
    r = _simulation()
    back = SimulationResult.from_json(json.loads(json.dumps(r.to_json())))
    assert back == r and back.to_json() == r.to_json()
    assert back.optical is None and back.images is None  # the live objects are not in a report


def _finetune() -> FinetuneResult:
    modes = {"backend": ModeResult(accuracy=0.8, val_accuracy=0.85, epoch=2, recovered=0.5, optical=object()),
             "frontend": ModeResult(accuracy=0.7, val_accuracy=0.75, epoch=0, recovered=None, optical=object())}
    return FinetuneResult(digital_accuracy=0.9, optical_accuracy=0.7, val_digital_accuracy=0.95,
                          val_optical_accuracy=0.75, n_images=10, n_val_images=20, n_train_images=30,
                          dataset="mnist5k", teacher="teacher.pt", kept="backend", modes=modes, config=CONFIG,
                          seconds=1.0, student=object(), model_config={"model": {}})


def test_finetune_report_flattens_the_modes_as_before():
    d = _finetune().to_json()
    assert list(d) == ["digital_accuracy", "optical_accuracy", "val_digital_accuracy", "val_optical_accuracy",
                       "n_images", "n_val_images", "n_train_images", "dataset", "teacher", "kept",
                       "backend_val_accuracy", "backend_epoch", "backend_accuracy", "backend_recovered",
                       "frontend_val_accuracy", "frontend_epoch", "frontend_accuracy", "frontend_recovered",
                       "config", "seconds"]
    assert (d["backend_accuracy"], d["backend_val_accuracy"], d["backend_epoch"], d["backend_recovered"]) == \
        (0.8, 0.85, 2, 0.5)
    assert d["frontend_recovered"] is None and d["kept"] == "backend"
    json.dumps(d)


def test_finetune_from_json_round_trip():
    r = _finetune()
    back = FinetuneResult.from_json(json.loads(json.dumps(r.to_json())))
    assert list(back.modes) == ["backend", "frontend"]
    assert back == r and back.to_json() == r.to_json()
    assert back.student is None and back.modes["backend"].optical is None
    one = dict(r.to_json())
    for k in ("frontend_val_accuracy", "frontend_epoch", "frontend_accuracy", "frontend_recovered"):
        del one[k]
    assert list(FinetuneResult.from_json(one).modes) == ["backend"]


def test_comparison_report_and_round_trip():
    r = ComparisonResult(n_images=20, dataset="mnist5k", digital_accuracy=0.9, error_free_accuracy=0.85,
                         uncalibrated_accuracy=0.6, calibrated_accuracy=None, recovered_fraction=None,
                         bench_errors={"lut_gamma": 1.3, "gray_2pi": None, "zernike": {}}, calibrations=[],
                         calibration_methods=[], model="student.pt", hardware={"slm_bits": 8})
    d = r.to_json()
    assert list(d) == ["n_images", "dataset", "digital_accuracy", "error_free_accuracy", "uncalibrated_accuracy",
                       "calibrated_accuracy", "recovered_fraction", "bench_errors", "calibrations",
                       "calibration_methods", "model", "hardware"]
    assert d["uncalibrated_accuracy"] == 0.6 and d["calibrated_accuracy"] is None
    assert ComparisonResult.from_json(json.loads(json.dumps(d))) == r
