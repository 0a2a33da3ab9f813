"""How one enrollment's rows become text on screen: the student details page (captured data beside
what the SA ID number encodes, mismatches highlighted in colour and in words), the document list
items, and the verification history rows. Pure functions of frozen rows, easy to test."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from html import escape

from cohortdesk.enums import EnrollmentState, VerificationAction, VerificationState
from cohortdesk.services.review.queue_rows import DocumentRow, SensitiveValue, StudentDetails
from cohortdesk.services.rows import VerificationRow
from cohortdesk.services.validation import document_label
from cohortdesk.views import theme
from cohortdesk.views.display_text import visible_name

CITIZENSHIP_LABELS = {
    "citizen": "South African citizen",
    "permanent_resident": "Permanent resident",
    "refugee": "Refugee (digit 2)",
    "unknown": "Unknown",
}
SEX_LABELS = {"M": "Male", "F": "Female"}
#: Links inside the student details page (QTextBrowser.anchorClicked).
REVEAL_LINK = "cohortdesk:reveal"
HIDE_LINK = "cohortdesk:hide"


def human_size(size: int | None) -> str:
    if size is None:
        return ""
    value = float(size)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{int(value)} {unit}" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} bytes"


def local_time(moment: datetime | None) -> str:
    return moment.astimezone().strftime("%Y-%m-%d %H:%M") if moment is not None else ""


#: A zero-width space: where a long e-mail address may wrap (after "@" and dots), never mid-word.
WRAP_POINT = "\u200b"


def breakable_address(address: str) -> str:
    """``address`` escaped for HTML, allowed to wrap only after "@" and dots."""
    return escape(address).replace("@", "@" + WRAP_POINT).replace(".", "." + WRAP_POINT)


def _sensitive(value: SensitiveValue | None) -> str:
    c = theme.colours()
    if value is None or not value.display:
        return f"<span style='color:{c.muted}'>not captured</span>"
    if value.masked:
        return f"<span style='color:{c.muted}'>{escape(value.display)}</span>"
    return escape(value.display)


def _plain(value: object) -> str:
    if value in (None, ""):
        return f"<span style='color:{theme.colours().muted}'>not captured</span>"
    return escape(str(value))


def _special_pi_notice(details: StudentDetails) -> str:
    """One line on what is hidden and, for those who may, the way to reveal it (or hide it again)."""
    muted = f"color:{theme.colours().muted}"
    if details.special_pi_masked and details.can_reveal:
        return (
            f"<p style='margin-top:8px; {muted}'>Race, disability and the full ID number are hidden. "
            f"<a href='{REVEAL_LINK}'>Reveal…</a> (Ctrl+I; the reveal and its purpose are logged)</p>"
        )
    if details.special_pi_masked:
        return (
            f"<p style='margin-top:8px; {muted}'>Race, disability and the full ID number are hidden: "
            "your role may not see special personal information.</p>"
        )
    if details.revealed:
        return (
            f"<p style='margin-top:8px; {muted}'>Special personal information shown after a logged reveal. "
            f"<a href='{HIDE_LINK}'>Hide</a></p>"
        )
    return ""


def student_details_html(details: StudentDetails, document_section: str = "") -> str:
    """The student data panel's page: identity, what the documents say (``document_section``, from
    ``views/workstation/reading.py``), the ID comparison table, other captured details."""
    c = theme.colours()
    mismatched = {m.field for m in details.mismatches}
    parts: list[str] = [
        f"<p style='margin:0'><span style='font-size:large; font-weight:600'>{escape(details.student_name)}</span><br>"
        f"<span style='color:{c.muted}'>{breakable_address(details.email)}"
        + (f"<br>{escape(details.phone).replace(' ', '&nbsp;')}" if details.phone else "")
        + "</span></p>"
    ]
    if details.mismatches:
        items = "".join(f"<li>{escape(m.message)}</li>" for m in details.mismatches)
        count = len(details.mismatches)
        parts.append(
            f"<table width='100%' cellpadding='6' style='margin-top:8px; background:{c.error_background}'>"
            f"<tr><td style='color:{c.error}'><b>{count} difference{'s' if count != 1 else ''} "
            f"from the ID number</b><ul style='margin:2px 0 0 -20px'>{items}</ul></td></tr></table>"
        )
    parts.append(_special_pi_notice(details))
    parts.append(document_section)
    check = details.id_check
    if check is not None:
        dob_from_id = check.date_of_birth.isoformat() if check.date_of_birth else "—"
        age_from_id = ""
        if check.date_of_birth is not None:
            today = datetime.now().date()
            dob = check.date_of_birth
            age_from_id = str(today.year - dob.year - ((today.month, today.day) < (dob.month, dob.day)))

        def row(label: str, key: str, captured: str, from_id: str) -> str:
            bad = key in mismatched
            cell = f" style='background:{c.error_background}; color:{c.error}'" if bad else ""
            mark = " ✗" if bad else ""
            return (
                f"<tr><td style='color:{c.muted}'>{label}</td>"
                f"<td{cell}>{captured}{mark}</td><td{cell}>{escape(from_id)}</td></tr>"
            )

        check_text = (
            f"<span style='color:{c.ok}'>✓ valid</span>"
            if check.checksum_valid
            else f"<span style='color:{c.error}'><b>✗ does not match</b></span>"
        )
        parts.append(
            "<p style='margin-top:12px; margin-bottom:2px'><b>SA ID number</b> "
            f"<span style='font-family:monospace'>{_sensitive(check.number)}</span></p>"
            f"<table cellspacing='0' cellpadding='4' width='100%' style='border-color:{c.border}'>"
            f"<tr><th align='left'></th><th align='left' style='color:{c.muted}'>Captured</th>"
            f"<th align='left' style='color:{c.muted}'>From ID number</th></tr>"
            + row("Date of birth", "date_of_birth", _plain(details.date_of_birth), dob_from_id)
            + row("Age", "age", _plain(details.age), age_from_id or "—")
            + row("Gender", "gender", _plain(details.gender), SEX_LABELS.get(check.sex, "—"))
            + f"<tr><td style='color:{c.muted}'>Citizenship</td><td></td>"
            f"<td>{escape(CITIZENSHIP_LABELS.get(check.citizenship, check.citizenship))}</td></tr>"
            f"<tr><td style='color:{c.muted}'>Check digit</td><td></td><td>{check_text}</td></tr>"
            "</table>"
        )
        notes = [*check.problems, *check.warnings]
        if notes:
            color = c.error if check.problems else c.muted
            parts.append(
                f"<p style='color:{color}; margin-top:4px'>"
                + "<br>".join(escape(n[0].upper() + n[1:]) for n in notes)
                + "</p>"
            )
    else:
        parts.append(
            f"<p style='margin-top:12px; color:{c.muted}'>No SA ID number was captured"
            + (f"; {_sensitive(details.alternate_id)}" if details.alternate_id else "")
            + ".</p>"
        )
    rows = [
        ("City", _plain(details.city)),
        ("Province", _plain(details.province)),
        ("Race", _sensitive(details.race)),
        ("Disability", _sensitive(details.disability)),
        (
            "Enrollment",
            escape(EnrollmentState.label_of(details.enrollment_state)),
        ),
        (
            "Verification",
            escape(VerificationState.label_of(details.verification_state)),
        ),
    ]
    if details.rejection_reason:
        rows.append(("Rejected because", escape(details.rejection_reason).replace("\n", "<br>")))
    parts.append(
        "<p style='margin-top:12px; margin-bottom:2px'><b>Captured details</b></p>"
        "<table cellspacing='0' cellpadding='3'>"
        + "".join(
            f"<tr><td style='color:{c.muted}; padding-right:12px'>{label}</td><td>{value}</td></tr>"
            for label, value in rows
        )
        + "</table>"
    )
    return "".join(parts)


def with_revealed(student: StudentDetails, revealed: StudentDetails | None) -> StudentDetails:
    """``student`` (freshly read, masked) with the values a logged reveal of the same learner showed."""
    if revealed is None or revealed.enrollment_id != student.enrollment_id:
        return student
    id_check = student.id_check
    if id_check is not None and revealed.id_check is not None:
        id_check = replace(id_check, number=revealed.id_check.number)
    return replace(
        student,
        race=revealed.race,
        disability=revealed.disability,
        id_check=id_check,
        alternate_id=revealed.alternate_id,
        special_pi_masked=revealed.special_pi_masked,
    )


def document_badge(doc: DocumentRow) -> tuple[str, str]:
    """(badge text, badge state) of a document in the list."""
    if not doc.uploaded:
        return "Missing", "missing"
    if doc.latest_action is None:
        return "To check", "pending"
    if not doc.decision_current:
        return "Replaced", "stale"
    return VerificationAction.label_of(doc.latest_action), doc.latest_action


def document_subtitle(doc: DocumentRow) -> str:
    if not doc.uploaded:
        return "Not uploaded" + (" (required)" if doc.required else "")
    bits = [visible_name(doc.file_name), human_size(doc.size)]
    if not doc.required:
        bits.append("optional")
    return " · ".join(b for b in bits if b)


def document_accessible_text(doc: DocumentRow) -> str:
    badge, _state = document_badge(doc)
    return f"{doc.label}: {badge}. {document_subtitle(doc)}."


#: History's columns: what was decided comes first, so a narrow pane still shows it.
HISTORY_HEADERS = ("Action", "Document", "When", "Who", "Reason")


def history_columns(row: VerificationRow) -> tuple[str, str, str, str, str]:
    """(action, document, when, who, reason) of one history row; an undone decision says so, and an
    internal note (never sent to the learner) follows the reason."""
    action = "Undone" if row.action == "reversal" else VerificationAction.label_of(row.action)
    if row.action != "reversal" and row.undone:
        action += " (undone)"
    reason = row.reason or ""
    if row.internal_note:
        reason = f"{reason}  [Internal note: {row.internal_note}]".strip()
    return (action, document_label(row.document_type), local_time(row.created_at), row.admin_name, reason)
