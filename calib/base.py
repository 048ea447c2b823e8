"""The calibration object every routine returns: values with units, optional truth, HDF5 files.

A :class:`Calibration` holds what a routine measured (``values``: floats or
NumPy arrays, each with a unit in ``units``), optionally the injected truth of
a simulated bench (``truth``, same keys, for the example scripts), and free
``metadata`` (wavelength, probe settings, software used). Each kind of
calibration is a subclass with its own ``kind`` name that overrides
:meth:`Calibration.apply_to_slm` / :meth:`Calibration.apply_to_config` to
return corrected device objects (the base methods change nothing).

File layout (HDF5, written atomically through :mod:`optics4f.io`)::

    /                   format="optics4f", format_version, software_version, NX_class="NXroot"
    /calibration        NX_class="NXcollection", kind, calibration_version
    /calibration/values     one dataset per value, attribute ``units``
    /calibration/truth      optional, same layout
    /calibration/uncertainty  one-sigma uncertainty of the measured values (same names and units)
    /calibration/bench      the bench it was measured on (wavelength, SLM, camera, geometry;
                            :mod:`calib.benchinfo`)
    /calibration/metadata   optional: nested groups of numbers, strings and arrays

:func:`load` (or :meth:`Calibration.load`) returns the registered subclass of
the file's kind (the base class for unknown kinds, so files stay readable).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from optics4f.io.atomic import atomic_path
from optics4f.io.hdf5 import FORMAT_NAME, as_str, read_tree, write_root, write_tree
from optics4f.system.calibration import apply_calibrations

__all__ = ["Calibration", "load", "register", "KINDS", "CALIBRATION_VERSION", "apply_all"]

#: Version of the /calibration layout; bump the major number on incompatible changes.
CALIBRATION_VERSION = "1.0"

#: kind name -> Calibration subclass (filled by subclassing).
KINDS: dict = {}


def register(cls):
    """Record a Calibration subclass under its ``kind`` default (done automatically on subclassing)."""
    kind = cls.__dict__.get("kind")
    if isinstance(kind, str) and kind:
        KINDS[kind] = cls
    return cls


def _clean(value, where):
    """Float for scalars, float64/complex/int arrays kept, strings kept; anything else refused."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, float, np.integer, np.floating)):
        return float(value)
    if isinstance(value, str):
        return value
    a = np.asarray(value)
    if a.dtype.kind not in "biufc":
        raise TypeError(f"{where} must be a number, a string or a numeric array, got {type(value).__name__}")
    return a.copy()


