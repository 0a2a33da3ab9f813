"""The render worker: a separate process that turns document bytes into page pixels.

PDF engines and image decoders are large C libraries fed with files from strangers. Running them in
their own process means a document that makes one spin forever, crash or balloon in memory costs
only this process: the GUI (``client.py``) kills it on a time limit and starts a fresh one.

Started as ``python -m cohortdesk.views.preview.render_worker`` from a checkout or an installed
package, and as ``cohortdesk --render-worker`` from a frozen build. It reads frames (``protocol.py``)
on stdin and answers each on stdout, one at a time, holding only the current document:

* ``open``   {token, kind} + document bytes -> {pages, sizes, unit} or {error, ...}; with ``first``
  (a ``geometry.Room``) the reply also carries the first page drawn at the size it has on screen
  there ({first: {key, width, height, bpl, format}} + its pixels); with
  ``"ahead": true`` the document is opened beside the current one (read ahead: the document the
  officer will probably look at next), up to ``AHEAD_DOCUMENTS`` of them, the oldest closed first;
  a later plain ``open`` of the same token makes it current without parsing it again (with
  ``"adopt": true`` and no bytes: ``not_open`` when this worker does not hold it, then it is sent)
* ``render`` {token, page, width, height, rotation} -> {width, height, bpl, format} + RGB32 pixels,
  for the current document or one opened ahead
* ``read``   {token, document_type} -> {reading} (``services.documents.reading``): a PDF page's own text where
  it has one, else OCR of the page rendered at ``READ_DPI``; images are OCRed as decoded.

Documents never touch the disk: they arrive and leave through the pipe. Pixels leave through the
shared pixel file when the GUI gave one (``protocol.PIXELS_ENV``; it lives in memory, /dev/shm).
"""

from __future__ import annotations

import io
import mmap
import os
import sys
import threading
import time
from collections import OrderedDict
from typing import Any, BinaryIO

from cohortdesk.views.preview import geometry, protocol

#: Set by the reading client: this worker runs at lower priority than the GUI (POSIX niceness).
NICE_ENV = "COHORTDESK_WORKER_NICE"
# Test hooks: honoured only when the test suite sets this variable for the worker it starts.
TEST_HOOKS_ENV = "COHORTDESK_PREVIEW_TEST_HOOKS"
SPIN_ON_OPEN = b"%COHORTDESK-TEST-SPIN-OPEN%"
SPIN_ON_RENDER = b"%COHORTDESK-TEST-SPIN-RENDER%"
CRASH_ON_OPEN = b"%COHORTDESK-TEST-CRASH-OPEN%"
#: Crash on open only in the first worker that meets it (it leaves this file behind): a good file
#: that a worker failed on once.
CRASH_ONCE_FILE_ENV = "COHORTDESK_PREVIEW_TEST_CRASH_ONCE_FILE"
CRASH_ONCE_ON_OPEN = b"%COHORTDESK-TEST-CRASH-ONCE%"

#: Documents held open beside the current one for read-ahead renders (each holds its bytes and parse).
AHEAD_DOCUMENTS = 4
MAX_SIZES = 2000  # page sizes reported up front; later pages are assumed to match the last one
READ_DPI = 150  # PDF pages without a text layer are rendered at this for OCR
READ_EDGE = 2600  # images are OCRed from a decode at least this large where the file has it
# Images that must be decoded in full (PNG, TIFF, ...) above this are refused rather than decoded:
# 50 MP is a 600 dpi A3 scan, and already 200 MB of pixels.
MAX_DECODE_PIXELS = 50_000_000
# JPEG can decode at 1/2, 1/4 or 1/8 scale, so only its reduced size counts against the cap.
MAX_JPEG_PIXELS = MAX_DECODE_PIXELS * 64
OPEN_DECODE_EDGE = 2048  # images are decoded at open (to find damaged files) at about this size
# Writable-memory cap on Linux (RLIMIT_DATA; not RLIMIT_AS: pdfium reserves tens of GB of address
# space it never uses): a decompression bomb fails here, in this process, not on the whole PC.
MEMORY_LIMIT = 3 * 1024**3


class RenderError(Exception):
    def __init__(self, code: str, detail: str = "", **extra: Any) -> None:
        super().__init__(detail or code)
        self.code = code
        self.detail = detail
        self.extra = extra


