"""Time to the first rendered page of a 10-page PDF through ``DocumentPreview`` (show_document until
the first page's pixels are painted, rendered by the worker process) against ``QPdfDocument.render``
of page 1 alone in this process, in the same run, at the same pixel size; plus peak memory.

    QT_QPA_PLATFORM=offscreen python bench/preview.py [--pages 10] [--runs 9]

``measure_first_page()`` returns the figures as a dict, for ``bench/queue.py`` too.
"""

# ruff: noqa: E402 - the import path is fixed before the imports (see below)
from __future__ import annotations

import sys
from pathlib import Path

# bench/queue.py is named like the standard library's ``queue`` (psycopg, concurrent.futures import it):
# keep this folder off the import path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import os
import resource
import statistics
import time
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PySide6.QtCore import QBuffer, QByteArray, QEventLoop, QIODevice, QRect, QSize, Qt, QTimer  # noqa: E402
from PySide6.QtGui import QColor, QFont, QPageSize, QPainter, QPdfWriter  # noqa: E402
from PySide6.QtPdf import QPdfDocument  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from cohortdesk.views.preview import DocumentPreview  # noqa: E402

VIEW_SIZE = QSize(560, 760)


def sample_pdf(pages: int = 10) -> bytes:
    """A text-heavy A4 PDF like a scanned-and-OCRed form: headings, shaded blocks, 40 lines a page."""
    array = QByteArray()
    buffer = QBuffer(array)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    writer = QPdfWriter(buffer)
    writer.setPageSize(QPageSize(QPageSize.PageSizeId.A4))
    writer.setResolution(300)
    painter = QPainter(writer)
    for page in range(pages):
        if page:
            writer.newPage()
        font = QFont("Sans")
        font.setPointSize(22)
        painter.setFont(font)
        painter.drawText(
            QRect(180, 200, 2100, 160), Qt.AlignmentFlag.AlignLeft, f"Tripartite agreement · page {page + 1}"
        )
        for block in range(3):
            painter.fillRect(180, 450 + block * 900, 2100, 120, QColor(34, 84, 150, 60 + 50 * block))
        font.setPointSize(9)
        painter.setFont(font)
        for line in range(40):
            painter.drawText(
                180,
                700 + line * 70,
                f"{line + 1:02d}. The learner, the employer and the provider agree as follows. " * 2,
            )
    painter.end()
    buffer.close()
    return bytes(array)


def _variant(data: bytes, number: int) -> bytes:
    # A trailing comment makes each run a different document (no cache hits) with identical pages.
    return data + f"\n% run {number}\n".encode()


def _peak_mb(pid: int | None = None) -> float | None:
    if pid is None:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KB on Linux
    status = Path(f"/proc/{pid}/status")
    if not status.exists():
        return None
    for line in status.read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return None


def _wait_for(signal: Any, start: Any, timeout_ms: int = 30_000) -> float:
    """Run ``start()`` and the event loop until ``signal``; seconds from start to signal."""
    loop = QEventLoop()
    signal.connect(loop.quit)
    QTimer.singleShot(timeout_ms, loop.quit)
    began = time.perf_counter()
    start()
    loop.exec()
    elapsed = time.perf_counter() - began
    signal.disconnect(loop.quit)
    return elapsed


def _settle(app: QApplication, preview: DocumentPreview) -> None:
    """Let the worker finish prefetching the previous document's next page, as it has long done by
    the time an officer moves on; the figure is then the latency of opening a document."""
    deadline = time.perf_counter() + 5
    while preview.client.busy and time.perf_counter() < deadline:
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)
    app.processEvents()


def _baseline(data: bytes, size: QSize) -> tuple[float, float]:
    """``QPdfDocument.render`` of page 1 alone, and load + render, in this process (seconds)."""
    began = time.perf_counter()
    buffer = QBuffer()
    buffer.setData(data)
    buffer.open(QIODevice.OpenModeFlag.ReadOnly)
    document = QPdfDocument()
    document.load(buffer)
    loaded = time.perf_counter()
    image = document.render(0, size)
    done = time.perf_counter()
    if image.isNull():
        raise RuntimeError("QPdfDocument could not render the sample")
    document.close()
    return done - loaded, done - began


