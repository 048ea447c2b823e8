"""File mechanics: atomic writes (:mod:`.atomic`), the optics4f HDF5 header and settings trees
(:mod:`.hdf5`), vendor formats (:mod:`.vendor`).

The io layer sits below ``optics4f.system`` and never imports it: the files that hold a system
configuration (TOML, HDF5 configurations, field and mask files) are :mod:`optics4f.system.files`
and :meth:`optics4f.system.SystemConfig.save_toml` (docs/architecture.md#layers).
"""
from .atomic import atomic_dir, atomic_open, atomic_path, atomic_write
from .hdf5 import FORMAT_NAME, FORMAT_VERSION, read_tree, write_tree

__all__ = ["atomic_dir", "atomic_open", "atomic_path", "atomic_write", "FORMAT_NAME", "FORMAT_VERSION",
           "read_tree", "write_tree"]
