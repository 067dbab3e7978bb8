"""The layout ARCHITECTURE.md promises, checked on the code: no import cycles (imports
inside functions count, ``TYPE_CHECKING`` ones do not), the facade above its parts, each
third-party library imported from one home, few plain modules at the top, short modules."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "gitreg"

# library -> the only modules (or packages, ending in "/") that may import it
HOMES = {
    "yaml": ["files/yamlio.py"],
    "jsonschema": ["files/schema.py"],
    "fsspec": ["store/"],
    "s3fs": ["store/"],
    "git": ["repo/git.py"],
    "click": ["cli/"],
    "mlflow": ["mlflow/"],
    "markdown_it": ["site/"],
    "sqlite3": ["query/"],
    "urllib3": ["promotion/forges/http.py"],
    "tqdm": ["cli/progress.py"],
}
# packages below the facade: none may import gitreg.registry, the faces or each other upward
BELOW_REGISTRY = ["layout", "errors", "manifest", "config", "dates", "secrets", "model_uris",
                  "files", "repo", "store", "query", "trail", "promotion"]  # fmt: skip
FACES = ("gitreg.registry", "gitreg.cli", "gitreg.site", "gitreg.mlflow", "gitreg.serving")


def modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def imports(module: str, path: Path) -> set[str]:
    """Every module ``module`` imports at run time, inside functions too."""
    tree = ast.parse(path.read_text())
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip |= {id(n) for child in node.body for n in ast.walk(child)}
    found = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names}
    return found


def graph() -> dict[str, set[str]]:
    mods = modules()
    return {m: {i for i in imports(m, p) if i in mods and i != m} for m, p in mods.items()}


def test_no_import_cycles() -> None:
    edges = graph()
    # A package's __init__ importing its own modules is how a package exposes them.
    for m in edges:
        edges[m] = {i for i in edges[m] if not i.startswith(m + ".")}
    done: set[str] = set()
    stack: list[str] = []

    def visit(m: str) -> None:
        if m in stack:
            cycle = [*stack[stack.index(m) :], m]
            pytest.fail("import cycle: " + " -> ".join(cycle))
        if m in done:
            return
        stack.append(m)
        for i in sorted(edges[m]):
            visit(i)
        stack.pop()
        done.add(m)

    for m in sorted(edges):
        visit(m)


def test_parts_below_the_facade_never_import_it() -> None:
    bad = []
    for m, deps in graph().items():
        part = m.split(".")[1] if "." in m else ""
        if part in BELOW_REGISTRY:
            bad += [f"{m} imports {d}" for d in deps if d.startswith(FACES)]
    assert not bad, "\n".join(bad)


def test_each_library_has_one_home() -> None:
    bad = []
    for m, path in modules().items():
        rel = path.relative_to(PACKAGE).as_posix()
        for lib, homes in HOMES.items():
            imported = {i.split(".")[0] for i in imports(m, path)}
            if lib in imported and not any(rel == h or rel.startswith(h) for h in homes):
                bad.append(f"{rel} imports {lib} (its home: {', '.join(homes)})")
    assert not bad, "\n".join(bad)


def test_few_plain_modules_and_none_too_long() -> None:
    top = [p.name for p in PACKAGE.glob("*.py")]
    assert len(top) <= 10, f"{len(top)} plain modules directly in gitreg/: {top}"
    long = [
        f"{p.relative_to(PACKAGE)}: {n} lines"
        for p in PACKAGE.rglob("*.py")
        if (n := len(p.read_text().splitlines())) > 450
    ]
    assert not long, "\n".join(long)


DATA = {"layout", "errors", "manifest", "config", "dates", "model_uris", "secrets"}
ALLOWED = {  # part -> the parts it may import (besides itself and the data modules)
    "files": set(),
    "store": set(),
    "repo": {"files"},
    "query": {"files", "repo"},
    "trail": {"files", "repo"},
    "promotion": {"files", "repo", "store", "query", "trail"},
    "registry": {"files", "repo", "store", "query", "trail", "promotion"},
}


def part(module: str) -> str:
    name = module.split(".")[1] if "." in module else ""
    return "data" if name in DATA else name


def test_layers_point_down() -> None:
    bad = []
    for m, deps in graph().items():
        mine = part(m)
        if mine == "data":
            bad += [f"{m} imports {d}" for d in deps if part(d) not in ("data", "")]
        elif mine in ALLOWED:
            allowed = ALLOWED[mine] | {mine, "data", ""}
            bad += [f"{m} imports {d}" for d in deps if part(d) not in allowed]
    assert not bad, "\n".join(bad)