class Renderer:
    """Holds the current document (and a few opened ahead) and answers requests for them."""

    def __init__(self, test_hooks: bool = False) -> None:
        self.test_hooks = test_hooks
        self.token: int | None = None
        self.kind = ""
        self.data = b""
        self.info: dict[str, Any] = {}  # the open reply of the current document
        self._pdf: Any = None
        self._pdf_buffer: Any = None
        self._image: Any = None
        self._decoded: dict[int, tuple[Any, bool]] = {}  # frame -> (oriented RGB image, full size?)
        self._ahead: OrderedDict[int, Renderer] = OrderedDict()  # token -> a document opened ahead
        self._sheet: Any = None  # the last page drawn: its pixels are lent out until the next one

    def handle(self, header: dict[str, Any], payload: bytes) -> tuple[dict[str, Any], bytes | memoryview]:
        op = header.get("op")
        if op == "open":
            token = int(header["token"])
            if header.get("ahead"):
                return dict(self.open_ahead(token, str(header["kind"]), payload)), b""
            ahead = self._ahead.pop(token, None)
            if ahead is not None:
                return dict(self.adopt(ahead)), b""
            if header.get("adopt"):
                raise RenderError("not_open", "the document read ahead is not held by this worker")
            info = dict(self.open(token, str(header["kind"]), payload))
            if isinstance(header.get("first"), dict):
                return self._with_first_page(info, header["first"])
            return info, b""
        if op == "render":
            token = header.get("token")
            target = self if token == self.token else self._ahead.get(int(token or 0))
            if target is None or target.token is None:
                raise RenderError("not_open", "the document is not open in this worker")
            return target.render(
                int(header["page"]), int(header["width"]), int(header["height"]), int(header["rotation"])
            )
        if op == "read":
            if header.get("token") != self.token:
                raise RenderError("not_open", "the document is not open in this worker")
            return {"ok": True, "reading": self.read(str(header.get("document_type", ""))).to_json()}, b""
        if op == "ping":
            return {"ok": True}, b""
        raise RenderError("internal", f"unknown request {op!r}")

    # -- open --------------------------------------------------------------------------------------

    def open(self, token: int, kind: str, data: bytes) -> dict[str, Any]:
        self.close()
        if self.test_hooks:
            if CRASH_ON_OPEN in data:
                os.abort()
            flag = os.environ.get(CRASH_ONCE_FILE_ENV)
            if CRASH_ONCE_ON_OPEN in data and flag and not os.path.exists(flag):
                with open(flag, "w", encoding="utf-8") as marker:
                    marker.write(str(os.getpid()))
                os.abort()
            if SPIN_ON_OPEN in data:
                _hang()
        self.token, self.kind, self.data = token, kind, data
        try:
            if kind == "pdf":
                self.info = self._open_pdf(data)
            elif kind == "image":
                self.info = self._open_image(data)
            else:
                raise RenderError("unsupported", f"unknown kind {kind!r}")
        except BaseException:
            self.close()
            raise
        return self.info

    def _with_first_page(
        self, info: dict[str, Any], room: dict[str, Any]
    ) -> tuple[dict[str, Any], bytes | memoryview]:
        """The open reply with the first page drawn at the size ``room`` gives it on screen
        (``geometry``), so the GUI needs no second round trip to show it. A first page that cannot
        be drawn here is left out: the GUI asks for it as for any page, and hears why."""
        try:
            shown = geometry.Room.from_json(room)
            width, height = geometry.first_page_pixels(info, shown)
            reply, pixels = self.render(0, width, height, shown.rotation)
        except (RenderError, KeyError, TypeError, ValueError):
            return info, b""
        reply.pop("ok", None)
        return dict(info, first=dict(reply, key=[width, height])), pixels

    def open_ahead(self, token: int, kind: str, data: bytes) -> dict[str, Any]:
        """Open a document beside the current one, for renders ahead of the officer."""
        stale = self._ahead.pop(token, None)
        if stale is not None:
            stale.close()
        ahead = Renderer(self.test_hooks)
        info = ahead.open(token, kind, data)
        self._ahead[token] = ahead
        while len(self._ahead) > AHEAD_DOCUMENTS:
            self._ahead.popitem(last=False)[1].close()
        return info

    def forget_ahead(self) -> None:
        while self._ahead:
            self._ahead.popitem()[1].close()

    def adopt(self, ahead: Renderer) -> dict[str, Any]:
        """Make a document opened ahead the current one (it is not parsed again)."""
        self.close()
        self.token, self.kind, self.data, self.info = ahead.token, ahead.kind, ahead.data, ahead.info
        self._pdf, self._pdf_buffer, self._image = ahead._pdf, ahead._pdf_buffer, ahead._image
        self._decoded = ahead._decoded
        return self.info

    def close(self) -> None:
        if self._pdf is not None:
            self._pdf.close()
        self._pdf = self._pdf_buffer = self._image = self._sheet = None
        self._decoded = {}
        self.token, self.kind, self.data, self.info = None, "", b"", {}

    def _open_pdf(self, data: bytes) -> dict[str, Any]:
        from PySide6.QtCore import QBuffer, QIODevice
        from PySide6.QtPdf import QPdfDocument

        buffer = QBuffer()
        buffer.setData(data)
        buffer.open(QIODevice.OpenModeFlag.ReadOnly)
        document = QPdfDocument()
        document.load(buffer)
        error = document.error()
        if error in (QPdfDocument.Error.IncorrectPassword, QPdfDocument.Error.UnsupportedSecurityScheme):
            raise RenderError("encrypted", "the PDF needs a password")
        if error != QPdfDocument.Error.None_ or document.status() != QPdfDocument.Status.Ready:
            raise RenderError("corrupt", f"the PDF engine reports {error.name}")
        count = document.pageCount()
        if count <= 0:
            raise RenderError("corrupt", "the PDF has no pages")
        sizes = []
        for page in range(min(count, MAX_SIZES)):
            size = document.pagePointSize(page)
            sizes.append([round(size.width(), 2), round(size.height(), 2)])
        self._pdf, self._pdf_buffer = document, buffer
        return {"ok": True, "pages": count, "sizes": sizes, "unit": "pt"}

    def _open_image(self, data: bytes) -> dict[str, Any]:
        from PIL import Image, UnidentifiedImageError

        _configure_pillow()
        try:
            image = Image.open(io.BytesIO(data))
        except UnidentifiedImageError as exc:
            raise RenderError("corrupt_image", str(exc)) from exc
        except Image.DecompressionBombError as exc:
            raise RenderError("too_large", str(exc), width=0, height=0) from exc
        self._image = image
        frames = _frame_count(image)
        sizes = []
        for frame in range(min(frames, MAX_SIZES)):
            if frame:
                image.seek(frame)
            width, height = image.size
            _check_image_size(image, width, height)
            if _orientation(image) in (5, 6, 7, 8):
                width, height = height, width
            sizes.append([width, height])
        # Decode the first page now: a truncated or damaged file is found here, reported as the
        # document's problem instead of a blank page.
        self._decode(0, OPEN_DECODE_EDGE, OPEN_DECODE_EDGE)
        return {"ok": True, "pages": frames, "sizes": sizes, "unit": "px", "format": image.format}

    # -- render ------------------------------------------------------------------------------------

    def render(
        self, page: int, width: int, height: int, rotation: int
    ) -> tuple[dict[str, Any], bytes | memoryview]:
        if self.test_hooks and SPIN_ON_RENDER in self.data:
            _hang()
        width, height = geometry.capped(max(1, width), max(1, height))
        rotation %= 360
        if self.kind == "pdf":
            pixels, out_width, out_height, bpl = self._render_pdf(page, width, height, rotation)
        else:
            pixels, out_width, out_height, bpl = self._render_image(page, width, height, rotation)
        reply = {"ok": True, "width": out_width, "height": out_height, "bpl": bpl, "format": "rgb32"}
        return reply, pixels

    def _render_pdf(
        self, page: int, width: int, height: int, rotation: int
    ) -> tuple[memoryview, int, int, int]:
        """The page on white as RGB32; the pixels are a view of ``self._sheet`` (valid until the next
        page is drawn), so they reach the pipe or the shared pixel file without a copy of their own."""
        from PySide6.QtCore import QSize
        from PySide6.QtGui import QColor, QImage, QPainter
        from PySide6.QtPdf import QPdfDocumentRenderOptions

        if not 0 <= page < self._pdf.pageCount():
            raise RenderError("internal", f"page {page} does not exist")
        options = QPdfDocumentRenderOptions()
        options.setRenderFlags(QPdfDocumentRenderOptions.RenderFlag.Annotations)
        options.setRotation(
            {
                0: QPdfDocumentRenderOptions.Rotation.None_,
                90: QPdfDocumentRenderOptions.Rotation.Clockwise90,
                180: QPdfDocumentRenderOptions.Rotation.Clockwise180,
                270: QPdfDocumentRenderOptions.Rotation.Clockwise270,
            }[rotation]
        )
        rendered = self._pdf.render(page, QSize(width, height), options)
        if rendered.isNull():
            raise RenderError("page_failed", f"page {page + 1} could not be drawn")
        # pdfium draws on a transparent sheet; compose it on paper white once, here.
        sheet = QImage(rendered.size(), QImage.Format.Format_RGB32)
        sheet.fill(QColor(255, 255, 255))
        painter = QPainter(sheet)
        painter.drawImage(0, 0, rendered)
        painter.end()
        self._sheet = sheet
        return sheet.constBits(), sheet.width(), sheet.height(), sheet.bytesPerLine()

    def _render_image(self, page: int, width: int, height: int, rotation: int) -> tuple[bytes, int, int, int]:
        from PIL import Image

        if rotation in (90, 270):
            width, height = height, width  # the target is given after rotation
        image = self._decode(page, width, height)
        if image.width > width or image.height > height:
            scale = min(width / image.width, height / image.height)
            size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
            image = image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
        if rotation:
            transpose = {
                90: Image.Transpose.ROTATE_270,  # Pillow turns counter-clockwise
                180: Image.Transpose.ROTATE_180,
                270: Image.Transpose.ROTATE_90,
            }[rotation]
            image = image.transpose(transpose)
        rgba = image.convert("RGBA")
        raw_mode = "BGRA" if sys.byteorder == "little" else "ARGB"  # QImage.Format_RGB32 in memory
        return rgba.tobytes("raw", raw_mode), rgba.width, rgba.height, rgba.width * 4

    # -- read ------------------------------------------------------------------------------------

    def read(self, document_type: str) -> Any:
        """What the current document says (``services.documents.reading.model.DocumentReading``)."""
        import time

        from cohortdesk.services.documents.reading import reader
        from cohortdesk.services.documents.reading.model import SOURCE_OCR, SOURCE_TEXT

        started = time.perf_counter()
        if self.kind != "pdf":
            frames = min(_frame_count(self._image), reader.MAX_PAGES)
            images = (self._decode(frame, READ_EDGE, READ_EDGE) for frame in range(frames))
            return reader.read_images(document_type, images)
        from cohortdesk.services.documents.reading import engine

        lines: list[Any] = []
        sources: list[str] = []
        pages = min(self._pdf.pageCount(), reader.MAX_PAGES)
        for page in range(pages):
            text_lines = self._pdf_text_lines(page)
            if text_lines is not None:
                lines.extend(text_lines)
                sources.append(SOURCE_TEXT)
                continue
            size = self._pdf.pagePointSize(page)
            scale = READ_DPI / 72
            pixels, width, height, bpl = self._render_pdf(
                page, max(1, round(size.width() * scale)), max(1, round(size.height() * scale)), 0
            )
            from PIL import Image

            image = Image.frombuffer("RGBA", (width, height), bytes(pixels), "raw", "BGRA", bpl, 1)
            page_lines, _timings = engine.recognise(image, page)
            lines.extend(page_lines)
            sources.append(SOURCE_OCR)
        return reader.reading_from_lines(document_type, lines, sources, pages, started)

    def _pdf_text_lines(self, page: int) -> list[Any] | None:
        """The page's text layer as lines of words with boxes, or None when it has (almost) none."""
        import re

        from cohortdesk.services.documents.reading import reader
        from cohortdesk.services.documents.reading.model import Line, Word

        text = self._pdf.getAllText(page).text()
        if not reader.text_is_usable(text):
            return None
        size = self._pdf.pagePointSize(page)
        width, height = max(size.width(), 1.0), max(size.height(), 1.0)
        lines: list[Any] = []
        offset = 0
        for raw_line in re.split(r"(\r\n|\n|\r)", text):
            if raw_line in ("\r\n", "\n", "\r"):
                offset += len(raw_line)
                continue
            words = []
            for match in re.finditer(r"\S+", raw_line):
                rect = self._pdf.getSelectionAtIndex(
                    page, offset + match.start(), len(match.group())
                ).boundingRectangle()
                box = (rect.left() / width, rect.top() / height, rect.right() / width, rect.bottom() / height)
                words.append(Word(match.group(), 1.0, box))
            if words:
                lines.append(Line(page, tuple(words)))
            offset += len(raw_line)
        return lines

    def _decode(self, frame: int, width: int, height: int) -> Any:
        """The frame, EXIF-oriented, as an RGB image of at least ``width`` x ``height`` where it can be."""
        from PIL import Image, ImageOps

        cached = self._decoded.get(frame)
        if cached is not None:
            image, full_size = cached
            if full_size or (image.width >= width and image.height >= height):
                return image
        if not 0 <= frame < _frame_count(self._image):
            raise RenderError("internal", f"page {frame} does not exist")
        # A fresh decoder each time: Pillow's draft() only works before the first load.
        source = Image.open(io.BytesIO(self.data))
        if frame:
            source.seek(frame)
        header_size = source.size
        orientation = _orientation(source)
        want = (height, width) if orientation in (5, 6, 7, 8) else (width, height)
        if source.format == "JPEG":
            # Decode at 1/2, 1/4 or 1/8 scale when that still covers the target: a 20000 x 20000
            # photo then costs a few MB instead of 1.2 GB.
            source.draft("RGB", want)
        try:
            source.load()
        except (OSError, SyntaxError, ValueError) as exc:
            raise RenderError("corrupt_image", str(exc)) from exc
        full_size = source.size == header_size
        image = ImageOps.exif_transpose(source) or source
        image = _flatten(image, Image)
        if image is source:
            image = image.copy()
        self._decoded = {frame: (image, full_size)}  # one decoded frame at a time bounds memory
        return image


