"""The background runner delivers results and errors on the GUI thread, never silently dropping one."""

from __future__ import annotations

import threading

import pytest

from cohortdesk.views.runner import Runner


def test_results_arrive_on_the_gui_thread(qtbot):
    runner = Runner()
    gui = threading.get_ident()
    seen: dict[str, int] = {}

    def work() -> int:
        seen["worker"] = threading.get_ident()
        return 42

    results: list[int] = []
    with qtbot.waitSignal(runner._finished, timeout=5000):
        runner.db(work).success(
            lambda r: (results.append(r), seen.setdefault("callback", threading.get_ident()))
        ).start()
    qtbot.waitUntil(lambda: results == [42])
    assert seen["worker"] != gui and seen["callback"] == gui
    runner.shutdown()


def test_db_ops_share_one_thread(qtbot):
    runner = Runner()
    threads: list[int] = []
    for _ in range(5):
        runner.db(lambda: threads.append(threading.get_ident())).start()
    qtbot.waitUntil(lambda: runner.in_flight == 0 and len(threads) == 5)
    assert len(set(threads)) == 1
    runner.shutdown()


def test_unhandled_errors_are_reported(qtbot):
    runner = Runner()

    def boom() -> None:
        raise ValueError("bad")

    with qtbot.waitSignal(runner.error_occurred, timeout=5000) as blocker:
        runner.db(boom).start()
    assert isinstance(blocker.args[0], ValueError)
    runner.shutdown()


def test_synchronous_mode_and_progress(qtbot):
    runner = Runner(synchronous=True)
    steps: list[tuple[int, int]] = []

    def counted(n: int, *, progress, cancelled) -> int:
        for i in range(n):
            progress(i + 1, n, "step")
        return n

    out: list[int] = []
    runner.io(counted, 3).progress(lambda d, t, _text: steps.append((d, t))).success(out.append).start()
    qtbot.waitUntil(lambda: out == [3])
    assert steps == [(1, 3), (2, 3), (3, 3)]


@pytest.mark.parametrize("lane", ["db", "io"])
def test_cancelled_op_calls_no_handler(qtbot, lane):
    runner = Runner(synchronous=True)
    called: list[str] = []
    op = getattr(runner, lane)(lambda: 1).success(lambda _r: called.append("ok"))
    op.cancel()
    op.start()
    assert called == []


def test_deferred_ops_start_on_the_next_turn_in_order(qtbot):
    runner = Runner()
    ran: list[str] = []
    with runner.deferred():
        runner.db(lambda: ran.append("write")).start()
        runner.io(lambda: ran.append("file")).start()
        runner.db(lambda: ran.append("claim")).start()
        assert runner.in_flight == 3
        qtbot.wait(50)  # the event loop has not turned back from the block yet: nothing ran
        assert ran == []
    runner.db(lambda: ran.append("after")).start()  # queues behind the held ones
    qtbot.waitUntil(lambda: runner.in_flight == 0)
    db_order = [name for name in ran if name != "file"]
    assert db_order == ["write", "claim", "after"] and "file" in ran
    runner.shutdown()


def test_shutdown_runs_held_ops_that_must_finish(qtbot):
    runner = Runner()
    ran: list[str] = []
    with runner.deferred():
        runner.db(lambda: ran.append("release claim")).keep().start()
        runner.shutdown()
    assert ran == ["release claim"]
