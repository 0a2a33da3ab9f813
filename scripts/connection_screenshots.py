"""Render the login dialog's error states into ``docs/screenshots/connection/``, headless:

    python scripts/connection_screenshots.py [--out docs/screenshots/connection]

A private PostgreSQL with TLS and scram only (certificates made on the spot: valid, expired, for
another host) answers each attempt for real; the words come from the classifier, as in the
application. Each state is then drawn on a screen of 1366x768, 1920x1080 and 1920x1080 at 150 %
(one child process per screen: Qt's scale factor is fixed at start), the dialog centred as the
window manager would place it, so what does not fit shows.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SCREENS = {"1366x768": (1366, 768, 1.0), "1920x1080": (1920, 1080, 1.0), "1920x1080-150": (1920, 1080, 1.5)}
STATES = (
    "wrong_password",
    "removed_login",
    "expired",
    "other_host",
    "tls_required",
    "no_tls",
    "missing_ca",
    "server_full",
    "more_settings",
)


def collect(folder: Path) -> dict[str, dict[str, object]]:
    """Ask the real server each question once; returns per state the profile and the answer."""
    import psycopg

    from cohortdesk.services.connection.profiles import ConnectionProfile
    from cohortdesk.views.login_dialog import check_login
    from tests.pg.tls_server import PASSWORD, start_tls_server

    tls = start_tls_server()
    ca = folder / "ca.crt"
    ca.write_bytes(tls.certs.ca.read_bytes())
    base = {
        "name": "Head office",
        "host": "127.0.0.1",
        "port": tls.port,
        "database": "postgres",
        "user": tls.login,
        "sslmode": "verify-full",
        "sslrootcert": str(ca),
    }
    plan: dict[str, tuple[dict[str, object], str, str | None]] = {
        "wrong_password": (base, "typo", None),
        "removed_login": ({**base, "user": tls.removed_login}, PASSWORD, None),
        "expired": (base, PASSWORD, "expired"),
        "other_host": (base, PASSWORD, "other_host"),
        "tls_required": ({**base, "sslmode": "disable", "sslrootcert": None}, PASSWORD, None),
        "no_tls": (base, PASSWORD, "no_tls"),
        "server_full": (base, PASSWORD, "full"),
    }
    answers: dict[str, dict[str, object]] = {}
    try:
        for state, (profile, password, serving) in plan.items():
            held: list[psycopg.Connection] = []
            if serving == "full":
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
            context = tls.serving(serving) if serving in ("expired", "other_host", "no_tls") else None
            if context is not None:
                context.__enter__()
            try:
                problem = check_login(ConnectionProfile(**profile), password)  # type: ignore[arg-type]
            finally:
                if context is not None:
                    context.__exit__(None, None, None)
                for conn in held:
                    conn.close()
            answers[state] = {
                "profile": profile,
                "problem": None
                if problem is None
                else [problem.kind, problem.message, problem.field, problem.detail],
            }
        answers["missing_ca"] = {
            "profile": {**base, "sslrootcert": str(folder / "gone" / "ca.crt")},
            "problem": None,
        }
        answers["more_settings"] = {
            "profile": {
                **base,
                "pooler": "transaction",
                "listen_host": "db-primary.example:5432",
                "report_host": "db-replica.example",
                "document_storage": "/srv/docuseal/storage",
            },
            "problem": ["pooler_settings", "(shown expanded)", "pooler", ""],
        }
    finally:
        tls.server.destroy()
    return answers


def render(answers_file: Path, screen: str, out: Path) -> None:
    width, height, scale = SCREENS[screen]
    home = Path(tempfile.mkdtemp(prefix="cohortdesk-login-shots-"))
    os.environ["COHORTDESK_HOME"] = str(home)
    config = home / "offscreen.json"
    config.write_text(
        json.dumps(
            {
                "screens": [
                    {
                        "name": "s",
                        "x": 0,
                        "y": 0,
                        "width": width,
                        "height": height,
                        "logicalDpiX": 96,
                        "logicalDpiY": 96,
                        "dpr": 1,
                    }
                ]
            }
        ),
        encoding="utf-8",
    )
    os.environ["QT_QPA_PLATFORM"] = f"offscreen:configfile={config}"
    if scale != 1.0:
        os.environ["QT_SCALE_FACTOR"] = str(scale)

    from PySide6.QtCore import QEventLoop, QPoint, QTimer
    from PySide6.QtGui import QColor, QPainter, QPixmap

    from cohortdesk.services.connection import profiles
    from cohortdesk.services.connection.connectivity import ConnectionProblem
    from cohortdesk.services.connection.profiles import ConnectionProfile
    from cohortdesk.views.app import application
    from cohortdesk.views.login_dialog import LoginDialog
    from tests.memory_keyring import MemoryKeyring, using_keyring

    app = application([])
    answers = json.loads(answers_file.read_text(encoding="utf-8"))
    with using_keyring(MemoryKeyring()):
        for state in STATES:
            entry = answers[state]
            raw = entry["problem"]
            problem = ConnectionProblem(*raw) if raw else None
            profile = ConnectionProfile(**entry["profile"])
            profiles_file = profiles.profiles_path()
            if profiles_file.exists():
                profiles_file.unlink()
            if state == "missing_ca":
                ca = Path(str(profile.sslrootcert))
                ca.parent.mkdir(parents=True, exist_ok=True)
                ca.write_text("placeholder")
                profiles.save_profile(profile)
                ca.unlink()
            else:
                profiles.save_profile(profile)
            dialog = LoginDialog(profile=profile.name, check=lambda _p, _pw, answer=problem: answer)
            dialog.password_edit.setText("typo" if state == "wrong_password" else "x" * 12)
            dialog.show()
            if state == "more_settings":
                dialog.more_button.setChecked(True)
            else:
                loop = QEventLoop()
                dialog.checked.connect(lambda *_a, done=loop.quit: QTimer.singleShot(50, done))
                QTimer.singleShot(10000, loop.quit)
                dialog.connect_button.click()
                if not dialog._checking:  # refused before testing (a missing file)
                    QTimer.singleShot(50, loop.quit)
                loop.exec()
            dialog.adjustSize()
            app.processEvents()
            shot = dialog.grab()
            screen_obj = app.primaryScreen()
            logical = screen_obj.size()
            dpr = screen_obj.devicePixelRatio()
            canvas = QPixmap(int(logical.width() * dpr), int(logical.height() * dpr))
            canvas.setDevicePixelRatio(dpr)
            canvas.fill(QColor("#5b6770"))
            painter = QPainter(canvas)
            x = max(0, (logical.width() - dialog.width()) // 2)
            y = max(0, (logical.height() - dialog.height()) // 2)
            painter.drawPixmap(QPoint(x, y), shot)
            painter.end()
            fits = dialog.height() <= logical.height() and dialog.width() <= logical.width()
            target = out / f"login-{state.replace('_', '-')}-{screen}.png"
            canvas.save(str(target))
            print(
                f"{target.name}: dialog {dialog.width()}x{dialog.height()} on {logical.width()}x"
                f"{logical.height()} (scale {dpr}){'' if fits else '  DOES NOT FIT'}"
            )
            dialog.close()
            dialog.deleteLater()
            app.processEvents()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots" / "connection")
    parser.add_argument("--render", nargs=2, metavar=("ANSWERS", "SCREEN"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.render:
        render(Path(args.render[0]), args.render[1], args.out)
        return 0
    work = Path(tempfile.mkdtemp(prefix="cohortdesk-login-answers-"))
    answers_file = work / "answers.json"
    answers_file.write_text(json.dumps(collect(work)), encoding="utf-8")
    for screen in SCREENS:
        subprocess.run(
            [sys.executable, __file__, "--out", str(args.out), "--render", str(answers_file), screen],
            check=True,
            timeout=300,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