def _configure_pillow() -> None:
    from PIL import Image, ImageFile

    Image.MAX_IMAGE_PIXELS = MAX_JPEG_PIXELS // 2  # Pillow raises beyond twice this
    ImageFile.LOAD_TRUNCATED_IMAGES = False


def _frame_count(image: Any) -> int:
    if image.format in ("TIFF",):
        return max(1, int(getattr(image, "n_frames", 1)))
    return 1  # animated GIF/PNG/WebP: the first frame is the document


def _check_image_size(image: Any, width: int, height: int) -> None:
    limit = MAX_JPEG_PIXELS if image.format == "JPEG" else MAX_DECODE_PIXELS
    if width * height > limit or width <= 0 or height <= 0:
        raise RenderError("too_large", f"{width} x {height} pixels", width=width, height=height)


def _orientation(image: Any) -> int:
    try:
        if image.format == "TIFF":
            return int(image.tag_v2.get(0x0112, 1))
        return int(image.getexif().get(0x0112, 1))
    except Exception:  # noqa: BLE001 - a damaged EXIF block just means "no rotation"
        return 1


def _flatten(image: Any, pil_image: Any) -> Any:
    """RGB on white: transparency shows as paper, 1-bit, grey, CMYK and 16-bit become plain RGB."""
    if image.mode == "RGB":
        return image
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        sheet = pil_image.new("RGB", rgba.size, (255, 255, 255))
        sheet.paste(rgba, mask=rgba.getchannel("A"))
        return sheet
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        image = image.point(lambda value: value / 256).convert("L")
    return image.convert("RGB")


