"""The package's layers import one way only, and no modules import each other in a cycle.

Every import in scribe/ is read as text (including imports inside functions and under
``TYPE_CHECKING``): a module may import its own layer and the layers below it, never one
above. ``LAYERS`` is the order, bottom first (docs/layout.md draws it); a new top-level
module or folder must be placed in it.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "scribe"

LAYERS: tuple[tuple[str, ...], ...] = (
    ("_warnings", "_version"),
    ("data", "datasets", "metrics"),
    ("likelihoods", "parameterizations", "latent_priors"),
    ("guides", "encoders"),
    ("decoders",),
    ("model",),
    ("config",),
    ("build",),
    ("inference",),
    ("results",),
    # analysis that reads results only
    ("de", "compare", "viz"),
    ("api",),
    ("cli",),
    ("",),  # scribe/__init__.py: the public surface
)
RANK = {layer: rank for rank, layers in enumerate(LAYERS) for layer in layers}


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def import_graph(root: Path) -> dict[str, set[str]]:
    """Each module of the package at ``root`` -> the package's modules it imports (an
    import of a package counts as one of its ``__init__``; a package's ``__init__``
    re-exporting its own children is not an edge)."""
    files = [p for p in root.rglob("*.py") if "__pycache__" not in p.parts]
    known = {module_name(root, p) for p in files}
    graph = {}
    for path in files:
        name = module_name(root, path)
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    stem = ".".join(base + ([node.module] if node.module else []))
                else:
                    stem = node.module or ""
                targets.add(stem)
                targets.update(f"{stem}.{alias.name}" for alias in node.names)
        resolved = set()
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name and not target.startswith(name + "."):
                resolved.add(target)
        graph[name] = resolved
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def layer_of(module: str) -> str:
    """``scribe.results._persist`` -> ``results``; the root package -> ``""``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def upward_imports(graph: dict[str, set[str]], rank: dict[str, int]) -> list[str]:
    """``importer -> imported`` for every import of a higher layer, or of a layer
    missing from ``rank``."""
    problems = []
    for importer, imported in sorted(graph.items()):
        for target in sorted(imported):
            low, high = layer_of(importer), layer_of(target)
            for layer in (low, high):
                if layer not in rank:
                    problems.append(f"{importer}: layer {layer!r} is not in LAYERS")
            if low in rank and high in rank and low != high and rank[high] > rank[low]:
                problems.append(f"{importer} -> {target} ({low!r} imports the higher {high!r})")
    return sorted(set(problems))


def test_scribe_has_no_import_cycles():
    assert cycles(import_graph(PACKAGE)) == []


def test_every_import_goes_down_the_layers():
    assert upward_imports(import_graph(PACKAGE), RANK) == []


def test_the_checks_find_a_cycle_and_an_upward_import(tmp_path):
    """On a small package with both defects, both checks report them."""
    root = tmp_path / "pkg"
    (root / "low").mkdir(parents=True)
    (root / "high").mkdir()
    (root / "__init__.py").write_text("")
    (root / "low" / "__init__.py").write_text("from ._a import f\n")
    (root / "low" / "_a.py").write_text("def f():\n    from ..high._b import g\n")
    (root / "high" / "__init__.py").write_text("from ._b import g\n")
    (root / "high" / "_b.py").write_text("from ..low._a import f\n\ndef g(): ...\n")
    graph = import_graph(root)
    assert cycles(graph) == [["pkg.high._b", "pkg.low._a"]]
    problems = upward_imports(graph, {"low": 0, "high": 1, "": 2})
    assert problems == ["pkg.low._a -> pkg.high._b ('low' imports the higher 'high')"]
    assert upward_imports(graph, {"high": 1, "": 2})[0].endswith("'low' is not in LAYERS")


@pytest.mark.parametrize("layer", sorted(p.name for p in PACKAGE.iterdir() if p.is_dir()))
def test_every_folder_is_a_placed_layer(layer):
    if layer == "__pycache__":
        pytest.skip("not a module")
    assert layer in RANK, f"scribe/{layer}/ is not placed in LAYERS"
