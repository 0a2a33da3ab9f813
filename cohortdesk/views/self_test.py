"""``cohortdesk --self-test [PNG]``: prove a build works, headless, in one command (CI runs it on the
PyInstaller bundle).

In a fresh ``COHORTDESK_HOME`` (a new temporary folder unless one is given) it creates the embedded
database, loads a small demo, opens the main window through the same composition root as a normal
start, waits until the queue's first page is in and the first document is previewed (which exercises
the render worker process and the PDF module), grabs the window to PNG, checks the picture is not
blank, and exits 0. Anything else exits 1 with one line saying what failed.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

DEMO_STUDENTS = 50
TIMEOUT_SECONDS = 180.0


class SelfTestFailed(Exception):
    pass


def _prepare_environment() -> Path:
    home = os.environ.get("COHORTDESK_HOME")
    if not home:
        home = tempfile.mkdtemp(prefix="cohortdesk-self-test-")
        os.environ["COHORTDESK_HOME"] = home
    os.environ.pop("COHORTDESK_DATABASE_URL", None)
    os.environ.pop("COHORTDESK_STORAGE", None)
    platform = os.environ.get("QT_QPA_PLATFORM", "offscreen")
    if platform == "offscreen":
        # A screen the size of an office monitor (the offscreen default is 800×800).
        config = Path(home) / "offscreen-screen.json"
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text(
            '{"screens": [{"name": "self-test", "x": 0, "y": 0, "width": 1920, "height": 1200, '
            '"logicalDpiX": 96, "logicalDpiY": 96, "dpr": 1}]}',
            encoding="utf-8",
        )
        platform = f"offscreen:configfile={config}"
    os.environ["QT_QPA_PLATFORM"] = platform
    return Path(home)


def _distinct_colours(image: object) -> int:
    """Distinct colours on a 64×64 grid of samples: a blank or one-colour grab has one or two."""
    width, height = image.width(), image.height()  # type: ignore[attr-defined]
    if width <= 0 or height <= 0:
        return 0
    seen = set()
    for i in range(64):
        for j in range(64):
            seen.add(image.pixel(i * (width - 1) // 63, j * (height - 1) // 63))  # type: ignore[attr-defined]
    return len(seen)


def _dynamic_imports() -> str:
    """What a bundle must have collected although nothing imports it by name at start-up: the keyring
    backend, the PostgreSQL driver with its libpq, the PDF module, the OCR engine with its model."""
    try:
        import psycopg
        from PySide6 import QtPdf  # noqa: F401

        from cohortdesk.services.connection import secrets

        status = secrets.keyring_status()
        libpq = psycopg.pq.version()
        ocr = _ocr_reads()
    except Exception as exc:  # noqa: BLE001 - reported as the self-test's failure
        raise SelfTestFailed(f"a module the build should contain is missing: {exc!r}") from exc
    return (
        f"keyring {status.backend} ({'usable' if status.usable else 'refused'}), psycopg {psycopg.__version__} "
        f"with libpq {libpq}, QtPdf, {ocr}"
    )


def _ocr_reads() -> str:
    """The OCR engine and its English model are in the build and read an ID number off a page."""
    from PIL import Image, ImageDraw

    from cohortdesk.services.demo.files import _font
    from cohortdesk.services.documents.reading import engine

    if not engine.available():
        raise SelfTestFailed(f"the OCR engine or its model ({engine.tessdata_dir()}) is missing")
    page = Image.new("L", (640, 120), 255)
    ImageDraw.Draw(page).text((20, 40), "ID 8001015009087", font=_font(32), fill=0)
    if "8001015009087" not in engine.bare_text(page).replace(" ", ""):
        raise SelfTestFailed("the OCR engine did not read a clear test line")
    return engine.engine_name()


def run(png: Path | None = None) -> Path:
    home = _prepare_environment()
    png = png or home / "self-test.png"

    from PySide6.QtCore import QEventLoop

    from cohortdesk import logs
    from cohortdesk.settings import AppSettings
    from cohortdesk.views.app import Desktop, Target, application, embedded_url

    app = application([sys.argv[0]], theme="light")
    app.setProperty("cohortdesk_quiet_errors", True)  # errors are collected below, never shown modally
    logs.configure()
    problems: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.levelno >= logging.WARNING:
                problems.append(f"{record.name}: {record.getMessage()}")

    collector = Collect()
    logging.getLogger().addHandler(collector)
    desktop = Desktop(app, AppSettings())
    started = time.monotonic()

    def wait(what: str, until: Callable[[], bool]) -> None:
        deadline = started + TIMEOUT_SECONDS
        while not until():
            if time.monotonic() > deadline:
                raise SelfTestFailed(f"timed out after {TIMEOUT_SECONDS:.0f} s waiting for {what}")
            app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
            if window.startup_info is None and "could not be opened" in window.status_activity.text():
                raise SelfTestFailed(f"the database could not be opened: {window.ui.queue_empty.text()}")
            time.sleep(0.005)

    try:
        modules = _dynamic_imports()
        window = desktop.open(Target(embedded_url(), demo=True), demo_students=DEMO_STUDENTS)
        errors: list[str] = []
        window.runner.error_occurred.connect(lambda error, label: errors.append(f"{label}: {error!r}"))
        outcome: dict[str, str] = {}
        window.preview.rendered.connect(lambda: outcome.setdefault("preview", "rendered"))
        window.preview.render_failed.connect(lambda text: outcome.setdefault("preview", f"failed: {text}"))

        def check_errors() -> bool:
            if errors:
                raise SelfTestFailed(errors[0])
            return False

        wait("the database to open", lambda: check_errors() or window.startup_info is not None)
        wait(
            "the demo data and the queue's first page",
            lambda: check_errors() or window.queue_model.rowCount() > 0,
        )
        wait(
            "the first enrollment's documents",
            lambda: check_errors() or window.current_document() is not None,
        )
        # Preview an uploaded document (the render worker process and the PDF module): the first
        # enrollment may have none uploaded yet, so walk down the queue a little.
        for _step in range(15):
            detail = window._detail
            documents = detail.documents if detail is not None else ()
            uploaded = next((i for i, d in enumerate(documents) if d.uploaded and d.upload), None)
            if uploaded is not None:
                window.ui.document_list.setCurrentRow(uploaded)
                wait("the document preview", lambda: check_errors() or "preview" in outcome)
                if outcome["preview"] != "rendered":
                    raise SelfTestFailed(f"the document preview {outcome['preview']}")
                break
            current = window._current_id
            window.move_enrollment(1)
            wait(
                "the next enrollment",
                lambda current=current: (
                    check_errors()
                    or (
                        window._current_id != current
                        and window._detail is not None
                        and window._detail.student.enrollment_id == window._current_id
                    )
                ),
            )
        wait("background work to finish", lambda: check_errors() or window.runner.in_flight == 0)
        app.processEvents()
        image = window.grab().toImage()
        colours = _distinct_colours(image)
        if colours < 16:
            raise SelfTestFailed(
                f"the main window rendered blank ({colours} colours in {image.width()}×{image.height()})"
            )
        png.parent.mkdir(parents=True, exist_ok=True)
        if not image.save(str(png)):
            raise SelfTestFailed(f"could not write {png}")
        rows, total = window.queue_model.rowCount(), window.queue_model.total
        sys.stdout.write(
            f"CohortDesk self-test passed in {time.monotonic() - started:.1f} s: {total} enrollments "
            f"({rows} loaded), preview {outcome.get('preview', 'not needed')}, window "
            f"{image.width()}×{image.height()} with {colours} colours -> {png}; {modules}\n"
        )
        return png
    except SelfTestFailed as exc:
        recent = "; ".join(problems[-3:])
        raise SelfTestFailed(f"{exc}" + (f" (recent warnings: {recent})" if recent else "")) from None
    finally:
        logging.getLogger().removeHandler(collector)
        if desktop.window is not None:
            desktop.window.close()
        desktop.shutdown()


def main(png: str | None = None) -> int:
    try:
        run(Path(png).resolve() if png else None)
    except SelfTestFailed as exc:
        sys.stderr.write(f"CohortDesk self-test FAILED: {exc}\n")
        return 1
    except Exception as exc:  # noqa: BLE001 - a self-test reports every failure as one line and exit 1
        import traceback

        traceback.print_exc()
        sys.stderr.write(f"CohortDesk self-test FAILED: {type(exc).__name__}: {exc}\n")
        return 1
    return 0
