"""Hardware front end of the SCLC student: the torch bridge's hardware 4f layer.

:class:`HardwareFrontend` puts :class:`optics4f.torch.layers.Hardware4fConv`
(display, pixelated phase SLM with bit depth, misalignments, camera, output
channels tiled on the camera) where the ideal
:class:`~nets.models.spectral.SpectralStack` sits, so the student trains end to
end through the simulated hardware. The hardware is one optical layer: the
learned parameter is the SLM frame itself (one Fourier-plane pass per input
channel), so ``channels`` gives only the number of output channels (camera
tiles); a deeper ideal stack maps onto it by its collapsed masks
(``HardwareFrontend.set_masks(stack.collapse())`` when the Fourier grids agree).

The system is a JSON-ready dict (``optics4f.system.SystemConfig.to_dict()``
form), so the checkpoint config rebuilds it; :func:`default_system` builds a
consistent one for an image size and channel count. Its output is the camera
frame in ADU, already detected: ``detects = True``.
"""
from __future__ import annotations

import json

import torch
from torch import nn

__all__ = ["HardwareFrontend", "default_system"]


def default_system(image_size, out_channels: int, kernel_size: int = 5, pitch: float = 8e-6,
                   wavelength: float = 532e-9, bit_depth: int = 8, noise: bool = False) -> dict:
    """A self-consistent hardware 4f system (SystemConfig dict) for ``image_size`` images.

    Display: ``image_size`` pixels at ``pitch`` (m). Output tiles of
    (image + kernel - 1) samples (no overlap of neighbouring channels), on the
    most square arrangement; the grid holds them; padded at least 2x to a length
    whose FFT is fast (:func:`optics4f.grid.fast_padded_size`). Phase SLM of
    ``bit_depth`` bits at ``pitch`` with one Fourier sample per SLM pixel
    (f1 = f2 = pitch * M * pitch / wavelength, so the panel passes the display's
    whole spectrum and its replicas clear the output). Camera at ``pitch``
    without saturation or ADC (``bit_depth=None``, full well 1e12 e-, gain
    1e-3 ADU/e-) and with shot/read noise only when ``noise``: change the
    dict's ``camera`` entry for a realistic one.
    """
    from optics4f.grid import fast_padded_size
    from optics4f.system import SystemConfig
    from optics4f.system.layout import TiledLayout

    h, w = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
    tile = max(h, w) + int(kernel_size) - 1
    tile += tile % 2
    layout = TiledLayout(n_channels=int(out_channels), tile_shape=(tile, tile))
    n = max(layout.arrangement) * tile
    m = fast_padded_size(n, 2.0)  # at least 2x, FFT-friendly (102 -> 210, not 204 = 2^2 3 17; docs/results.md)
    f = pitch * m * pitch / wavelength
    d = {"wavelength": wavelength, "f1": f, "f2": f, "grid_shape": [n, n], "pad": m / n,
         "display": {"resolution": [h, w], "pitch": pitch},
         "slm": {"resolution": [m, m], "pitch": pitch, "mode": "phase", "bit_depth": bit_depth},
         "camera": {"shape": [n, n], "pixel_pitch": pitch, "bit_depth": None, "gain": 1e-3, "full_well": 1e12,
                    "noise": bool(noise)},
         "layout": {"n_channels": int(out_channels), "tile_shape": [tile, tile]}}
    return json.loads(json.dumps(SystemConfig.from_dict(d).to_dict()))  # validated, complete, JSON-ready


