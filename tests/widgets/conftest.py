"""Fixtures of the administration screens' tests: a seeded SQLite store and a synchronous runner."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QApplication, QMessageBox

from cohortdesk.services.identity import resolve_identity
from cohortdesk.views.admin import form_support
from cohortdesk.views.runner import Runner
from tests.admin_world import admin_world


@pytest.fixture
def world(sqlite_db):
    return admin_world(sqlite_db)


@pytest.fixture
def runner(qtbot):
    QApplication.instance().setProperty("cohortdesk_quiet_errors", True)
    runner = Runner(synchronous=True)
    yield runner
    runner.shutdown()


@pytest.fixture
def identity(sqlite_db, world):
    return resolve_identity(sqlite_db)


class Answers:
    """Scripted answers to the "unsaved changes" and "discard?" questions, with a record of each ask."""

    def __init__(self) -> None:
        self.unsaved: list[QMessageBox.StandardButton] = []
        self.asked = 0

    def next_unsaved(self, *_args) -> QMessageBox.StandardButton:
        self.asked += 1
        return self.unsaved.pop(0) if self.unsaved else QMessageBox.StandardButton.Cancel


@pytest.fixture
def answers(monkeypatch) -> Answers:
    answers = Answers()
    monkeypatch.setattr(form_support, "ask_unsaved", answers.next_unsaved)
    monkeypatch.setattr(
        QMessageBox, "question", staticmethod(lambda *a, **k: QMessageBox.StandardButton.Discard)
    )
    return answers


def pair_store(db, account_id: int, pools: dict[str, list[int]] | None = None) -> None:
    """Make the local store a paired laptop (so edits queue outbox entries), with reserved ids."""
    from cohortdesk.services.sync import local

    with db.session() as s:
        local.update_state(s, account_id=account_id, server_url="postgresql://server.example/cohortdesk")
        for table, ids in (pools or {}).items():
            local.add_to_pool(s, table, ids)
