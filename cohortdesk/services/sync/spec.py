"""What syncs and how its values travel: the four synced tables, their editable fields, the JSON
codec of ``changes_json`` values, and the validation both the laptop (before writing an edit) and the
server (before applying a merged row) run, so a rule holds whichever side checks it.

Field names are column names, or ``settings.<key>`` / ``student_data.<key>`` for the two JSON objects
that merge key by key (two people editing different canned rejection settings, or different student
details, do not conflict).

Values in ``changes_json`` are JSON: datetimes as ISO 8601 UTC strings, lists for tuples, ``None`` for
NULL (and for an absent JSON key). Three-way comparison happens on these normalised forms, so ``30``
and ``"30"`` never compare equal by accident and a datetime read back from either backend compares
equal to the one written.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import Table

from cohortdesk.enums import CohortState, EnrollmentState, ProgramType, VerificationState
from cohortdesk.errors import ValidationError
from cohortdesk.models import Cohort, CohortEnrollment, Institution, Sponsor
from cohortdesk.models.types import UTCDateTime
from cohortdesk.services import validation
from cohortdesk.services.configuration import rejection_reasons as canned

#: Version of the sync payload shapes. Travels with every push; the server's ``sync_schema`` says
#: which versions it accepts. Bump it when a payload shape changes, and add an upcaster below.
SYNC_SCHEMA_VERSION = 1

#: Columns the sync machinery owns: never sent by a laptop as part of an edit.
BOOKKEEPING = frozenset({"change_seq", "deleted_at", "updated_by", "row_version"})


@dataclass(frozen=True)
class TableSpec:
    name: str
    label: str  # in words, for messages: "cohort"
    table: Table
    #: (column, parent table): an insert under a tombstoned parent is a ``parent_deleted`` conflict.
    parent: tuple[str, str] | None
    #: Other synced tables a row may point at, which must be live on the server when set.
    refs: tuple[tuple[str, str], ...]
    #: Fields a laptop may change with an update (JSON objects listed in ``split_json`` merge per key).
    editable: frozenset[str]
    split_json: frozenset[str] = frozenset()
    #: Fields whose first value wins silently (a later different value is not a conflict).
    first_wins: frozenset[str] = frozenset()
    #: (child table, fk column): live children block a delete.
    children: tuple[tuple[str, str], ...] = ()

    @property
    def columns(self) -> list[str]:
        return [c.name for c in self.table.columns]

    @property
    def insert_columns(self) -> list[str]:
        return [c for c in self.columns if c not in BOOKKEEPING]


SPECS: dict[str, TableSpec] = {
    "institutions": TableSpec(
        name="institutions",
        label="institution",
        table=Institution.__table__,
        parent=None,
        refs=(),
        editable=frozenset(
            {"name", "registration_number", "address", "contact_email", "contact_phone", "super_admin_id"}
        ),
        split_json=frozenset({"settings"}),
        children=(("sponsors", "institution_id"), ("cohorts", "institution_id")),
    ),
    "sponsors": TableSpec(
        name="sponsors",
        label="sponsor",
        table=Sponsor.__table__,
        parent=("institution_id", "institutions"),
        refs=(),
        editable=frozenset({"company_name", "contact_email", "contact_name", "contact_phone", "tax_number"}),
        children=(("cohorts", "sponsor_id"),),
    ),
    "cohorts": TableSpec(
        name="cohorts",
        label="cohort",
        table=Cohort.__table__,
        parent=("institution_id", "institutions"),
        refs=(("sponsor_id", "sponsors"),),
        editable=frozenset(
            {
                "name",
                "program_type",
                "sponsor_id",
                "sponsor_email",
                "student_count",
                "main_template_id",
                "supporting_templates",
                "required_document_types",
                "start_date",
                "end_date",
                "state",
                "admin_signed_at",
                "certification_max_age_days",
            }
        ),
        first_wins=frozenset({"admin_signed_at"}),
        children=(("cohort_enrollments", "cohort_id"),),
    ),
    "cohort_enrollments": TableSpec(
        name="cohort_enrollments",
        label="enrollment",
        table=CohortEnrollment.__table__,
        parent=("cohort_id", "cohorts"),
        refs=(),
        editable=frozenset({"state"}),
        split_json=frozenset({"student_data"}),
    ),
}

ORDER = {name: index for index, name in enumerate(SPECS)}


def spec(table_name: str) -> TableSpec:
    try:
        return SPECS[table_name]
    except KeyError:
        raise ValidationError("table_name", f"{table_name!r} is not a synced table") from None


# --- values ---------------------------------------------------------------------------------------


def _is_datetime_column(table: Table, column: str) -> bool:
    col = table.columns.get(column)
    return col is not None and isinstance(col.type, UTCDateTime)


def to_json(value: Any) -> Any:
    """A Python value as it travels in ``changes_json`` (and compares in the three-way check)."""
    if isinstance(value, datetime):
        aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return aware.isoformat()
    if isinstance(value, date):
        return datetime.combine(value, time(), tzinfo=UTC).isoformat()
    if isinstance(value, tuple):
        return [to_json(v) for v in value]
    if isinstance(value, list):
        return [to_json(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    return value


def from_json(table: Table, column: str, value: Any) -> Any:
    """A ``changes_json`` value back to what the column holds."""
    if value is not None and _is_datetime_column(table, column):
        return datetime.fromisoformat(value) if isinstance(value, str) else value
    return value


def same(a: Any, b: Any) -> bool:
    """Typed equality of two values in their JSON form (key order of objects does not matter)."""
    return json.dumps(to_json(a), sort_keys=True) == json.dumps(to_json(b), sort_keys=True)


def split_field(name: str) -> tuple[str, str | None]:
    column, _, key = name.partition(".")
    return column, (key or None)


def get_field(record: dict[str, Any], name: str) -> Any:
    """The JSON form of a field of a row held as ``{column: python value}``."""
    column, key = split_field(name)
    value = record.get(column)
    if key is not None:
        value = (value or {}).get(key)
    return to_json(value)


def set_field(table: Table, record: dict[str, Any], name: str, json_value: Any) -> None:
    column, key = split_field(name)
    if key is None:
        record[column] = from_json(table, column, json_value)
        return
    obj = dict(record.get(column) or {})
    if json_value is None:
        obj.pop(key, None)
    else:
        obj[key] = json_value
    record[column] = obj


def record_to_json(record: dict[str, Any]) -> dict[str, Any]:
    return {k: to_json(v) for k, v in record.items()}


def record_from_json(table: Table, payload: dict[str, Any]) -> dict[str, Any]:
    return {k: from_json(table, k, v) for k, v in payload.items() if k in table.columns}


# --- validation -----------------------------------------------------------------------------------


def _text(value: Any, field: str, max_len: int | None = 255, required: bool = False) -> str | None:
    if value is None:
        cleaned = ""
    elif isinstance(value, str):
        cleaned = value.strip()
    else:
        raise ValidationError(field, "must be text")
    if not cleaned:
        if required:
            raise ValidationError(field, "is required")
        return None
    if max_len is not None and len(cleaned) > max_len:
        raise ValidationError(field, f"is longer than {max_len} characters")
    return cleaned


def _email(value: Any, field: str) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return validation.validate_email(str(value), field)


def _int(value: Any, field: str, minimum: int | None = None, optional: bool = True) -> int | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            value = int(value.strip())
        else:
            raise ValidationError(field, f"{value!r} is not a whole number")
    if minimum is not None and value < minimum:
        raise ValidationError(field, f"cannot be less than {minimum}")
    return value


def _moment(value: Any, field: str) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, date):
        return datetime.combine(value, time(), tzinfo=UTC)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError as exc:
            raise ValidationError(field, f"{value!r} is not a date (write YYYY-MM-DD)") from exc
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    raise ValidationError(field, f"{value!r} is not a date")


def _enum(value: Any, field: str, enum: Any) -> str:
    try:
        return enum(value).value
    except ValueError:
        choices = ", ".join(member.value for member in enum)
        raise ValidationError(field, f"{value!r} is not one of {choices}") from None


def validate_rejection_reasons(
    reasons: Any, field: str = "settings.rejection_reasons"
) -> list[dict[str, str]]:
    """Canned rejection reasons: ``[{"code", "label", "message"}]`` with unique snake_case codes."""
    if not isinstance(reasons, list | tuple):
        raise ValidationError(field, "must be a list of reasons")
    seen: set[str] = set()
    cleaned: list[dict[str, str]] = []
    for index, reason in enumerate(reasons):
        where = f"{field}[{index}]"
        if not isinstance(reason, dict):
            raise ValidationError(where, "must have a code, a label and a message")
        code = _text(reason.get("code"), f"{where}.code", canned.CODE_MAX, required=True) or ""
        if not canned.CODE_PATTERN.match(code):
            raise ValidationError(f"{where}.code", f"{code!r} must be lower-case letters, digits and _")
        if code in seen:
            raise ValidationError(f"{where}.code", f"{code!r} is used twice")
        seen.add(code)
        label = _text(reason.get("label"), f"{where}.label", canned.LABEL_MAX, required=True) or ""
        message = _text(reason.get("message"), f"{where}.message", canned.MESSAGE_MAX) or ""
        cleaned.append({"code": code, "label": label, "message": message})
    return cleaned


def _settings_value(key: str, value: Any) -> Any:
    if value is None:
        return None
    if key == "rejection_reasons":
        return validate_rejection_reasons(value)
    return to_json(value)


def _student_value(key: str, value: Any) -> Any:
    if value is None or value == "":
        return None
    cleaned = validation.validate_student_data({key: value})
    return cleaned.get(key)


def normalise_field(table_name: str, name: str, value: Any) -> Any:
    """Check one field's new value and return its normalised JSON form (raises ``ValidationError``)."""
    column, key = split_field(name)
    if table_name == "institutions":
        if column == "settings" and key:
            return _settings_value(key, value)
        if column == "name":
            return _text(value, "name", required=True)
        if column == "registration_number":
            return _text(value, column, 100)
        if column == "address":
            return _text(value, column, None)
        if column == "contact_email":
            return _email(value, column)
        if column == "contact_phone":
            return _text(value, column, 50)
        if column == "super_admin_id":
            return _int(value, column)
    elif table_name == "sponsors":
        if column == "company_name":
            return _text(value, column, required=True)
        if column == "contact_email":
            return _email(value, column)
        if column == "contact_name":
            return _text(value, column)
        if column in ("contact_phone", "tax_number"):
            return _text(value, column, 50)
    elif table_name == "cohorts":
        if column == "name":
            return _text(value, column, required=True)
        if column == "program_type":
            return _enum(value, column, ProgramType)
        if column in ("sponsor_id", "main_template_id"):
            return _int(value, column)
        if column == "sponsor_email":
            return _email(value, column)
        if column == "student_count":
            return _int(value, column, minimum=0, optional=False)
        if column == "supporting_templates":
            ids = [_int(v, column, optional=False) for v in (value or [])]
            return list(dict.fromkeys(ids))
        if column == "required_document_types":
            return validation.validate_document_types(list(value or []))
        if column in ("start_date", "end_date", "admin_signed_at"):
            return to_json(_moment(value, column))
        if column == "state":
            return _enum(value, column, CohortState)
        if column == "certification_max_age_days":
            return validation.validate_certification_max_age(value, column)
    elif table_name == "cohort_enrollments":
        if column == "student_data" and key:
            return _student_value(key, value)
        if column == "state":
            return _enum(value, column, EnrollmentState)
    raise ValidationError(name, f"is not a field a {spec(table_name).label} can change here")


