"""What kind of file a document really is, from its first bytes (never only from its declared type).

Pure Python and cheap: it runs on the GUI thread for every document before anything is sent to the
render worker, so unsupported files get their message at once.
"""

from __future__ import annotations

from dataclasses import dataclass

# Kinds the render worker can draw.
PDF = "pdf"
IMAGE = "image"
# Everything else.
EMPTY = "empty"
UNSUPPORTED = "unsupported"

_IMAGE_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"II+\x00", "TIFF"),  # BigTIFF
    (b"MM\x00+", "TIFF"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
)

# Files people upload by mistake, described in words an officer can pass on to a student.
_OTHER_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"MZ", "a Windows program"),
    (b"\x7fELF", "a program"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an older Microsoft Office document"),
    (b"Rar!\x1a\x07", "a RAR archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"\x1f\x8b", "a compressed (gzip) file"),
    (b"{\\rtf", "a rich-text (RTF) document"),
    (b"<!DOCTYPE html", "a web page"),
    (b"<html", "a web page"),
)


@dataclass(frozen=True, slots=True)
class Sniffed:
    kind: str  # PDF, IMAGE, EMPTY or UNSUPPORTED
    label: str  # "PDF", "JPEG", ... or, for unsupported files, a description such as "a ZIP archive"


def sniff(data: bytes | bytearray | memoryview | None) -> Sniffed:
    """Classify ``data`` by its magic bytes."""
    if not data:
        return Sniffed(EMPTY, "an empty file")
    head = bytes(data[:1024])
    # The bytes at offset 0 decide: a JPEG whose comment mentions (or hides) "%PDF-" is a JPEG. Only a
    # byte-order mark or blank lines may come before a PDF's header.
    if head.lstrip(b"\xef\xbb\xbf\r\n\t ").startswith(b"%PDF-"):
        return Sniffed(PDF, "PDF")
    for signature, label in _IMAGE_SIGNATURES:
        if head.startswith(signature):
            return Sniffed(IMAGE, label)
    if (
        head[:2] == b"BM"
        and len(head) >= 18
        and int.from_bytes(head[14:18], "little") in (12, 40, 52, 56, 108, 124)
    ):
        return Sniffed(IMAGE, "BMP")
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return Sniffed(IMAGE, "WebP")
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1", b"msf1"):
            return Sniffed(UNSUPPORTED, "an HEIC photo (the iPhone photo format)")
        if brand in (b"avif", b"avis"):
            return Sniffed(UNSUPPORTED, "an AVIF image")
        return Sniffed(UNSUPPORTED, "a video")
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        if b"word/" in head:
            return Sniffed(UNSUPPORTED, "a Word document")
        if b"xl/" in head:
            return Sniffed(UNSUPPORTED, "an Excel spreadsheet")
        return Sniffed(UNSUPPORTED, "a ZIP archive")
    lowered = head[:64].lower()
    for signature, label in _OTHER_SIGNATURES:
        if head.startswith(signature) or lowered.startswith(signature.lower()):
            return Sniffed(UNSUPPORTED, label)
    if _looks_like_text(head):
        return Sniffed(UNSUPPORTED, "a text file")
    return Sniffed(UNSUPPORTED, "this kind of file")


def _looks_like_text(head: bytes) -> bool:
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return False
    printable = sum(ch.isprintable() or ch in "\r\n\t" for ch in text)
    return printable >= 0.95 * len(text)
