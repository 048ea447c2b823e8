"""Hardware-aware fine-tuning (nets.inference.finetune)."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from nets.inference.finetune import hardware_student, finetune, recovered_fraction  # noqa: E402
from nets.inference.optical import (HardwareSettings, OpticalStudent, auto_exposure, student_frames,  # noqa: E402
                                    student_system)
from nets.inference.simulate import DEFAULT_MODEL, load_student  # noqa: E402

#: A bench with a visible gap: a 2-bit SLM.
COARSE = HardwareSettings(slm_bits=2)


def test_recovered_fraction():
    assert recovered_fraction(0.9, 0.5, 0.8) == pytest.approx(0.75)
    assert recovered_fraction(0.9, 0.5, 0.5) == 0.0
    assert recovered_fraction(0.9, 0.5, 0.4) == pytest.approx(-0.25)
    assert math.isnan(recovered_fraction(0.9, 0.9, 0.9))


def test_differentiable_twin_matches_the_simulator():
    """Hardware4fConv started from the exported frame + the same electronics == OpticalStudent
    (noise off): fine-tuning starts from exactly the simulated bench, and its frames() give the
    exported frames back (the same displayed phases)."""
    student, _ = load_student(DEFAULT_MODEL)
    settings = COARSE.replace(noise=False)
    sysc = student_system(student, settings)
    frames, scale = student_frames(student, sysc)
    opt = OpticalStudent(student, sysc, frames, scale)
    x = torch.rand(4, 1, 28, 28)
    auto_exposure(opt, x, 0.8)
    hs = hardware_student(opt, student.backend, noise=False).eval()
    slm = sysc.slm  # frames() may pick level 0 where the export has the top level: both show 2 pi = 0
    shown = [np.exp(1j * slm.gray_to_phase(f, sysc.wavelength)) for f in (hs.frames(), frames)]
    assert np.abs(shown[0] - shown[1]).max() < 1e-9
    with torch.no_grad():
        a = hs(x)
    b, _ = opt(x)
    assert float((a - b).abs().max()) < 1e-3 * float(b.abs().max())


def test_backend_refit_recovers_part_of_the_gap(tmp_path):
    res = finetune(modes=("backend",), settings=COARSE, train_limit=400, limit=200, epochs=2)
    assert res.optical_accuracy < res.digital_accuracy - 0.1  # the 2-bit SLM costs accuracy
    assert res.modes["backend"].accuracy > res.optical_accuracy + 0.1
    assert res.modes["backend"].recovered > 0.3
    assert "frontend_accuracy" not in res.to_json()
    json.dumps(res.to_json())  # the report is JSON-ready


def test_frontend_retraining_changes_the_frame_and_improves():
    res = finetune(modes=("frontend",), settings=COARSE, train_limit=200, limit=200, epochs=1)
    tuned = res.modes["frontend"].optical
    sysc = tuned.system
    frames0, _ = student_frames(tuned.model, sysc)
    assert tuned.frames.dtype == frames0.dtype and tuned.frames.max() <= sysc.slm.max_gray
    assert 0.01 < float((tuned.frames != frames0).mean()) < 0.9
    assert res.modes["frontend"].accuracy > res.optical_accuracy + 0.05


def test_bad_modes_and_teacher():
    with pytest.raises(ValueError, match="modes"):
        finetune(modes=("optics",))
    with pytest.raises(FileNotFoundError):
        finetune(teacher="/nonexistent/teacher.pt", modes=("backend",), limit=10, train_limit=10)
