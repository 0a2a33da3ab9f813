"""The e-mails learners receive: built-in English templates, a super admin's edits, and rendering.

A template is a subject, a plain-text body and an HTML body with ``${placeholders}``
(``string.Template``). One e-mail is one *digest*: everything a learner should hear of in one sending
window (every document to fix with its reason, what is still missing, or that all is verified), so the
template is chosen by the most urgent kind in it (a rejection, else a reminder, else "all verified").
Values are HTML-escaped in the HTML body; the item list is rendered for each body by this module.
"""

from __future__ import annotations

import html
import string
from dataclasses import dataclass
from typing import Any

from cohortdesk.errors import ValidationError
from cohortdesk.services.validation import document_label

KINDS = ("rejection", "reminder", "all_verified")
KIND_LABELS = {
    "rejection": "Documents to upload again",
    "reminder": "Reminder: documents still missing",
    "all_verified": "All documents verified",
}
PLACEHOLDERS = {
    "learner_name": "the learner's name",
    "institution_name": "your institution's name",
    "cohort_names": "the cohort (or cohorts) the e-mail is about",
    "items": "the list of documents and what to do about each",
    "item_count": "how many documents are listed",
    "reviewer_names": "who checked the documents",
    "sender_name": "the sender name in the e-mail settings",
    "reply_to": "the reply-to address (else the sender address)",
}


@dataclass(frozen=True)
class Template:
    subject: str
    text: str
    html: str


DEFAULTS: dict[str, Template] = {
    "rejection": Template(
        subject="Action needed: ${item_count} document(s) to upload again for ${cohort_names}",
        text=(
            "Dear ${learner_name},\n\n"
            "${institution_name} checked the documents you uploaded for ${cohort_names}. "
            "Please upload these again:\n\n"
            "${items}\n\n"
            "Checked by: ${reviewer_names}.\n\n"
            "Upload a corrected copy of each one where you uploaded the first; we will check it again "
            "and let you know. If anything is unclear, reply to this e-mail.\n\n"
            "Kind regards,\n${sender_name}\n"
        ),
        html=(
            "<p>Dear ${learner_name},</p>"
            "<p>${institution_name} checked the documents you uploaded for <b>${cohort_names}</b>. "
            "Please upload these again:</p>${items}"
            "<p>Checked by: ${reviewer_names}.</p>"
            "<p>Upload a corrected copy of each one where you uploaded the first; we will check it again "
            "and let you know. If anything is unclear, reply to this e-mail.</p>"
            "<p>Kind regards,<br>${sender_name}</p>"
        ),
    ),
    "reminder": Template(
        subject="Reminder: ${item_count} document(s) still missing for ${cohort_names}",
        text=(
            "Dear ${learner_name},\n\n"
            "Your enrollment in ${cohort_names} at ${institution_name} is waiting for these documents:\n\n"
            "${items}\n\n"
            "Please upload them as soon as you can; we check them once they arrive. If anything is "
            "unclear, reply to this e-mail.\n\n"
            "Kind regards,\n${sender_name}\n"
        ),
        html=(
            "<p>Dear ${learner_name},</p>"
            "<p>Your enrollment in <b>${cohort_names}</b> at ${institution_name} is waiting for these "
            "documents:</p>${items}"
            "<p>Please upload them as soon as you can; we check them once they arrive. If anything is "
            "unclear, reply to this e-mail.</p>"
            "<p>Kind regards,<br>${sender_name}</p>"
        ),
    ),
    "all_verified": Template(
        subject="All your documents for ${cohort_names} are verified",
        text=(
            "Dear ${learner_name},\n\n"
            "Good news: ${institution_name} has verified every document of your enrollment in "
            "${cohort_names}. There is nothing more for you to upload.\n\n"
            "Kind regards,\n${sender_name}\n"
        ),
        html=(
            "<p>Dear ${learner_name},</p>"
            "<p>Good news: ${institution_name} has verified every document of your enrollment in "
            "<b>${cohort_names}</b>. There is nothing more for you to upload.</p>"
            "<p>Kind regards,<br>${sender_name}</p>"
        ),
    ),
}


@dataclass(frozen=True)
class DigestItem:
    """One line of a digest: a document to upload again (with its reason) or one still missing."""

    kind: str  # rejection, reminder or all_verified
    cohort_name: str
    document_type: str | None = None
    reason: str | None = None
    officer: str | None = None


@dataclass(frozen=True)
class RenderedEmail:
    kind: str
    subject: str
    text: str
    html: str


def template_for(kind: str, edited: dict[str, Any] | None) -> Template:
    """The institution's edited template for ``kind``, falling back to the built-in one per field."""
    base = DEFAULTS[kind]
    mine = (edited or {}).get(kind) or {}
    return Template(
        subject=mine.get("subject") or base.subject,
        text=mine.get("text") or base.text,
        html=mine.get("html") or base.html,
    )


