"""Allows ``python -m cohortdesk``: the same entry point as the ``cohortdesk`` command."""

from cohortdesk.cli import main

raise SystemExit(main())
