"""No import circles between the files of irkit/, function-level and type-only imports included.

Every ``import`` statement at any depth of every file under irkit/ is an edge from
that module to the module it names (relative imports resolved; ``from pkg import
sub`` names the submodule ``sub``). A strongly connected component of two or more
modules is a circle. A package's ``__init__`` running before its submodules is
Python's rule, not an import a file wrote, so it is not an edge.
"""

import ast
from pathlib import Path

import irkit


def _modules(root: Path, package: str) -> dict[str, tuple[Path, bool]]:
    out = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        out[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return out


def import_graph(root: Path, package: str) -> dict[str, dict[str, str]]:
    """``{module: {imported module: "file:line"}}`` for the modules of ``package`` under ``root``."""
    modules = _modules(root, package)

    def known(name: str) -> str | None:
        while name and name not in modules:  # `import irkit.a.b.func`-like names: the longest module
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, dict[str, str]] = {m: {} for m in modules}
    for module, (path, is_package) in modules.items():
        here = module if is_package else module.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                targets = [known(a.name) for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = here.split(".")[: len(here.split(".")) - node.level + 1]
                    name = ".".join([*base, node.module] if node.module else base)
                else:
                    name = node.module or ""
                # `from pkg import sub` imports the submodule; `from mod import name` the module
                targets = [
                    known(f"{name}.{a.name}") if f"{name}.{a.name}" in modules else known(name) for a in node.names
                ]
            else:
                continue
            for target in targets:
                if target and target != module and target.split(".")[0] == package:
                    graph[module].setdefault(target, f"{path.relative_to(root)}:{node.lineno}")
    return graph


def circles(graph: dict[str, dict[str, str]]) -> list[list[str]]:
    """The strongly connected components of two or more modules (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(graph[start]))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, edges = work[-1]
            for nxt in edges:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(graph[nxt])))
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return found


def _describe(component: list[str], graph: dict[str, dict[str, str]]) -> str:
    edges = [f"{a} -> {b} ({graph[a][b]})" for a in component for b in graph[a] if b in component]
    return " <-> ".join(component) + ":\n    " + "\n    ".join(edges)


def test_no_import_circle_under_irkit():
    root = Path(irkit.__file__).resolve().parent.parent
    graph = import_graph(root, "irkit")
    assert len(graph) > 50 and graph["irkit.parse"]  # the walk found irkit and its imports
    bad = circles(graph)
    assert not bad, "import circles between files:\n" + "\n".join(_describe(c, graph) for c in bad)


def test_the_checker_sees_function_level_relative_and_type_only_imports(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("from pkg.a import f\n")
    (pkg / "a.py").write_text("def f():\n    from .sub import b\n    return b\n")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "b.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..a import f\n")
    (pkg / "c.py").write_text("import pkg.sub.b\nfrom pkg import d\n")
    (pkg / "d.py").write_text("from pkg.c import x\n")
    graph = import_graph(tmp_path, "pkg")
    assert graph["pkg.a"] == {"pkg.sub.b": "pkg/a.py:2"}
    assert graph["pkg.sub.b"] == {"pkg.a": "pkg/sub/b.py:3"}
    assert graph["pkg.c"] == {"pkg.sub.b": "pkg/c.py:1", "pkg.d": "pkg/c.py:2"}
    assert sorted(circles(graph)) == [["pkg.a", "pkg.sub.b"], ["pkg.c", "pkg.d"]]
    assert "pkg.a -> pkg.sub.b (pkg/a.py:2)" in _describe(["pkg.a", "pkg.sub.b"], graph)
