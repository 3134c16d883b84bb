"""The project's modules import each other without a circle, counting imports inside functions.

Read from the source with ast (nothing is imported): every `import` / `from ... import` anywhere in
a module counts, except those under `if TYPE_CHECKING:`, which never run (annotations only).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("training", "explorer")


def module_files() -> dict[str, Path]:
    """Dotted module name -> file, for app.py and every module of the project's packages."""
    files = {"app": ROOT / "app.py"}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            files[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return files


def _type_checking_only(node: ast.AST) -> bool:
    test = node.test if isinstance(node, ast.If) else None
    return (
        isinstance(test, ast.Name)
        and test.id == "TYPE_CHECKING"
        or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")
    )


def _imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement in the tree, at any depth, outside `if TYPE_CHECKING:` bodies."""
    found, todo = [], [tree]
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        for child in ast.iter_child_nodes(node):
            if _type_checking_only(node) and child in node.body:
                continue
            todo.append(child)
    return found


def import_graph(files: dict[str, Path]) -> dict[str, set[str]]:
    """Module -> the project modules it imports (a `from package import module` names the module)."""
    graph = {}
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets = set()
        for node in _imports(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets |= {a.name for a in node.names}
                continue
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            targets |= {source} | {f"{source}.{a.name}" for a in node.names}
        graph[name] = {t for t in targets if t in files and t != name}
    return graph


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for w in graph[todo.pop()] - seen:
            seen.add(w)
            todo.append(w)
    return seen


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Modules that import themselves through others, grouped: each group sorted, groups sorted."""
    reach = {v: reachable(graph, v) for v in graph}
    groups = {tuple(sorted(w for w in reach[v] if v in reach[w])) for v in graph if v in reach[v]}
    return sorted(list(g) for g in groups)


def test_the_graph_sees_imports_inside_functions_and_skips_type_checking(tmp_path, monkeypatch):
    (tmp_path / "training").mkdir()
    (tmp_path / "training" / "__init__.py").write_text("")
    (tmp_path / "training" / "a.py").write_text("def f():\n    from .b import g\n")
    (tmp_path / "training" / "b.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from . import c\n"
    )
    (tmp_path / "training" / "c.py").write_text("from training import a\n")
    files = {f"training.{n}": tmp_path / "training" / f"{n}.py" for n in "abc"}
    graph = import_graph(files)
    assert graph == {"training.a": {"training.b"}, "training.b": set(), "training.c": {"training.a"}}
    graph["training.b"].add("training.c")  # as if the import ran
    assert cycles(graph) == [["training.a", "training.b", "training.c"]]


def test_no_import_circle_among_the_project_modules():
    files = module_files()
    graph = import_graph(files)
    assert len(graph) > 40 and graph["training.limits"], "the graph should see the project"
    assert cycles(graph) == []
