"""A document's fields against what the learner captured, in words an officer reads at a glance.

``compare_document`` gives one ``Check`` per field: *match* only when the value was read with
confidence and equals the captured one; a value read with low confidence is *unsure*, never a
match (on PostgreSQL, where the captured number reaches the officer masked, a clear reading agreeing
with its visible digits matches only when the server says so: ``needs_server``, ``ServerAnswer``);
a certification older than the cohort's limit is *flagged*, the limit said in words
("certified 4 months ago; this cohort accepts 3 months"). ``precheck`` sums an
enrollment's checks into the queue's pre-check result. Pre-checks inform; officers decide.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date

from cohortdesk.services import validation
from cohortdesk.services.documents.reading.model import SOURCE_NONE, DocumentReading, Field
from cohortdesk.services.validation import decode_sa_id

MATCH = "match"
MISMATCH = "mismatch"
UNSURE = "unsure"
NOT_FOUND = "not_found"
FLAGGED = "flagged"  # e.g. a certification older than the limit
INFO = "info"

#: Pre-check results shown in the queue.
PRECHECK_MATCHES = "matches"
PRECHECK_MISMATCH = "mismatch"
PRECHECK_UNREADABLE = "unreadable"
PRECHECK_LABELS = {
    PRECHECK_MATCHES: "Matches",
    PRECHECK_MISMATCH: "Mismatch",
    PRECHECK_UNREADABLE: "Unreadable",
    "": "",
}
#: A cohort without its own limit (``cohorts.certification_max_age_days`` NULL) accepts 90 days.
DEFAULT_CERTIFICATION_DAYS = validation.DEFAULT_CERTIFICATION_MAX_AGE_DAYS
CERTIFIED_TYPES = {"id_document", "matric_certificate", "tertiary_qualification", "international_certificate"}


@dataclass(frozen=True)
class Captured:
    """What the learner typed (unmasked: comparisons run in the core, displays are masked after)."""

    first_name: str = ""
    last_name: str = ""
    sa_id_number: str = ""
    date_of_birth: str = ""  # YYYY-MM-DD


@dataclass(frozen=True)
class ServerAnswer:
    """The server's comparison of a number read off a document with the hidden captured one
    (``services.access.id_check``): ``matches`` True or False, or None while asked (``pending``) or
    when the server would not answer (``refusal`` says why, in words)."""

    matches: bool | None = None
    pending: bool = False
    refusal: str = ""


@dataclass(frozen=True)
class Check:
    document_type: str
    key: str  # the field name ("sa_id_number", "surname", ...)
    label: str
    status: str  # MATCH, MISMATCH, UNSURE, NOT_FOUND, FLAGGED, INFO
    message: str  # the sentence shown, masked as the viewer must see it
    field: Field | None = None

    @property
    def symbol(self) -> str:
        return {MATCH: "✓", MISMATCH: "✗", UNSURE: "?", FLAGGED: "!", NOT_FOUND: "–"}.get(self.status, "")


def fold(text: str) -> str:
    """Upper-case letters only, accents removed, for comparing names typed and printed."""
    plain = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in plain if not unicodedata.combining(c))
    return " ".join("".join(c if c.isalpha() else " " for c in plain.upper()).split())


def _human_date(value: date) -> str:
    return f"{value.day} {value.strftime('%B %Y')}"


def _unsure(document_type: str, key: str, label: str, shown: str, found: Field) -> Check:
    return Check(
        document_type,
        key,
        label,
        UNSURE,
        f"On the document: {shown}? — read with low confidence ({found.confidence:.0%}); compare by eye.",
        found,
    )


def _describe_id_difference(document: str, captured: str) -> str:
    parts = (("date of birth", 0, 6), ("sequence", 6, 10), ("citizenship", 10, 11), ("last digits", 11, 13))
    differ = [name for name, start, end in parts if document[start:end] != captured[start:end]]
    count = sum(a != b for a, b in zip(document, captured, strict=False))
    words = f"{count} digit{'s' if count != 1 else ''} differ"
    return f"{words} ({', '.join(differ)})" if differ else words


def needs_server(found: Field | None, captured: Captured) -> bool:
    """True when only the server can finish the ID comparison: the number was read clearly (13
    digits, sure, its check digit right) and agrees with every digit of the captured number the
    viewer may see, the rest being masked."""
    if found is None or not found.sure or found.note.startswith("the "):
        return False
    number, seen = found.value, captured.sa_id_number
    if not (len(number) == 13 and number.isdigit() and len(seen) == 13) or seen.isdigit():
        return False
    visible = [(a, b) for a, b in zip(number, seen, strict=True) if b.isdigit()]
    return bool(visible) and all(a == b for a, b in visible)


def _id_check(
    document_type: str,
    found: Field | None,
    captured: Captured,
    mask: Callable[[str], str],
    server: ServerAnswer | None = None,
) -> Check:
    label = "ID number"
    if found is None:
        return Check(
            document_type, "sa_id_number", label, NOT_FOUND, "No ID number was found on the document."
        )
    shown = mask(found.value)
    if not found.sure:
        check = _unsure(document_type, "sa_id_number", label, shown, found)
        if found.note.startswith("the "):
            check = Check(
                document_type, "sa_id_number", label, UNSURE, check.message[:-1] + f" ({found.note}).", found
            )
        return check
    if not captured.sa_id_number:
        return Check(
            document_type,
            "sa_id_number",
            label,
            INFO,
            f"On the document: {shown} ({found.note}); no ID number was captured.",
            found,
        )
    if "*" in captured.sa_id_number or "•" in captured.sa_id_number:
        # The captured number reached us masked: only its visible digits can be compared.
        visible = [(a, b) for a, b in zip(found.value, captured.sa_id_number, strict=False) if b.isdigit()]
        if len(captured.sa_id_number) == 13 and visible and all(a == b for a, b in visible):
            if server is not None and server.matches is True:
                return Check(
                    document_type,
                    "sa_id_number",
                    label,
                    MATCH,
                    f"On the document: {shown} — matches captured ✓ (the hidden digits compared by the server)",
                    found,
                )
            if server is not None and server.matches is False:
                return Check(
                    document_type,
                    "sa_id_number",
                    label,
                    MISMATCH,
                    f"On the document: {shown} — differs from captured {captured.sa_id_number} in the hidden "
                    "digits (compared by the server).",
                    found,
                )
            agrees = f"On the document: {shown} — agrees with the visible digits of the captured number; "
            if server is not None and server.pending:
                rest = "the server is comparing the hidden digits…"
            elif server is not None and server.refusal:
                rest = f"the server did not compare the hidden digits: {server.refusal.rstrip('.')}."
            else:
                rest = "the rest is hidden from your role."
            return Check(document_type, "sa_id_number", label, UNSURE, agrees + rest, found)
        if len(captured.sa_id_number) == 13 and visible:
            return Check(
                document_type,
                "sa_id_number",
                label,
                MISMATCH,
                f"On the document: {shown} — differs from captured {captured.sa_id_number}.",
                found,
            )
    if found.value == captured.sa_id_number:
        return Check(
            document_type,
            "sa_id_number",
            label,
            MATCH,
            f"On the document: {shown} — matches captured ✓",
            found,
        )
    return Check(
        document_type,
        "sa_id_number",
        label,
        MISMATCH,
        f"On the document: {shown} — differs from captured {mask(captured.sa_id_number)}: "
        f"{_describe_id_difference(found.value, captured.sa_id_number)}.",
        found,
    )


def _name_check(document_type: str, key: str, label: str, found: Field | None, captured: str) -> Check | None:
    if found is None:
        return None
    if not found.sure:
        return _unsure(document_type, key, label, found.value, found)
    if not captured:
        return Check(
            document_type, key, label, INFO, f"On the document: {found.value}; nothing captured.", found
        )
    document_words, captured_words = fold(found.value).split(), fold(captured).split()
    if document_words == captured_words or (
        key in ("names", "learner_name") and set(captured_words) <= set(document_words)
    ):
        return Check(
            document_type, key, label, MATCH, f"On the document: {found.value} — matches captured ✓", found
        )
    return Check(
        document_type,
        key,
        label,
        MISMATCH,
        f"On the document: {found.value} — captured as {captured}.",
        found,
    )


def _dob_check(document_type: str, found: Field | None, captured: Captured) -> Check | None:
    if found is None:
        return None
    shown = _human_date(date.fromisoformat(found.value))
    if not found.sure:
        return _unsure(document_type, "date_of_birth", "Date of birth", shown, found)
    expected = captured.date_of_birth
    if not expected and captured.sa_id_number:
        born = decode_sa_id(captured.sa_id_number).date_of_birth
        expected = born.isoformat() if born else ""
    if not expected:
        return Check(
            document_type, "date_of_birth", "Date of birth", INFO, f"On the document: {shown}.", found
        )
    if found.value == expected:
        return Check(
            document_type,
            "date_of_birth",
            "Date of birth",
            MATCH,
            f"On the document: {shown} — matches captured ✓",
            found,
        )
    return Check(
        document_type,
        "date_of_birth",
        "Date of birth",
        MISMATCH,
        f"On the document: {shown} — captured as {_human_date(date.fromisoformat(expected))}.",
        found,
    )


def _certification_checks(reading: DocumentReading, today: date, max_age_days: int | None) -> list[Check]:
    """The stamp and its date; ``max_age_days`` is the cohort's limit as stored (None: the default,
    0: no limit)."""
    document_type = reading.document_type
    stamp = reading.get("certification_stamp")
    checks: list[Check] = []
    if stamp is None:
        if document_type in CERTIFIED_TYPES:
            checks.append(
                Check(
                    document_type,
                    "certification_stamp",
                    "Certification",
                    NOT_FOUND,
                    "No commissioner of oaths stamp was found; check the certification by eye.",
                )
            )
        return checks
    commissioner = reading.get("commissioner")
    words = stamp.value.lower()
    who = f" by {commissioner.value.title()}" if commissioner is not None else ""
    status = INFO if stamp.sure else UNSURE
    checks.append(
        Check(
            document_type,
            "certification_stamp",
            "Certification",
            status,
            f"Stamp reads: {words}{who}.",
            stamp,
        )
    )
    certified = reading.get("certification_date")
    if certified is None:
        checks.append(
            Check(
                document_type,
                "certification_date",
                "Certified on",
                NOT_FOUND,
                "No certification date was found in the stamp.",
            )
        )
        return checks
    when = date.fromisoformat(certified.value)
    shown = _human_date(when)
    if not certified.sure:
        checks.append(_unsure(document_type, "certification_date", "Certified on", shown, certified))
        return checks
    age_days = (today - when).days
    limit = DEFAULT_CERTIFICATION_DAYS if max_age_days is None else max_age_days
    ago = "today" if age_days == 0 else f"{validation.describe_age(age_days)} ago"
    if age_days < 0:
        checks.append(
            Check(
                document_type,
                "certification_date",
                "Certified on",
                FLAGGED,
                f"Certified on {shown}: a date in the future.",
                certified,
            )
        )
    elif limit and age_days > limit:
        accepts = validation.describe_days(limit)
        rounded = validation.describe_age(age_days)
        if rounded in (accepts, validation.describe_age(limit)):
            # Just past the limit: in days, so "3 months ago" never meets "accepts 3 months".
            ago = f"{age_days} days ago"
            accepts += "" if accepts.endswith("days") else f" ({limit} days)"
        checks.append(
            Check(
                document_type,
                "certification_date",
                "Certified on",
                FLAGGED,
                f"Certified on {shown}, {ago}; this cohort accepts {accepts}.",
                certified,
            )
        )
    elif limit:
        checks.append(
            Check(
                document_type,
                "certification_date",
                "Certified on",
                MATCH,
                f"Certified on {shown}, {ago} ✓ (this cohort accepts {validation.describe_days(limit)})",
                certified,
            )
        )
    else:
        checks.append(
            Check(
                document_type,
                "certification_date",
                "Certified on",
                INFO,
                f"Certified on {shown}, {ago}; this cohort accepts a certification of any age.",
                certified,
            )
        )
    return checks


def compare_document(
    reading: DocumentReading,
    captured: Captured,
    today: date,
    *,
    mask: Callable[[str], str] = lambda value: value,
    certification_max_age_days: int | None = None,
    server_answers: Mapping[str, ServerAnswer] | None = None,
) -> list[Check]:
    """The checks one document's reading supports; ``mask`` hides ID numbers the viewer may not see;
    ``certification_max_age_days`` is the cohort's limit as stored (None: the default, 90 days; 0: no
    limit); ``server_answers`` are the server's comparisons of numbers read here with the hidden
    captured one, by number read."""
    document_type = reading.document_type
    if reading.source == SOURCE_NONE:
        return [
            Check(
                document_type,
                "document",
                "Reading",
                NOT_FOUND,
                reading.problem or "Nothing could be read off this document.",
            )
        ]
    checks: list[Check] = []
    found_id = reading.get("sa_id_number")
    if document_type == "id_document" or found_id is not None:
        answer = (server_answers or {}).get(found_id.value) if found_id is not None else None
        checks.append(_id_check(document_type, found_id, captured, mask, answer))
    if document_type == "id_document":
        for key, label, value in (
            ("surname", "Surname", captured.last_name),
            ("names", "Names", captured.first_name),
        ):
            check = _name_check(document_type, key, label, reading.get(key), value)
            if check is not None:
                checks.append(check)
        dob = _dob_check(document_type, reading.get("date_of_birth"), captured)
        if dob is not None:
            checks.append(dob)
    learner = reading.get("learner_name")
    if learner is not None:
        full = f"{captured.first_name} {captured.last_name}".strip()
        check = _name_check(document_type, "learner_name", "Learner", learner, full)
        if check is not None:
            checks.append(check)
    checks.extend(_certification_checks(reading, today, certification_max_age_days))
    return checks


def precheck(checks: Iterable[Check]) -> str:
    """An enrollment's pre-check result for the queue: "mismatch" when anything disagrees (or a
    certification is too old), "matches" when the ID number (or, without one, every compared value)
    matched with confidence, "unreadable" when the documents said nothing sure; "" when not read."""
    checks = list(checks)
    if not checks:
        return ""
    if any(c.status in (MISMATCH, FLAGGED) for c in checks):
        return PRECHECK_MISMATCH
    id_checks = [c for c in checks if c.key == "sa_id_number"]
    if id_checks:
        return PRECHECK_MATCHES if any(c.status == MATCH for c in id_checks) else PRECHECK_UNREADABLE
    return PRECHECK_MATCHES if any(c.status == MATCH for c in checks) else PRECHECK_UNREADABLE
