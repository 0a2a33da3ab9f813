"""Passwords only in the keyring; connection profiles without them; private local files."""

from __future__ import annotations

import json
import os
import stat

import pytest
from keyring.backends import fail, null
from sqlalchemy import make_url

from cohortdesk import paths
from cohortdesk.db import Database
from cohortdesk.errors import ValidationError
from cohortdesk.services.connection import profiles, secrets
from cohortdesk.services.connection.profiles import ConnectionProfile
from tests.memory_keyring import MemoryKeyring, using_keyring

posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")


@pytest.fixture
def memory_keyring():
    with using_keyring(MemoryKeyring()) as backend:
        yield backend


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_passwords_round_trip_through_the_keyring(memory_keyring):
    assert secrets.keyring_status().usable
    secrets.set_password("thandi@db:5432/docuseal", "s3cret")
    assert memory_keyring.store == {("CohortDesk", "thandi@db:5432/docuseal"): "s3cret"}
    assert secrets.get_password("thandi@db:5432/docuseal") == "s3cret"
    secrets.delete_password("thandi@db:5432/docuseal")
    secrets.delete_password("thandi@db:5432/docuseal")  # already gone: fine
    assert secrets.get_password("thandi@db:5432/docuseal") is None


@pytest.mark.parametrize("backend", [fail.Keyring(), null.Keyring()])
def test_fail_and_null_backends_are_refused(backend):
    with using_keyring(backend):
        status = secrets.keyring_status()
        assert not status.usable and "ask for your password each time" in status.message
        assert secrets.get_password("x") is None
        with pytest.raises(secrets.KeyringUnavailable):
            secrets.set_password("x", "y")


def test_a_plaintext_backend_is_refused():
    class PlaintextKeyring(MemoryKeyring):
        """Stands in for keyrings.alt.file.PlaintextKeyring (a file anyone with the disk can read)."""

    with using_keyring(PlaintextKeyring()) as backend:
        assert not secrets.keyring_status().usable
        with pytest.raises(secrets.KeyringUnavailable):
            secrets.set_password("x", "y")
        assert backend.store == {}


def _profile(**changes) -> ConnectionProfile:
    values = dict(
        name="Head office", host="db.example.co.za", database="docuseal", user="thandi", sslmode="require"
    )
    values.update(changes)
    return ConnectionProfile(**values)


