"""Every package scribe imports is declared in pyproject.toml, so that a fresh install
has it (a package that arrives only as another's dependency can disappear)."""

import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def imported_roots(package: Path) -> set[str]:
    """Top-level names of the modules imported anywhere in ``package``."""
    roots = set()
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                roots.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                roots.add(node.module.split(".")[0])
    return roots - set(sys.stdlib_module_names) - {package.name}


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_every_imported_package_is_a_declared_dependency():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {_normalized(re.split(r"[<>=!~\[; ]", d)[0]) for d in project["dependencies"]}
    distributions = importlib.metadata.packages_distributions()
    missing = {}
    for root in sorted(imported_roots(ROOT / "scribe")):
        names = {_normalized(d) for d in distributions.get(root, [root])}
        if not names & declared:
            missing[root] = sorted(names)
    assert missing == {}, f"imported but not in [project] dependencies: {missing}"
