"""A reporting replica: a streaming standby (``pg_basebackup -R``) of a private primary serves exports,
the access-log entry still reaches the primary before the file appears, and the Report info sheet
states how far behind the standby was. Profiles with several hosts fail over (libpq picks the one
taking writes). Never the shared server on 5432."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import func, select, text

from cohortdesk.db import Database, migrate
from cohortdesk.models import AccessLogEntry
from cohortdesk.services import demo, reports
from cohortdesk.services.connection import profiles
from cohortdesk.services.connection.profiles import ConnectionProfile
from cohortdesk.services.documents.storage import DocumentStore
from cohortdesk.services.reports import ExportRequest
from tests.conftest import require_pg
from tests.pg.private_server import PrivatePostgres

DATABASE = "cohortdesk_replica"


@dataclass
class Pair:
    primary: PrivatePostgres
    standby: PrivatePostgres

    def profile(self, **changes: object) -> ConnectionProfile:
        base = ConnectionProfile(
            name="Head office",
            host="127.0.0.1",
            port=self.primary.port,
            database=DATABASE,
            user="postgres",
            sslmode="disable",
            report_host=f"127.0.0.1:{self.standby.port}",
        )
        return ConnectionProfile(**{**base.__dict__, **changes})

    def caught_up(self, timeout: float = 30.0) -> None:
        target = self.primary.psql("SELECT pg_current_wal_lsn()")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.standby.psql(f"SELECT pg_last_wal_replay_lsn() >= '{target}'::pg_lsn") == "t":
                return
            time.sleep(0.2)
        raise AssertionError("the standby did not catch up")


@pytest.fixture(scope="module")
def pair(tmp_path_factory) -> Iterator[Pair]:
    require_pg()
    primary, why = PrivatePostgres.find()
    if primary is None:
        pytest.skip(f"cannot run a private PostgreSQL server: {why}")
    standby = None
    try:
        primary.init()
        primary.start()
        primary.psql(f"CREATE DATABASE {DATABASE}")
        db = Database(primary.url(DATABASE))
        try:
            migrate.upgrade(db)
            demo.load_demo(db, students=30, store=DocumentStore(tmp_path_factory.mktemp("docs")))
        finally:
            db.dispose()
        standby = primary.standby()
        found = Pair(primary, standby)
        found.caught_up()
    except Exception as exc:  # noqa: BLE001 - a machine that cannot run them skips, saying why
        if standby is not None:
            standby.destroy()
        primary.destroy()
        pytest.skip(f"cannot start a primary and a standby here: {exc}")
    try:
        yield found
    finally:
        standby.destroy()
        primary.destroy()


def _log_count(db: Database) -> int:
    with db.read_session() as s:
        return int(s.scalar(select(func.count()).select_from(AccessLogEntry)) or 0)


def _info(path: Path) -> dict[str, str]:
    book = openpyxl.load_workbook(path, read_only=True)
    sheet = book[reports.INFO_SHEET]
    return {str(row[0]): str(row[1]) for row in sheet.iter_rows(values_only=True) if row and row[0]}


def test_the_report_connection_reads_from_the_standby(pair):
    db = profiles.open_database(pair.profile(), None)
    try:
        with db.report_database().read_session() as s:
            assert s.scalar(text("SELECT pg_is_in_recovery()")) is True
        with db.read_session() as s:
            assert s.scalar(text("SELECT pg_is_in_recovery()")) is False
    finally:
        db.dispose()


def test_export_reads_the_replica_and_logs_on_the_primary_first(pair, tmp_path):
    db = profiles.open_database(pair.profile(), None)
    try:
        before = _log_count(db)
        out = tmp_path / "roster.xlsx"
        result = reports.export_report(db, ExportRequest(report="roster", format="xlsx"), out)
        assert out.is_file() and result.rows > 0 and result.logged
        assert _log_count(db) == before + 1  # on the primary, which the standby cannot take
        info = _info(out)
        assert info["Read from"].startswith("A read-only standby (reporting replica): ")
        assert "behind the primary" in info["Read from"] or "up to date" in info["Read from"]
    finally:
        db.dispose()


def test_a_standby_alone_cannot_take_the_access_log_so_no_file_appears(pair, tmp_path):
    # What went wrong before the reporting connection existed: the export's log entry is refused.
    alone = Database(pair.standby.url(DATABASE))
    out = tmp_path / "roster.xlsx"
    try:
        with pytest.raises(Exception, match="read-only"):
            reports.export_report(alone, ExportRequest(report="roster", format="xlsx"), out)
        assert not out.exists()
    finally:
        alone.dispose()


def test_the_info_sheet_states_the_lag_of_a_standby_that_fell_behind(pair, tmp_path):
    db = profiles.open_database(pair.profile(), None)
    # A change the standby has applied first: the lag is measured from the last one it applied, and
    # a standby that has applied none since it started cannot tell how far behind it is.
    pair.primary.psql("CREATE TABLE lag_baseline (id int); DROP TABLE lag_baseline;", DATABASE)
    pair.caught_up()
    pair.standby.psql("SELECT pg_wal_replay_pause()")
    try:
        pair.primary.psql("CREATE TABLE lag_marker (id int); DROP TABLE lag_marker;", DATABASE)
        time.sleep(2.5)
        out = tmp_path / "roster.xlsx"
        reports.export_report(db, ExportRequest(report="roster", format="xlsx"), out)
        read_from = _info(out)["Read from"]
        seconds = int(read_from.split(" seconds behind")[0].rsplit(" ", 1)[-1].replace(",", ""))
        assert seconds >= 2, read_from
    finally:
        pair.standby.psql("SELECT pg_wal_replay_resume()")
        db.dispose()
    pair.caught_up()


def test_several_hosts_fail_over_to_the_one_taking_writes(pair):
    # The standby listed first, an address with nobody home next: libpq keeps the primary.
    hosts = f"127.0.0.1:{pair.standby.port}, 127.0.0.1:1, 127.0.0.1:{pair.primary.port}"
    profile = pair.profile(host=hosts, report_host=None)
    assert "target_session_attrs=read-write" in profiles.connection_url(profile)
    db = profiles.open_database(profile, None)
    try:
        with db.read_session() as s:
            assert s.scalar(text("SELECT pg_is_in_recovery()")) is False
            assert int(s.scalar(text("SELECT inet_server_port()"))) == pair.primary.port
        assert db.short_name() == "Head office"
    finally:
        db.dispose()
