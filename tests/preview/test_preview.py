"""DocumentPreview renders real PDFs and images in its worker process, says plainly what it cannot
show, and survives documents that hang or crash the engine without blocking the window."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from PySide6.QtCore import QSize, QTimer
from PySide6.QtGui import QImage

from cohortdesk.views.preview import DocumentPreview, client, protocol
from cohortdesk.views.preview.render_worker import (
    CRASH_ON_OPEN,
    CRASH_ONCE_FILE_ENV,
    CRASH_ONCE_ON_OPEN,
    SPIN_ON_OPEN,
    SPIN_ON_RENDER,
    TEST_HOOKS_ENV,
)
from tests.preview import samples

WAIT_MS = 30_000  # generous: the machine is shared; nothing here measures speed
HANG_LIMIT_MS = 4000  # the render time limit in the hang tests: short, yet far above a real render


def make_preview(qtbot, timeout_ms: int = 8000) -> DocumentPreview:
    widget = DocumentPreview(timeout_ms=timeout_ms, worker_environment={TEST_HOOKS_ENV: "1"})
    widget.resize(520, 640)
    qtbot.addWidget(widget)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


@pytest.fixture
def preview(qtbot):
    widget = make_preview(qtbot)
    yield widget
    widget.shutdown()


def ink(image: QImage) -> int:
    """How many sampled pixels are clearly not white (the page is drawn, not blank)."""
    step = max(1, min(image.width(), image.height()) // 60)
    return sum(
        1
        for x in range(0, image.width(), step)
        for y in range(0, image.height(), step)
        if image.pixelColor(x, y).lightness() < 200
    )


def show_and_wait(qtbot, preview, data, content_type="", name="doc"):
    with qtbot.waitSignal(preview.rendered, timeout=WAIT_MS):
        preview.show_document(data, content_type, name)


def expect_message(qtbot, preview, data, content_type="", name="doc") -> str:
    with qtbot.waitSignal(preview.render_failed, timeout=WAIT_MS) as blocker:
        preview.show_document(data, content_type, name)
    assert preview.state == "message"
    assert preview.stack.currentWidget() is preview.message
    assert blocker.args[0] == preview.message_text()
    return blocker.args[0]


def red(colour) -> bool:
    return colour.red() > 170 and colour.green() < 90 and colour.blue() < 90


def blue(colour) -> bool:
    return colour.blue() > 150 and colour.red() < 90


# -- documents that render --------------------------------------------------------------------------


def test_pdf_renders_every_page_with_ink(qtbot, preview):
    pages_seen = []
    preview.page_changed.connect(lambda current, count: pages_seen.append((current, count)))
    show_and_wait(qtbot, preview, samples.pdf(3), "application/pdf", "certified_id.pdf")
    assert preview.state == "document"
    assert preview.page_count() == 3 and preview.current_page() == 1
    assert pages_seen[0] == (1, 3)
    assert ink(preview.page_image(1)) > 50
    assert ink(preview.view.viewport().grab().toImage()) > 50
    preview.next_page()
    preview.next_page()
    qtbot.waitUntil(lambda: preview.page_image(3) is not None, timeout=WAIT_MS)
    assert preview.current_page() == 3 and pages_seen[-1] == (3, 3)
    assert ink(preview.page_image(3)) > 50
    preview.previous_page()
    assert preview.current_page() == 2
    assert preview.page_spin.value() == 2


def test_zoom_fit_and_rotate(qtbot, preview):
    show_and_wait(qtbot, preview, samples.pdf(2))
    fitted = preview.zoom_percent()
    assert preview.fit_width_button.isChecked()
    page = preview.view.display_size(0)
    assert (
        abs(page.width() - (preview.view.viewport().width() - 32)) <= 2
    )  # fit width: the page spans the view
    preview.zoom_in()
    assert preview.zoom_percent() > fitted and not preview.fit_width_button.isChecked()
    preview.zoom_out()
    preview.zoom_out()
    assert preview.zoom_percent() < fitted
    preview.fit_page()
    size = preview.view.display_size(preview.view.current_page)
    assert size.height() <= preview.view.viewport().height() - 32 + 1
    assert preview.zoom_box.currentText() == f"{preview.zoom_percent()}%"
    preview.zoom_reset()
    assert preview.zoom_percent() == fitted

    portrait = preview.view.display_size(0)
    assert portrait.height() > portrait.width()
    preview.rotate()
    assert preview.rotation() == 90
    qtbot.waitUntil(lambda: preview.page_image(1) is not None, timeout=WAIT_MS)
    turned = preview.page_image(1)
    assert turned.width() > turned.height()  # the page lies on its side now
    for _ in range(3):
        preview.rotate()
    assert preview.rotation() == 0


def test_rotation_is_remembered_per_document(qtbot, preview):
    first, second = samples.pdf(1, title="First"), samples.pdf(1, title="Second")
    show_and_wait(qtbot, preview, first)
    preview.rotate()
    show_and_wait(qtbot, preview, second)
    assert preview.rotation() == 0
    show_and_wait(qtbot, preview, first)
    assert preview.rotation() == 90


def test_keyboard_drives_the_viewer(qtbot, preview):
    show_and_wait(qtbot, preview, samples.pdf(3))
    preview.view.setFocus()
    start = preview.zoom_percent()
    qtbot.keyClick(preview.view, "+")
    assert preview.zoom_percent() > start
    qtbot.keyClick(preview.view, "-")
    qtbot.keyClick(preview.view, "0")
    assert preview.zoom_percent() == start
    from PySide6.QtCore import Qt

    qtbot.keyClick(preview.view, Qt.Key.Key_PageDown)
    assert preview.current_page() == 2
    qtbot.keyClick(preview.view, Qt.Key.Key_End)
    assert preview.current_page() == 3
    qtbot.keyClick(preview.view, Qt.Key.Key_Home)
    assert preview.current_page() == 1
    qtbot.keyClick(preview.view, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
    assert preview.rotation() == 90
    for button in (
        preview.previous_button,
        preview.next_button,
        preview.zoom_in_button,
        preview.rotate_button,
    ):
        assert button.accessibleName() and button.toolTip()


def test_jpeg_and_png_render(qtbot, preview):
    for data, kind in ((samples.photo(), "image/jpeg"), (samples.photo(fmt="PNG"), "image/png")):
        show_and_wait(qtbot, preview, data, kind, "photo")
        image = preview.page_image(1)
        assert image.width() > image.height()  # landscape, as taken
        assert red(image.pixelColor(5, 5)) and blue(image.pixelColor(image.width() - 5, image.height() - 5))


def test_photo_honours_exif_orientation(qtbot, preview):
    # Orientation 6: the camera was turned; the picture must be turned 90° clockwise to stand upright.
    show_and_wait(qtbot, preview, samples.photo(400, 300, orientation=6), "image/jpeg", "id_photo.jpg")
    image = preview.page_image(1)
    assert image.height() > image.width()
    assert red(image.pixelColor(image.width() - 5, 5))  # the red top-left corner went to the top right
    assert blue(image.pixelColor(5, image.height() - 5))


def test_every_tiff_page_is_reachable(qtbot, preview):
    show_and_wait(qtbot, preview, samples.tiff(3), "image/tiff", "scan.tiff")
    assert preview.page_count() == 3
    greys = {}
    for page in (1, 2, 3):
        preview.go_to_page(page)
        qtbot.waitUntil(lambda page=page: preview.page_image(page) is not None, timeout=WAIT_MS)
        image = preview.page_image(page)
        greys[page] = image.pixelColor(image.width() // 2, image.height() // 2).red()
    assert greys == {1: 40, 2: 80, 3: 120}


# -- documents that cannot be shown ------------------------------------------------------------------


def test_missing_and_empty_files(qtbot, preview):
    assert "could not be found" in expect_message(qtbot, preview, None, "application/pdf")
    assert "empty" in expect_message(qtbot, preview, b"", "application/pdf")


def test_corrupt_pdf(qtbot, preview):
    assert "PDF is damaged" in expect_message(qtbot, preview, samples.corrupt_pdf(), "application/pdf")


def test_password_protected_pdf(qtbot, preview):
    text = expect_message(qtbot, preview, samples.encrypted_pdf(), "application/pdf", "locked.pdf")
    assert "password-protected" in text and "unprotected copy" in text


def test_truncated_jpeg(qtbot, preview):
    assert "damaged or incomplete" in expect_message(qtbot, preview, samples.truncated_jpeg(), "image/jpeg")


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (samples.zip_archive(), "a ZIP archive"),
        (samples.windows_program(), "a Windows program"),
        (b"Dear officer, please find my ID attached.\n", "a text file"),
    ],
)
def test_unsupported_files_say_what_they_are(qtbot, preview, data, words):
    text = expect_message(qtbot, preview, data, "application/pdf", "upload.pdf")
    assert words in text and "uploaded as a PDF" in text and "Accepted files are" in text


def test_decompression_bomb_is_refused_not_decoded(qtbot, preview):
    text = expect_message(qtbot, preview, samples.png_bomb(), "image/png", "scan.png")
    assert "too large" in text and "20,000 × 20,000" in text


def test_show_message_and_clear(qtbot, preview):
    show_and_wait(qtbot, preview, samples.pdf(2))
    assert preview.zoom_in_button.isEnabled()
    preview.show_message("No documents uploaded yet.")
    assert preview.state == "message" and preview.message_text() == "No documents uploaded yet."
    assert not preview.zoom_in_button.isEnabled()
    assert preview.zoom_box.currentText() == "" and preview.page_count_label.text() == ""
    preview.clear()
    assert preview.state == "empty" and preview.page_count() == 0
    assert not preview.rotate_button.isEnabled() and not preview.next_button.isEnabled()


# -- isolation: hangs and crashes cost one document, never the window or the next document ----------


class Heartbeat:
    """Ticks on the GUI thread; the largest gap between ticks is how long the GUI was blocked."""

    def __init__(self) -> None:
        self.last = time.monotonic()
        self.longest = 0.0
        self.timer = QTimer()
        self.timer.setInterval(10)
        self.timer.timeout.connect(self._tick)
        self.timer.start()

    def _tick(self) -> None:
        now = time.monotonic()
        self.longest = max(self.longest, now - self.last)
        self.last = now


@pytest.mark.slow
def test_a_hanging_document_is_abandoned_and_the_next_renders(qtbot):
    preview = make_preview(qtbot, timeout_ms=HANG_LIMIT_MS)
    try:
        show_and_wait(qtbot, preview, samples.pdf(1))  # the worker is up and warm
        first_pid = preview.client.pid
        heartbeat = Heartbeat()
        text = expect_message(
            qtbot, preview, samples.pdf(1, marker=SPIN_ON_OPEN), "application/pdf", "stuck.pdf"
        )
        assert "took too long to render" in text
        show_and_wait(qtbot, preview, samples.pdf(2, title="Next"))
        assert preview.page_count() == 2 and ink(preview.page_image(1)) > 50
        assert preview.client.pid != first_pid  # the stuck worker was replaced
        # The GUI kept running while the worker hung: it was never blocked for anything like the limit.
        assert heartbeat.longest < HANG_LIMIT_MS / 1000 / 2
    finally:
        preview.shutdown()


@pytest.mark.slow
def test_a_page_that_hangs_while_rendering_is_abandoned(qtbot):
    preview = make_preview(qtbot, timeout_ms=HANG_LIMIT_MS)
    try:
        text = expect_message(qtbot, preview, samples.pdf(1, marker=SPIN_ON_RENDER), "application/pdf")
        assert "took too long" in text
        show_and_wait(qtbot, preview, samples.photo())
    finally:
        preview.shutdown()


def test_moving_on_from_a_hanging_document_does_not_wait_for_the_limit(qtbot):
    preview = make_preview(qtbot, timeout_ms=60_000)
    try:
        preview.show_document(samples.pdf(1, marker=SPIN_ON_OPEN), "application/pdf", "stuck.pdf")
        qtbot.wait(800)
        show_and_wait(qtbot, preview, samples.pdf(1))  # far sooner than the 60 s limit
        assert preview.state == "document"
    finally:
        preview.shutdown()


def test_an_engine_crash_costs_only_that_document(qtbot, preview):
    text = expect_message(qtbot, preview, samples.pdf(1, marker=CRASH_ON_OPEN), "application/pdf")
    assert "preview engine stopped" in text
    show_and_wait(qtbot, preview, samples.pdf(1))
    assert preview.client.restarts >= 1


def test_a_worker_that_fails_once_on_a_good_file_does_not_blame_the_file(qtbot, tmp_path):
    flag = tmp_path / "crashed-once"
    preview = DocumentPreview(
        timeout_ms=8000, worker_environment={TEST_HOOKS_ENV: "1", CRASH_ONCE_FILE_ENV: str(flag)}
    )
    qtbot.addWidget(preview)
    preview.resize(700, 900)
    preview.show()
    try:
        show_and_wait(qtbot, preview, samples.pdf(2, marker=CRASH_ONCE_ON_OPEN))
        assert flag.exists()  # the first worker did crash on it...
        assert preview.state == "document" and preview.page_count() == 2  # ...and a fresh one showed it
        assert preview.client.restarts == 1
    finally:
        preview.shutdown()


def test_test_hooks_are_ignored_outside_tests(qtbot):
    preview = DocumentPreview(timeout_ms=8000)  # no TEST_HOOKS_ENV for this worker
    qtbot.addWidget(preview)
    preview.show()
    try:
        show_and_wait(qtbot, preview, samples.pdf(1, marker=SPIN_ON_OPEN))
    finally:
        preview.shutdown()


# -- memory: huge images and huge page counts ---------------------------------------------------------


def _peak_rss_mb(pid: int) -> float | None:
    status = Path(f"/proc/{pid}/status")
    if not status.exists():
        return None
    for line in status.read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return None


def test_huge_photo_is_decoded_reduced(qtbot, preview):
    show_and_wait(qtbot, preview, samples.huge_jpeg(), "image/jpeg", "huge.jpg")
    image = preview.page_image(1)
    assert image.width() <= 4096 and ink(image) > 0
    peak = _peak_rss_mb(preview.client.pid) if preview.client.pid else None
    if peak is not None:
        assert peak < 400, f"the worker peaked at {peak:.0f} MB for a 192 MP photo"


def test_huge_page_count_renders_only_what_is_seen(qtbot, preview):
    show_and_wait(qtbot, preview, samples.many_page_pdf(20_000), "application/pdf", "many.pdf")
    assert preview.page_count() == 20_000
    preview.go_to_page(15_000)
    qtbot.waitUntil(lambda: preview.page_image(15_000) is not None, timeout=WAIT_MS)
    assert preview.current_page() == 15_000
    assert len(preview.cache) <= 8


def test_worker_starts_through_the_cli_flag_as_a_frozen_build_does():
    import subprocess
    import sys

    from cohortdesk.views.preview import protocol

    root = Path(__file__).resolve().parents[2]
    env = dict(os.environ, PYTHONPATH=str(root))
    worker = subprocess.Popen(
        [sys.executable, "-m", "cohortdesk", "--render-worker"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=env,
    )
    try:
        ready = protocol.read_frame(worker.stdout)
        assert ready is not None and ready[0]["op"] == "ready"
        worker.stdin.write(protocol.encode({"op": "ping", "seq": 7}))
        worker.stdin.flush()
        reply, _ = protocol.read_frame(worker.stdout)
        assert reply == {"ok": True, "seq": 7, "op": "ping"}
        worker.stdin.close()
        assert worker.wait(timeout=10) == 0
    finally:
        if worker.poll() is None:
            worker.kill()


# -- read-ahead: the next document's first page is drawn before it is shown --------------------------


@pytest.fixture
def requests_sent(monkeypatch) -> list[dict]:
    """Every request header the GUI writes to the render worker, in order."""
    from cohortdesk.views.preview import protocol

    sent: list[dict] = []
    encode = protocol.encode

    def recording(header, payload=b""):
        sent.append(dict(header, payload_bytes=len(payload)))
        return encode(header, payload)

    monkeypatch.setattr(protocol, "encode", recording)
    return sent


def read_ahead_and_wait(qtbot, preview, data) -> None:
    preview.read_ahead(data)
    qtbot.waitUntil(lambda: preview.is_read_ahead(data) and not preview.client.busy, timeout=WAIT_MS)


@pytest.mark.parametrize("zoom", ["fit_width", "fit_page", "150%"])
def test_a_document_read_ahead_comes_on_screen_from_the_cache(qtbot, preview, requests_sent, zoom):
    show_and_wait(qtbot, preview, samples.pdf(2, title="Current"))
    if zoom == "fit_page":
        preview.fit_page()
    elif zoom == "150%":
        preview._set_zoom("custom", 1.5)
    following = samples.pdf(3, title="Following")
    read_ahead_and_wait(qtbot, preview, following)
    assert preview.state == "document" and preview.page_count() == 2  # nothing changed on screen
    requests_sent.clear()
    with qtbot.waitSignal(preview.rendered, timeout=WAIT_MS):
        preview.show_document(following, "application/pdf", "following.pdf")
    assert preview.state == "document" and preview.page_count() == 3
    assert requests_sent == []  # on screen before the worker is asked for anything
    qtbot.waitUntil(lambda: bool(requests_sent) and not preview.client.busy, timeout=WAIT_MS)
    # The first page came from the cache at exactly its size on screen: the worker was not asked for it.
    ratio = preview.view.devicePixelRatioF()
    shown = preview.view.display_size(0)
    image, exact = preview._image_for(0, QSize(round(shown.width() * ratio), round(shown.height() * ratio)))
    assert exact and ink(image) > 50
    assert not [h for h in requests_sent if h["op"] == "render" and h["page"] == 0]
    # The worker holds it (opened ahead, made current by its token alone): later pages render.
    assert requests_sent[0]["op"] == "open" and requests_sent[0]["adopt"]
    assert requests_sent[0]["payload_bytes"] == 0
    preview.go_to_page(3)
    qtbot.waitUntil(lambda: preview.page_image(3) is not None, timeout=WAIT_MS)
    assert ink(preview.page_image(3)) > 50


def test_reading_ahead_leaves_the_page_on_screen_alone(qtbot, preview):
    current = samples.pdf(2, title="Current")
    show_and_wait(qtbot, preview, current)
    failures: list[str] = []
    preview.render_failed.connect(failures.append)
    preview.read_ahead(samples.corrupt_pdf())  # cannot be opened: forgotten quietly
    preview.read_ahead(samples.zip_archive())  # cannot be shown at all: not even sent
    photo = samples.photo()
    read_ahead_and_wait(qtbot, preview, photo)
    assert failures == [] and preview.state == "document" and preview.page_count() == 2
    preview.go_to_page(2)
    qtbot.waitUntil(lambda: preview.page_image(2) is not None, timeout=WAIT_MS)
    # Shown later, each says what it says when shown directly.
    assert "damaged" in expect_message(qtbot, preview, samples.corrupt_pdf(), "application/pdf").lower()
    show_and_wait(qtbot, preview, photo, "image/jpeg", "photo.jpg")
    assert preview.page_count() == 1


def test_a_document_that_crashes_the_engine_while_read_ahead_costs_only_its_head_start(qtbot, preview):
    current = samples.pdf(3, title="Current")
    show_and_wait(qtbot, preview, current)
    crashing = samples.pdf(1, marker=CRASH_ON_OPEN)
    preview.read_ahead(crashing)
    qtbot.waitUntil(lambda: preview.client.restarts >= 1 and not preview.client.busy, timeout=WAIT_MS)
    assert not preview.is_read_ahead(crashing)
    assert preview.state == "document"
    preview.go_to_page(3)  # the fresh worker opens the current document again for its pages
    qtbot.waitUntil(lambda: preview.page_image(3) is not None, timeout=WAIT_MS)
    assert ink(preview.page_image(3)) > 50


def test_a_document_read_ahead_by_a_worker_since_replaced_is_sent_again(qtbot, preview, requests_sent):
    show_and_wait(qtbot, preview, samples.pdf(1, title="Current"))
    following = samples.pdf(3, title="Following")
    read_ahead_and_wait(qtbot, preview, following)
    preview.client._process.kill()  # the worker that holds it goes away (memory, a signal...)
    qtbot.waitUntil(lambda: preview.client.restarts >= 1, timeout=WAIT_MS)
    requests_sent.clear()
    with qtbot.waitSignal(preview.rendered, timeout=WAIT_MS):
        preview.show_document(following, "application/pdf", "following.pdf")  # from the cache
    preview.go_to_page(3)
    qtbot.waitUntil(lambda: preview.page_image(3) is not None, timeout=WAIT_MS)
    opens = [(h.get("adopt", False), h["payload_bytes"] > 0) for h in requests_sent if h["op"] == "open"]
    assert opens == [(True, False), (False, True)]  # asked by token, then sent in full


def test_a_document_read_ahead_is_exact_when_the_scroll_bar_comes(qtbot, preview, requests_sent):
    # A wide photo fits the view (no scroll bar); the PDF after it does not: the bar takes its room
    # from the width as the PDF is shown, and the page drawn ahead was drawn at that width.
    show_and_wait(qtbot, preview, samples.photo(800, 300), "image/jpeg", "wide.jpg")
    assert not preview.view.verticalScrollBar().isVisible()
    following = samples.pdf(2, title="Following")
    read_ahead_and_wait(qtbot, preview, following)
    requests_sent.clear()
    with qtbot.waitSignal(preview.rendered, timeout=WAIT_MS):
        preview.show_document(following, "application/pdf", "following.pdf")
    assert preview.view.verticalScrollBar().isVisible()
    ratio = preview.view.devicePixelRatioF()
    shown = preview.view.display_size(0)
    _image, exact = preview._image_for(0, QSize(round(shown.width() * ratio), round(shown.height() * ratio)))
    assert exact
    qtbot.waitUntil(lambda: not preview.client.busy, timeout=WAIT_MS)
    assert not [h for h in requests_sent if h["op"] == "render" and h["page"] == 0]


# -- a document not read ahead: its first page comes with the open ------------------------------------


@pytest.mark.parametrize(
    "zoom, kind",
    [("fit_width", "pdf"), ("fit_page", "pdf"), ("150%", "pdf"), ("fit_width", "photo"), ("rotated", "pdf")],
)
def test_a_document_not_read_ahead_is_on_screen_after_one_round_trip(qtbot, preview, requests_sent, zoom, kind):
    """The worker draws the first page as it opens the document, at exactly its size on screen: the
    page is painted from that answer, and the worker is never asked for page 1 again."""
    show_and_wait(qtbot, preview, samples.pdf(2, title="Current"))
    if zoom == "fit_page":
        preview.fit_page()
    elif zoom == "150%":
        preview._set_zoom("custom", 1.5)
    data = samples.pdf(3, title="Cold") if kind == "pdf" else samples.photo()
    if zoom == "rotated":
        preview.show_document(data, "application/pdf", "cold.pdf")
        qtbot.waitUntil(lambda: preview.state == "document", timeout=WAIT_MS)
        preview.rotate()  # remembered for these bytes: they open turned next time
        show_and_wait(qtbot, preview, samples.pdf(1, title="Between"))
    qtbot.waitUntil(lambda: not preview.client.busy, timeout=WAIT_MS)
    requests_sent.clear()
    shown: list[bool] = []
    preview.rendered.connect(lambda: shown.append(preview.page_image(1) is not None))
    with qtbot.waitSignal(preview.rendered, timeout=WAIT_MS):
        preview.show_document(data, "application/pdf", "cold.pdf")
    assert requests_sent[0]["op"] == "open" and "first" in requests_sent[0]
    assert not [h for h in requests_sent if h["op"] == "render" and h["page"] == 0]
    assert shown == [True]  # painted from the open's answer
    qtbot.waitUntil(lambda: not preview.client.busy, timeout=WAIT_MS)
    ratio = preview.view.devicePixelRatioF()
    size = preview.view.display_size(0)
    image, exact = preview._image_for(0, QSize(round(size.width() * ratio), round(size.height() * ratio)))
    assert exact and ink(image) > 50
    assert not [h for h in requests_sent if h["op"] == "render" and h["page"] == 0]
    assert preview.rotation() == (90 if zoom == "rotated" else 0)


# -- pixels through the shared file -----------------------------------------------------------------


def _pixel_files() -> list[Path]:
    return sorted(client.SHARED_MEMORY_DIR.glob(f"cohortdesk-preview-{os.getpid()}-*"))


@pytest.mark.skipif(not client.SHARED_MEMORY_DIR.is_dir(), reason="no /dev/shm: pixels go through the pipe")
def test_pages_come_through_the_shared_pixel_file_and_leave_no_name_behind(qtbot, preview, monkeypatch):
    shared: list[bool] = []
    real = client.RenderClient._image

    def spy(self, header, payload, page):
        shared.append(bool(header.get("shared")))
        return real(self, header, payload, page)

    monkeypatch.setattr(client.RenderClient, "_image", spy)
    show_and_wait(qtbot, preview, samples.pdf(2), name="two.pdf")
    assert shared and all(shared)
    assert ink(preview.page_image(1)) > 50
    assert _pixel_files() == []  # named only until the worker said ready
    expect_message(qtbot, preview, samples.pdf(1, marker=CRASH_ON_OPEN), "application/pdf")
    show_and_wait(qtbot, preview, samples.pdf(1), name="after.pdf")  # a fresh worker, a fresh file
    assert ink(preview.page_image(1)) > 50
    assert _pixel_files() == []


@pytest.mark.parametrize(
    "header",
    [
        {"width": 100, "height": 100, "bpl": 400},  # more rows than bytes
        {"width": 100, "height": 10, "bpl": 100},  # rows narrower than their pixels
        {"width": 0, "height": 10, "bpl": 400},
    ],
)
def test_pixels_that_do_not_match_their_reply_are_refused(header):
    with pytest.raises(protocol.ProtocolError):
        client._image(header, bytes(4000))


def test_without_shared_memory_pages_come_through_the_pipe(qtbot, monkeypatch, tmp_path):
    monkeypatch.setattr(client, "SHARED_MEMORY_DIR", tmp_path / "absent")
    preview = make_preview(qtbot)
    try:
        show_and_wait(qtbot, preview, samples.pdf(2), name="two.pdf")
        assert ink(preview.page_image(1)) > 50
        qtbot.waitUntil(lambda: preview.page_image(2) is not None, timeout=WAIT_MS)
    finally:
        preview.shutdown()
