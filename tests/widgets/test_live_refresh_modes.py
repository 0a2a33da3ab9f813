"""How changes by others arrive is always on screen: live, reconnecting, or polling (behind a
transaction pooler without a direct listener address, or after the listener found its connection
deaf). Never a silent stop."""

from __future__ import annotations

from PySide6.QtWidgets import QWidget

from cohortdesk.services.review.listener import DEAF
from cohortdesk.views.cohort_tree_model import CohortTreeModel
from cohortdesk.views.connection_monitor import ConnectionMonitor
from cohortdesk.views.queue_table_model import QueueTableModel
from cohortdesk.views.runner import Runner
from cohortdesk.views.workstation.live_refresh import LiveRefresh


class PooledDatabase:
    """What LiveRefresh asks of a database behind PgBouncer in transaction mode (no listener address)."""

    dialect = "postgresql"
    live_refresh_mode = "poll"


def _live(qtbot, db: object) -> LiveRefresh:
    window = QWidget()
    qtbot.addWidget(window)
    runner = Runner(synchronous=True)
    monitor = ConnectionMonitor(runner, db, window)
    queue_model = QueueTableModel(runner, lambda *_a: None, lambda *_a: 0)
    return LiveRefresh(
        window, runner, db, monitor, lambda: None, queue_model, CohortTreeModel(), poll_ms=20000
    )


def test_behind_a_transaction_pooler_the_status_bar_says_it_polls(qtbot):
    live = _live(qtbot, PooledDatabase())
    live.start()
    try:
        assert live.mode == "poll" and live.listener is None
        assert not live.status_label.isHidden()
        assert live.status_label.text() == "Updates every 20 s"
        assert "pooler in transaction mode" in live.status_label.toolTip()
    finally:
        live.stop()


def test_a_deaf_listener_turns_into_visible_polling(qtbot):
    live = _live(qtbot, PooledDatabase())
    live._on_listener_state(True, "")
    assert live.status_label.text() == "Live"
    live._on_listener_state(False, f"{DEAF} (its own test notification did not come back in 5 s)")
    assert live.mode == "poll" and live.status_label.text() == "Updates every 20 s"
    assert live.status_label.toolTip().startswith(DEAF)
