"""The GUI side of the render worker: one long-lived process, one request in flight, a time limit.

Everything here runs on the GUI thread but never waits: ``QProcess`` writes and reads through the
event loop, and replies arrive as signals. A request that outlives its time limit, or a worker that
dies, is tried once more in a fresh worker (a worker can fail for reasons of its own: memory, a
signal, a stall); only a second failure on the same document fails it, so a good file is never
blamed for one bad moment. The next document renders normally either way.

``open`` may ask the worker to draw the first page with the open (``geometry.Room``): a document
not read ahead is then on screen after one round trip to the worker, not two.

Read-ahead: ``read_ahead`` opens a document beside the current one and ``render_ahead`` draws its
pages there, while the worker has nothing else to do (the current document's requests always go
first). ``adopt`` then makes it the current document without a second parse, so the officer's next
document can be on screen from the page cache at once. Read-ahead is best effort: a document that
fails or times out there only loses its head start (``ahead_failed``).

Pixels come back through a shared pixel file where the system has /dev/shm (``PixelFile``), else
through the pipe. Each worker gets a file of its own, whose name is removed as soon as the worker
says ready: nothing is left behind, whoever dies first, and a worker that was given up on can never
write into its successor's pages.
"""

from __future__ import annotations

import itertools
import logging
import mmap
import os
import secrets
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QProcess, QProcessEnvironment, QTimer, Signal
from PySide6.QtGui import QImage

from cohortdesk.views.preview import geometry, protocol

log = logging.getLogger(__name__)

RENDER_WORKER_FLAG = "--render-worker"
DEFAULT_TIMEOUT_MS = 10_000
START_TIMEOUT_MS = 30_000
ABANDON_AFTER_S = 0.5  # how long a request for a document no longer wanted may still run
SHARED_MEMORY_DIR = Path("/dev/shm")
# The largest page the worker draws (geometry.MAX_RENDER_PIXELS, RGB32). The file is sparse: only
# the pixels written take memory, committed by the worker as it writes them.
PIXEL_FILE_SIZE = geometry.MAX_RENDER_PIXELS * 4


class PixelFile:
    """The GUI's end of one worker's shared pixel file (``protocol.PIXELS_ENV``)."""

    def __init__(self, path: Path, view: mmap.mmap) -> None:
        self.path: Path | None = path
        self._map: mmap.mmap | None = view

    @classmethod
    def create(cls) -> PixelFile | None:
        """A fresh file, or None where there is no /dev/shm or it cannot be made (pixels then go
        through the pipe)."""
        if not sys.platform.startswith("linux") or not SHARED_MEMORY_DIR.is_dir():
            return None
        path = SHARED_MEMORY_DIR / f"cohortdesk-preview-{os.getpid()}-{secrets.token_hex(8)}"
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError:
            return None
        try:
            os.ftruncate(fd, PIXEL_FILE_SIZE)
            return cls(path, mmap.mmap(fd, PIXEL_FILE_SIZE))
        except (OSError, ValueError):
            path.unlink(missing_ok=True)
            return None
        finally:
            os.close(fd)

    def forget_name(self) -> None:
        """Remove the name (the worker has the file open by now); the memory stays mapped."""
        if self.path is not None:
            self.path.unlink(missing_ok=True)
            self.path = None

    def close(self) -> None:
        self.forget_name()
        if self._map is not None:
            self._map.close()
            self._map = None

    def image(self, header: dict[str, Any]) -> QImage:
        """A copy of the page the worker just wrote, as ``header`` describes it."""
        if self._map is None:
            raise protocol.ProtocolError("pixels in a shared file this worker does not have")
        with memoryview(self._map) as view:
            return _image(header, view)


def worker_command() -> tuple[str, list[str]]:
    """How to start a worker: the frozen executable with a flag, else this Python with ``-m``."""
    if getattr(sys, "frozen", False):
        return sys.executable, [RENDER_WORKER_FLAG]
    return sys.executable, ["-m", "cohortdesk.views.preview.render_worker"]


@dataclass(frozen=True, slots=True)
class RenderKey:
    """One rendering of one page: what the page cache is keyed by."""

    fingerprint: str
    page: int
    rotation: int
    width: int
    height: int


@dataclass(slots=True)
class _Request:
    op: str
    token: int
    header: dict[str, Any]
    payload: bytes = b""
    key: RenderKey | None = None


