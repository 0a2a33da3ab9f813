"""The core (models, db, services) never imports Qt; the views never import SQLAlchemy."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "cohortdesk"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def _offenders(folder: str, forbidden: str) -> list[str]:
    return [
        str(path.relative_to(PACKAGE))
        for path in sorted((PACKAGE / folder).rglob("*.py"))
        if forbidden in _imports(path)
    ]


def test_core_has_no_qt():
    for folder in ("models", "db", "services"):
        assert _offenders(folder, "PySide6") == [], f"{folder}/ imports PySide6"


def test_views_have_no_sqlalchemy():
    assert _offenders("views", "sqlalchemy") == []
