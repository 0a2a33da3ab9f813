"""Fixtures of the PostgreSQL tier: a private server a test may restart."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import require_pg
from tests.pg.private_server import PrivatePostgres


@pytest.fixture(scope="module")
def private_pg() -> Iterator[PrivatePostgres]:
    """A PostgreSQL server of this module's own (never the shared one), started and ready."""
    require_pg()
    server, why = PrivatePostgres.find()
    if server is None:
        pytest.skip(f"cannot run a private PostgreSQL server: {why}")
    try:
        server.init()
        server.start()
    except Exception as exc:  # noqa: BLE001 - a machine that cannot run one skips, saying why
        server.destroy()
        pytest.skip(f"cannot start a private PostgreSQL server: {exc}")
    try:
        yield server
    finally:
        server.destroy()
