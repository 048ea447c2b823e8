"""Files a user keeps: atomic writes and HDF5 fields, masks and configurations."""
from .atomic import atomic_open, atomic_path
from .hdf5 import FORMAT_VERSION, FieldFile, load_config, load_field, save_config, save_field, save_mask

__all__ = ["atomic_open", "atomic_path", "FORMAT_VERSION", "FieldFile", "load_config", "load_field",
           "save_config", "save_field", "save_mask"]