class RenderClient(QObject):
    """Talks to one render worker process on behalf of one preview widget."""

    opened = Signal(int, object)  # token, {"pages", "sizes", "unit", ...}
    page_rendered = Signal(int, object, QImage)  # token, RenderKey, image
    page_failed = Signal(int, object, str)  # token, RenderKey, detail
    failed = Signal(int, str, object)  # token, error code, reply details
    worker_started = Signal(int)  # pid
    ahead_opened = Signal(int, object)  # token, {"pages", "sizes", "unit", ...} of a document read ahead
    ahead_failed = Signal(int)  # token of a document read ahead that could not be opened or drawn

    def __init__(
        self,
        parent: QObject | None = None,
        timeout_ms: int = DEFAULT_TIMEOUT_MS,
        environment: dict[str, str] | None = None,
    ) -> None:
        super().__init__(parent)
        self.timeout_ms = timeout_ms
        self._environment = environment or {}
        self._process: QProcess | None = None
        self._generation = itertools.count(1)
        self._current_generation = 0
        self._ready = False
        self._reader = protocol.FrameReader()
        self._seq = itertools.count(1)
        self._in_flight: tuple[int, _Request] | None = None
        self._queue: list[_Request] = []
        self._ahead_queue: list[_Request] = []  # read-ahead requests: sent only when _queue is empty
        self._document: tuple[int, str, bytes] | None = None  # token, kind, data of the current doc
        self._loaded_token: int | None = None  # what the worker holds
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._on_timeout)
        self._start_timer = QTimer(self)
        self._start_timer.setSingleShot(True)
        self._start_timer.timeout.connect(self._on_start_timeout)
        self._closing = False
        self._holding = 0  # requests wait while the caller paints (``held``)
        self._sent_at = 0.0
        self.restarts = 0
        self.pid: int | None = None
        self._pixels: PixelFile | None = None  # the current worker's shared pixel file
        self._retried: set[int] = set()  # documents (tokens) already given their second chance

    # -- public ------------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the worker ahead of the first document, so its start-up is not on anyone's clock."""
        if self._process is None and not self._closing:
            self._spawn()

    def open(
        self,
        token: int,
        kind: str,
        data: bytes,
        first: RenderKey | None = None,
        room: geometry.Room | None = None,
    ) -> None:
        """Make ``data`` the current document; answers with ``opened`` or ``failed``. With ``room``
        the worker draws the first page as it opens the document, at the size it has there; it comes
        as ``page_rendered`` (``first`` with that size) just before ``opened``."""
        self._queue.clear()
        self._document = (token, kind, data)
        if self._in_flight is not None and self._in_flight[1].token != token:
            # The officer moved on while the worker is still busy with another document: give it a
            # short grace, then abandon it, so a stuck document never makes the next one wait out
            # the whole time limit.
            grace = ABANDON_AFTER_S - (time.monotonic() - self._sent_at)
            self._timer.start(max(0, round(grace * 1000)))
        header: dict[str, Any] = {"op": "open", "token": token, "kind": kind}
        if room is not None and first is not None:
            header["first"] = room.to_json()
        self._enqueue(_Request("open", token, header, data, key=first if room is not None else None))

    def adopt(self, token: int, kind: str, data: bytes) -> None:
        """Make a document read ahead (``read_ahead``) the current one. Nothing is announced: the
        caller already has its page sizes (``ahead_opened``). Only its token goes to the worker; one
        that no longer holds it (restarted, or it dropped it) answers ``not_open`` and gets ``data``."""
        self._ahead_queue = [r for r in self._ahead_queue if r.token != token]
        self._queue.clear()
        self._document = (token, kind, data)
        if self._in_flight is not None and self._in_flight[1].token != token:
            grace = ABANDON_AFTER_S - (time.monotonic() - self._sent_at)
            self._timer.start(max(0, round(grace * 1000)))
        header = {"op": "open", "token": token, "kind": kind, "quiet": True, "adopt": True}
        self._enqueue(_Request("open", token, header))

    def read_ahead(self, token: int, kind: str, data: bytes) -> None:
        """Open ``data`` beside the current document (answers ``ahead_opened`` or ``ahead_failed``)."""
        header = {"op": "open", "token": token, "kind": kind, "ahead": True}
        self._ahead_queue.append(_Request("ahead_open", token, header, data))
        self._pump()

    def render_ahead(self, token: int, key: RenderKey, page: int) -> None:
        """Draw a page of a document read ahead into the cache (answers ``page_rendered``)."""
        self._ahead_queue.append(_Request("ahead_render", token, _render_header(token, key, page), key=key))
        self._pump()

    @contextmanager
    def held(self) -> Iterator[None]:
        """Requests made inside go to the worker on the next turn of the event loop: the caller paints
        first, without the worker taking the CPU from it on a small machine."""
        self._holding += 1
        try:
            yield
        finally:
            self._holding -= 1
            if not self._holding:
                QTimer.singleShot(0, self._pump)

    def forget_ahead(self, keep: set[int]) -> None:
        """Drop queued read-ahead requests of documents other than ``keep`` (tokens)."""
        self._ahead_queue = [r for r in self._ahead_queue if r.token in keep]

    def close_document(self) -> None:
        self._queue.clear()
        self._document = None

    def render(self, token: int, requests: Sequence[tuple[RenderKey, int]]) -> None:
        """Replace the queue of page renders with ``requests`` (key, page index), most wanted first.

        A render already in flight finishes (its result lands in the cache); stale ones are dropped.
        """
        if self._document is None or self._document[0] != token:
            return
        self._queue = [r for r in self._queue if r.op != "render"]
        in_flight_key = self._in_flight[1].key if self._in_flight else None
        for key, page in requests:
            if key == in_flight_key:
                continue
            self._queue.append(_Request("render", token, _render_header(token, key, page), key=key))
        self._pump()

    @property
    def busy(self) -> bool:
        return self._in_flight is not None or bool(self._queue) or bool(self._ahead_queue)

    def shutdown(self) -> None:
        """Stop the worker: closing its input lets it exit by itself; kill it if it does not."""
        self._closing = True
        self._timer.stop()
        self._start_timer.stop()
        self._queue.clear()
        self._ahead_queue.clear()
        process, self._process = self._process, None
        if process is not None:
            process.blockSignals(True)
            if process.state() != QProcess.ProcessState.NotRunning:
                process.closeWriteChannel()
                if not process.waitForFinished(300):
                    process.kill()
                    process.waitForFinished(1000)
            process.deleteLater()
        self._drop_pixels()

    def _drop_pixels(self) -> None:
        pixels, self._pixels = self._pixels, None
        if pixels is not None:
            pixels.close()

    # -- process lifecycle --------------------------------------------------------------------------

    def _spawn(self) -> None:
        generation = next(self._generation)
        self._current_generation = generation
        self._ready = False
        self._reader.reset()
        self._loaded_token = None
        process = QProcess(self)
        program, arguments = worker_command()
        environment = QProcessEnvironment.systemEnvironment()
        if not getattr(sys, "frozen", False):
            # A source checkout is importable only through our own sys.path: hand it down.
            root = str(Path(__file__).resolve().parents[3])
            existing = environment.value("PYTHONPATH", "")
            environment.insert("PYTHONPATH", root + (os.pathsep + existing if existing else ""))
        environment.insert("QT_QPA_PLATFORM", "offscreen")  # the worker never shows a window
        self._drop_pixels()
        self._pixels = PixelFile.create()
        if self._pixels is not None and self._pixels.path is not None:
            environment.insert(protocol.PIXELS_ENV, str(self._pixels.path))
        for name, value in self._environment.items():
            environment.insert(name, value)
        process.setProcessEnvironment(environment)
        process.setProcessChannelMode(QProcess.ProcessChannelMode.ForwardedErrorChannel)
        process.readyReadStandardOutput.connect(lambda: self._guarded(self._on_ready_read, generation))
        process.finished.connect(
            lambda code, status: self._guarded(self._on_finished, generation, code, status)
        )
        process.errorOccurred.connect(lambda error: self._guarded(self._on_error, generation, error))
        self._process = process
        self._start_timer.start(START_TIMEOUT_MS)
        process.start(program, arguments)

    def _guarded(self, handler: Any, *args: Any) -> None:
        if self._closing:
            return
        try:
            handler(*args)
        except RuntimeError as exc:
            # Qt objects already deleted: the application is tearing down with the worker running.
            if "already deleted" not in str(exc):
                raise

    def _retire(self, reason: str) -> None:
        """Kill the current worker without waiting; a fresh one starts for whatever comes next."""
        process, self._process = self._process, None
        self._ready = False
        self._current_generation = 0
        self._timer.stop()
        self._start_timer.stop()
        self._loaded_token = None
        self._drop_pixels()
        if process is not None:
            log.warning("Render worker %s stopped: %s", process.processId(), reason)
            # Its signals are ignored from now on (the generation moved on). Delete it only once the
            # kernel has reaped it: QProcess's destructor would wait for it on the GUI thread.
            if process.state() != QProcess.ProcessState.NotRunning:
                process.finished.connect(process.deleteLater)
                process.kill()
            else:
                process.deleteLater()
        self.restarts += 1

    def _on_start_timeout(self) -> None:
        if not self._ready:
            self._fail_current("engine_unavailable", {"detail": "the render worker did not start in time"})
            self._retire("did not start")

    def _on_error(self, generation: int, error: QProcess.ProcessError) -> None:
        if generation != self._current_generation:
            return
        if error == QProcess.ProcessError.FailedToStart:
            self._fail_current("engine_unavailable", {"detail": "the render worker could not be started"})
            self._retire("failed to start")
            self._queue.clear()
            self._ahead_queue.clear()

    def _on_finished(self, generation: int, code: int, status: QProcess.ExitStatus) -> None:
        if generation != self._current_generation or self._closing:
            return
        if not self._ready:
            # Died while starting: a broken installation, not a document. Do not loop restarting.
            self._fail_current("engine_unavailable", {"detail": f"the render worker exited with code {code}"})
            self._retire(f"exited with code {code} while starting")
            self._queue.clear()
            self._ahead_queue.clear()
            return
        in_flight = self._in_flight
        self._in_flight = None
        self._retire(f"exited with code {code} ({status.name})")
        if in_flight is not None and not self._retry(in_flight[1]):
            self._fail_request(in_flight[1], "crashed", {"detail": f"exit code {code}"})
        if self._queue or self._ahead_queue or self._document is not None:
            self._spawn()

    def _on_timeout(self) -> None:
        if self._in_flight is None:
            return
        _, request = self._in_flight
        self._in_flight = None
        self._retire(f"{request.op} took longer than {self.timeout_ms} ms")
        if not self._retry(request):
            self._fail_request(request, "timeout", {"detail": f"no answer within {self.timeout_ms} ms"})
        self._spawn()

    def _retry(self, request: _Request) -> bool:
        """Send ``request`` again to the fresh worker, once per document; False when it had its chance
        (or its document is no longer wanted; read-ahead gets no second chance)."""
        if (
            request.op.startswith("ahead")
            or self._document is None
            or self._document[0] != request.token
            or request.token in self._retried
        ):
            return False
        self._retried.add(request.token)
        log.info("Trying %s of document %s again in a fresh render worker", request.op, request.token)
        self._queue.insert(0, request)
        return True

    # -- requests -----------------------------------------------------------------------------------

    def _enqueue(self, request: _Request) -> None:
        self._queue.append(request)
        self._pump()

    def _pump(self) -> None:
        if (
            self._in_flight is not None
            or not (self._queue or self._ahead_queue)
            or self._closing
            or self._holding
        ):
            return
        if self._process is None:
            self._spawn()
            return
        if not self._ready:
            return
        request = self._queue.pop(0) if self._queue else self._ahead_queue.pop(0)
        if request.op == "render" and self._loaded_token != request.token:
            # The worker was restarted since this document was opened: open it again first.
            if self._document is None or self._document[0] != request.token:
                return self._pump()
            token, kind, data = self._document
            self._queue.insert(0, request)
            request = _Request(
                "open", token, {"op": "open", "token": token, "kind": kind, "quiet": True}, data
            )
        seq = next(self._seq)
        header = dict(request.header, seq=seq)
        self._in_flight = (seq, request)
        if request.op == "open":
            self._loaded_token = request.token
        self._timer.start(self.timeout_ms)
        self._sent_at = time.monotonic()
        assert self._process is not None
        self._process.write(protocol.encode(header, request.payload))

    def _on_ready_read(self, generation: int) -> None:
        if generation != self._current_generation or self._process is None:
            return
        chunk = self._process.readAllStandardOutput()
        try:
            frames = self._reader.feed(chunk.data())
        except (protocol.ProtocolError, ValueError) as exc:
            self._protocol_failure(exc, self._in_flight[1] if self._in_flight else None)
            return
        for header, payload in frames:
            answering = self._in_flight[1] if self._in_flight else None
            try:
                self._on_frame(header, payload)
            except protocol.ProtocolError as exc:  # pixels that do not match what the reply says
                self._protocol_failure(exc, answering)
                return
        self._pump()

    def _protocol_failure(self, exc: Exception, request: _Request | None) -> None:
        self._in_flight = None
        self._retire(f"protocol error: {exc}")
        if request is not None:
            self._fail_request(request, "crashed", {"detail": str(exc)})
        self._spawn()

    def _on_frame(self, header: dict[str, Any], payload: bytes) -> None:
        if header.get("op") == "ready":
            if self._pixels is not None:
                self._pixels.forget_name()
            self._ready = True
            self._start_timer.stop()
            self.pid = int(header.get("pid", 0)) or None
            self.worker_started.emit(self.pid or 0)
            return
        if self._in_flight is None or header.get("seq") != self._in_flight[0]:
            log.warning("Render worker sent an unexpected reply: %s", header)
            return
        _, request = self._in_flight
        self._in_flight = None
        self._timer.stop()
        if request.op.startswith("ahead"):
            self._on_ahead_frame(request, header, payload)
            return
        if request.op == "open":
            if not header.get("ok") and request.header.get("adopt") and header.get("error") == "not_open":
                self._loaded_token = None  # the worker lost what it read ahead: send the bytes
                if self._document is not None and self._document[0] == request.token:
                    token, kind, data = self._document
                    full = {"op": "open", "token": token, "kind": kind, "quiet": True}
                    self._queue.insert(0, _Request("open", token, full, data))
            elif not header.get("ok"):
                self._loaded_token = None
                self._fail_request(request, str(header.get("error", "internal")), header)
            elif not request.header.get("quiet"):
                first = header.pop("first", None)
                if isinstance(first, dict) and request.key is not None and (payload or header.get("shared")):
                    width, height = (int(n) for n in first["key"])
                    key = RenderKey(request.key.fingerprint, 0, request.key.rotation, width, height)
                    self.page_rendered.emit(request.token, key, self._image(header, payload, first))
                self.opened.emit(request.token, header)
            return
        assert request.key is not None
        if not header.get("ok"):
            if header.get("error") == "not_open":
                self._loaded_token = None
                self._queue.insert(0, request)
            elif header.get("error") == "page_failed":
                self.page_failed.emit(request.token, request.key, str(header.get("detail", "")))
            else:
                self._fail_request(request, str(header.get("error", "internal")), header)
            return
        self.page_rendered.emit(request.token, request.key, self._image(header, payload, header))

    def _on_ahead_frame(self, request: _Request, header: dict[str, Any], payload: bytes) -> None:
        if not header.get("ok"):
            log.info("Reading ahead %s failed: %s", request.token, header.get("error"))
            self._ahead_queue = [r for r in self._ahead_queue if r.token != request.token]
            self.ahead_failed.emit(request.token)
        elif request.op == "ahead_open":
            self.ahead_opened.emit(request.token, header)
        else:
            assert request.key is not None
            self.page_rendered.emit(request.token, request.key, self._image(header, payload, header))

    def _image(self, header: dict[str, Any], payload: bytes, page: dict[str, Any]) -> QImage:
        """The page ``page`` describes (a reply or its ``first``), from the pipe or the shared file."""
        if header.get("shared"):
            if self._pixels is None:
                raise protocol.ProtocolError("pixels in a shared file this worker does not have")
            return self._pixels.image(page)
        return _image(page, payload)

    def _fail_request(self, request: _Request, code: str, details: dict[str, Any]) -> None:
        """A failed open, a timeout or a crash is the whole document's problem (read ahead: only its
        head start is lost)."""
        if request.op.startswith("ahead"):
            self._ahead_queue = [r for r in self._ahead_queue if r.token != request.token]
            self.ahead_failed.emit(request.token)
            return
        if self._document is not None and self._document[0] == request.token:
            self._document = None
            self._queue.clear()
        self.failed.emit(request.token, code, details)

    def _fail_current(self, code: str, details: dict[str, Any]) -> None:
        if self._in_flight is not None:
            request = self._in_flight[1]
            self._in_flight = None
            self._fail_request(request, code, details)
        elif self._document is not None:
            token = self._document[0]
            self._document = None
            self._queue.clear()
            self.failed.emit(token, code, details)


def _image(header: dict[str, Any], pixels: bytes | memoryview) -> QImage:
    width, height, bpl = int(header["width"]), int(header["height"]), int(header["bpl"])
    if width <= 0 or height <= 0 or bpl < width * 4 or bpl * height > len(pixels):
        raise protocol.ProtocolError(f"a {width} x {height} page does not fit its {len(pixels)} bytes")
    with memoryview(pixels)[: bpl * height] as view:
        # Own the pixels: the frame's payload goes, and the shared file is written again.
        return QImage(view, width, height, bpl, QImage.Format.Format_RGB32).copy()


def _render_header(token: int, key: RenderKey, page: int) -> dict[str, Any]:
    """The request for one page of document ``token`` drawn at ``key``'s size and rotation."""
    return {
        "op": "render",
        "token": token,
        "page": page,
        "width": key.width,
        "height": key.height,
        "rotation": key.rotation,
    }
