"""Bad input at the hardware pipeline's entry points (NumPy simulator and torch layer) is refused by name."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from optics4f.devices.detector import Camera
from optics4f.devices.display import InputDisplay
from optics4f.devices.slm import SLM
from optics4f.system import Hardware4f, SystemConfig, TiledLayout

D, LAM, N, M = 8e-6, 532e-9, 16, 32


def _config(**kw):
    base = dict(wavelength=LAM, f1=D * M * D / LAM, f2=D * M * D / LAM, grid_shape=(N, N), pad=2.0,
                display=InputDisplay(resolution=(4, 4), pitch=D), slm=SLM(resolution=(M, M), pitch=D, bit_depth=8),
                camera=Camera(shape=(N, N), pixel_pitch=D, noise=False, bit_depth=None),
                layout=TiledLayout(n_channels=2, tile_shape=(8, 8)), encoding="phase")
    base.update(kw)
    with warnings.catch_warnings():  # the tiny geometry low-passes the display: fine here
        warnings.simplefilter("ignore")
        return SystemConfig(**base)


def _hw():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Hardware4f(_config(), dtype=np.complex128)


def test_numpy_pipeline_refuses_nan_masks_and_wavelengths_in_nm():
    hw = _hw()
    masks = np.ones((2, 1, M, M), complex)
    masks[0, 0, 3, 3] = np.nan
    with pytest.raises(ValueError, match="masks"):
        hw.set_masks(masks)
    with pytest.raises(ValueError, match=r"wavelengths\[1\]=532.*did you mean 532e-9"):
        hw.forward_wavelengths(np.ones((1, 2, 4, 4)), [532e-9, 532], masks=np.ones((2, M, M), complex))


def test_torch_layer_refuses_bad_channels_nan_fields_and_nan_phases():
    torch = pytest.importorskip("torch")
    from optics4f.torch import Hardware4fConv
    from optics4f.torch.devices import quantize_phase

    cfg = _config()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises((TypeError, ValueError), match="in_channels"):
            Hardware4fConv(cfg, in_channels=2.5)
        layer = Hardware4fConv(cfg, in_channels=1, dtype=torch.complex128)
    u = layer.input_field(torch.rand(1, 1, 4, 4, dtype=torch.float64))
    u[0, 0, 5, 5] = float("nan")
    with pytest.raises(ValueError, match=r"\bu\b"):
        layer.from_field(u)
    phase = torch.zeros(M, M, dtype=torch.float64)
    phase[1, 1] = float("inf")
    with pytest.raises(ValueError, match="phase"):
        quantize_phase(phase, cfg.slm)