@dataclass(eq=False)
class Calibration:
    """Result of a calibration routine.

    Attributes
    ----------
    kind : str
        Name of the calibration ("lut", "registration", ...); by default the subclass's ``kind``
        class attribute (subclasses declare ``kind: str = "name"``), "generic" for the base class.
    values : dict
        Measured quantities: name -> float or NumPy array.
    units : dict
        name -> unit string ("rad", "m", "px", "1", ...) for every entry of ``values``.
    truth : dict or None
        Injected true values of a simulated bench (same names), for comparison.
    metadata : dict
        Free settings of the measurement (numbers, strings, arrays, nested dicts).
    uncertainty : dict
        One-sigma uncertainty of measured values (same names and units as ``values``; floats or arrays).
    bench : dict
        The bench the frames came from (:func:`calib.benchinfo.describe_bench`): wavelength (m), SLM,
        camera and geometry; empty when unknown. :meth:`check_bench` compares it with another bench.
    """

    kind: str | None = None  # None: the subclass's ``kind`` class attribute ("generic" for the base)
    values: dict = field(default_factory=dict)
    units: dict = field(default_factory=dict)
    truth: dict | None = None
    metadata: dict = field(default_factory=dict)
    uncertainty: dict = field(default_factory=dict)
    bench: dict = field(default_factory=dict)

    #: Bench keys (or prefixes, calib.benchinfo) the calibration depends on; empty: the whole bench.
    bench_scope = ()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        register(cls)

    def __post_init__(self):
        if self.kind is None:
            self.kind = type(self).kind or "generic"
        if not isinstance(self.kind, str) or not self.kind.isidentifier():
            raise ValueError(f"kind must be an identifier such as 'lut', got {self.kind!r}")
        if not isinstance(self.values, dict):
            raise TypeError(f"values must be a dict of name -> number/array, got {type(self.values).__name__}")
        self.values = {str(k): _clean(v, f"values[{k!r}]") for k, v in self.values.items()}
        missing = sorted(set(self.values) - set(self.units))
        if missing:
            raise ValueError(f"units are missing for {missing}; give a unit string for every value "
                             "('1' for dimensionless)")
        self.units = {str(k): str(v) for k, v in self.units.items()}
        if self.truth is not None:
            self.truth = {str(k): _clean(v, f"truth[{k!r}]") for k, v in self.truth.items()}
        self.metadata = dict(self.metadata or {})
        self.uncertainty = {str(k): _clean(v, f"uncertainty[{k!r}]") for k, v in (self.uncertainty or {}).items()}
        unknown = sorted(set(self.uncertainty) - set(self.values))
        if unknown:
            raise ValueError(f"uncertainty given for {unknown}, which are not values ({sorted(self.values)})")
        self.bench = dict(self.bench or {})

    # -- access ------------------------------------------------------------------------------
    def __getitem__(self, name):
        try:
            return self.values[name]
        except KeyError:
            raise KeyError(f"{self.kind} calibration has no value {name!r}; it has {sorted(self.values)}") from None

    def errors(self) -> dict:
        """name -> (true, recovered, recovered - true) for every value that has a truth (scalars and arrays)."""
        out = {}
        for k, t in (self.truth or {}).items():
            if k in self.values and not isinstance(t, str):
                r = self.values[k]
                out[k] = (t, r, np.asarray(r) - np.asarray(t) if isinstance(r, np.ndarray) else r - t)
        return out

    def check_bench(self, config, what: str = "this bench") -> list:
        """Differences (list of str) between the bench recorded in this calibration and ``config``
        (a SystemConfig); each is also issued as a :class:`calib.benchinfo.BenchMismatchWarning`."""
        from .benchinfo import warn_mismatch

        return warn_mismatch(self, config, what)

    # -- apply (overridden per kind) --------------------------------------------------------------
    def apply_to_slm(self, slm):
        """A corrected copy of ``slm`` (optics4f.devices.SLM); the base class changes nothing."""
        return slm

    def apply_to_config(self, config):
        """A corrected copy of ``config`` (optics4f.system.SystemConfig): by default its SLM
        goes through :meth:`apply_to_slm`."""
        new = self.apply_to_slm(config.slm)
        return config if new is config.slm else config.replace(slm=new)

    # -- files -------------------------------------------------------------------------------------
    def save(self, path, overwrite: bool = False) -> Path:
        """Write the calibration to an HDF5 file (atomic; an existing file only with ``overwrite``)."""
        import h5py

        with atomic_path(path, overwrite=overwrite) as tmp:
            with h5py.File(tmp, "w") as f:
                write_root(f)
                g = f.create_group("calibration")
                g.attrs["NX_class"] = "NXcollection"
                g.attrs["kind"] = self.kind
                g.attrs["calibration_version"] = CALIBRATION_VERSION
                units = dict(self.units)
                write_tree(g.create_group("values"), self.values, units)
                if self.truth is not None:
                    write_tree(g.create_group("truth"), self.truth, units)
                if self.uncertainty:
                    write_tree(g.create_group("uncertainty"), self.uncertainty, units)
                if self.bench:
                    write_tree(g.create_group("bench"), self.bench)
                if self.metadata:
                    write_tree(g.create_group("metadata"), self.metadata)
        return Path(path)

    @classmethod
    def load(cls, path) -> "Calibration":
        """Read a calibration file; returns the registered subclass of its kind."""
        return load(path)

    def replace(self, **changes) -> "Calibration":
        return dataclasses.replace(self, **changes)


def load(path) -> Calibration:
    """Read a file written by :meth:`Calibration.save` (clear errors for other files)."""
    import h5py

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such calibration file: {str(path)!r}")
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise ValueError(f"{str(path)!r} is not a readable HDF5 file ({e})") from None
    with f:
        if as_str(f.attrs.get("format", "")) != FORMAT_NAME or "calibration" not in f:
            raise ValueError(f"{str(path)!r} is not an optics4f calibration file (no /calibration group)")
        g = f["calibration"]
        ver = as_str(g.attrs.get("calibration_version", ""))
        if ver.split(".")[0] != CALIBRATION_VERSION.split(".")[0]:
            raise ValueError(f"{str(path)!r} has calibration_version {ver!r}; this calib reads "
                             f"{CALIBRATION_VERSION}.x")
        kind = as_str(g.attrs["kind"])
        values = read_tree(g["values"])
        units = {k: as_str(d.attrs.get("units", "1")) for k, d in g["values"].items()}
        truth = read_tree(g["truth"]) if "truth" in g else None
        metadata = read_tree(g["metadata"]) if "metadata" in g else {}
        uncertainty = read_tree(g["uncertainty"]) if "uncertainty" in g else {}
        bench = read_tree(g["bench"]) if "bench" in g else {}
    cls = KINDS.get(kind, Calibration)
    return cls(kind=kind, values=values, units=units, truth=truth, metadata=metadata, uncertainty=uncertainty,
               bench=bench)


def apply_all(config, calibrations, check_bench: bool = True):
    """Apply several calibrations in order to a SystemConfig; returns the corrected copy.

    With ``check_bench``, a calibration measured on a different bench (wavelength, SLM, camera,
    geometry) warns, naming the differences (:meth:`Calibration.check_bench`). The same as
    :func:`optics4f.system.calibration.apply_calibrations`, which ``nets`` uses."""
    return apply_calibrations(config, calibrations, check_bench)
