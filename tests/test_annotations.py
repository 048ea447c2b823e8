"""Every public function and method of optics4f is fully annotated (each parameter and the return).

Public means: a module of the ``optics4f`` package with no ``_``-prefixed part in its dotted name;
in it, the names in ``__all__``, its module-level functions without a leading ``_``, and the
public classes' methods (``__init__`` and ``__call__`` included), those inherited from optics4f classes too.
"""
from __future__ import annotations

import importlib
import inspect
import pkgutil

import optics4f

# Public modules left out of the walk (module names; a package covers its submodules): none.
NOT_YET_ANNOTATED: tuple = ()


def _excluded(module_name: str) -> bool:
    return any(module_name == m or module_name.startswith(m + ".") for m in NOT_YET_ANNOTATED)


def _public_modules() -> list:
    names = ["optics4f"] + [m.name for m in pkgutil.walk_packages(optics4f.__path__, "optics4f.")]
    return [importlib.import_module(n) for n in names
            if not any(part.startswith("_") for part in n.split(".")) and not _excluded(n)]


def _function(obj):
    """The plain function behind ``obj`` (unwrapping static/class methods, properties, numba), or None."""
    if isinstance(obj, (staticmethod, classmethod)):
        obj = obj.__func__
    if isinstance(obj, property):
        obj = obj.fget
    obj = getattr(obj, "py_func", obj)  # a numba dispatcher
    return obj if inspect.isfunction(obj) else None


def _public_objects(module) -> list:
    names = set(getattr(module, "__all__", ()))
    names |= {n for n, v in vars(module).items()
              if not n.startswith("_") and (inspect.isfunction(v) or inspect.isclass(v))
              and getattr(v, "__module__", None) == module.__name__}
    return [getattr(module, n) for n in sorted(names)]


def _callables() -> dict:
    """{qualified name: function} over the public API, each object once, skipping excluded modules."""
    found = {}
    for module in _public_modules():
        for obj in _public_objects(module):
            home = getattr(obj, "__module__", "") or ""
            if not home.startswith("optics4f") or _excluded(home):
                continue
            if inspect.isclass(obj):  # its methods and those it inherits from optics4f classes
                for cls in inspect.getmro(obj):
                    if not cls.__module__.startswith("optics4f") or _excluded(cls.__module__):
                        continue
                    for name, member in vars(cls).items():
                        fn = _function(member)
                        if fn is None or not (getattr(fn, "__module__", "") or "").startswith("optics4f"):
                            continue  # e.g. the __init__ typing.Protocol puts on a protocol class
                        if not name.startswith("_") or name in ("__init__", "__call__"):
                            found[f"{cls.__module__}.{cls.__qualname__}.{name}"] = (fn, True)
            elif (fn := _function(obj)) is not None:
                found[f"{home}.{fn.__qualname__}"] = (fn, False)
    return found


def _missing(fn, is_method: bool) -> list:
    sig = inspect.signature(fn)
    params = list(sig.parameters.values())
    if is_method and params and params[0].name in ("self", "cls"):
        params = params[1:]
    gaps = [p.name for p in params if p.annotation is inspect.Parameter.empty]
    if sig.return_annotation is inspect.Signature.empty:
        gaps.append("return")
    return gaps


def test_public_api_is_walked():
    """The walk reaches the core, devices, system, io and torch bridge (a check of the test itself)."""
    names = _callables()
    for expected in ("optics4f.grid.Grid.__init__", "optics4f.devices.slm.SLM.gray_to_phase",
                     "optics4f.system.hardware4f.Hardware4f.forward", "optics4f.io.atomic.atomic_write",
                     "optics4f.torch.layers.SpectralConv4f.forward", "optics4f.padding.pad_center"):
        assert expected in names, expected
    assert len(names) > 200


def test_every_public_function_is_annotated():
    """Lists every public function or method with an unannotated parameter or return."""
    gaps = {name: m for name, (fn, is_method) in _callables().items() if (m := _missing(fn, is_method))}
    report = "\n".join(f"{name}: {', '.join(m)}" for name, m in sorted(gaps.items()))
    assert not gaps, f"{len(gaps)} public functions lack annotations (parameter names, 'return'):\n{report}"
