"""The layout of optics4f.fft: one plan class per engine, all mutable state on STATE, no torch."""
from __future__ import annotations

import importlib
import os
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from optics4f import fft as offt

MODULES = ("engines", "state", "plans", "wisdom", "pool", "padded", "blocked", "multichannel")


def test_environment_sets_the_state_and_the_engines_do_not_import_torch(tmp_path):
    """One fresh interpreter (imports cost seconds): OPTICS4F_FFT_ENGINE, OPTICS4F_FFT_THREADS and
    OPTICS4F_CACHE reach STATE, and the multi-channel engines load without torch."""
    code = ("import sys; from optics4f import fft; import optics4f.fft.blocked, optics4f.fft.multichannel; "
            "s = fft.STATE; print(s.engine, fft.get_fft_engine(), fft.get_fft_threads(), s.wisdom_path, "
            "'torch' in sys.modules)")
    env = {**os.environ, "OPTICS4F_FFT_ENGINE": "scipy", "OPTICS4F_FFT_THREADS": "3", "OPTICS4F_CACHE": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, env=env).stdout
    assert out.split() == ["scipy", "scipy", "3", str(tmp_path / "fftw_wisdom.pkl"), "False"]


def test_no_mutable_module_globals():
    """Caches, locks and pools live on STATE; a module-level one would escape the fork reset."""
    mutable = (dict, list, set, threading.local, type(threading.Lock()), type(threading.RLock()),
               ThreadPoolExecutor)
    for name in MODULES:
        mod = importlib.import_module(f"optics4f.fft.{name}")
        found = [k for k, v in vars(mod).items() if isinstance(v, mutable) and not k.startswith("__")]
        assert found == [], f"optics4f.fft.{name} holds mutable state {found}; put it on STATE"


@pytest.mark.parametrize("engine", offt.available_engines())
def test_fftplan_makes_the_engine_class_and_transforms_like_numpy(rng, engine):
    plan = offt.FFTPlan((3, 8, 6), np.complex128, np, engine)
    assert type(plan) is offt.plans.PLAN_CLASSES[engine] and plan.engine == engine
    a = rng.standard_normal((3, 8, 6)) + 1j * rng.standard_normal((3, 8, 6))
    np.testing.assert_allclose(plan.forward(plan.load(a)), np.fft.fft2(a), rtol=0, atol=1e-12)
    np.testing.assert_allclose(plan.backward(plan.load(a)), np.fft.ifft2(a) * 48, rtol=0, atol=1e-12)


def test_fftplan_names_an_unknown_engine():
    with pytest.raises(ValueError, match="'fftw'"):
        offt.FFTPlan((4, 4), np.complex128, np, "fftw")