def _hang() -> None:
    while True:  # a test stand-in for an engine stuck in an endless loop
        time.sleep(3600)


# -- process plumbing --------------------------------------------------------------------------------


def _protocol_streams() -> tuple[BinaryIO, BinaryIO]:
    """Private copies of stdin/stdout for frames; fd 1 then points at stderr, so a library that
    prints cannot corrupt the protocol."""
    in_fd, out_fd = os.dup(0), os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    if os.name == "nt":
        import msvcrt

        msvcrt.setmode(in_fd, os.O_BINARY)
        msvcrt.setmode(out_fd, os.O_BINARY)
    else:
        try:
            import fcntl

            fcntl.fcntl(out_fd, 1031, 1 << 20)  # F_SETPIPE_SZ: fewer, larger reads on the GUI side
        except (ImportError, OSError):
            pass
    return os.fdopen(in_fd, "rb", buffering=1 << 16), os.fdopen(out_fd, "wb", buffering=1 << 16)


class SharedPixels:
    """The GUI's shared pixel file (``protocol.PIXELS_ENV``), mapped once. Its memory is committed
    (``posix_fallocate``) before it is written: a full /dev/shm then sends pixels through the pipe
    instead of killing this process with SIGBUS."""

    def __init__(self, path: str) -> None:
        self._fd = os.open(path, os.O_RDWR)
        try:
            self.size = os.fstat(self._fd).st_size
            self._map = mmap.mmap(self._fd, self.size)
        except BaseException:
            os.close(self._fd)
            raise
        self._committed = 0

    @classmethod
    def from_environment(cls) -> SharedPixels | None:
        path = os.environ.get(protocol.PIXELS_ENV)
        if not path or not hasattr(os, "posix_fallocate"):
            return None
        try:
            return cls(path)
        except (OSError, ValueError) as exc:
            sys.stderr.write(f"render worker: no shared pixel file, pixels go through the pipe: {exc}\n")
            return None

    def put(self, pixels: bytes | memoryview) -> bool:
        """Copy ``pixels`` to the start of the file; False when they do not fit."""
        count = len(pixels)
        if count > self.size:
            return False
        if count > self._committed:
            try:
                os.posix_fallocate(self._fd, 0, count)
            except OSError:
                return False
            self._committed = count
        self._map[:count] = pixels
        return True


