"""Reading documents in a sibling of the preview's render worker: the same worker program, a
process of its own, driven from a background thread (the runner's io lane), never the GUI thread.

The reading process renders pages and runs OCR with the same isolation as the preview (its own
memory limit, killed with the GUI, restarted after a crash or a time limit), and a long OCR never
delays the page the officer is looking at, which the preview's own worker draws meanwhile.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from cohortdesk.services.documents.reading import reader
from cohortdesk.services.documents.reading.model import DocumentReading
from cohortdesk.views.preview import protocol
from cohortdesk.views.preview.client import worker_command
from cohortdesk.views.preview.render_worker import NICE_ENV
from cohortdesk.views.preview.sniff import IMAGE, PDF, sniff

log = logging.getLogger(__name__)

READ_TIMEOUT_S = 60.0
#: How much lower than the GUI the reading process runs (POSIX niceness; below-normal on Windows).
READING_NICENESS = 10
START_TIMEOUT_S = 60.0


class ReadingProcess:
    """One reading worker; ``read`` is blocking and thread-safe (one document at a time)."""

    def __init__(self, timeout_s: float = READ_TIMEOUT_S, environment: dict[str, str] | None = None) -> None:
        self.timeout_s = timeout_s
        self._environment = environment or {}
        self._process: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self._seq = 0
        self.restarts = 0

    def read(self, data: bytes, document_type: str) -> DocumentReading:
        kind = sniff(data).kind
        if kind not in (PDF, IMAGE):
            return reader.failed(document_type, "This file is not a PDF or an image, so it cannot be read.")
        with self._lock:
            try:
                self._ensure_started()
                token = self._next()
                opened = self._call({"op": "open", "token": token, "kind": kind}, data)
                if not opened.get("ok"):
                    return reader.failed(document_type, "The document could not be opened for reading.")
                answer = self._call({"op": "read", "token": token, "document_type": document_type})
                if not answer.get("ok"):
                    return reader.failed(
                        document_type, f"Reading failed: {answer.get('detail') or answer.get('error')}."
                    )
                return DocumentReading.from_json(answer["reading"])
            except (OSError, protocol.ProtocolError, TimeoutError) as exc:
                log.warning("Reading worker stopped: %r", exc)
                self._stop()
                self.restarts += 1
                return reader.failed(document_type, "Reading this document took too long or failed.")

    def close(self) -> None:
        """Stop the process without waiting for a read in progress (that read then fails quietly)."""
        if self._lock.acquire(blocking=False):
            try:
                self._stop()
            finally:
                self._lock.release()
            return
        process = self._process
        if process is not None:
            process.kill()

    # --- process ---------------------------------------------------------------------------------

    def _next(self) -> int:
        self._seq += 1
        return self._seq

    def _ensure_started(self) -> None:
        if self._process is not None and self._process.poll() is None:
            return
        program, arguments = worker_command()
        environment = dict(os.environ)
        if not getattr(sys, "frozen", False):
            root = str(Path(__file__).resolve().parents[3])
            existing = environment.get("PYTHONPATH", "")
            environment["PYTHONPATH"] = root + (os.pathsep + existing if existing else "")
        environment["QT_QPA_PLATFORM"] = "offscreen"
        environment["OMP_THREAD_LIMIT"] = "1"  # one core for reading: the other stays with the officer
        environment[NICE_ENV] = str(READING_NICENESS)  # the officer's window first, reading after
        environment.update(self._environment)
        self._process = subprocess.Popen(
            [program, *arguments],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=environment,
            creationflags=getattr(subprocess, "CREATE_NO_WINDOW", 0)
            | getattr(subprocess, "BELOW_NORMAL_PRIORITY_CLASS", 0),
        )
        ready = self._receive(START_TIMEOUT_S)
        if ready.get("op") != "ready":
            raise protocol.ProtocolError(f"the reading worker did not say ready: {ready}")

    def _call(self, header: dict[str, Any], payload: bytes = b"") -> dict[str, Any]:
        assert self._process is not None and self._process.stdin is not None
        seq = self._next()
        self._process.stdin.write(protocol.encode(dict(header, seq=seq), payload))
        self._process.stdin.flush()
        while True:
            reply = self._receive(self.timeout_s)
            if reply.get("seq") == seq:
                return reply

    def _receive(self, timeout_s: float) -> dict[str, Any]:
        process = self._process
        assert process is not None and process.stdout is not None
        timer = threading.Timer(timeout_s, process.kill)  # a stuck engine costs only this process
        timer.start()
        try:
            frame = protocol.read_frame(process.stdout)
        finally:
            timer.cancel()
        if frame is None:
            raise TimeoutError("the reading worker ended")
        return frame[0]

    def _stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        try:
            if process.stdin is not None:
                process.stdin.close()
            process.wait(timeout=2)
        except (OSError, subprocess.TimeoutExpired):
            process.kill()
            process.wait(timeout=5)
