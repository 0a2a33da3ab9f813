"""The layers hold, read from the code's own imports: the core (models, db, services and the plain
modules beside them) never reaches Qt, the views never reach SQLAlchemy or the ORM (through any
module of theirs or a plain helper; they call the services, which may use it), the enums load without
the ORM, the window's modules load without SQLAlchemy, and no two modules import each other in a loop."""

from __future__ import annotations

import ast
import subprocess
import sys
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "cohortdesk"
#: The core the views call (through the background runner): what lies behind it may use SQLAlchemy.
CORE_API = ("cohortdesk.services", "cohortdesk.db")


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES: dict[str, Path] = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def _resolve(module: str | None, level: int, importer: str) -> str:
    if level == 0:
        return module or ""
    base = importer.split(".")
    base = base[: len(base) - level + (1 if _is_package(importer) else 0)]
    return ".".join([*base, module] if module else base)


def _targets(node: ast.Import | ast.ImportFrom, importer: str) -> list[str]:
    """The modules an import statement loads (``from pkg import mod`` loads ``pkg.mod``)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    source = _resolve(node.module, node.level, importer)
    found = [f"{source}.{alias.name}" for alias in node.names if f"{source}.{alias.name}" in MODULES]
    return found if len(found) == len(node.names) else [source, *found]


def _type_checking_only(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


@cache
def imports(name: str, *, top_level: bool = False) -> frozenset[str]:
    """What module ``name`` imports: everywhere (what running it may load), or only at module level
    outside ``if TYPE_CHECKING:`` (what importing it loads at once)."""
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    found: set[str] = set()

    def visit(nodes: list[ast.stmt]) -> None:
        for node in nodes:
            if isinstance(node, ast.Import | ast.ImportFrom):
                found.update(_targets(node, name))
            elif isinstance(node, ast.If):
                if not _type_checking_only(node):
                    visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body)
                for handler in node.handlers:
                    visit(handler.body)
                visit(node.orelse)
                visit(node.finalbody)
            elif not top_level:
                for child in ast.iter_child_nodes(node):
                    if isinstance(child, ast.stmt):
                        visit([child])
                    else:
                        visit([n for n in ast.walk(child) if isinstance(n, ast.Import | ast.ImportFrom)])

    visit(tree.body)
    return frozenset(found)


def _reach(start: str, stop_at: tuple[str, ...] = ()) -> dict[str, str]:
    """Every module ``start`` may load, each with the module that imports it (for the message)."""
    seen: dict[str, str] = {}
    todo = [start]
    while todo:
        current = todo.pop()
        for target in imports(current):
            if target in seen:
                continue
            seen[target] = current
            internal = target in MODULES
            if internal and not target.startswith(stop_at):
                todo.append(target)
    return seen


def _chain(seen: dict[str, str], start: str, end: str) -> str:
    path = [end]
    while path[-1] != start:
        path.append(seen[path[-1]])
    return " -> ".join(reversed(path))


def _first_offence(start: str, forbidden: tuple[str, ...], stop_at: tuple[str, ...] = ()) -> str | None:
    seen = _reach(start, stop_at)
    for target in sorted(seen):
        if target == forbidden or target.startswith(forbidden):
            return _chain(seen, start, target)
    return None


def test_the_core_never_reaches_qt():
    core = [
        name
        for name in MODULES
        if not name.startswith(("cohortdesk.views", "cohortdesk.cli", "cohortdesk.__main__"))
        and name != "cohortdesk"
    ]
    offences = [o for name in core if (o := _first_offence(name, ("PySide6",)))]
    assert offences == []


def test_the_views_never_reach_sqlalchemy_or_the_orm():
    views = [name for name in MODULES if name.startswith("cohortdesk.views")]
    forbidden = ("sqlalchemy", "cohortdesk.models")
    offences = [o for name in views if (o := _first_offence(name, forbidden, stop_at=CORE_API))]
    assert offences == []


def test_the_enums_load_without_the_orm():
    code = "import sys, cohortdesk.enums; print(sorted(m for m in sys.modules if m.startswith(('sqlalchemy', 'PySide6'))))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_window_loads_without_sqlalchemy():
    """The embedded store's first queue page is painted before SQLAlchemy and the ORM load (they are
    half of a cold start): the window's modules reach the services through ``lazy.lazy_module``."""
    code = (
        "import sys, cohortdesk.views.app, cohortdesk.services.review.first_page; "
        "print(sorted(m for m in sys.modules if m.startswith(('sqlalchemy', 'cohortdesk.models', 'psycopg', 'alembic'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def _cycles() -> list[list[str]]:
    """Strongly connected groups of modules (Tarjan) over module-level imports inside the package."""
    graph = {name: sorted(t for t in imports(name, top_level=True) if t in MODULES) for name in MODULES}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    counter = 0

    def connect(node: str) -> None:
        nonlocal counter
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in index:
                connect(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1 or node in graph[node]:
                groups.append(sorted(group))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for name in graph:
        if name not in index:
            connect(name)
    return groups


def test_no_import_cycle():
    assert _cycles() == []
