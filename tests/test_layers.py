"""The house rules: packages by layer, imports running one way, no circles.

The import graph is read from the source with `ast` (imports inside functions
count too: a lazy import is still a dependency).  Each module belongs to a floor;
a module may import from its own floor or any floor below, never above, and the
graph of modules has no cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "gradcli"

#: floors from the top down; a module matches the longest prefix listed
FLOORS: list[list[str]] = [
    ["gradcli", "gradcli.__main__", "gradcli.api", "gradcli.testing"],  # the faces
    ["gradcli.cli"],
    ["gradcli.output"],
    ["gradcli.run.pipeline"],  # runs a request through teach/ and oracles/ into a report
    ["gradcli.teach"],
    ["gradcli.oracles"],
    ["gradcli.run"],
    ["gradcli.language"],
    ["gradcli.core.engine"],
    ["gradcli.backends"],
    ["gradcli.core.graph", "gradcli.core.shapes"],
    # tensor_kernels is a leaf (NumPy only, nothing of gradcli): the rules evaluate with it
    ["gradcli._version", "gradcli.backends.tensor_kernels", "gradcli.core.ops", "gradcli.core.rules", "gradcli.core.errors", "gradcli.core.fmt", "gradcli.core.elements", "gradcli.core"],
]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def floor_of(module: str) -> int:
    best, floor = -1, None
    for i, prefixes in enumerate(FLOORS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
                best, floor = len(prefix), i
    assert floor is not None, f"{module} is on no floor: add it to FLOORS"
    return floor


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports_of(module: str, path: Path, known: set[str]) -> set[str]:
    """The gradcli modules that `module` imports (relative imports resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "gradcli")
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "gradcli":
                continue
            for alias in node.names:  # `from . import budget` imports a module
                sub = f"{target}.{alias.name}"
                found.add(sub if sub in known else target)
    found.discard(module)
    return {m for m in found if m in known}


def graph() -> dict[str, set[str]]:
    mods = modules()
    return {m: imports_of(m, p, set(mods)) for m, p in mods.items()}


def test_every_module_has_a_floor():
    for m in modules():
        floor_of(m)


def test_imports_never_climb():
    climbs = [
        f"{m} (floor {floor_of(m)}) imports {t} (floor {floor_of(t)})"
        for m, targets in graph().items()
        for t in sorted(targets)
        if floor_of(t) < floor_of(m)
    ]
    assert climbs == []


def test_no_import_cycles():
    g = graph()
    # iterative DFS with colours: report the first cycle found
    colour = {m: 0 for m in g}
    for start in sorted(g):
        if colour[start]:
            continue
        stack = [(start, iter(sorted(g[start])))]
        path = [start]
        colour[start] = 1
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                colour[node] = 2
                stack.pop()
                path.pop()
                continue
            if colour[nxt] == 1:
                cycle = path[path.index(nxt):] + [nxt]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if colour[nxt] == 0:
                colour[nxt] = 1
                stack.append((nxt, iter(sorted(g[nxt]))))
                path.append(nxt)


def test_every_package_says_what_it_is():
    for init in PACKAGE.rglob("__init__.py"):
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8")))
        assert doc and len(doc) > 40, f"{init} needs a docstring saying what the package holds"


def unnamed_modules(package: Path) -> list[str]:
    """The modules and subpackages of `package` its docstring does not name (`name` or `pkg.name`)."""
    doc = ast.get_docstring(ast.parse((package / "__init__.py").read_text(encoding="utf-8"))) or ""
    dotted = module_name(package / "__init__.py")
    names = [p.stem for p in package.glob("*.py") if p.stem != "__init__"]
    names += [p.name for p in package.iterdir() if (p / "__init__.py").exists()]
    return sorted(n for n in names if f"`{n}`" not in doc and f"`{dotted}.{n}`" not in doc)


def test_every_module_is_named_in_its_package_docstring():
    """A newcomer reads the package's docstring and finds every room in it."""
    missing = {module_name(init): unnamed_modules(init.parent) for init in PACKAGE.rglob("__init__.py")}
    assert {package: names for package, names in missing.items() if names} == {}


def test_the_docstring_check_sees_an_unnamed_module(tmp_path):
    package = tmp_path / "gradcli" / "core"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text('"""The ground floor: `ops` and nothing else."""\n')
    (package / "ops.py").write_text("")
    (package / "graph.py").write_text("")
    global PACKAGE
    saved, PACKAGE = PACKAGE, tmp_path / "gradcli"
    try:
        assert unnamed_modules(package) == ["graph"]
    finally:
        PACKAGE = saved


def test_the_checker_sees_a_climb(tmp_path):
    """The rule can fail: a module of the core that imports the CLI is caught."""
    fake = tmp_path / "gradcli" / "core"
    fake.mkdir(parents=True)
    src = fake / "ops.py"
    src.write_text("from ..cli import app\nfrom . import graph\n")
    known = {"gradcli.cli.app", "gradcli.cli", "gradcli.core.graph", "gradcli.core.ops"}
    global PACKAGE
    saved, PACKAGE = PACKAGE, tmp_path / "gradcli"
    try:
        found = imports_of("gradcli.core.ops", src, known)
    finally:
        PACKAGE = saved
    assert found == {"gradcli.cli.app", "gradcli.core.graph"}
    assert floor_of("gradcli.cli.app") < floor_of("gradcli.core.ops")