def _tie_to_parent() -> None:
    """Die with the GUI even if it is killed while this worker is stuck inside an engine."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes
            import signal

            ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
        try:
            import resource

            resource.setrlimit(resource.RLIMIT_DATA, (MEMORY_LIMIT, MEMORY_LIMIT))
        except (ImportError, ValueError, OSError):
            pass
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(2)
            if os.getppid() != parent:
                os._exit(0)

    if os.name == "posix":
        threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _minimal_pdf() -> bytes:
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Count 1 /Kids [3 0 R] >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Contents 4 0 R >>",
        b"<< /Length 22 >>\nstream\n0 0 1 rg 20 20 50 50 re f\nendstream",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 5\n0000000000 65535 f \n" + b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size 5 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def _warm_up() -> None:
    """Load the engines once before saying "ready": their one-time start-up (libraries, fonts)
    then never counts against the first real document's time limit."""
    try:
        renderer = Renderer()
        renderer.open(0, "pdf", _minimal_pdf())
        renderer.render(0, 32, 32, 0)
        renderer.close()
        from PIL import Image, JpegImagePlugin, PngImagePlugin, TiffImagePlugin  # noqa: F401

        _configure_pillow()
    except Exception as exc:  # noqa: BLE001 - a failed warm-up only costs the first document time
        sys.stderr.write(f"render worker: warm-up failed: {exc}\n")


