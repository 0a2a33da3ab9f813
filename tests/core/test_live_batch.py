"""The pacing of a window's live re-reads: the first change after a quiet spell is read at once, a
busy queue's changes are gathered into one read per interval, counts come more rarely than rows,
and rows the window does not show ask for a recount instead."""

from __future__ import annotations

import random

import pytest

from cohortdesk.services.review.listener import QueueEvent, QueueItem
from cohortdesk.services.review.live_batch import LiveBatch


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _event(*ids: int, cohort: int = 7) -> QueueEvent:
    items = tuple(QueueItem(1, i, cohort, 2) for i in ids)
    return QueueEvent(
        "cohort_enrollments", "update", items, cohort_ids=frozenset({cohort}), account_ids=frozenset({1})
    )


def _batch(clock: Clock, jitter: float = 0.0) -> LiveBatch:
    return LiveBatch(
        first_delay=0.15,
        rows_seconds=1.0,
        counts_seconds=10.0,
        jitter=jitter,
        clock=clock,
        rng=random.Random(1),
    )


def test_the_first_change_is_read_after_the_short_delay_rows_and_counts_together():
    clock = Clock()
    batch = _batch(clock)
    assert batch.delay() is None
    batch.add(_event(5))
    assert batch.delay() == pytest.approx(0.15)
    clock.now += 0.15
    reads = batch.take(lambda i: True)
    assert (reads.ids, reads.cohorts, reads.recount) == ((5,), (7,), False)
    assert batch.delay() is None and not batch.pending


def test_a_busy_queue_is_read_once_per_interval_and_counts_less_often():
    clock = Clock()
    batch = _batch(clock)
    batch.add(_event(5))
    clock.now += 0.15
    batch.take(lambda i: True)
    for step, enrollment in enumerate((6, 8, 9)):  # three changes within the next second
        clock.now += 0.2
        batch.add(_event(enrollment))
        assert not batch.take(lambda i: True), step  # not yet: the rows wait their interval
    assert batch.delay() == pytest.approx(0.4)
    clock.now += 0.4
    reads = batch.take(lambda i: True)
    assert reads.ids == (6, 8, 9) and reads.cohorts == ()  # one read for all three; counts later
    assert batch.pending and batch.delay() == pytest.approx(9.0)
    clock.now += 9.0
    assert batch.take(lambda i: True).cohorts == (7,)


def test_a_change_to_a_row_that_is_not_shown_recounts_the_queue():
    clock = Clock()
    batch = _batch(clock)
    batch.add(_event(5, 6))
    clock.now += 1
    reads = batch.take(lambda i: i == 5)
    assert reads.ids == (5,) and reads.recount


def test_in_a_busy_queue_the_total_waits_for_the_counts_not_the_rows():
    clock = Clock()
    batch = _batch(clock)
    batch.add(_event(5))
    clock.now += 0.15
    batch.take(lambda i: True)  # rows and counts just read
    clock.now += 1.0
    batch.add(_event(6, 40))  # 40 is not loaded: it may have just entered the queue
    clock.now += 0.15
    reads = batch.take(lambda i: i != 40)
    assert reads.ids == (6,) and not reads.recount and not reads.cohorts
    clock.now += 10.0
    reads = batch.take(lambda i: i != 40)
    assert reads.cohorts == (7,) and reads.recount and not batch.pending


def test_jitter_spreads_the_windows_and_a_poll_reads_counts_only_when_due():
    clock = Clock()
    delays = set()
    for seed in range(5):
        batch = LiveBatch(jitter=0.5, clock=clock, rng=random.Random(seed))
        batch.add(_event(5))
        clock.now += 0.15
        batch.take(lambda i: True)
        batch.add(_event(6))
        delay = batch.delay()
        assert delay is not None and 1.0 <= delay <= 1.5
        delays.add(round(delay, 6))
        assert not batch.poll()  # counts were read a moment ago: the poll leaves them to their turn
        delay = batch.delay()
        assert delay is not None and delay > 9  # only the counts wait
        clock.now += 20
        assert batch.poll() and not batch.pending
    assert len(delays) == 5


def test_the_busier_the_account_the_rarer_each_window_reads():
    clock = Clock()
    batch = _batch(clock)
    for n in range(250):  # 25 changes a second for 10 s: about 200 officers at work
        clock.now += 0.04
        batch.add(_event(n))
    assert batch.rate() == pytest.approx(25.0)
    batch.take(lambda i: True)
    batch.add(_event(1000))
    assert batch.delay() == pytest.approx(5.0)  # rows: 0.2 s per change a second
    batch.take(lambda i: True)  # nothing due yet
    clock.now += 5.0
    assert batch.take(lambda i: True).ids == (1000,)
    clock.now += 20.0  # the account went quiet: back to the short intervals
    assert batch.rate() == 0.0


def test_a_relayed_notification_counts_every_change_it_names():
    # The institution's relay merges what changed in half a second into one notification.
    clock = Clock()
    batch = _batch(clock)
    for n in range(20):  # twice a second for 10 s, 12 changes each: 24 changes a second
        clock.now += 0.5
        batch.add(_event(*range(n * 12, n * 12 + 12)))
    assert batch.rate() == pytest.approx(24.0)


def test_a_recount_found_after_the_counts_were_read_waits_for_the_next_counts():
    clock = Clock()
    batch = _batch(clock)
    batch.add(_event(5))
    clock.now = 100 + 0.15
    batch.take(lambda i: True)  # rows and counts; the next counts at 10.15
    clock.now = 100 + 9.5
    batch.add(_event(6))
    clock.now = 100 + 9.65
    assert batch.take(lambda i: True).ids == (6,)  # the next rows at 10.65
    clock.now = 100 + 9.7
    batch.add(_event(40))  # a row the window does not show
    clock.now = 100 + 10.15
    reads = batch.take(lambda i: i != 40)
    assert reads.cohorts == (7,) and not reads.recount  # the counts' turn came before the rows'
    clock.now = 100 + 10.65
    reads = batch.take(lambda i: i != 40)
    assert not reads and batch.pending  # 40 asks for a recount: it is not forgotten
    assert batch.delay() == pytest.approx(9.5)  # with the next counts
    clock.now = 100 + 20.15
    reads = batch.take(lambda i: i != 40)
    assert reads.recount and not batch.pending


def test_a_re_read_that_failed_is_read_again_and_a_reconnect_reads_every_count():
    clock = Clock()
    batch = _batch(clock)
    batch.add(_event(5, 40))
    clock.now += 0.15
    reads = batch.take(lambda i: i != 40)
    assert reads.ids == (5,) and reads.cohorts == (7,) and not batch.pending
    batch.retry(reads)  # the server timed out: nothing read is forgotten
    assert batch.pending
    clock.now += (
        batch.delay() or 0.0
    )  # at the rows' next turn, not at once (a failing server is not hammered)
    assert batch.take(lambda i: i != 40).ids == (5,)
    clock.now += batch.delay() or 0.0
    again = batch.take(lambda i: i != 40)
    assert again.cohorts == (7,) and again.recount and not batch.pending
    clock.now += 1.0
    assert not batch.poll()  # the counts were read a second ago
    assert batch.poll(all_counts=True)  # after a reconnect: notifications were lost meanwhile
