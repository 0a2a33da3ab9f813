"""What a window re-reads after other officers' changes, and when (no Qt here).

Each queue notification names enrollments and their cohorts. A window gathers them and re-reads, in
one call (``workstation.live_rows``), the named rows it has loaded, the counts of their cohorts, and
the queue's total when a named row is not loaded (it may have just entered the queue; the total is
a count over the account's enrollments like the cohort counts, and is paced as they are).

Every change reaches every window of the account, so with N windows open, each re-reading after
each change, the server would answer N × changes re-reads, and the changes themselves grow with N:
N² in all. ``LiveBatch`` paces one window's re-reads. After a quiet spell the first change is read
``first_delay`` after it arrived, so one officer's decision shows up elsewhere within a second. Then
rows are read at most once per ``rows_seconds`` and cohort counts (the dearest read: every enrollment
of the cohort) at most once per ``counts_seconds``; and when the account is busy these intervals
grow with the rate of changes the window hears (``rows_per_change``, ``counts_per_change`` seconds per
change per second, over the last ``rate_window`` seconds). The window cannot see how many others are
open, but the changes it hears grow with their number, so the re-reads of all windows together stay
about the same however many there are: with 200 officers deciding (about 25 changes a second) a
window reads rows every 5 s and counts every 75 s. Each interval is stretched by a random share of
up to ``jitter`` so that windows that heard the same notification do not read in the same instant.

The window also polls, in case a notification was lost: every ``POLL_SECONDS`` when it cannot
listen, and every ``LISTENING_POLL_SECONDS`` while it listens (a safety net only; each poll re-reads
every loaded row and the queue's total, and the counts when they are due, or always after a
reconnect), the first one at a random point of the interval. A re-read that fails gives back what it
was to read (``retry``), so the next one reads it.

``views/workstation/live_refresh.py`` drives it with Qt timers and ``bench/stations.py`` with its
station's own loop, as the window does.
"""

from __future__ import annotations

import math
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from cohortdesk.services.review.listener import QueueEvent

#: How often a window that cannot listen polls (the status bar says so).
POLL_SECONDS = 20.0
#: How often a listening window polls all the same.
LISTENING_POLL_SECONDS = 60.0


@dataclass(frozen=True)
class LiveReads:
    """One re-read: loaded rows to read again, cohorts to recount, and whether to recount the queue."""

    ids: tuple[int, ...]
    cohorts: tuple[int, ...]
    recount: bool

    def __bool__(self) -> bool:
        return bool(self.ids or self.cohorts or self.recount)


class LiveBatch:
    """Gathers one window's notifications between re-reads and says when the next may run."""

    def __init__(
        self,
        *,
        first_delay: float = 0.15,
        rows_seconds: float = 1.0,
        counts_seconds: float = 10.0,
        jitter: float = 0.5,
        rows_per_change: float = 0.2,
        counts_per_change: float = 3.0,
        rate_window: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self.first_delay = first_delay
        self.rows_seconds = rows_seconds
        self.counts_seconds = counts_seconds
        self.jitter = jitter
        self.rows_per_change = rows_per_change
        self.counts_per_change = counts_per_change
        self.rate_window = rate_window
        # When the notifications of the last rate_window arrived, and how many changes each named.
        self._heard: deque[tuple[float, int]] = deque()
        self._clock = clock
        self._rng = rng or random.Random()
        self._ids: set[int] = set()
        self._cohorts: set[int] = set()
        self._recount = False  # a named row was not loaded: recount the queue with the next counts
        self._rows_since = math.inf  # when the oldest unread change arrived
        self._counts_since = math.inf
        self._next_rows = -math.inf  # the earliest the next read of each kind may run
        self._next_counts = -math.inf

    def add(self, event: QueueEvent) -> None:
        now = self._clock()
        # A notification names every change since the relay's last one (half a second): count them.
        self._heard.append((now, max(1, len(event.items))))
        if event.items:
            self._ids |= event.enrollment_ids
            self._rows_since = min(self._rows_since, now)
        if event.cohort_ids:
            self._cohorts |= event.cohort_ids
            self._counts_since = min(self._counts_since, now)

    @property
    def pending(self) -> bool:
        return bool(self._ids or self._cohorts or self._recount)

    def _due(self) -> tuple[float, float]:
        rows = max(self._rows_since + self.first_delay, self._next_rows) if self._ids else math.inf
        counts_pending = self._cohorts or self._recount
        counts = max(self._counts_since + self.first_delay, self._next_counts) if counts_pending else math.inf
        return rows, counts

    def delay(self) -> float | None:
        """Seconds until ``take`` has something to give; ``None`` when nothing is gathered."""
        if not self.pending:
            return None
        return max(0.0, min(self._due()) - self._clock())

    def rate(self) -> float:
        """Changes heard per second, over the last ``rate_window`` seconds."""
        since = self._clock() - self.rate_window
        while self._heard and self._heard[0][0] < since:
            self._heard.popleft()
        return sum(n for _, n in self._heard) / self.rate_window

    def _interval(self, seconds: float, per_change: float) -> float:
        return max(seconds, per_change * self.rate()) * (1.0 + self.jitter * self._rng.random())

    def take(self, loaded: Callable[[int], bool]) -> LiveReads:
        """What is due now (``loaded``: whether the window shows an enrollment); the rest stays gathered."""
        now = self._clock()
        rows_due, counts_due = self._due()
        ids: tuple[int, ...] = ()
        recount = False
        cohorts: tuple[int, ...] = ()
        if rows_due <= now:
            shown = sorted(i for i in self._ids if loaded(i))
            # A named row that is not loaded may have just entered this queue: its total is recounted
            # with the cohort counts (a count over the account's enrollments too, paced as they are).
            if len(shown) < len(self._ids):
                self._recount = True
                self._counts_since = min(self._counts_since, self._rows_since)
            ids = tuple(shown)
            self._ids.clear()
            self._rows_since = math.inf
            self._next_rows = now + self._interval(self.rows_seconds, self.rows_per_change)
        if counts_due <= now:
            cohorts = tuple(sorted(self._cohorts))
            recount, self._recount = self._recount, False
            self._cohorts.clear()
            self._counts_since = math.inf
            self._next_counts = now + self._interval(self.counts_seconds, self.counts_per_change)
        return LiveReads(ids, cohorts, recount)

    def retry(self, reads: LiveReads, *, all_counts: bool = False) -> None:
        """Gather again what a re-read that failed was to read (``all_counts``: a poll's every count,
        read by the next poll whenever it comes)."""
        now = self._clock()
        if reads.ids:
            self._ids.update(reads.ids)
            self._rows_since = min(self._rows_since, now)
        if reads.cohorts or reads.recount:
            self._cohorts.update(reads.cohorts)
            self._recount = self._recount or reads.recount
            self._counts_since = min(self._counts_since, now)
        if all_counts:
            self._next_counts = -math.inf

    def poll(self, *, all_counts: bool = False) -> bool:
        """A poll re-reads every loaded row now (what was gathered is in it); whether it re-reads every
        cohort's counts too: when they are due, as after notifications, or ``all_counts`` (after a
        reconnect: notifications were lost meanwhile)."""
        now = self._clock()
        if all_counts:
            self._next_counts = -math.inf
        self._ids.clear()
        self._recount = False  # a poll recounts the queue anyway
        self._rows_since = math.inf
        self._next_rows = now + self._interval(self.rows_seconds, self.rows_per_change)
        if now < self._next_counts:
            return False
        self._cohorts.clear()
        self._counts_since = math.inf
        self._next_counts = now + self._interval(self.counts_seconds, self.counts_per_change)
        return True