class HardwareFrontend(nn.Module):
    """Simulated hardware 4f front end (camera frames (N, Cout, th, tw) in ADU).

    Parameters
    ----------
    in_channels, image_size : int, int or (H, W)
        Input images (N, Cin, H, W) in [0, 1], shown on the display.
    channels : int or sequence of int
        Output channels (the last entry counts; the camera tiles).
    kernel_sizes : int or sequence of int
        Kernel size (pixels) of the random compact kernels the SLM starts from
        (the largest entry), and of the tile margin of :func:`default_system`.
    system : dict, optional
        SystemConfig dict (``SystemConfig.to_dict()`` form); default
        :func:`default_system`. Its layout must have ``channels`` tiles.
    quantize, surrogate, temperature, noise, seed :
        As :class:`optics4f.torch.layers.Hardware4fConv`.
    pool, pool_kind, padded_size :
        Accepted for the same signature as the ideal stack; a Fourier iris is
        the system's ``fourier_aperture`` and the grid its own, so these must
        stay at their defaults.
    readout : "tiles" or "image"
        "tiles": the camera tiles as they fall (the 4f system images x to -x,
        and a tile holds the full (image + kernel - 1) convolution);
        "image": each tile read out flipped back about the optical axis and
        cropped to the image's own (H, W) window, registered pixel for pixel
        with the input (what a per-pixel task such as segmentation needs;
        cameras do the flip in their readout). Needs f1 = f2 and the camera
        pitch equal to the display pitch.
    """

    detects = True

    def __init__(self, in_channels: int = 1, image_size=28, channels=(8,), kernel_sizes=5, system: dict | None = None,
                 quantize: bool = True, surrogate: str = "ste", temperature: float = 0.5, noise=None, seed=None,
                 pool=None, pool_kind: str = "rect", padded_size=None, readout: str = "tiles"):
        super().__init__()
        if readout not in ("tiles", "image"):
            raise ValueError(f"readout must be 'tiles' or 'image', got {readout!r}")
        self.readout = readout
        from optics4f.system import SystemConfig
        from optics4f.torch.layers import Hardware4fConv

        if pool not in (None, 1) or padded_size is not None:
            raise ValueError("the hardware front end takes its Fourier grid and iris from `system` "
                             "(grid_shape, pad, fourier_aperture); leave pool and padded_size unset")
        cout = int(channels if isinstance(channels, int) else list(channels)[-1])
        k = int(kernel_sizes if isinstance(kernel_sizes, int) else max(kernel_sizes))
        self.image_size = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
        self.system = system if system is not None else default_system(self.image_size, cout, k)
        cfg = SystemConfig.from_dict(self.system)
        if tuple(cfg.display.resolution) != self.image_size:
            raise ValueError(f"system display resolution {tuple(cfg.display.resolution)} must equal image_size "
                             f"{self.image_size}; resize the images or change system['display']['resolution']")
        n_tiles = 1 if cfg.layout is None else cfg.layout.n_channels
        if n_tiles != cout:
            raise ValueError(f"system layout has {n_tiles} output channels, the student asks for {cout}; "
                             f"set system['layout']['n_channels'] = {cout}")
        # A user's system with marginal sampling warns here (SamplingWarning); default_system does not.
        self.layer = Hardware4fConv(cfg, in_channels=in_channels, quantize=quantize, surrogate=surrogate,
                                    temperature=temperature, noise=noise, seed=seed, kernel_size=k)
        self.in_channels, self.out_channels = int(in_channels), cout
        if readout == "image":
            th, tw = self.layer.tile_shape
            h, w = self.image_size
            # Inversion about the tile's centre pixel (even tiles) maps tile index j to th - j; the image
            # pixel q sits at th//2 - h//2 + q before inversion, hence at th//2 - h//2 - 1 + q after the
            # flip j -> th - 1 - j (tested against the ideal student, even and odd images).
            oy, ox = th // 2 - h // 2 - 1, tw // 2 - w // 2 - 1
            if (cfg.f1 != cfg.f2 or cfg.camera.pixel_pitch != cfg.display.pitch or th % 2 or tw % 2
                    or min(oy, ox) < 0 or oy + h > th or ox + w > tw):
                raise ValueError("readout='image' needs f1 == f2, camera pixel_pitch == display pitch and even "
                                 f"tiles larger than the image; got f1={cfg.f1}, f2={cfg.f2}, camera pitch "
                                 f"{cfg.camera.pixel_pitch}, display pitch {cfg.display.pitch}, tiles {(th, tw)}, "
                                 f"image {(h, w)}")
            self._crop = (oy, ox)

    def set_masks(self, masks):
        """Start the SLM from wanted complex Fourier masks (Cout, Cin, My, Mx) (e.g. an ideal student's
        collapsed masks on the same Fourier grid)."""
        self.layer.set_masks(masks)
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        frames = self.layer(x)
        if self.readout == "tiles":
            return frames
        (oy, ox), (h, w) = self._crop, self.image_size
        return frames.flip(-2, -1)[..., oy:oy + h, ox:ox + w]

    def extra_repr(self):
        g = self.layer.hw.geometry
        return (f"{self.in_channels}, {self.out_channels}, image={self.image_size}, fourier={g.padded_shape}, "
                f"slm={self.layer.config.slm.mode}/{self.layer.config.slm.bit_depth} bit")
