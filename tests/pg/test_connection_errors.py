"""Every way a login or TLS connection fails is told apart and put in words that say what to fix,
on the command line (exit 2, one line, never a traceback; a no-echo password prompt on a terminal)
and by the classifier every screen uses. Against a private server with TLS and scram only."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from cohortdesk.cli import common as cli_common
from cohortdesk.cli import main
from cohortdesk.db import Database
from cohortdesk.services.connection import connectivity as c
from tests.pg.tls_server import PASSWORD, TlsServer, start_tls_server


@pytest.fixture(scope="module")
def tls() -> Iterator[TlsServer]:
    server = start_tls_server()
    try:
        yield server
    finally:
        server.server.destroy()


@pytest.fixture
def no_terminal(monkeypatch) -> None:
    monkeypatch.setattr(cli_common, "has_terminal", lambda: False)
    monkeypatch.delenv("PGPASSWORD", raising=False)
    monkeypatch.setenv("PGPASSFILE", "/nonexistent/pgpass")


def _problem(url: str, password: str | None = PASSWORD) -> c.ConnectionProblem | None:
    db = Database(url, connect_args={"password": password} if password else {})
    try:
        return c.check_connection(db)
    finally:
        db.dispose()


def _cli(capsys, url: str, *args: str) -> tuple[int, str, str]:
    code = main(["--url", url, *(args or ("db", "current"))])
    out, err = capsys.readouterr()
    return code, out, err


def test_the_right_login_connects(tls, no_terminal, monkeypatch, capsys):
    assert _problem(tls.url()) is None
    monkeypatch.setenv("PGPASSWORD", PASSWORD)
    code, out, err = _cli(capsys, tls.url())
    assert code == 0, err
    assert "revision" in out and PASSWORD not in out + err


def test_wrong_password(tls, no_terminal, monkeypatch, capsys):
    problem = _problem(tls.url(), "not-it")
    assert problem is not None and problem.kind == c.WRONG_PASSWORD and problem.ask_password
    assert not problem.retry and problem.field == "password"
    monkeypatch.setenv("PGPASSWORD", "not-it")
    code, out, err = _cli(capsys, tls.url())
    assert code == 2
    assert f"The server refused the password for the login \u201c{tls.login}\u201d" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_no_password_and_no_terminal_says_where_a_password_may_come_from(tls, no_terminal, capsys):
    code, _out, err = _cli(capsys, tls.url())
    assert code == 2
    assert f"The server needs the password of the login \u201c{tls.login}\u201d" in err
    assert "PGPASSWORD" in err and "never in the URL" in err


def test_a_terminal_is_asked_without_echo_and_again_after_a_typo(tls, monkeypatch, capsys):
    monkeypatch.delenv("PGPASSWORD", raising=False)
    monkeypatch.setenv("PGPASSFILE", "/nonexistent/pgpass")
    monkeypatch.setattr(cli_common, "has_terminal", lambda: True)
    typed = iter(["typo", PASSWORD])
    prompts: list[str] = []

    def fake_getpass(prompt: str) -> str:
        prompts.append(prompt)
        return next(typed)

    monkeypatch.setattr(cli_common, "ask_password", fake_getpass)
    code, out, err = _cli(capsys, tls.url())
    assert code == 0, err
    assert prompts == [f"Password for {tls.login}: "] * 2
    assert "refused the password" in err  # said once, between the two prompts


def test_removed_login(tls, no_terminal, monkeypatch, capsys):
    problem = _problem(tls.url(user=tls.removed_login))
    assert problem is not None and problem.kind == c.LOGIN_DISABLED and not problem.ask_password
    monkeypatch.setenv("PGPASSWORD", PASSWORD)
    code, _out, err = _cli(capsys, tls.url(user=tls.removed_login))
    assert code == 2
    assert f"The login \u201c{tls.removed_login}\u201d has been switched off on this server" in err


def test_unknown_login_looks_like_a_wrong_password_and_says_it_may_be_removed(tls):
    # scram does not tell an unknown login from a wrong password (on purpose): the words cover both.
    problem = _problem(tls.url(user="nobody_here"))
    assert problem is not None and problem.kind == c.WRONG_PASSWORD
    assert "the login may have been removed" in problem.message


def test_missing_ca_file(tls, no_terminal, monkeypatch, capsys):
    problem = _problem(tls.url(ca="/nowhere/ca.crt"))
    assert problem is not None and problem.kind == c.CA_FILE_MISSING and problem.field == "sslrootcert"
    monkeypatch.setenv("PGPASSWORD", PASSWORD)
    code, _out, err = _cli(capsys, tls.url(ca="/nowhere/ca.crt"))
    assert code == 2 and "The CA certificate file /nowhere/ca.crt does not exist on this computer" in err


def test_ca_that_did_not_sign_the_server_certificate(tls):
    problem = _problem(tls.url(ca=str(tls.certs.other_ca)))
    assert problem is not None and problem.kind == c.CERTIFICATE_UNTRUSTED
    assert "not signed by the CA certificate in other-ca.crt" in problem.message


def test_tls_required_but_the_profile_does_not_encrypt(tls, no_terminal, monkeypatch, capsys):
    problem = _problem(tls.url(sslmode="disable"))
    assert problem is not None and problem.kind == c.TLS_REQUIRED and problem.field == "sslmode"
    monkeypatch.setenv("PGPASSWORD", PASSWORD)
    code, _out, err = _cli(capsys, tls.url(sslmode="disable"))
    assert code == 2 and "The server accepts only encrypted connections" in err


def test_expired_server_certificate_says_expired(tls, no_terminal, monkeypatch, capsys):
    monkeypatch.setenv("PGPASSWORD", PASSWORD)
    with tls.serving("expired"):
        problem = _problem(tls.url())
        code, _out, err = _cli(capsys, tls.url())
    assert problem is not None and problem.kind == c.CERTIFICATE_EXPIRED and not problem.retry
    assert "The server's certificate expired on " in problem.message
    assert code == 2 and "certificate expired on" in err and "renew" in err


def test_certificate_for_another_host(tls, no_terminal, monkeypatch, capsys):
    monkeypatch.setenv("PGPASSWORD", PASSWORD)
    with tls.serving("other_host"):
        problem = _problem(tls.url())
        code, _out, err = _cli(capsys, tls.url())
    assert problem is not None and problem.kind == c.CERTIFICATE_HOST and problem.field == "host"
    assert code == 2
    assert (
        "The server's certificate is for \u201cdb.elsewhere.example\u201d, not for \u201c127.0.0.1\u201d"
        in err
    )


def test_server_without_tls(tls, no_terminal, monkeypatch, capsys):
    monkeypatch.setenv("PGPASSWORD", PASSWORD)
    with tls.serving("no_tls"):
        problem = _problem(tls.url(sslmode="require", ca=""))
        code, _out, err = _cli(capsys, tls.url())
    assert problem is not None and problem.kind == c.SERVER_WITHOUT_TLS
    assert code == 2 and "The server does not offer encryption (TLS)" in err


def test_server_full_is_not_offline_and_is_retried(tls, no_terminal, monkeypatch, capsys):
    held: list[psycopg.Connection] = []
    try:
        for _ in range(40):
            try:
                held.append(
                    psycopg.connect(
                        host="127.0.0.1",
                        port=tls.port,
                        user=tls.login,
                        password=PASSWORD,
                        dbname="postgres",
                        sslmode="require",
                    )
                )
            except psycopg.OperationalError:
                break
        problem = _problem(tls.url())
        monkeypatch.setenv("PGPASSWORD", PASSWORD)
        code, _out, err = _cli(capsys, tls.url())
    finally:
        for conn in held:
            conn.close()
    assert problem is not None and problem.kind == c.SERVER_FULL and problem.retry
    assert code == 2 and "The database server is full" in err and "max_connections" in err


def test_server_down_is_the_only_offline(tls, no_terminal, monkeypatch, capsys):
    url = tls.url().replace(f":{tls.port}/", ":1/")
    problem = _problem(url)
    assert problem is not None and problem.kind == c.OUTAGE and problem.retry
    assert "keeps trying to reconnect by itself" in problem.message
    monkeypatch.setenv("PGPASSWORD", PASSWORD)
    code, _out, err = _cli(capsys, url)
    assert code == 2 and "cannot be reached" in err and "Traceback" not in err


def test_is_disconnect_only_for_what_waiting_can_fix(tls):
    for url, password, expected in (
        (tls.url(), "wrong", False),
        (tls.url(ca="/nowhere/ca.crt"), PASSWORD, False),
        (tls.url().replace(f":{tls.port}/", ":1/"), PASSWORD, True),
    ):
        db = Database(url, connect_args={"password": password})
        try:
            with pytest.raises(Exception) as caught, db.engine.connect():
                pass
            assert c.is_disconnect(caught.value) is expected, url
        finally:
            db.dispose()


def test_login_without_connect_privilege_is_told_so(tls, no_terminal, monkeypatch, capsys):
    tls.server.psql("CREATE DATABASE closed_db")
    tls.server.psql("REVOKE CONNECT ON DATABASE closed_db FROM PUBLIC")
    url = tls.url().replace("/postgres?", "/closed_db?")
    problem = _problem(url)
    assert problem is not None and problem.kind == c.LOGIN_DISABLED and not problem.retry
    monkeypatch.setenv("PGPASSWORD", PASSWORD)
    code, _out, err = _cli(capsys, url)
    assert code == 2 and f"The login \u201c{tls.login}\u201d may no longer connect to the database" in err
