"""SLM export: a trained student's collapsed Fourier masks as the frames an SLM displays.

* :mod:`.masks`    masks -> panel-resolution complex targets by the 4f geometry, encodings, frames
* :mod:`.formats`  PNG/BMP 8/16-bit, Santec CSV, two-column LUT files, DMD 1-bit BMP and RGB packing
* :mod:`.sidecar`  the HDF5 sidecar and the JSON manifest (sha256 checksums)
* :mod:`.bundle`   an export folder: ``write_export`` (atomic) and ``read_export`` -> :class:`ExportBundle`
* :mod:`.model`    ``export_model``: a saved student (ideal or hardware) -> an export folder (``optics4f export``)
* :mod:`.inspect`  what a frame, sidecar or export folder holds (``optics4f inspect``)

Importing this package does not import torch (only :func:`export_model` does, to load the model).
"""
from .bundle import ExportBundle, read_export, write_export
from .formats import FORMATS, read_frame, write_frame
from .masks import encode_frames, panel_mask
from .model import export_hardware, export_masks, export_model, export_system

__all__ = ["ExportBundle", "read_export", "write_export", "FORMATS", "read_frame", "write_frame", "encode_frames",
           "panel_mask", "export_masks", "export_model", "export_system", "export_hardware"]
