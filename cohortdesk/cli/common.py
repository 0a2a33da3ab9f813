"""Helpers shared by the sub-commands: opening the database named on the command line.

The database is named by ``--profile NAME`` (a saved connection: its TLS settings, hosts, pooler and
replica; the password from the keyring), ``--url`` or ``COHORTDESK_DATABASE_URL``. A password never
needs to be on the command line, where ``ps`` and the shell history would show it: libpq reads
``PGPASSWORD`` and ``~/.pgpass``, and when the server asks for a password none of those gave, the
command asks for it without echo if a terminal is there (three tries). Otherwise it stops with one
line saying what to fix and exit code 2 (``connectivity.ConnectionProblemError``).
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Callable

from cohortdesk.db import Database, default_url
from cohortdesk.errors import NotFoundError
from cohortdesk.services.connection import connectivity

PASSWORD_TRIES = 3
NO_TERMINAL_HINT = (
    " No terminal to ask on: give the password in the PGPASSWORD environment variable or a ~/.pgpass "
    "file (never in the URL), or run the command in a terminal."
)


def has_terminal() -> bool:
    """Whether a person can be asked for a password (stdin is a terminal, or /dev/tty opens)."""
    if sys.stdin is not None and sys.stdin.isatty():
        return True
    try:
        with open("/dev/tty"):  # noqa: PTH123 - only probing that it opens
            return True
    except OSError:
        return False


def ask_password(prompt: str) -> str:
    """Read a password without echo (replaced in tests)."""
    return getpass.getpass(prompt)


def _build(args: argparse.Namespace, password: str | None) -> tuple[Database, str]:
    name = getattr(args, "profile", None)
    if name:
        from cohortdesk.services.connection import profiles, secrets

        profile = next((p for p in profiles.load_profiles() if p.name == name), None)
        if profile is None:
            known = ", ".join(p.name for p in profiles.load_profiles()) or "none saved yet"
            raise NotFoundError(f"There is no saved connection called {name!r} (saved: {known}).")
        if password is None:
            password = secrets.get_password(profile.keyring_account)
        return profiles.open_database(profile, password), profile.user
    url = getattr(args, "url", None) or default_url()
    extra = {"connect_args": {"password": password}} if password else {}
    db = Database(url, **extra)
    return db, db.url.username or ""


def open_database(
    args: argparse.Namespace,
    *,
    terminal: Callable[[], bool] | None = None,
    prompt: Callable[[str], str] | None = None,
) -> Database:
    """The database the command line names, its login tried once (PostgreSQL): a missing or refused
    password is asked for again on a terminal; any other problem is a ``ConnectionProblemError``."""
    db, user = _build(args, None)
    if db.dialect != "postgresql":
        return db
    ask = prompt or ask_password
    can_ask = (terminal or has_terminal)()
    tries = 0
    while True:
        problem = connectivity.check_connection(db)
        if problem is None:
            return db
        db.dispose()
        if not problem.ask_password or not can_ask or tries >= PASSWORD_TRIES:
            hint = NO_TERMINAL_HINT if problem.ask_password and not can_ask else ""
            raise connectivity.ConnectionProblemError(
                connectivity.ConnectionProblem(
                    problem.kind, problem.message + hint, problem.field, problem.detail
                )
            )
        if tries:
            print(f"cohortdesk: {problem.message}", file=sys.stderr)
        tries += 1
        password = ask(f"Password for {user or os.environ.get('PGUSER', 'the login')}: ")
        db, user = _build(args, password)
