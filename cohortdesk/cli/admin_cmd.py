"""``cohortdesk admin add-user|list-users|remove-user|set-role``: who may log in, and as what.

Run with a privileged connection (``--url postgresql://postgres@host/db``, or a super admin's own login,
which is limited to their institution). Passwords are never command-line arguments (they would land in
the shell history and the process list): they are asked for twice without echo, or read from standard
input with ``--password-stdin``.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from cohortdesk.cli.common import open_database
from cohortdesk.errors import ValidationError
from cohortdesk.models import AppRole
from cohortdesk.services.access import logins as admin_users

ROLE_CHOICES = [role.value for role in AppRole]


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("admin", help="manage the people who may log in (PostgreSQL)")
    actions = parser.add_subparsers(dest="admin_action", metavar="ACTION", required=True)

    add = actions.add_parser("add-user", help="create a person's login and map it to an institution and role")
    add.add_argument("login", help="the PostgreSQL login name, e.g. thandi_nkosi")
    add.add_argument("--role", required=True, choices=ROLE_CHOICES)
    who = add.add_mutually_exclusive_group(required=True)
    who.add_argument("--email", help="the person's DocuSeal user, by e-mail")
    who.add_argument("--user-id", type=int, help="the person's DocuSeal user, by id")
    add.add_argument("--institution", type=int, help="institution id (needed when there are several)")
    add.add_argument(
        "--capability",
        action="append",
        default=[],
        choices=admin_users.KNOWN_CAPABILITIES,
        help="an extra capability, e.g. special_pi (may be repeated)",
    )
    add.add_argument(
        "--create-user", action="store_true", help="create the DocuSeal user if the e-mail is new"
    )
    add.add_argument("--first-name")
    add.add_argument("--last-name")
    _password_options(add)
    add.set_defaults(handler=_add_user)

    listing = actions.add_parser("list-users", help="list the logins and their roles")
    listing.add_argument("--institution", type=int)
    listing.add_argument("--active-only", action="store_true")
    listing.set_defaults(handler=_list_users)

    remove = actions.add_parser("remove-user", help="disable a login; everything the person recorded stays")
    remove.add_argument("login")
    remove.set_defaults(handler=_remove_user)

    set_role = actions.add_parser("set-role", help="change a person's role (and capabilities)")
    set_role.add_argument("login")
    set_role.add_argument("role", choices=ROLE_CHOICES)
    caps = set_role.add_mutually_exclusive_group()
    caps.add_argument("--capability", action="append", choices=admin_users.KNOWN_CAPABILITIES)
    caps.add_argument("--no-capabilities", action="store_true", help="remove every extra capability")
    set_role.set_defaults(handler=_set_role)


def _password_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of standard input",
    )
    group.add_argument(
        "--no-password", action="store_true", help="no password (the server authenticates another way)"
    )


def read_password(args: argparse.Namespace) -> str | None:
    if args.no_password:
        return None
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise ValidationError("password", "standard input held no password")
        return password
    if not sys.stdin.isatty():
        raise ValidationError("password", "no terminal to ask on: use --password-stdin or --no-password")
    first = getpass.getpass(f"Password for {args.login}: ")
    second = getpass.getpass("Again, to confirm: ")
    if first != second:
        raise ValidationError("password", "the two entries differ")
    if not first:
        raise ValidationError("password", "is empty")
    return first


def _print_row(row: admin_users.LoginRow) -> None:
    caps = ",".join(row.capabilities) or "-"
    state = "active" if row.active else "removed"
    print(
        f"{row.login:<24} {row.role:<14} {caps:<12} {state:<8} institution {row.institution_id:<5} "
        f"{row.display_name} <{row.email or '?'}>"
    )


def _add_user(args: argparse.Namespace) -> int:
    password = read_password(args)
    db = open_database(args)
    try:
        row = admin_users.add_user(
            db,
            admin_users.NewLogin(
                login=args.login,
                role=args.role,
                user_id=args.user_id,
                email=args.email,
                institution_id=args.institution,
                capabilities=tuple(args.capability),
                create_user=args.create_user,
                first_name=args.first_name,
                last_name=args.last_name,
            ),
            password,
        )
    finally:
        db.dispose()
    print(f"Added {row.login} ({row.role}) for {row.display_name}.")
    return 0


def _list_users(args: argparse.Namespace) -> int:
    db = open_database(args)
    try:
        rows = admin_users.list_users(db, args.institution, include_removed=not args.active_only)
    finally:
        db.dispose()
    if not rows:
        print("No CohortDesk users yet.")
    for row in rows:
        _print_row(row)
    return 0


def _remove_user(args: argparse.Namespace) -> int:
    db = open_database(args)
    try:
        row = admin_users.remove_user(db, args.login)
    finally:
        db.dispose()
    print(f"Removed {row.login}: the login is disabled; everything {row.display_name} recorded is kept.")
    return 0


def _set_role(args: argparse.Namespace) -> int:
    capabilities = [] if args.no_capabilities else args.capability
    db = open_database(args)
    try:
        row = admin_users.set_role(db, args.login, args.role, capabilities)
    finally:
        db.dispose()
    print(
        f"{row.login} is now {row.role}"
        + (f" with {', '.join(row.capabilities)}" if row.capabilities else "")
        + "."
    )
    return 0
