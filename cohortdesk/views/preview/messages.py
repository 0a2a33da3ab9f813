"""What the preview panel says when it cannot show a document: a short title and plain advice."""

from __future__ import annotations

from typing import Any

ASK_AGAIN = "Ask the student to upload it again."
ACCEPTED = "Accepted files are PDF, JPEG, PNG and TIFF."

_MESSAGES: dict[str, tuple[str, str]] = {
    "missing": (
        "File not found",
        "The file for this document could not be found in storage. " + ASK_AGAIN,
    ),
    "empty": (
        "Empty file",
        "This file is empty (0 bytes), so there is nothing to preview. " + ASK_AGAIN,
    ),
    "corrupt": ("Damaged PDF", "This PDF is damaged and cannot be opened. " + ASK_AGAIN),
    "encrypted": (
        "Password-protected PDF",
        "This PDF is password-protected and cannot be previewed. "
        "Ask the student to upload an unprotected copy.",
    ),
    "corrupt_image": (
        "Damaged image",
        "This image is damaged or incomplete and cannot be shown. " + ASK_AGAIN,
    ),
    "too_large": (
        "Image too large",
        "This image is too large to preview{size}. Ask the student for a smaller scan or photo.",
    ),
    "timeout": (
        "Preview stopped",
        "This document took too long to render, so the preview was stopped. "
        "The file may be damaged; if so, ask the student to upload it again.",
    ),
    "crashed": (
        "Preview stopped",
        "The preview engine stopped while drawing this document. The file is probably damaged. " + ASK_AGAIN,
    ),
    "engine_unavailable": (
        "Preview unavailable",
        "The document preview could not be started. Restart CohortDesk; if this keeps happening, "
        "report it to your administrator.",
    ),
    "internal": (
        "Preview failed",
        "CohortDesk could not show this document. " + ASK_AGAIN,
    ),
}


def failure(code: str, details: dict[str, Any] | None = None) -> tuple[str, str]:
    """Title and text for a failure ``code`` from the sniffer or the render worker."""
    details = details or {}
    title, text = _MESSAGES.get(code, _MESSAGES["internal"])
    if code == "too_large":
        width, height = int(details.get("width") or 0), int(details.get("height") or 0)
        size = f" ({width:,} × {height:,} pixels)" if width and height else ""
        text = text.format(size=size)
    return title, text


def unsupported(label: str, content_type: str = "") -> tuple[str, str]:
    """An upload that is not a document we draw; ``label`` says what it is instead ("a ZIP archive")."""
    what = "this kind of file" if label == "this kind of file" else f"this file: it is {label}"
    declared = content_type.split(";")[0].strip().lower()
    if declared and declared not in ("application/octet-stream", "binary/octet-stream"):
        claim = _declared_words(declared)
        if claim:
            what += f", although it was uploaded as {claim}"
    return "Unsupported file", f"CohortDesk cannot preview {what}. {ACCEPTED} " + ASK_AGAIN


def _declared_words(content_type: str) -> str:
    return {
        "application/pdf": "a PDF",
        "image/jpeg": "a JPEG image",
        "image/jpg": "a JPEG image",
        "image/png": "a PNG image",
        "image/tiff": "a TIFF image",
    }.get(content_type, "")
