"""The background runner: every database call runs on one worker thread, files and CPU work on a
second lane, and results come back to the GUI thread as queued signals.

    runner.db(services.review.decisions.history, db, enrollment_id).success(show).failure(handle).start()

* ``db`` ops run one at a time on a single long-lived thread (SQLite connections must not wander
  between threads, and PostgreSQL work stays ordered).
* ``io`` ops (rendering, exports, imports) run on a small thread pool.
* An op may take a ``progress`` callback and a ``cancel`` token: pass ``with_progress=True`` and the
  function receives ``progress(done, total, text)`` and ``cancelled()`` keyword arguments.
* No exception dies silently: without a ``.failure`` handler, errors go to ``error_occurred``, which
  the main window connects to ``views.errors.show_error``.
* ``Op.keep()`` marks an op that shutdown must not cancel (it still runs before the db thread ends).
* ``with runner.deferred():`` ops started inside (and after, until then) start on the next turn of
  the event loop, in the order they were started: what a keypress changes on screen is painted
  before their Python competes with the GUI thread for the interpreter (a background thread holding
  the GIL makes the GUI thread wait up to the switch interval each time it calls into Python).
* ``synchronous=True`` (tests) runs ops inline, still delivering results through the same callbacks.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal, Slot

log = logging.getLogger(__name__)


#: A background op that polls its cancel token lets the GUI thread run at least this often (seconds).
YIELD_EVERY = 0.02


class CancelToken:
    """Set by ``cancel()``; background work polls it by calling it.

    Polled from a worker thread, it also hands the GIL to the GUI thread now and then: a busy Python
    thread that releases the GIL only briefly (around each buffered file write) wins every race for it
    and can starve the GUI thread for hundreds of milliseconds (the convoy effect, measured during
    XLSX exports by bench/responsiveness.py); a 1 ms sleep every ``YIELD_EVERY`` seconds breaks it."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._last_yield = time.monotonic()

    def cancel(self) -> None:
        self._event.set()

    def __call__(self) -> bool:
        if threading.current_thread() is not threading.main_thread():
            now = time.monotonic()
            if now - self._last_yield >= YIELD_EVERY:
                time.sleep(0.001)
                self._last_yield = time.monotonic()
        return self._event.is_set()


class Op:
    """One piece of background work; configure with the chained methods, then ``start()``."""

    def __init__(self, runner: Runner, lane: str, fn: Callable[..., Any], args: tuple, kwargs: dict) -> None:
        self.runner = runner
        self.lane = lane
        self.fn = fn
        self.args = args
        self.kwargs = kwargs
        self.id = next(runner._ids)
        self.token = CancelToken()
        self._success: Callable[[Any], None] | None = None
        self._failure: Callable[[BaseException], None] | None = None
        self._progress: Callable[[int, int, str], None] | None = None
        self._finally: Callable[[], None] | None = None
        self._with_progress = False
        self.essential = False
        self.label = getattr(fn, "__name__", "operation")

    def success(self, callback: Callable[[Any], None]) -> Op:
        self._success = callback
        return self

    def failure(self, callback: Callable[[BaseException], None]) -> Op:
        self._failure = callback
        return self

    def progress(self, callback: Callable[[int, int, str], None]) -> Op:
        self._progress = callback
        self._with_progress = True
        return self

    def finally_(self, callback: Callable[[], None]) -> Op:
        self._finally = callback
        return self

    def with_progress(self) -> Op:
        """Pass ``progress=`` and ``cancelled=`` to the function even without a progress callback."""
        self._with_progress = True
        return self

    def keep(self) -> Op:
        """Run this op even if the runner shuts down first (giving back a review claim on close)."""
        self.essential = True
        return self

    def cancel(self) -> None:
        self.token.cancel()

    def start(self) -> Op:
        self.runner._submit(self)
        return self

    def _call(self) -> Any:
        kwargs = dict(self.kwargs)
        if self._with_progress:
            kwargs["progress"] = lambda done, total, text="": self.runner._progress.emit(
                self.id, done, total, text
            )
            kwargs["cancelled"] = self.token
        return self.fn(*self.args, **kwargs)


