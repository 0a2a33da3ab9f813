"""What the desktop application does once, off the GUI thread, when it opens a database: bring the
schema up to date (refusing one made by a newer version), resolve who is working, and tell whether the
database holds any institution yet (an empty embedded store is offered the demo data)."""

from __future__ import annotations

import importlib.util
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cohortdesk.services.access.identity import Identity, resolve_identity

if TYPE_CHECKING:
    from cohortdesk.db import Database


@dataclass(frozen=True)
class StartupInfo:
    identity: Identity
    empty: bool  # no institution yet
    embedded: bool  # the database is a local SQLite file
    schema_revision: str | None
    install_mode: str
    database: str  # what the status bar names: the profile or server/database, never a URL or file path


def open_database(db: Database) -> StartupInfo:
    # Imported here: the window is built, and the first queue page of the embedded store shown, before
    # SQLAlchemy and the ORM load (this runs on the database thread).
    from sqlalchemy import select

    from cohortdesk.db import migrate
    from cohortdesk.models import Institution

    status = migrate.ensure_schema(db)
    with db.read_session() as s:
        empty = s.scalar(select(Institution.id).limit(1)) is None
    return StartupInfo(
        identity=resolve_identity(db),
        empty=empty,
        embedded=db.is_sqlite,
        schema_revision=status.current,
        install_mode=status.mode,
        database=db.short_name(),
    )


def demo_available() -> bool:
    """Whether this build has the demo data loader, without importing it (it is large: start-up)."""
    return importlib.util.find_spec("cohortdesk.services.demo") is not None


def demo_loader() -> Callable[..., Any] | None:
    """``services.demo.load_demo`` when this build has it, else ``None``."""
    try:
        from cohortdesk.services import demo
    except ImportError:
        return None
    return getattr(demo, "load_demo", None)


def load_demo_data(
    db: Database,
    students: int = 200,
    *,
    progress: Callable[[int, int, str], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> StartupInfo:
    """Load the demo data (passing progress on when the loader reports it), then re-read the start info."""
    loader = demo_loader()
    if loader is None:
        from cohortdesk.errors import CohortDeskError

        raise CohortDeskError("This build of CohortDesk has no demo data.")
    accepted = inspect.signature(loader).parameters
    kwargs: dict[str, Any] = {"students": students}
    if progress is not None and "progress" in accepted:
        kwargs["progress"] = progress
    if cancelled is not None and "cancelled" in accepted:
        kwargs["cancelled"] = cancelled
    loader(db, **kwargs)
    return open_database(db)