def check_templates(edited: dict[str, Any]) -> dict[str, dict[str, str]]:
    """The edited templates, cleaned; ``ValidationError`` naming the kind, field and bad placeholder."""
    clean: dict[str, dict[str, str]] = {}
    for kind, fields in (edited or {}).items():
        if kind not in KINDS:
            raise ValidationError("templates", f"there is no e-mail kind {kind!r}")
        clean[kind] = {}
        for name in ("subject", "text", "html"):
            value = (fields or {}).get(name) or ""
            if not value.strip():
                continue
            if name == "subject" and "\n" in value.strip():
                raise ValidationError(f"{KIND_LABELS[kind]} subject", "must be one line")
            if not string.Template(value).is_valid():
                raise ValidationError(
                    f"{KIND_LABELS[kind]} {name}",
                    "has a $ that starts no placeholder: write ${learner_name} for a value, $$ for a dollar sign",
                )
            used = string.Template(value).get_identifiers()
            unknown = sorted(set(used) - set(PLACEHOLDERS))
            if unknown:
                raise ValidationError(
                    f"{KIND_LABELS[kind]} {name}",
                    f"uses ${{{unknown[0]}}}, which is not a placeholder; use one of "
                    + ", ".join(f"${{{p}}}" for p in PLACEHOLDERS),
                )
            clean[kind][name] = value
    return {k: v for k, v in clean.items() if v}


def _join(names: list[str]) -> str:
    names = [n for n in dict.fromkeys(names) if n]
    if len(names) <= 1:
        return names[0] if names else ""
    return ", ".join(names[:-1]) + " and " + names[-1]


def digest_kind(items: list[DigestItem]) -> str:
    kinds = {i.kind for i in items}
    return next(k for k in KINDS if k in kinds)


def _item_lines(items: list[DigestItem]) -> list[tuple[str, str]]:
    """(document label, what to do) for every item a digest lists, rejections first."""
    lines: list[tuple[str, str]] = []
    for item in sorted(items, key=lambda i: KINDS.index(i.kind)):
        if item.kind == "rejection":
            lines.append((document_label(item.document_type or ""), item.reason or "please upload it again"))
        elif item.kind == "reminder":
            lines.append((document_label(item.document_type or ""), "not uploaded yet"))
    return lines


def render(
    items: list[DigestItem],
    *,
    learner_name: str,
    institution_name: str,
    sender_name: str,
    reply_to: str,
    edited: dict[str, Any] | None = None,
) -> RenderedEmail:
    """One learner's digest rendered with the institution's templates (plain text and HTML)."""
    kind = digest_kind(items)
    template = template_for(kind, edited)
    lines = _item_lines(items)
    values = {
        "learner_name": learner_name or "learner",
        "institution_name": institution_name,
        "cohort_names": _join([i.cohort_name for i in items]),
        "item_count": str(len(lines)),
        "reviewer_names": _join([i.officer or "" for i in items if i.kind == "rejection"])
        or institution_name,
        "sender_name": sender_name or institution_name,
        "reply_to": reply_to,
    }
    text_items = "\n".join(f"  - {label}: {what}" for label, what in lines)
    html_items = (
        "<ul>"
        + "".join(f"<li><b>{html.escape(label)}</b>: {html.escape(what)}</li>" for label, what in lines)
        + "</ul>"
        if lines
        else ""
    )
    subject_values = {**values, "items": ""}
    return RenderedEmail(
        kind=kind,
        subject=" ".join(string.Template(template.subject).safe_substitute(subject_values).split()),
        text=string.Template(template.text).safe_substitute({**values, "items": text_items}),
        html=string.Template(template.html).safe_substitute(
            {**{k: html.escape(v) for k, v in values.items()}, "items": html_items}
        ),
    )


def sample_items(kind: str) -> list[DigestItem]:
    """What the template editor's preview shows for ``kind``."""
    if kind == "rejection":
        return [
            DigestItem(
                "rejection",
                "Q1 2026 Learnership",
                "id_document",
                "The copy is not certified.",
                "Sipho Dlamini",
            ),
            DigestItem(
                "rejection",
                "Q1 2026 Learnership",
                "matric_certificate",
                "Page 2 is missing.",
                "Sipho Dlamini",
            ),
        ]
    if kind == "reminder":
        return [
            DigestItem("reminder", "Q1 2026 Learnership", "proof_of_residence"),
            DigestItem("reminder", "Q1 2026 Learnership", "bank_confirmation_letter"),
        ]
    return [DigestItem("all_verified", "Q1 2026 Learnership")]
