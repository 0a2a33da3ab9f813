"""Engines, unit-of-work sessions, the Alembic runner and the GUI-thread SQL guard (no Qt).

The names below load ``db.engine`` (and SQLAlchemy) when first asked for, so ``cohortdesk.db.migrate``'s
constants and ``db.deferred`` are at hand before SQLAlchemy loads.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cohortdesk.db.engine import Database, create_db_engine, default_url, normalise_url

__all__ = ["Database", "create_db_engine", "default_url", "normalise_url"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from cohortdesk.db import engine

        return getattr(engine, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
