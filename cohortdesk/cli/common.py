"""Helpers shared by the sub-commands: opening the database named on the command line."""

from __future__ import annotations

import argparse

from cohortdesk.db import Database, default_url


def open_database(args: argparse.Namespace) -> Database:
    return Database(getattr(args, "url", None) or default_url())