class Runner(QObject):
    #: (op id, result) — internal, queued to the GUI thread.
    _finished = Signal(int, object)
    #: (op id, exception) — internal.
    _failed = Signal(int, object)
    #: (op id, done, total, text) — internal.
    _progress = Signal(int, int, int, str)
    #: An op failed and had no failure handler: (exception, label).
    error_occurred = Signal(object, str)
    #: Number of ops started and not yet finished changed.
    busy_changed = Signal(int)

    def __init__(
        self, parent: QObject | None = None, *, synchronous: bool = False, io_workers: int = 2
    ) -> None:
        super().__init__(parent)
        self.synchronous = synchronous
        self._ids = itertools.count(1)
        self._ops: dict[int, Op] = {}
        self._db_queue: queue.Queue[Op | None] = queue.Queue()
        self._db_thread: threading.Thread | None = None
        self._io = ThreadPoolExecutor(max_workers=io_workers, thread_name_prefix="cohortdesk-io")
        self._deferring = 0
        self._held: list[Op] = []  # started while deferred: handed to the lanes on the next turn
        self._finished.connect(self._on_finished)
        self._failed.connect(self._on_failed)
        self._progress.connect(self._on_progress)

    # --- public API ---------------------------------------------------------------------------

    def db(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Op:
        """Database work, on the single database thread."""
        return Op(self, "db", fn, args, kwargs)

    def io(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Op:
        """File or CPU work (rendering, exports), on the I/O pool."""
        return Op(self, "io", fn, args, kwargs)

    @property
    def in_flight(self) -> int:
        return len(self._ops)

    @contextmanager
    def deferred(self) -> Iterator[None]:
        """Ops started inside this block begin on the next turn of the event loop, in order (ops
        started after it, before then, queue behind them)."""
        self._deferring += 1
        try:
            yield
        finally:
            self._deferring = max(self._deferring - 1, 0)  # shutdown may have ended it
            if not self._deferring and self._held:
                QTimer.singleShot(0, self._release)

    def _release(self) -> None:
        if self._deferring:
            return
        held, self._held = self._held, []
        for op in held:
            try:
                self._dispatch(op)
            except RuntimeError:  # shut down meanwhile: the op never runs, like a cancelled one
                self._ops.pop(op.id, None)

    def shutdown(self, wait: bool = True) -> None:
        self._deferring = 0
        self._release()  # held ops go to their lanes first (a claim given back on close must run)
        for op in list(self._ops.values()):
            if not op.essential:
                op.cancel()
        if self._db_thread is not None:
            self._db_queue.put(None)
            if wait:
                self._db_thread.join(timeout=10)
            self._db_thread = None
        self._io.shutdown(wait=wait, cancel_futures=True)

    # --- internals ----------------------------------------------------------------------------

    def _submit(self, op: Op) -> None:
        self._ops[op.id] = op
        self.busy_changed.emit(len(self._ops))
        if self.synchronous:
            self._execute(op)
            return
        if (self._deferring or self._held) and threading.current_thread() is threading.main_thread():
            self._held.append(op)
            return
        self._dispatch(op)

    def _dispatch(self, op: Op) -> None:
        if op.lane == "db":
            self._ensure_db_thread()
            self._db_queue.put(op)
        else:
            self._io.submit(self._execute, op)

    def _ensure_db_thread(self) -> None:
        if self._db_thread is None or not self._db_thread.is_alive():
            self._db_thread = threading.Thread(target=self._db_loop, name="cohortdesk-db", daemon=True)
            self._db_thread.start()

    def _db_loop(self) -> None:
        while True:
            op = self._db_queue.get()
            if op is None:
                return
            self._execute(op)

    def _execute(self, op: Op) -> None:
        if op.token():
            self._failed.emit(op.id, _Cancelled())
            return
        try:
            result = op._call()
        except BaseException as exc:  # noqa: BLE001 - delivered to the GUI thread, never swallowed
            self._failed.emit(op.id, exc)
        else:
            self._finished.emit(op.id, result)

    @Slot(int, object)
    def _on_finished(self, op_id: int, result: object) -> None:
        op = self._ops.pop(op_id, None)
        self.busy_changed.emit(len(self._ops))
        if op is None:
            return
        try:
            if op._success is not None and not op.token():
                op._success(result)
        except Exception as exc:  # noqa: BLE001 - a bug in a success handler still reaches the user
            self.error_occurred.emit(exc, op.label)
        finally:
            if op._finally is not None:
                op._finally()

    @Slot(int, object)
    def _on_failed(self, op_id: int, error: object) -> None:
        op = self._ops.pop(op_id, None)
        self.busy_changed.emit(len(self._ops))
        if op is None:
            return
        try:
            if isinstance(error, _Cancelled):
                return
            if op._failure is not None:
                op._failure(error)  # type: ignore[arg-type]
            else:
                log.warning("Background operation %s failed: %r", op.label, error)
                self.error_occurred.emit(error, op.label)
        finally:
            if op._finally is not None:
                op._finally()

    @Slot(int, int, int, str)
    def _on_progress(self, op_id: int, done: int, total: int, text: str) -> None:
        op = self._ops.get(op_id)
        if op is not None and op._progress is not None:
            op._progress(done, total, text)


class _Cancelled(Exception):
    """Marks an op that was cancelled before or while it ran; no handler is called."""
