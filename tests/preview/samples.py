"""Real sample documents for the preview tests, made on the spot: PDFs with QPdfWriter, images with
Pillow (EXIF orientation, multi-page TIFF), and the broken kinds officers meet in uploads."""

from __future__ import annotations

import io

from PIL import Image, ImageDraw
from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QRect, Qt
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
