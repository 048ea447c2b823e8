"""The import layers and the privacy of names, checked on the source (docs/architecture.md#layers).

Every import statement of every module of ``optics4f``, ``nets`` and ``calib`` is read from its
syntax tree, function-local imports included, so a cycle cannot hide inside a function.

* Layers: a module may import its own layer and the layers below it, never one above. Groups that
  share a layer (``nets | calib``) are independent: neither imports the other.
* Private names: ``from X import _name`` and ``X._name`` refer to a name private to module ``X``;
  only ``X`` itself uses it. A private *module* (``propagation/_transfer.py``) is a module of its
  package: its public names may be imported from inside that package.
* ``import optics4f`` loads the core only (the subpackages load on first use) and needs no torch.
"""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("optics4f", "nets", "calib")

#: The layer map, lowest first: each layer is a list of independent groups; a group is a list of
#: module-name prefixes. A module belongs to the group of its longest matching prefix. This table
#: is the contract that docs/architecture.md#layers describes.
LAYERS = [
    [["optics4f.backend", "optics4f._version"]],
    [["optics4f.grid", "optics4f.fft", "optics4f.propagation", "optics4f.lens", "optics4f.pupil",
      "optics4f.kernels", "optics4f.padding", "optics4f.sampling", "optics4f.zernike", "optics4f.validate",
      "optics4f.operator", "optics4f.ops", "optics4f.fourf"]],
    [["optics4f.devices"]],
    [["optics4f.io"]],
    [["optics4f.system"]],
    [["optics4f.torch"], ["optics4f.demo"]],
    [["nets"], ["calib"]],
    # The application layer: the command-line functions that wire a student (nets) to the
    # calibration routines (calib). Only these modules may import both.
    [["nets.cli", "nets.calibrate"]],
]

#: The package facade: ``optics4f/__init__.py`` imports the core eagerly and the subpackages lazily
#: (PEP 562 ``__getattr__``); ``test_import_optics4f_loads_only_the_core`` checks what it loads.
FACADES = {"optics4f"}

#: Modules that may import torch: the torch bridge and everything above optics4f.
TORCH_OK = ("optics4f.torch", "nets")

#: TEMPORARY allow-list, to be emptied by the lead once the fft package (issue 17, optics4f/fft/)
#: is merged: private names of the FFT engine still used across modules. Each entry:
#: (importing module, "module._name").
FFT_ALLOWED = {
}


# -- reading the sources ---------------------------------------------------------------------------
def _modules():
    """{module name: path} for every .py file of the packages."""
    out = {}
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = path
    return out


MODULES = _modules()


def _is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def _resolve(module: str, level: int, target: str | None) -> str:
    """Absolute name of a (possibly relative) ``from`` import in ``module``."""
    if level == 0:
        return target or ""
    base = module.split(".")
    if not _is_package(module):
        base = base[:-1]
    base = base[:len(base) - (level - 1)]
    return ".".join(base + ([target] if target else []))


def _imports(name: str):
    """(line, imported module, imported names or None) for every import statement of module ``name``."""
    tree = ast.parse(MODULES[name].read_text(), str(MODULES[name]))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield node.lineno, a.name, None
        elif isinstance(node, ast.ImportFrom):
            mod = _resolve(name, node.level, node.module)
            names = [a.name for a in node.names]
            # ``from pkg import sub``: the submodule is what is imported
            subs = [n for n in names if f"{mod}.{n}" in MODULES]
            for n in subs:
                yield node.lineno, f"{mod}.{n}", None
            rest = [n for n in names if n not in subs]
            if rest:
                yield node.lineno, mod, rest


def _layer(module: str):
    """(layer index, group index) of a module of the packages, or None for third-party modules."""
    best = None
    for li, layer in enumerate(LAYERS):
        for gi, group in enumerate(layer):
            for prefix in group:
                if module == prefix or module.startswith(prefix + "."):
                    if best is None or len(prefix) > best[2]:
                        best = (li, gi, len(prefix))
    return None if best is None else best[:2]


# -- the layers ------------------------------------------------------------------------------------
def test_every_module_has_a_layer():
    missing = [m for m in MODULES if m not in FACADES and m not in PACKAGES and _layer(m) is None]
    assert not missing, f"modules outside the layer map (add them to LAYERS): {missing}"


