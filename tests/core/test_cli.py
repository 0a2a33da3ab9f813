"""The ``cohortdesk`` command: ``db upgrade|current|downgrade`` and ``demo``, on both backends."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, inspect, select

from cohortdesk.cli import main
from cohortdesk.db import Database, migrate
from cohortdesk.models import CohortEnrollment


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)])
def url(request: pytest.FixtureRequest, cohortdesk_home: Path) -> str:
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url")
    return request.getfixturevalue("pg_url").render_as_string(hide_password=False)


def test_db_upgrade_current_downgrade(url: str, capsys: pytest.CaptureFixture[str]):
    assert main(["--url", url, "db", "upgrade"]) == 0
    assert "standalone mode, up to date" in capsys.readouterr().out
    assert main(["--url", url, "db", "current"]) == 0
    assert f"revision {migrate.head_revision()}" in capsys.readouterr().out
    assert main(["--url", url, "db", "downgrade"]) == 0
    assert "revision (none)" in capsys.readouterr().out
    db = Database(url)
    try:
        assert set(inspect(db.engine).get_table_names()) <= {migrate.VERSION_TABLE}
    finally:
        db.dispose()


def test_shared_options_may_follow_the_command(url: str, capsys: pytest.CaptureFixture[str]):
    assert main(["db", "upgrade", "--url", url, "-v"]) == 0
    assert "standalone mode, up to date" in capsys.readouterr().out
    # Given on both sides, the one after the command wins (as the last of a repeated option does).
    assert main(["--url", "sqlite:///never/opened.sqlite3", "db", "current", "--verbose", "--url", url]) == 0
    assert f"revision {migrate.head_revision()}" in capsys.readouterr().out
    assert main(["db", "current", "--profile", "Head office"]) == 2
    assert "no saved connection called 'Head office'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["db", "current", "--url", url, "--no-such-option"])
    assert "unrecognized arguments: --no-such-option" in capsys.readouterr().err


def test_demo_command_loads_once(url: str, cohortdesk_home: Path, capsys: pytest.CaptureFixture[str]):
    assert main(["--url", url, "demo", "--students", "50"]) == 0  # migrates an empty database first
    out = capsys.readouterr().out
    assert "50 enrollments" in out and str(cohortdesk_home) in out
    assert list((cohortdesk_home / "data" / "storage" / "attachments").rglob("*"))
    assert main(["--url", url, "demo", "--students", "50"]) == 2
    assert "already holds the demo data" in capsys.readouterr().err
    db = Database(url)
    try:
        with db.read_session() as s:
            assert s.scalar(select(func.count()).select_from(CohortEnrollment)) == 50
    finally:
        db.dispose()
    assert main(["--url", url, "db", "downgrade"]) == 0  # a demo database downgrades cleanly too


def test_demo_refuses_a_bad_count(url: str, capsys: pytest.CaptureFixture[str]):
    assert main(["--url", url, "demo", "--students", "0"]) == 2
    assert "students" in capsys.readouterr().err