def measure_first_page(pages: int = 10, runs: int = 9, view_size: QSize = VIEW_SIZE) -> dict[str, Any]:
    """First-page latency of ``DocumentPreview`` against in-process ``QPdfDocument.render``, same run."""
    app = QApplication.instance() or QApplication([sys.argv[0]])
    data = sample_pdf(pages)

    preview = DocumentPreview()
    preview.resize(view_size)
    preview.show()
    app.processEvents()
    cold = _wait_for(
        preview.rendered, lambda: preview.show_document(_variant(data, 0), "application/pdf", "cold.pdf")
    )
    first = preview.page_image(1)
    if first is None:
        raise RuntimeError(f"the preview did not render: {preview.message_text()}")
    target = first.size()

    # Interleaved, so the shared machine's background load falls on both sides alike.
    warm, render_only, load_and_render = [], [], []
    for number in range(1, runs + 1):
        _settle(app, preview)
        warm.append(
            _wait_for(
                preview.rendered,
                lambda n=number: preview.show_document(_variant(data, n), "application/pdf", f"{n}.pdf"),
            )
        )
        if preview.state != "document":
            raise RuntimeError(f"the preview failed: {preview.message_text()}")
        render, load_render = _baseline(_variant(data, 10_000 + number), target)
        render_only.append(render)
        load_and_render.append(load_render)
    _settle(app, preview)
    again = _wait_for(
        preview.rendered, lambda: preview.show_document(_variant(data, 1), "application/pdf", "again.pdf")
    )
    worker_peak = _peak_mb(preview.client.pid)
    preview.shutdown()
    preview.deleteLater()

    preview_ms = statistics.median(warm) * 1000
    render_ms = statistics.median(render_only) * 1000
    load_render_ms = statistics.median(load_and_render) * 1000
    return {
        "pages": pages,
        "runs": runs,
        "page_pixels": f"{target.width()}x{target.height()}",
        "preview_first_page_ms": round(preview_ms, 2),
        "preview_cold_start_ms": round(cold * 1000, 2),
        "preview_cached_document_ms": round(again * 1000, 2),
        "baseline_render_ms": round(render_ms, 2),
        "baseline_load_and_render_ms": round(load_render_ms, 2),
        "ratio_to_render": round(preview_ms / render_ms, 2),
        "ratio_to_load_and_render": round(preview_ms / load_render_ms, 2),
        "gui_peak_rss_mb": round(_peak_mb() or 0, 1),
        "worker_peak_rss_mb": round(worker_peak, 1) if worker_peak is not None else None,
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pages", type=int, default=10)
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    result = measure_first_page(args.pages, args.runs)
    print(
        f"Document preview, first page of a {result['pages']}-page PDF at {result['page_pixels']} px (median of {result['runs']}):"
    )
    print(f"  DocumentPreview (worker process, warm)  {result['preview_first_page_ms']:8.1f} ms")
    print(
        f"  QPdfDocument.render, page 1 alone       {result['baseline_render_ms']:8.1f} ms   ratio {result['ratio_to_render']:.2f}x"
    )
    print(
        f"  QPdfDocument load + render, in process  {result['baseline_load_and_render_ms']:8.1f} ms   ratio {result['ratio_to_load_and_render']:.2f}x"
    )
    print(f"  first document after start (spawns the worker) {result['preview_cold_start_ms']:.1f} ms")
    print(f"  the same document shown again (page cache)     {result['preview_cached_document_ms']:.1f} ms")
    print(
        f"  peak memory: GUI process {result['gui_peak_rss_mb']:.0f} MB, render worker {result['worker_peak_rss_mb']} MB"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
