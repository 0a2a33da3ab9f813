"""Widget-test fixtures.

* The administration screens: a seeded SQLite store and a synchronous runner (``world``, ``runner``,
  ``identity``, ``answers``).
* The verification workstation: a GUI-thread SQL guard (autouse) and the workstation on real data with
  the real, threaded background runner (``workstation``). Any SQL that runs on the GUI (test) thread
  while the guard protects a database raises ``SqlOnForbiddenThread``; tests read the database for
  their assertions inside ``sql_guard.paused()``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from PySide6.QtWidgets import QApplication, QMessageBox

from cohortdesk.db import Database
from cohortdesk.db.guard import ThreadGuard
from cohortdesk.services.access.identity import ROLE_CAPABILITIES, Identity, resolve_identity
from cohortdesk.services.documents.storage import DocumentStore
from cohortdesk.views.admin import form_support
from cohortdesk.views.runner import Runner
from cohortdesk.views.workstation import MainWindow
from tests.admin_world import admin_world
from tests.factories import queue_world


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


# --- the verification workstation ------------------------------------------------------------


class SqlGuard:
    def __init__(self) -> None:
        self.guards: list[ThreadGuard] = []

    def protect(self, db: Database) -> ThreadGuard:
        guard = ThreadGuard(db.engine).install()
        self.guards.append(guard)
        return guard

    @contextmanager
    def paused(self) -> Iterator[None]:
        states = [g.enabled for g in self.guards]
        for g in self.guards:
            g.enabled = False
        try:
            yield
        finally:
            for g, state in zip(self.guards, states, strict=True):
                g.enabled = state

    def remove(self) -> None:
        for g in self.guards:
            g.remove()
        self.guards.clear()


@pytest.fixture(autouse=True)
def sql_guard(qapp) -> Iterator[SqlGuard]:
    """Every widget test gets the guard; a database it protects refuses SQL on the GUI thread."""
    quiet = qapp.property("cohortdesk_quiet_errors")
    qapp.setProperty("cohortdesk_quiet_errors", True)  # errors are logged, not shown in modal boxes
    guard = SqlGuard()
    yield guard
    guard.remove()
    qapp.setProperty("cohortdesk_quiet_errors", quiet)


@dataclass
class Workstation:
    window: MainWindow
    runner: Runner
    db: Database
    store: DocumentStore
    world: dict[str, Any]
    errors: list[tuple[BaseException, str]]


def officer_identity(world: dict[str, Any], role: str = "super_admin") -> Identity:
    return Identity(
        world["officer"], "Officer One", world["account"], world["institution"], role, ROLE_CAPABILITIES[role]
    )


def settle(qtbot, window: MainWindow, timeout: int = 15000) -> None:
    """Wait until no background op runs and no debounced search is pending."""
    qtbot.waitUntil(
        lambda: window.runner.in_flight == 0 and not window._search_timer.isActive(), timeout=timeout
    )


def make_workstation(
    qtbot, db, tmp_path, sql_guard: SqlGuard, role: str = "super_admin", files=None, **kwargs
) -> Workstation:
    """The queue world in a workstation window (``files``: see ``queue_world``)."""
    store = DocumentStore(tmp_path / "store")
    world = queue_world(db, store, files)
    runner = Runner()
    errors: list[tuple[BaseException, str]] = []
    runner.error_occurred.connect(lambda error, label: errors.append((error, label)))
    sql_guard.protect(db)
    window = MainWindow(db, runner, store, identity=officer_identity(world, role), **kwargs)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()
    window.start()
    qtbot.waitUntil(lambda: window.current_document() is not None, timeout=15000)
    settle(qtbot, window)
    window.ui.queue_table.setFocus()
    return Workstation(window, runner, db, store, world, errors)


@pytest.fixture
def workstation(qtbot, sqlite_db, tmp_path, cohortdesk_home, sql_guard) -> Iterator[Workstation]:
    ws = make_workstation(qtbot, sqlite_db, tmp_path, sql_guard)
    yield ws
    ws.window.close()
    ws.runner.shutdown()
