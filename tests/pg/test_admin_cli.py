"""``cohortdesk admin``: add, list, re-role and remove a login from the command line (real PostgreSQL)."""

from __future__ import annotations

import io
import uuid

import psycopg
import pytest

from cohortdesk.cli import main
from cohortdesk.db import Database
from cohortdesk.services.configuration import edits as ce
from tests import factories
from tests.pg.security_fixtures import drop_roles

pytestmark = pytest.mark.pg


@pytest.fixture
def login_names():
    names: list[str] = []
    yield names
    drop_roles(names)


def test_admin_commands_round_trip(pg_db: Database, migrated_pg_url, login_names, monkeypatch, capsys):
    account = factories.account(pg_db)
    ce.create_institution(pg_db, ce.NewInstitution(account_id=account, name="Acme Training"))
    login = f"cdt_cli_{uuid.uuid4().hex[:10]}"
    login_names.append(login)
    url = migrated_pg_url.render_as_string(hide_password=False)

    monkeypatch.setattr("sys.stdin", io.StringIO("correct horse battery\n"))
    assert (
        main(
            [
                "--url",
                url,
                "admin",
                "add-user",
                login,
                "--role",
                "officer",
                "--email",
                "Thandi@Example.co.za",
                "--create-user",
                "--first-name",
                "Thandi",
                "--last-name",
                "Nkosi",
                "--password-stdin",
            ]
        )
        == 0
    )
    assert f"Added {login} (officer) for Thandi Nkosi." in capsys.readouterr().out

    assert (
        main(["--url", url, "admin", "set-role", login, "report_viewer", "--capability", "special_pi"]) == 0
    )
    assert main(["--url", url, "admin", "list-users"]) == 0
    listing = capsys.readouterr().out
    assert login in listing and "report_viewer" in listing and "special_pi" in listing

    # The password works (scram over 127.0.0.1 trusts anyway; the verifier is what was stored).
    with psycopg.connect(host="127.0.0.1", dbname=migrated_pg_url.database, user="postgres") as conn:
        stored = conn.execute("SELECT rolpassword FROM pg_authid WHERE rolname = %s", (login,)).fetchone()[0]
    assert stored.startswith("SCRAM-SHA-256$")

    assert main(["--url", url, "admin", "remove-user", login]) == 0
    assert "everything Thandi Nkosi recorded is kept" in capsys.readouterr().out
    assert main(["--url", url, "admin", "list-users", "--active-only"]) == 0
    assert login not in capsys.readouterr().out


def test_a_password_is_never_an_argument(pg_db: Database, migrated_pg_url, monkeypatch, capsys):
    url = migrated_pg_url.render_as_string(hide_password=False)
    with pytest.raises(SystemExit):
        main(
            [
                "--url",
                url,
                "admin",
                "add-user",
                "x_user",
                "--role",
                "officer",
                "--email",
                "a@b.co",
                "--password",
                "x",
            ]
        )
    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # not a terminal, and no --password-stdin
    code = main(["--url", url, "admin", "add-user", "cdt_nobody", "--role", "officer", "--email", "a@b.co"])
    assert code == 2 and "--password-stdin" in capsys.readouterr().err


def test_admin_commands_refuse_the_local_store(sqlite_url, capsys):
    assert main(["--url", sqlite_url, "admin", "list-users"]) == 2
    assert "PostgreSQL" in capsys.readouterr().err
