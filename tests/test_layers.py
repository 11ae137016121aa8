"""Layers only point down: training -> package core <- sdk; export -> training. The torch-free
package (python/bharnet) never imports bharnet.training or bharnet.export, and the import graph
of the project's Python has no circle. Read from the source (every import, also the lazy ones
inside functions) and checked by importing every module with the torch side made unimportable."""
import ast
import pathlib
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parents[1]
# installed package name -> source tree (pyproject.toml's wheel.packages)
TREES = {"bharnet": REPO / "python/bharnet", "bharnet.training": REPO / "training",
         "bharnet.export": REPO / "export"}
# the torch custom ops are the one torch-using part of the package (training and export use them)
TORCH_OPS = "bharnet.ops"
# the packages of optional extras ([ros], [video], [trt]): a module may need one at import
OPTIONAL = ("rclpy", "rcl_interfaces", "diagnostic_msgs", "sensor_msgs", "std_msgs", "mediapipe",
            "cv2", "tensorrt", "cuda")


def _modules() -> dict[str, pathlib.Path]:
    out = {}
    for pkg, root in TREES.items():
        for f in root.rglob("*.py"):
            rel = f.relative_to(root).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            name = ".".join([pkg, *parts]) if parts else pkg
            if pkg == "bharnet" and (name.startswith("bharnet.training") or name.startswith("bharnet.export")):
                continue
            out[name] = f
    return out


def _imports(name: str, path: pathlib.Path) -> set[str]:
    """Every module `path` imports, absolute, lazy imports included."""
    is_pkg = path.name == "__init__.py"
    base = name.split(".") if is_pkg else name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                mod = ".".join(base[:len(base) - node.level + 1] + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            found.add(mod)
            found.update(f"{mod}.{a.name}" for a in node.names)   # `from pkg import module`
    return found


def _graph() -> dict[str, set[str]]:
    mods = _modules()
    return {m: {i for i in _imports(m, p) if i in mods and i != m} for m, p in mods.items()}


def test_core_package_never_imports_training_or_export():
    bad = {m: sorted(i for i in deps if i.startswith(("bharnet.training", "bharnet.export")))
           for m, deps in _graph().items() if not m.startswith(("bharnet.training", "bharnet.export"))}
    assert not {m: d for m, d in bad.items() if d}


def test_import_graph_has_no_circle():
    g = _graph()
    index, low, stack, on, circles = {}, {}, [], set(), []

    def visit(v):   # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in g[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                circles.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in g:
        if v not in index:
            visit(v)
    # a package's __init__ re-exporting its own modules is not a circle between layers
    real = [c for c in circles if len({m.rsplit(".", 1)[0] for m in c} | {c[0]}) > 1
            and not all(m.startswith(c[0]) for m in c)]
    assert not real, real


def test_every_core_module_imports_without_the_torch_side():
    """In a fresh interpreter where torch, onnx, bharnet.training and bharnet.export cannot be
    imported, every module of the torch-free package imports (optional extras stay lazy)."""
    # (__main__ modules are scripts: importing one runs it)
    mods = sorted(m for m in _modules() if not m.startswith(("bharnet.training", "bharnet.export",
                                                              TORCH_OPS)) and not m.endswith("__main__"))
    code = ("import sys, importlib\n"
            "for blocked in ('torch', 'onnx', 'onnxscript', 'bharnet.training', 'bharnet.export'):\n"
            "    sys.modules[blocked] = None\n"
            f"for m in {mods!r}:\n"
            "    try:\n"
            "        importlib.import_module(m)\n"
            "    except ModuleNotFoundError as e:\n"
            f"        if (e.name or '').split('.')[0] not in {OPTIONAL!r}:\n"
            "            raise\n"
            "leaked = [m for m in ('torch', 'onnx') if sys.modules.get(m) is not None]\n"
            "assert not leaked, leaked\n"
            "print(len(" + repr(mods) + "))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-3000:]
    assert int(out.stdout.strip()) == len(mods) > 40
