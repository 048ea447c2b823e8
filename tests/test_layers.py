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
    [["optics4f.backend", "optics4f._version", "optics4f.typing"]],
    # the core; atomic file writes are a utility of every layer (the FFT wisdom file), kept in io
    [["optics4f.grid", "optics4f.fft", "optics4f.propagation", "optics4f.lens", "optics4f.pupil",
      "optics4f.kernels", "optics4f.padding", "optics4f.sampling", "optics4f.zernike", "optics4f.validate",
      "optics4f.operator", "optics4f.fourf", "optics4f.io.atomic"]],
    # the devices and the array ops their pixel formulas and the system's stages run on
    [["optics4f.devices", "optics4f.ops"]],
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

#: Private names allowed across modules, each entry (importing module, "module._name"): none. The
#: stale-entry check keeps the set from outliving its reason.
ALLOWED_PRIVATE: set = set()


# -- reading the sources ---------------------------------------------------------------------------
def _modules(root: Path = ROOT) -> dict:
    """{module name: path} for every .py file of the packages under ``root``."""
    out = {}
    for pkg in PACKAGES:
        for path in sorted((root / pkg).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = path
    return out


MODULES = _modules()


def _resolve(modules: dict, module: str, level: int, target: str | None) -> str:
    """Absolute name of a (possibly relative) ``from`` import in ``module``."""
    if level == 0:
        return target or ""
    base = module.split(".")
    if modules[module].name != "__init__.py":
        base = base[:-1]
    base = base[:len(base) - (level - 1)]
    return ".".join(base + ([target] if target else []))


def _imports(modules: dict, name: str):
    """(line, imported module, imported names or None) for every import statement of module ``name``,
    function-local ones included. ``from pkg import sub`` of a submodule yields the submodule."""
    tree = ast.parse(modules[name].read_text(), str(modules[name]))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield node.lineno, a.name, None
        elif isinstance(node, ast.ImportFrom):
            mod = _resolve(modules, name, node.level, node.module)
            names = [a.name for a in node.names]
            subs = [n for n in names if f"{mod}.{n}" in modules]
            for n in subs:
                yield node.lineno, f"{mod}.{n}", None
            rest = [n for n in names if n not in subs]
            if rest:
                yield node.lineno, mod, rest


def _layer(module: str):
    """(layer index, group index) of a module of the packages (longest matching prefix), or None."""
    best = None
    for li, layer in enumerate(LAYERS):
        for gi, group in enumerate(layer):
            for prefix in group:
                if (module == prefix or module.startswith(prefix + ".")) and (best is None or len(prefix) > best[2]):
                    best = (li, gi, len(prefix))
    return None if best is None else best[:2]


def _where(layer) -> str:
    li, gi = layer
    return f"[layer {li} ({' | '.join(g[0] for g in LAYERS[li])}), group {LAYERS[li][gi][0]}]"


def layer_violations(modules: dict = MODULES) -> list:
    """Every import (module level or function-local) that points up the layers or across groups."""
    core = (1, 0)  # ``import optics4f``: what the facade loads eagerly is the core
    bad = []
    for name in modules:
        if name in FACADES:
            continue
        own = _layer(name)
        for line, target, _ in _imports(modules, name):
            top = target.split(".")[0]
            if top == "torch" and not name.startswith(TORCH_OK):
                bad.append(f"{name}:{line} imports torch (only {', '.join(TORCH_OK)} may)")
            if top not in PACKAGES:
                continue
            other = core if target in FACADES else _layer(target)
            if other[0] > own[0] or (other[0] == own[0] and other[1] != own[1]):
                bad.append(f"{name}:{line} imports {target} {_where(other)} from {_where(own)}")
    return bad


# -- private names -------------------------------------------------------------------------------
def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _private_module_outside(importer: str, target: str) -> bool:
    """True when ``target`` is (inside) a private module ``pkg._mod`` and ``importer`` is not in ``pkg``."""
    parts = target.split(".")
    for i, p in enumerate(parts):
        if _private(p):
            pkg = ".".join(parts[:i])
            return not (importer == pkg or importer.startswith(pkg + "."))
    return False


def _dotted(node):
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    return ".".join([node.id, *reversed(parts)]) if isinstance(node, ast.Name) else None


def private_uses(modules: dict = MODULES) -> list:
    """(module, line, "owner.name") for every private name (or private module) used outside its owner:
    ``from X import _name``, ``X._name`` on an imported module, or a private module imported from
    outside its package."""
    out = []
    for name in modules:
        aliases = {}  # local name -> module it stands for
        for line, target, names in _imports(modules, name):
            if target.split(".")[0] not in PACKAGES:
                continue
            if _private_module_outside(name, target):
                out.append((name, line, target))
            if names is None:
                aliases.setdefault(target.split(".")[-1], target)
            else:
                out += [(name, line, f"{target}.{n}") for n in names if _private(n) and target != name]
        tree = ast.parse(modules[name].read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for a in node.names:
                    if a.name.split(".")[0] in PACKAGES:
                        aliases[a.asname or a.name] = a.name
            elif isinstance(node, ast.Attribute) and _private(node.attr):
                dotted = _dotted(node.value)
                if dotted is not None and dotted.split(".")[0] in aliases:
                    head, *tail = dotted.split(".")
                    target = ".".join([aliases[head], *tail])
                    if target in modules and target != name:
                        out.append((name, node.lineno, f"{target}.{node.attr}"))
    return out


# -- the contract ----------------------------------------------------------------------------------
def test_every_module_has_a_layer():
    missing = [m for m in MODULES if m not in FACADES and _layer(m) is None]
    assert not missing, f"modules outside the layer map (add them to LAYERS): {missing}"


def test_imports_point_down_the_layers():
    bad = layer_violations()
    assert not bad, "imports against the layers (docs/architecture.md#layers):\n" + "\n".join(bad)


def test_no_private_name_is_used_outside_its_module():
    bad = [f"{m}:{line} uses {what}" for m, line, what in private_uses() if (m, what) not in ALLOWED_PRIVATE]
    assert not bad, "private names used outside their module (make them public or move the code):\n" + \
        "\n".join(bad)


def test_fft_allow_list_is_current():
    used = {(m, what) for m, _, what in private_uses()}
    stale = sorted(set(ALLOWED_PRIVATE) - used)
    assert not stale, f"ALLOWED_PRIVATE entries no longer used (remove them): {stale}"


def test_import_optics4f_loads_only_the_core():
    """In a fresh interpreter without torch: ``import optics4f`` loads no subpackage; they load on use."""
    code = ("import sys; sys.modules['torch'] = None; import optics4f; "
            "late = ('devices', 'io', 'system', 'torch', 'demo', 'ops'); "
            "loaded = sorted(m for m in sys.modules if m.startswith('optics4f.') and m.split('.')[1] in late); "
            "assert not loaded, loaded; "
            "from optics4f import system, devices, io; "
            "assert optics4f.system is system and 'optics4f.system' in sys.modules; "
            "assert optics4f.devices.SLM and optics4f.io.atomic_path and 'devices' in dir(optics4f)")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_an_unknown_attribute_of_optics4f_is_an_attribute_error():
    import optics4f

    with pytest.raises(AttributeError, match="no_such_thing"):
        optics4f.no_such_thing  # noqa: B018


# -- the checks catch what they should -------------------------------------------------------------
def _tree(tmp_path, files: dict) -> dict:
    for rel, text in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    for pkg in PACKAGES:
        (tmp_path / pkg).mkdir(exist_ok=True)
        (tmp_path / pkg / "__init__.py").touch()
    return _modules(tmp_path)


def test_the_layer_check_finds_upward_sideways_and_hidden_imports(tmp_path):
    mods = _tree(tmp_path, {
        "optics4f/grid.py": "def f():\n    from .system import config\n",       # core -> system, in a function
        "optics4f/system/__init__.py": "",
        "optics4f/system/config.py": "from ..io.atomic import atomic_path\nfrom ..devices import slm\n",  # down: ok
        "optics4f/io/__init__.py": "", "optics4f/io/atomic.py": "", "optics4f/devices/__init__.py": "",
        "optics4f/devices/slm.py": "import torch\n",                            # torch below the bridge
        "nets/train.py": "from calib.base import load\n",                       # nets -> calib
        "nets/cli.py": "from calib.base import load\nfrom nets import train\n",  # the app layer: ok
        "calib/base.py": "import optics4f\nfrom optics4f.system import config\n",  # down: ok
    })
    bad = layer_violations(mods)
    assert any(b.startswith("optics4f.grid:2 imports optics4f.system.config") for b in bad)
    assert any(b.startswith("optics4f.devices.slm:1 imports torch") for b in bad)
    assert any(b.startswith("nets.train:1 imports calib.base") for b in bad)
    assert len(bad) == 3, bad


def test_the_privacy_check_finds_private_names_and_modules(tmp_path):
    mods = _tree(tmp_path, {
        "optics4f/propagation/__init__.py": "from ._transfer import transfer\n",  # public name, own package: ok
        "optics4f/propagation/_transfer.py": "def transfer(): pass\ndef _helper(): pass\n",
        "optics4f/torch/__init__.py": "",
        "optics4f/torch/x.py": "from ..propagation._transfer import transfer\n",  # private module, other package
        "nets/inference/__init__.py": "",
        "nets/inference/simulate.py": "def _dataset(): pass\n_dataset()\n",    # its own: ok
        "nets/inference/calibrated.py": "from .simulate import _dataset\n",
        "nets/tolerance.py": "import nets.inference.simulate as sim\nsim._dataset()\n"
                             "from nets.inference import simulate\nsimulate._dataset()\n",
    })
    found = sorted((m, what) for m, _, what in private_uses(mods))
    assert found == [("nets.inference.calibrated", "nets.inference.simulate._dataset"),
                     ("nets.tolerance", "nets.inference.simulate._dataset"),
                     ("nets.tolerance", "nets.inference.simulate._dataset"),
                     ("optics4f.torch.x", "optics4f.propagation._transfer")], found
