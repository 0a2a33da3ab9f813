"""Engines, unit-of-work sessions, the Alembic runner and the GUI-thread SQL guard (no Qt)."""

from cohortdesk.db.engine import Database, create_db_engine, default_url, normalise_url

__all__ = ["Database", "create_db_engine", "default_url", "normalise_url"]
