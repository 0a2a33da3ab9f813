"""Validation of what people type and what files carry: SA ID numbers, e-mails, demographic codes,
and the documented JSON shapes of ``student_data`` and ``uploaded_documents``.

Every refusal is a ``ValidationError`` naming the field, e.g. ``student_data.sa_id_number``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from cohortdesk.errors import ValidationError

# SETMIS code lists (docs/domain.md §4): code -> label.
POPULATION_GROUPS = {
    "BA": "Black: African",
    "BC": "Black: Coloured",
    "BI": "Black: Indian / Asian",
    "Wh": "White",
    "Oth": "Other",
    "U": "Unknown",
}
GENDERS = {"M": "Male", "F": "Female"}
PROVINCES = {
    "1": "Western Cape",
    "2": "Eastern Cape",
    "3": "Northern Cape",
    "4": "Free State",
    "5": "KwaZulu-Natal",
    "6": "North West",
    "7": "Gauteng",
    "8": "Mpumalanga",
    "9": "Limpopo",
    "N": "SA national",
    "X": "Outside South Africa",
}
DISABILITY_STATUSES = {
    "N": "None",
    "01": "Sight (even with glasses)",
    "02": "Hearing (even with a hearing aid)",
    "03": "Communication (talking, listening)",
    "04": "Physical (moving, standing, grasping)",
    "05": "Intellectual (learning)",
    "06": "Emotional (behavioural, psychological)",
    "07": "Multiple",
    "09": "Disabled but unspecified",
}
DOCUMENT_TYPES = {
    "id_document": "Certified ID",
    "matric_certificate": "Matric certificate",
    "tertiary_qualification": "Tertiary qualification",
    "cv": "Curriculum vitae",
    "proof_of_residence": "Proof of residence",
    "bank_confirmation_letter": "Bank confirmation letter",
    "disability_proof": "Disability proof",
    "international_certificate": "International certificate",
}
LEGACY_DOCUMENT_KEYS = {
    "id": "id_document",
    "id_copy": "id_document",
    "matric": "matric_certificate",
    "tertiary": "tertiary_qualification",
    "tertiary_certificate": "tertiary_qualification",
    "tertiary_transcript": "tertiary_qualification",
    "qualifications": "tertiary_qualification",
    "disability": "disability_proof",
    "certificates": "international_certificate",
}
ACCEPTED_CONTENT_TYPES = {"application/pdf", "image/jpeg", "image/png", "image/tiff"}
MAX_UPLOAD_BYTES = 10 * 1024 * 1024

_EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
_DOC_KEY = re.compile(r"^(?:[a-z][a-z0-9_]*|custom_[a-z0-9_]+)$")


def canonical_document_type(key: str) -> str:
    return LEGACY_DOCUMENT_KEYS.get(key, key)


def document_label(key: str) -> str:
    key = canonical_document_type(key)
    return DOCUMENT_TYPES.get(key) or key.removeprefix("custom_").replace("_", " ").capitalize()


def validate_email(value: str, field: str = "email") -> str:
    """Trim, lower-case and check an e-mail address; returns the normalised address."""
    cleaned = (value or "").strip().lower()
    if not cleaned:
        raise ValidationError(field, "an e-mail address is required")
    if len(cleaned) > 254 or not _EMAIL.match(cleaned) or ".." in cleaned:
        raise ValidationError(field, f"{value!r} is not a valid e-mail address")
    return cleaned


@dataclass(frozen=True)
class IdNumberFacts:
    """What a South African ID number encodes (``docs/domain.md`` §3), apart from the number itself."""

    date_of_birth: date | None
    sex: str  # "F" or "M", from the sequence number
    citizenship: str  # "citizen", "permanent_resident", "refugee" or "unknown"
    checksum_valid: bool
    problems: tuple[str, ...]
    warnings: tuple[str, ...]

    @property
    def valid(self) -> bool:
        return not self.problems

    def age_on(self, on: date) -> int | None:
        if self.date_of_birth is None:
            return None
        dob = self.date_of_birth
        return on.year - dob.year - ((on.month, on.day) < (dob.month, dob.day))


@dataclass(frozen=True, kw_only=True)
class SaIdInfo(IdNumberFacts):
    """An SA ID number and what it encodes."""

    number: str


def luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char) * (2 if index % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def decode_sa_id(number: str, today: date | None = None) -> SaIdInfo:
    """Decode an SA ID number, listing problems (invalid) and warnings (suspicious but allowed)."""
    number = (number or "").strip().replace(" ", "")
    if len(number) != 13 or not number.isdigit():
        return SaIdInfo(
            number=number,
            date_of_birth=None,
            sex="",
            citizenship="unknown",
            checksum_valid=False,
            problems=("must be exactly 13 digits",),
            warnings=(),
        )
    sex = "F" if int(number[6:10]) < 5000 else "M"
    return _decoded(number, number[0:6], sex, number[10], number[11], luhn_valid(number), today)


def decode_masked_sa_id(masked: str, facts: dict[str, Any] | None, today: date | None = None) -> SaIdInfo:
    """What a masked ID number (``800101*****87``: the birth date stays) says, completed by the facts
    the server derived from the full number (``cohortdesk_sa_id_facts``: ``digits``, ``sex``,
    ``citizenship_digit``, ``position_12``, ``checksum_valid``); the same problems and warnings as
    ``decode_sa_id`` gives for the full number."""
    masked = (masked or "").strip().replace(" ", "")
    if not facts or not facts.get("digits") or len(masked) != 13 or not masked[:6].isdigit():
        return SaIdInfo(
            number=masked,
            date_of_birth=None,
            sex="",
            citizenship="unknown",
            checksum_valid=False,
            problems=("must be exactly 13 digits",),
            warnings=(),
        )
    return _decoded(
        masked,
        masked[0:6],
        str(facts.get("sex") or ""),
        str(facts.get("citizenship_digit") or ""),
        str(facts.get("position_12") or ""),
        bool(facts.get("checksum_valid")),
        today,
    )


def _decoded(
    number: str,
    yymmdd: str,
    sex: str,
    citizenship_digit: str,
    position_12: str,
    checksum_valid: bool,
    today: date | None,
) -> SaIdInfo:
    today = today or datetime.now(UTC).date()
    problems: list[str] = []
    warnings: list[str] = []
    if not checksum_valid:
        problems.append("the check digit does not match (Luhn check failed)")
    yy, mm, dd = int(yymmdd[0:2]), int(yymmdd[2:4]), int(yymmdd[4:6])
    dob: date | None
    try:
        dob = date(2000 + yy, mm, dd)
        if dob > today:
            dob = date(1900 + yy, mm, dd)
    except ValueError:
        try:  # 29 February of a 19xx leap year
            dob = date(1900 + yy, mm, dd)
        except ValueError:
            dob = None
            problems.append(f"{yymmdd} is not a valid date of birth (YYMMDD)")
    citizenship = {"0": "citizen", "1": "permanent_resident", "2": "refugee"}.get(
        citizenship_digit, "unknown"
    )
    if citizenship_digit == "2":
        warnings.append("citizenship digit 2 (refugee) is not recognised by every register")
    elif citizenship == "unknown":
        problems.append(f"citizenship digit must be 0 or 1, not {citizenship_digit}")
    if position_12 not in ("8", "9"):
        warnings.append(f"unusual digit {position_12} in position 12 (normally 8 or 9)")
    return SaIdInfo(
        number=number,
        date_of_birth=dob,
        sex=sex,
        citizenship=citizenship,
        checksum_valid=checksum_valid,
        problems=tuple(problems),
        warnings=tuple(warnings),
    )


def validate_sa_id(number: str, field: str = "sa_id_number", today: date | None = None) -> str:
    info = decode_sa_id(number, today)
    if not info.valid:
        raise ValidationError(field, f"{number!r} is not a valid SA ID number: {'; '.join(info.problems)}")
    return info.number


def _code(data: dict[str, Any], key: str, allowed: dict[str, str], field: str) -> None:
    value = data.get(key)
    if value is None:
        return
    if value not in allowed:
        choices = ", ".join(allowed)
        raise ValidationError(f"{field}.{key}", f"unknown code {value!r}; expected one of {choices}")


STUDENT_DATA_KEYS = {
    "age",
    "date_of_birth",
    "race",
    "gender",
    "disability",
    "city",
    "sa_id_number",
    "phone",
    "alternate_id",
    "alternate_id_type",
    "province",
}


def validate_student_data(data: dict[str, Any], field: str = "student_data") -> dict[str, Any]:
    """Check and normalise a ``student_data`` object; returns a cleaned copy."""
    if not isinstance(data, dict):
        raise ValidationError(field, "must be an object")
    unknown = set(data) - STUDENT_DATA_KEYS
    if unknown:
        raise ValidationError(f"{field}.{sorted(unknown)[0]}", "is not a known student data field")
    cleaned = {k: (v.strip() if isinstance(v, str) else v) for k, v in data.items()}
    cleaned = {k: v for k, v in cleaned.items() if v not in ("", None)}
    _code(cleaned, "race", POPULATION_GROUPS, field)
    _code(cleaned, "gender", GENDERS, field)
    _code(cleaned, "disability", DISABILITY_STATUSES, field)
    if "age" in cleaned:
        age = cleaned["age"]
        if isinstance(age, bool) or not isinstance(age, int) or not 0 < age < 120:
            raise ValidationError(f"{field}.age", f"{age!r} is not an age in whole years")
    if "date_of_birth" in cleaned:
        try:
            date.fromisoformat(str(cleaned["date_of_birth"]))
        except ValueError as exc:
            raise ValidationError(f"{field}.date_of_birth", "must be a date written YYYY-MM-DD") from exc
    if "sa_id_number" in cleaned:
        cleaned["sa_id_number"] = validate_sa_id(str(cleaned["sa_id_number"]), f"{field}.sa_id_number")
    if "city" in cleaned and len(str(cleaned["city"])) > 100:
        raise ValidationError(f"{field}.city", "is longer than 100 characters")
    return cleaned


UPLOAD_KEYS = {"file_name", "content_type", "size", "checksum", "storage_key", "uploaded_at"}


def validate_uploaded_documents(docs: dict[str, Any], field: str = "uploaded_documents") -> dict[str, Any]:
    if not isinstance(docs, dict):
        raise ValidationError(field, "must be an object keyed by document type")
    cleaned: dict[str, Any] = {}
    for raw_key, meta in docs.items():
        key = canonical_document_type(raw_key)
        where = f"{field}.{key}"
        if not _DOC_KEY.match(key):
            raise ValidationError(where, "document type keys are lower-case snake_case")
        if not isinstance(meta, dict):
            raise ValidationError(where, "must be an object")
        missing = UPLOAD_KEYS - set(meta)
        if missing:
            raise ValidationError(f"{where}.{sorted(missing)[0]}", "is required")
        if meta["content_type"] not in ACCEPTED_CONTENT_TYPES:
            raise ValidationError(
                f"{where}.content_type", f"{meta['content_type']!r} is not an accepted file type"
            )
        if not isinstance(meta["size"], int) or meta["size"] < 0:
            raise ValidationError(f"{where}.size", "must be a whole number of bytes")
        cleaned[key] = dict(meta)
    return cleaned


def validate_document_types(types: list[str], field: str = "required_document_types") -> list[str]:
    out: list[str] = []
    for raw in types:
        key = canonical_document_type(str(raw).strip())
        if not _DOC_KEY.match(key):
            raise ValidationError(field, f"{raw!r} is not a valid document type key")
        if key not in out:
            out.append(key)
    return out


#: How old a certified copy may be when a cohort does not say (``cohorts.certification_max_age_days``
#: NULL): three months, what most SETAs and sponsors ask for.
DEFAULT_CERTIFICATION_MAX_AGE_DAYS = 90
#: The longest limit a cohort may set (ten years); 0 means no limit at all.
MAX_CERTIFICATION_MAX_AGE_DAYS = 3650


def validate_certification_max_age(value: Any, field: str = "certification_max_age_days") -> int | None:
    """A cohort's certification age limit: None (the default, 90 days), 0 (no limit) or 1 to 3650
    days. Whole numbers only; ``"90"`` is accepted from a form or a file."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise ValidationError(field, "must be a number of days")
    if isinstance(value, str):
        text = value.strip()
        if not text.isdigit():
            raise ValidationError(field, f"{text!r} is not a number of days (e.g. 90)")
        value = int(text)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int):
        raise ValidationError(field, "must be a whole number of days")
    if value < 0:
        raise ValidationError(field, "cannot be negative; 0 means certifications of any age are accepted")
    if value > MAX_CERTIFICATION_MAX_AGE_DAYS:
        raise ValidationError(
            field, f"is at most {MAX_CERTIFICATION_MAX_AGE_DAYS} days (ten years); 0 means no limit"
        )
    return value


def describe_days(days: int) -> str:
    """A span in the words an officer uses: "3 months" for 90 days, "1 year" for 365, else days."""
    if days >= 365 and days % 365 == 0:
        years = days // 365
        return f"{years} year{'s' if years != 1 else ''}"
    if days >= 28 and days % 30 == 0:
        months = days // 30
        return f"{months} month{'s' if months != 1 else ''}"
    return f"{days} day{'s' if days != 1 else ''}"


def describe_age(days: int) -> str:
    """How long ago something happened, rounded as people say it: "12 days", "4 months", "2 years"."""
    if days < 60:
        return f"{days} day{'s' if days != 1 else ''}"
    months = round(days / 30.44)
    if months < 24:
        return f"{months} months"
    years = round(days / 365.25)
    return f"{years} years"


def describe_certification_limit(days: int | None) -> str:
    """A cohort's certification age limit in words, for forms and messages."""
    if days is None:
        return f"the default, {describe_days(DEFAULT_CERTIFICATION_MAX_AGE_DAYS)}"
    if days == 0:
        return "no limit"
    return describe_days(days)