def validate_record(table_name: str, record: dict[str, Any]) -> None:
    """Whole-row rules, checked on the merged row before it is written (laptop and server)."""
    if table_name == "institutions":
        _text(record.get("name"), "name", required=True)
        settings = record.get("settings") or {}
        if not isinstance(settings, dict):
            raise ValidationError("settings", "must be an object")
        if "rejection_reasons" in settings:
            validate_rejection_reasons(settings["rejection_reasons"])
    elif table_name == "sponsors":
        _text(record.get("company_name"), "company_name", required=True)
    elif table_name == "cohorts":
        _text(record.get("name"), "name", required=True)
        _enum(record.get("program_type"), "program_type", ProgramType)
        _enum(record.get("state"), "state", CohortState)
        _int(record.get("student_count"), "student_count", minimum=0, optional=False)
        start, end = (
            _moment(record.get("start_date"), "start_date"),
            _moment(record.get("end_date"), "end_date"),
        )
        if start and end and end < start:
            raise ValidationError("end_date", "is before the start date")
        validation.validate_certification_max_age(record.get("certification_max_age_days"))
    elif table_name == "cohort_enrollments":
        validation.validate_student_data(dict(record.get("student_data") or {}))
        _enum(record.get("state"), "state", EnrollmentState)
        _enum(record.get("document_verification_state"), "document_verification_state", VerificationState)


#: Upcasters turn an outbox entry written under an older sync schema into the current shape:
#: ``{written_version: function(entry_dict) -> entry_dict}``. Pending entries are never dropped.
UPCASTERS: dict[int, Any] = {}


def upcast(entry: dict[str, Any]) -> dict[str, Any]:
    version = int(entry.get("schema_version") or SYNC_SCHEMA_VERSION)
    while version < SYNC_SCHEMA_VERSION:
        entry = UPCASTERS[version](entry)
        version += 1
        entry["schema_version"] = version
    return entry