def _layer_violations():
    core = (1, 0)  # ``import optics4f``: the facade's eager imports are the core
    bad = []
    for name in MODULES:
        if name in FACADES:
            continue
        own = _layer(name)
        for line, target, _ in _imports(name):
            top = target.split(".")[0]
            if top == "torch" and not name.startswith(TORCH_OK):
                bad.append(f"{name}:{line} imports torch (only {', '.join(TORCH_OK)} may)")
            if top not in PACKAGES:
                continue
            other = core if target in FACADES else _layer(target)
            if other[0] > own[0] or (other[0] == own[0] and other[1] != own[1]):
                bad.append(f"{name}:{line} imports {target} {_where(other)} from {_where(own)}")
    return bad


def _where(layer) -> str:
    li, gi = layer
    return f"(layer {li}: {' | '.join(g[0] for g in LAYERS[li])} -> {LAYERS[li][gi][0]})"


def test_imports_point_down_the_layers():
    bad = _layer_violations()
    assert not bad, "imports against the layers (docs/architecture.md#layers):\n" + "\n".join(bad)


def test_import_optics4f_loads_only_the_core():
    code = ("import sys; sys.modules['torch'] = None; import optics4f; "
            "loaded = sorted(m for m in sys.modules if m.split('.')[:2] and m.startswith('optics4f.') "
            "and m.split('.')[1] in ('system', 'devices', 'io', 'torch', 'demo')); "
            "assert not loaded, loaded; "
            "from optics4f import system, devices, io; "
            "assert optics4f.system is system and optics4f.devices.SLM and optics4f.io.atomic_path; "
            "assert 'optics4f.system' in sys.modules")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_unknown_attribute_of_optics4f_is_an_attribute_error():
    import optics4f

    with pytest.raises(AttributeError, match="no_such_thing"):
        optics4f.no_such_thing  # noqa: B018


# -- private names ---------------------------------------------------------------------------------
def _private_module_outside(importer: str, target: str) -> bool:
    """True when ``target`` is (inside) a private module ``pkg._mod`` and ``importer`` is not in ``pkg``."""
    parts = target.split(".")
    for i, p in enumerate(parts):
        if p.startswith("_") and not p.startswith("__"):
            pkg = ".".join(parts[:i])
            return not (importer == pkg or importer.startswith(pkg + "."))
    return False


def _private_uses():
    """(importing module, line, "module._name") for every private name used outside its module."""
    out = []
    for name in MODULES:
        tree = ast.parse(MODULES[name].read_text())
        aliases = {}  # local name -> module it refers to
        for line, target, names in _imports(name):
            if target.split(".")[0] not in PACKAGES:
                continue
            if _private_module_outside(name, target):
                out.append((name, line, target))
            if names is None:
                aliases.setdefault(target.split(".")[-1], target)
                continue
            for n in names:
                if n.startswith("_") and not n.startswith("__") and target != name:
                    out.append((name, line, f"{target}.{n}"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for a in node.names:
                    if a.name.split(".")[0] in PACKAGES:
                        aliases[a.asname or a.name] = a.name
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
                dotted = _dotted(node.value)
                if dotted is not None and dotted.split(".")[0] in aliases:
                    head, *tail = dotted.split(".")
                    target = ".".join([aliases[head], *tail])
                    if target in MODULES and target != name:
                        out.append((name, node.lineno, f"{target}.{node.attr}"))
    return out


def _dotted(node):
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    return ".".join([node.id, *reversed(parts)])


def test_no_private_name_is_used_outside_its_module():
    bad = [f"{m}:{line} uses {what}" for m, line, what in _private_uses() if (m, what) not in FFT_ALLOWED]
    assert not bad, "private names used outside their module (make them public or move the code):\n" + \
        "\n".join(bad)


def test_fft_allow_list_is_current():
    used = {(m, what) for m, _, what in _private_uses()}
    stale = sorted(set(FFT_ALLOWED) - used)
    assert not stale, f"FFT_ALLOWED entries no longer used (remove them): {stale}"
