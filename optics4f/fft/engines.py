"""Which FFT engines this installation has: the pyfftw module (if any) and the CPU engine names."""
from __future__ import annotations

import os
from types import ModuleType

__all__ = ["CPU_ENGINES", "ENGINE_CHOICES", "available_engines", "pyfftw"]

#: The CPU engines, in the order ``"auto"`` prefers them.
CPU_ENGINES = ("pyfftw", "scipy")
#: What :func:`optics4f.fft.set_fft_engine` accepts.
ENGINE_CHOICES = ("auto",) + CPU_ENGINES


def import_pyfftw() -> ModuleType | None:
    """pyfftw, its OpenMP threads set to sleep when idle unless the user chose OMP_WAIT_POLICY.

    pyfftw ships its own libgomp, which reads OMP_WAIT_POLICY once, when it loads with pyfftw. Left
    active, FFTW's threads spin after each multi-threaded transform and starve the pool threads that
    run the next step (docs/fft.md#openmp-wait-policy). The variable is set only while pyfftw loads,
    so other OpenMP runtimes (torch's) keep theirs. None when pyfftw is not installed."""
    chosen = "OMP_WAIT_POLICY" in os.environ
    if not chosen:
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    try:
        import pyfftw as module  # type: ignore
    except Exception:  # pragma: no cover - pyfftw is a dependency, but keep a fallback
        return None
    finally:
        if not chosen:
            del os.environ["OMP_WAIT_POLICY"]
    return module


#: The pyfftw module, or None where it is not installed.
pyfftw = import_pyfftw()


def available_engines() -> list[str]:
    """Names of the CPU FFT engines importable here (``"pyfftw"`` when installed, always ``"scipy"``)."""
    return [name for name in CPU_ENGINES if name != "pyfftw" or pyfftw is not None]
