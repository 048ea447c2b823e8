"""The hardware 4f system: configuration, misalignments, multi-channel layout and the simulator.

* :class:`SystemConfig` (:mod:`.config`): serialisable settings (TOML, HDF5) and sampling checks.
* :mod:`.files`: HDF5 files of configurations, fields and masks (:func:`save_config`, :func:`save_field`).
* :class:`Misalignment` (:mod:`.misalignment`): SLM shift/rotation/tilt, defocus, input tilt.
* :class:`TiledLayout` (:mod:`.layout`): output channels tiled on the camera.
* :class:`Hardware4f` (:mod:`.hardware4f`): display -> 4f -> misaligned SLM -> camera.
* :mod:`.stages`: the hardware pass as stage objects, shared with the torch layer;
  :class:`~.slm_sampler.SLMSampler`: the mask at the SLM pixel centres (with its adjoint).
"""
from .config import Geometry, SystemConfig
from .files import FieldFile, load_config, load_field, save_config, save_field, save_mask
from .hardware4f import Hardware4f
from .layout import TiledLayout
from .misalignment import Misalignment, rotate_mask

__all__ = ["SystemConfig", "Geometry", "Hardware4f", "TiledLayout", "Misalignment", "rotate_mask",
           "FieldFile", "load_config", "load_field", "save_config", "save_field", "save_mask"]
