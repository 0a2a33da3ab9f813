"""Render the conflict inbox on conflicts a real server made: ``python scripts/inbox_screenshots.py OUT``.

Needs the test PostgreSQL (``COHORTDESK_TEST_PG_URL``, default ``postgresql://postgres@127.0.0.1:5432``):
it creates a scratch database, pairs a throw-away laptop store with it, makes the conflicts people make
(learners added offline under a sponsor deleted on the server, an edit of a deleted enrollment, a change
the server refuses, the same field changed on both sides, a delete against an edit), syncs, and grabs the
inbox at the window size given by ``COHORTDESK_SHOT_SIZE`` (``1366x768`` by default; run it under Xvfb
with ``QT_SCALE_FACTOR=1.5`` for the 150 % shots). The scratch database is dropped afterwards.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PySide6.QtWidgets import QApplication  # noqa: E402

from cohortdesk.db import Database, migrate  # noqa: E402
from cohortdesk.services.configuration import edits as ce  # noqa: E402
from cohortdesk.services.sync import engine  # noqa: E402
from cohortdesk.views.runner import Runner  # noqa: E402


def make_conflicts(server: Database, laptop: Database) -> None:
    from tests.sync.conftest import seed_server

    world = seed_server(server, learners=6)
    names = ["Thandi Nkosi", "Sipho Dlamini", "Lerato Mokoena", "Ayesha Patel", "Pieter van Wyk", "Zoë Botha"]
    with server.engine.begin() as conn:
        for user_id, name in zip(world.users, names, strict=True):
            first, last = name.split(" ", 1)
            conn.exec_driver_sql(
                "UPDATE users SET first_name = %s, last_name = %s WHERE id = %s", (first, last, user_id)
            )
    ce.update_cohort(server, world.cohort, {"name": "2026 Retail Internship"})
    mining = ce.create_sponsor(server, ce.NewSponsor(world.institution, "Limpopo Mining Holdings")).row
    retail = ce.create_sponsor(
        server, ce.NewSponsor(world.institution, "Kasi Retail Group", contact_name="Palesa Molefe")
    ).row
    gone = ce.create_sponsor(server, ce.NewSponsor(world.institution, "Closed Traders")).row
    ce.update_cohort(server, world.cohort, {"sponsor_id": retail.id})
    enrolled = ce.enroll(
        server, ce.NewEnrollment(world.cohort, world.users[5], {"city": "Durban", "phone": "0821234567"})
    ).row
    old = ce.create_cohort(server, ce.NewCohort(world.institution, "2025 Pilot", "candidacy")).row
    ce.enroll_many(server, [ce.NewEnrollment(old.id, u) for u in world.users[:2]])
    engine.sync(laptop, server)

    # offline on the laptop
    cohort = ce.create_cohort(
        laptop,
        ce.NewCohort(world.institution, "2026 Mining Learnership", "learnership", sponsor_id=mining.id),
    ).row
    ce.enroll_many(laptop, [ce.NewEnrollment(cohort.id, u, {"city": "Polokwane"}) for u in world.users[:5]])
    ce.update_enrollment(laptop, enrolled.id, {"student_data": {"city": "Musina"}})
    ce.update_cohort(laptop, world.cohort, {"sponsor_id": gone.id, "student_count": 30})
    ce.delete_cohort(laptop, old.id)
    ce.update_sponsor(laptop, retail.id, {"contact_name": "Palesa Molefe", "contact_phone": "011 555 0199"})
    ce.update_sponsor(server, retail.id, {"contact_name": "Johan Botha", "contact_phone": "011 555 0100"})
    # meanwhile on the server
    ce.delete_sponsor(server, mining.id)
    ce.delete_enrollment(server, enrolled.id)
    ce.delete_sponsor(server, gone.id)
    ce.update_cohort(server, world.cohort, {"student_count": 24})
    ce.enroll(server, ce.NewEnrollment(old.id, world.users[2]))
    engine.sync(laptop, server)


def main(out: Path) -> None:
    from cohortdesk.views.admin.conflict_inbox import ConflictInboxDialog
    from cohortdesk.views.theme import apply_theme
    from tests.conftest import create_pg_database, drop_pg_database

    size = os.environ.get("COHORTDESK_SHOT_SIZE", "1366x768")
    scale = os.environ.get("QT_SCALE_FACTOR", "1")
    suffix = f"{size}" + ("" if scale in ("", "1") else f"@{int(float(scale) * 100)}")
    width, height = (int(v) for v in size.split("x"))
    out.mkdir(parents=True, exist_ok=True)
    app = QApplication.instance() or QApplication(sys.argv)
    app.setProperty("cohortdesk_quiet_errors", True)
    apply_theme(app, "light")
    url = create_pg_database("cdinboxshots")
    server = Database(url)
    try:
        migrate.upgrade(server)
        with tempfile.TemporaryDirectory() as folder:
            laptop = Database(f"sqlite:///{Path(folder) / 'laptop.sqlite3'}")
            migrate.upgrade(laptop)
            make_conflicts(server, laptop)
            runner = Runner(synchronous=True)
            inbox = ConflictInboxDialog(runner, laptop)
            scale_factor = float(scale or 1)
            inbox.resize(int(width / scale_factor * 0.92), int(height / scale_factor * 0.88))
            inbox.show()
            for index in range(inbox.list.count()):
                inbox.list.setCurrentRow(index)
                QApplication.processEvents()
                kind = inbox.entries[index].kind.replace("_", "-")
                path = out / f"conflict-inbox-{index + 1}-{kind}-{suffix}.png"
                inbox.grab().save(str(path))
                print(path)
            inbox.close()
            runner.shutdown()
            laptop.dispose()
    finally:
        server.dispose()
        drop_pg_database(url)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/screenshots/inbox"))