@posix_only
def test_profiles_are_private_and_never_hold_a_password(cohortdesk_home, memory_keyring, tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    saved = profiles.save_profile(_profile(sslmode="verify-full", sslrootcert=str(ca)))
    secrets.set_password(saved.keyring_account, "s3cret")
    path = profiles.profiles_path()
    assert _mode(path) == 0o600 and _mode(path.parent) == 0o700
    text = path.read_text()
    assert "s3cret" not in text and "password" not in text
    assert profiles.load_profiles() == [saved]
    url = make_url(profiles.connection_url(saved))
    assert (url.drivername, url.username, url.password, url.host, url.port, url.database) == (
        "postgresql+psycopg",
        "thandi",
        None,
        "db.example.co.za",
        5432,
        "docuseal",
    )
    assert dict(url.query) == {"sslmode": "verify-full", "sslrootcert": str(ca)}
    assert profiles.connect_args("s3cret") == {"password": "s3cret"}


def test_a_password_in_a_hand_edited_file_is_ignored_and_dropped(cohortdesk_home):
    path = profiles.profiles_path()
    path.write_text(json.dumps({"profiles": [{**_profile().__dict__, "password": "oops"}]}))
    loaded = profiles.load_profiles()
    assert loaded == [_profile()]
    profiles.mark_used("Head office")
    assert "oops" not in path.read_text()


def test_profile_validation_names_the_field(cohortdesk_home, tmp_path):
    for bad, field in (
        (_profile(host=" "), "host"),
        (_profile(port=70000), "port"),
        (_profile(sslmode="sometimes"), "sslmode"),
        (_profile(sslmode="verify-full"), "sslrootcert"),
        (_profile(sslmode="verify-ca", sslrootcert=str(tmp_path / "missing.pem")), "sslrootcert"),
    ):
        with pytest.raises(ValidationError) as info:
            profiles.save_profile(bad)
        assert info.value.field == field
    profiles.save_profile(_profile())
    profiles.save_profile(_profile(name="Branch"))
    with pytest.raises(ValidationError, match="already"):
        profiles.save_profile(_profile(), replaces="Branch")


def test_rename_and_delete_keep_the_list_in_order(cohortdesk_home):
    profiles.save_profile(_profile(name="A"))
    profiles.save_profile(_profile(name="B"))
    profiles.mark_used("A")
    profiles.save_profile(_profile(name="A2"), replaces="A")
    assert [p.name for p in profiles.load_profiles()] == ["A2", "B"]
    assert profiles.last_used() == "A2"
    profiles.delete_profile("A2")
    assert [p.name for p in profiles.load_profiles()] == ["B"] and profiles.last_used() is None


@posix_only
def test_local_files_that_may_hold_personal_data_are_private(cohortdesk_home):
    db = Database(f"sqlite:///{paths.default_sqlite_path()}")
    with db.engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (x)")
        conn.exec_driver_sql("INSERT INTO t VALUES (1)")
        sqlite = paths.default_sqlite_path()
        for candidate in (
            sqlite,
            sqlite.with_name(sqlite.name + "-wal"),
            sqlite.with_name(sqlite.name + "-shm"),
        ):
            if candidate.exists():
                assert _mode(candidate) == 0o600, candidate
    db.dispose()
    for folder in (paths.data_dir(), paths.config_dir(), paths.cache_dir(), paths.log_dir()):
        assert _mode(folder) == 0o700, folder
    export = paths.cache_dir() / "export.xlsx.part"
    with paths.open_private(export) as handle:
        handle.write(b"learner data")
    assert _mode(export) == 0o600
    existing = paths.cache_dir() / "old.csv"
    existing.write_text("x")
    existing.chmod(0o644)
    with paths.open_private(existing, "w") as handle:
        handle.write("y")
    assert _mode(existing) == 0o600


def test_production_fields_round_trip_and_shape_the_database(cohortdesk_home, tmp_path):
    cert, key, storage = tmp_path / "me.crt", tmp_path / "me.key", tmp_path / "documents"
    cert.write_text("c")
    key.write_text("k")
    storage.mkdir()
    saved = profiles.save_profile(
        ConnectionProfile(
            name="Head office",
            host="db1.example, db2.example:5433",
            database="docuseal",
            user="thandi",
            sslmode="require",
            sslcert=str(cert),
            sslkey=str(key),
            pooler="transaction",
            listen_host="db1.example:5432",
            report_host="replica.example",
            document_storage=str(storage),
        )
    )
    assert profiles.load_profiles() == [saved]
    assert saved.servers() == [("db1.example", 5432), ("db2.example", 5433)]
    url = make_url(profiles.connection_url(saved))
    assert url.query["host"] == ("db1.example:5432", "db2.example:5433")
    assert url.query["target_session_attrs"] == "read-write" and url.query["sslcert"] == str(cert)
    report = make_url(profiles.report_url(saved) or "")
    assert report.query["host"][0] == "replica.example:5432"
    assert report.query["target_session_attrs"] == "prefer-standby"

    db = profiles.open_database(saved, "secret")
    try:
        params = db.connect_params()
        assert params["host"] == "db1.example,db2.example" and params["port"] == "5432,5433"
        assert params["prepare_threshold"] is None and "options" not in params  # behind a pooler
        assert db.live_refresh_mode == "listen" and db.listen_overrides == {
            "host": "db1.example",
            "port": 5432,
        }
        assert db.report_database() is db.reports and db.reports is not None
        assert db.document_storage == str(storage)
        assert db.short_name() == "Head office" and "secret" not in db.describe()
    finally:
        db.dispose()


def test_production_fields_are_checked(cohortdesk_home, tmp_path):
    base = ConnectionProfile(name="X", host="h", database="d", user="u", sslmode="require")
    with pytest.raises(ValidationError) as bad_port:
        profiles.validate_profile(ConnectionProfile(**{**base.__dict__, "host": "h:99999"}))
    assert bad_port.value.field == "host"
    with pytest.raises(ValidationError) as one_half:
        cert = tmp_path / "c.crt"
        cert.write_text("c")
        profiles.validate_profile(ConnectionProfile(**{**base.__dict__, "sslcert": str(cert)}))
    assert one_half.value.field == "sslkey"
    with pytest.raises(ValidationError) as two_listeners:
        profiles.validate_profile(ConnectionProfile(**{**base.__dict__, "listen_host": "a, b"}))
    assert two_listeners.value.field == "listen_host"


def test_status_bar_name_never_shows_a_url_or_file(cohortdesk_home):
    db = Database(
        "postgresql+psycopg://u@db.example:5432/docuseal?sslmode=verify-full&sslrootcert=/etc/ca.pem"
    )
    try:
        assert db.short_name() == "db.example/docuseal"
    finally:
        db.dispose()