def main() -> int:
    """The worker loop; returns when the GUI closes the pipe."""
    inp, out = _protocol_streams()
    _tie_to_parent()
    if os.environ.get(NICE_ENV, "").isdigit() and hasattr(os, "nice"):
        try:
            os.nice(int(os.environ[NICE_ENV]))
        except OSError:
            pass
    renderer = Renderer(test_hooks=os.environ.get(TEST_HOOKS_ENV) == "1")
    shared = SharedPixels.from_environment()

    def send(header: dict[str, Any], payload: bytes | memoryview = b"") -> None:
        if payload and shared is not None and shared.put(payload):
            header["shared"] = True
            payload = b""
        out.write(protocol.encode_head(header, len(payload)))
        if payload:
            out.write(payload)
        out.flush()

    _warm_up()
    send({"op": "ready", "pid": os.getpid(), "version": protocol.PROTOCOL_VERSION})
    while True:
        try:
            frame = protocol.read_frame(inp)
        except protocol.ProtocolError as exc:
            sys.stderr.write(f"render worker: {exc}\n")
            return 3
        if frame is None:
            return 0
        header, payload = frame
        reply: dict[str, Any]
        pixels: bytes | memoryview = b""
        try:
            reply, pixels = renderer.handle(header, payload)
        except RenderError as exc:
            reply = {"ok": False, "error": exc.code, "detail": exc.detail, **exc.extra}
        except MemoryError:
            renderer.close()
            renderer.forget_ahead()
            reply = {"ok": False, "error": "too_large", "detail": "out of memory", "width": 0, "height": 0}
        except Exception as exc:  # noqa: BLE001 - any engine failure is this document's problem
            reply = {"ok": False, "error": "internal", "detail": f"{type(exc).__name__}: {exc}"}
        del payload
        reply["seq"] = header.get("seq")
        reply["op"] = header.get("op")
        send(reply, pixels)


if __name__ == "__main__":
    raise SystemExit(main())
