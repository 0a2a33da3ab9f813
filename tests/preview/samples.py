"""Real sample documents for the preview tests, made on the spot: PDFs with QPdfWriter, images with
Pillow (EXIF orientation, multi-page TIFF), and the broken kinds officers meet in uploads."""

from __future__ import annotations

import io

from PIL import Image, ImageDraw
from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QRect, QSizeF, Qt
from PySide6.QtGui import QColor, QFont, QPageSize, QPainter, QPdfWriter


def pdf(pages: int = 3, title: str = "Certified copy", marker: bytes = b"") -> bytes:
    """A real A4 PDF: a heading, a coloured block and body text on every page (needs a QGuiApplication)."""
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
        font.setPointSize(26)
        painter.setFont(font)
        painter.drawText(QRect(180, 250, 2100, 200), Qt.AlignmentFlag.AlignLeft, f"{title} · page {page + 1}")
        painter.fillRect(180, 560, 2100, 260, QColor(34, 84, 150))
        font.setPointSize(10)
        painter.setFont(font)
        for line in range(36):
            painter.drawText(
                180, 1050 + line * 60, "The holder of this document is a registered learner. " * 2
            )
    painter.end()
    buffer.close()
    data = bytes(array)
    if marker:  # a comment line after the header: still a valid PDF
        data = data.replace(b"\n", b"\n" + marker + b"\n", 1)
    return data


def giant_pdf(points: float = 14_400) -> bytes:
    """One square page ``points`` wide (200 inches: a poster scanned as one page), with a dark block."""
    array = QByteArray()
    buffer = QBuffer(array)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    writer = QPdfWriter(buffer)
    writer.setPageSize(QPageSize(QSizeF(points, points), QPageSize.Unit.Point))
    writer.setResolution(72)
    painter = QPainter(writer)
    painter.fillRect(0, 0, int(points), int(points) // 2, QColor(34, 84, 150))
    painter.end()
    buffer.close()
    return bytes(array)


def jpeg_with_comment(comment: bytes) -> bytes:
    """A real JPEG carrying ``comment`` in a COM segment right after its start marker."""
    data = photo()
    segment = b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment
    return data[:2] + segment + data[2:]


def encrypted_pdf(password: str = "secret") -> bytes:
    from pypdf import PdfWriter

    writer = PdfWriter(clone_from=io.BytesIO(pdf(1)))
    writer.encrypt(user_password=password, owner_password=password + "-owner", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def photo(width: int = 400, height: int = 300, orientation: int | None = None, fmt: str = "JPEG") -> bytes:
    """A landscape picture whose top-left quarter is red, so orientation can be checked by colour."""
    image = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    draw.rectangle([0, 0, width // 2, height // 2], fill=(220, 30, 30))
    draw.rectangle([width // 2, height // 2, width - 1, height - 1], fill=(30, 60, 200))
    out = io.BytesIO()
    if orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = orientation
        image.save(out, fmt, exif=exif.tobytes(), quality=90)
    else:
        image.save(out, fmt)
    return out.getvalue()


def tiff(pages: int = 3) -> bytes:
    """A multi-page TIFF; page n is filled with a distinct grey level and is ``100 + 20 n`` px wide."""
    frames = [Image.new("RGB", (100 + 20 * n, 140), (40 * (n + 1),) * 3) for n in range(pages)]
    out = io.BytesIO()
    frames[0].save(out, "TIFF", save_all=True, append_images=frames[1:], compression="tiff_deflate")
    return out.getvalue()


def truncated_jpeg() -> bytes:
    data = photo(800, 600)
    return data[: len(data) // 2]


def corrupt_pdf() -> bytes:
    return b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R" + b"\x00garbage" * 50


def zip_archive() -> bytes:
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("id.txt", "not a document")
    return out.getvalue()


def windows_program() -> bytes:
    return b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 200


def many_page_pdf(pages: int) -> bytes:
    """A hand-written PDF with ``pages`` pages sharing one content stream: tiny file, huge page count."""
    content = b"BT /F1 48 Tf 72 700 Td (Scanned page) Tj ET 0.2 0.35 0.6 rg 72 560 450 80 re f"
    objects: list[bytes] = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"",  # the page tree, filled in below
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
    ]
    first_page = len(objects) + 1
    kids = b" ".join(b"%d 0 R" % (first_page + n) for n in range(pages))
    objects[1] = b"<< /Type /Pages /Count %d /Kids [%s] >>" % (pages, kids)
    page = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 3 0 R >> >> >>"
    objects.extend(page for _ in range(pages))
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def huge_jpeg(width: int = 16000, height: int = 12000) -> bytes:
    """A big grey photo with a dark frame: decodes to 192 MP at full size."""
    image = Image.new("L", (width, height), 235)
    ImageDraw.Draw(image).rectangle([0, 0, width - 1, height - 1], outline=20, width=max(8, width // 100))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=70)
    return out.getvalue()


def png_bomb(width: int = 20000, height: int = 20000) -> bytes:
    """A PNG whose header claims 400 megapixels (1.6 GB once decoded) over a few bytes of data."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 1024))
        + chunk(b"IEND", b"")
    )
