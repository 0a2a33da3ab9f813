"""The ``cohortdesk`` command: the GUI by default, and the same services from a terminal.

Each sub-command lives in its own module with a ``register(subparsers)`` function, listed in
``COMMAND_MODULES``. Exit codes: 0 done; 2 an error in plain words (bad input, a refused login, a
certificate or TLS problem, an unreachable or full server: ``services.connection.connectivity`` words it); 1 an
error CohortDesk did not expect (one line; ``--verbose`` adds the traceback); 130 interrupted.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import logging
import sys
from collections.abc import Sequence
from typing import Any

from cohortdesk.errors import CohortDeskError

COMMAND_MODULES = [
    "cohortdesk.cli.db_cmd",
    "cohortdesk.cli.demo_cmd",
    "cohortdesk.cli.sync_cmd",
    "cohortdesk.cli.export_cmd",
    "cohortdesk.cli.admin_cmd",
    "cohortdesk.cli.import_cmd",
    "cohortdesk.cli.notify_cmd",
]


def _add_shared_options(parser: argparse.ArgumentParser, *, suppress_defaults: bool = False) -> None:
    """The options every command shares; they may stand before the command or after it."""

    def default(value: object) -> object:
        return argparse.SUPPRESS if suppress_defaults else value

    parser.add_argument(
        "--url",
        default=default(None),
        help="database URL (default: COHORTDESK_DATABASE_URL, else the embedded SQLite store)",
    )
    parser.add_argument(
        "--profile",
        metavar="NAME",
        default=default(None),
        help="a saved connection (TLS, hosts, pooler, replica; password from the keyring or asked for)",
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", default=default(False), help="log more detail"
    )


class _VersionAction(argparse.Action):
    """``--version``: looks the version up only when asked (``cohortdesk.__version__`` is lazy, and
    every start of the window builds this parser)."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *_args: Any, **_kwargs: Any) -> None:
        from cohortdesk import __version__

        print(f"CohortDesk {__version__}")  # on stdout, as argparse's own version action
        parser.exit()


class _CommandParser(argparse.ArgumentParser):
    """A (sub-)command's parser: it accepts the shared options too, so ``cohortdesk db upgrade --url …``
    works as well as ``cohortdesk --url … db upgrade``. Their defaults are suppressed here, so a value
    given before the command is not reset by the command's parser."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _add_shared_options(self, suppress_defaults=True)


def _global_parser(**kwargs: object) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cohortdesk",
        description="CohortDesk: cohorts, enrollments and document verification for training providers.",
        **kwargs,  # type: ignore[arg-type]
    )
    parser.add_argument("--version", action=_VersionAction, help="show the version and exit")
    _add_shared_options(parser)
    parser.add_argument(
        "--self-test",
        metavar="PNG",
        nargs="?",
        help="start headless in a fresh home, load demo data, render the main window to PNG, exit 0",
    )
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = _global_parser()
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_CommandParser)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    given = list(sys.argv[1:] if argv is None else argv)
    if "--render-worker" in given:
        # The document preview's render process (views/preview/client.py); a frozen build has no
        # ``python -m``, so it starts this executable with this hidden flag.
        from cohortdesk.views.preview.render_worker import main as render_worker_main

        return render_worker_main()
    if "--self-test" in given:
        # Headless smoke test of a build (views/self_test.py): ``--self-test [PNG]``.
        from cohortdesk.views.self_test import main as self_test_main

        after = given[given.index("--self-test") + 1 :]
        return self_test_main(after[0] if after and not after[0].startswith("-") else None)
    # Starting the window needs only the global options: importing every sub-command's module (the
    # migration runner, the report queries) would only slow the start down.
    args, extra = _global_parser(add_help=False).parse_known_args(given)
    wants_command = any(not a.startswith("-") for a in extra) or {"-h", "--help"} & set(extra)
    parser = build_parser() if wants_command else None
    if parser is not None:
        args, extra = parser.parse_known_args(given)
    else:
        args.command = None
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    if args.command is None:
        # Starting the window builds some hundred thousand long-lived objects (modules, Qt wrappers,
        # SQLAlchemy's mappers); a collection meanwhile only walks them again (~7 % of the start).
        # Collecting resumes, with them frozen, once the window is up (views.app.settle_heap).
        gc.disable()
        try:
            from cohortdesk.views.app import run_gui  # imported late: the terminal commands need no Qt

            return run_gui(url=args.url, argv=[sys.argv[0], *extra])
        finally:
            gc.enable()
    if extra:
        assert parser is not None
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        return int(args.handler(args) or 0)
    except CohortDeskError as exc:
        print(f"cohortdesk: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("cohortdesk: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - a person gets words, never a traceback
        from cohortdesk.services.connection.connectivity import classify_connection_error

        problem = classify_connection_error(exc)
        if problem is not None:
            print(f"cohortdesk: {problem.message}", file=sys.stderr)
            return 2
        if args.verbose:
            logging.getLogger("cohortdesk").exception("Unexpected error")
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        print(
            f"cohortdesk: unexpected error ({type(exc).__name__}{': ' + first[:200] if first else ''}); "
            "run again with --verbose for the details.",
            file=sys.stderr,
        )
        return 1
