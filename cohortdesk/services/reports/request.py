"""What an export asks for (report, format, scope, purpose, dates, age bands) and what it produced;
checking a request, and whether it may include special personal information.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from cohortdesk.errors import PermissionDenied, ValidationError
from cohortdesk.services.access.identity import SPECIAL_PI, Identity
from cohortdesk.services.reports.spreadsheet import report_zone

REPORTS = {
    "roster": "Cohort roster",
    "verification": "Verification status",
    "audit": "Verification audit trail",
    "demographics": "Demographics summary",
    "progress": "Cohort progress",
}
PURPOSES = {
    "seta_submission": "SETA submission",
    "sponsor_report": "Sponsor report",
    "ee_report": "Employment Equity report",
    "internal_use": "Internal use",
}
FORMATS = ("xlsx", "csv")
_FILE_SLUGS = {
    "roster": "roster",
    "verification": "verification-status",
    "audit": "audit-trail",
    "demographics": "demographics",
    "progress": "progress",
}


# --- age bands ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AgeBand:
    low: int
    high: int | None = None  # None: open-ended ("55+")

    @property
    def label(self) -> str:
        return f"{self.low}+" if self.high is None else f"{self.low}–{self.high}"


#: Default bands: ten-year bands from 15, the youth ages (15–34, National Youth Commission Act) being
#: the first two; 55+ last. Ages under 15 and unknown ages get rows of their own.
DEFAULT_AGE_BANDS = (AgeBand(15, 24), AgeBand(25, 34), AgeBand(35, 44), AgeBand(45, 54), AgeBand(55))


def parse_age_bands(spec: str) -> tuple[AgeBand, ...]:
    """``"15-24,25-34,35+"`` → bands; they must follow on from each other, only the last open-ended."""
    bands: list[AgeBand] = []
    for part in (p.strip() for p in spec.split(",")):
        match = re.fullmatch(r"(\d{1,3})\s*(?:[-–]\s*(\d{1,3})|(\+))", part)
        if not match:
            raise ValidationError("age_bands", f"{part!r} is not a band like 15-24 or 55+")
        low = int(match.group(1))
        high = int(match.group(2)) if match.group(2) else None
        if high is not None and high < low:
            raise ValidationError("age_bands", f"{part!r} ends before it starts")
        if bands:
            previous = bands[-1]
            if previous.high is None:
                raise ValidationError("age_bands", "only the last band may be open-ended (like 55+)")
            if low != previous.high + 1:
                raise ValidationError(
                    "age_bands",
                    f"bands must follow on from each other: {previous.label} then {previous.high + 1}-…",
                )
        bands.append(AgeBand(low, high))
    if not bands:
        raise ValidationError("age_bands", "give at least one band")
    return tuple(bands)


def age_band_labels(bands: Sequence[AgeBand]) -> list[str]:
    labels = [band.label for band in bands]
    if bands[0].low > 0:
        labels.insert(0, f"Under {bands[0].low}")
    if bands[-1].high is not None:
        labels.append(f"Over {bands[-1].high}")
    return [*labels, "Unknown"]


def age_band_of(age: int | None, bands: Sequence[AgeBand]) -> str:
    if age is None:
        return "Unknown"
    if age < bands[0].low:
        return f"Under {bands[0].low}"
    for band in bands:
        if band.high is None or age <= band.high:
            return band.label
    return f"Over {bands[-1].high}"


# --- requests and results -----------------------------------------------------------------------


@dataclass(frozen=True)
class ExportRequest:
    """What to export. ``cohort_id=None`` means every cohort of the user's institution."""

    report: str
    format: str = "xlsx"
    cohort_id: int | None = None
    purpose: str = "internal_use"
    date_from: date | None = None  # audit only; inclusive, in the report's time zone
    date_to: date | None = None  # audit only; inclusive
    officer_id: int | None = None  # audit only
    as_at: date | None = None  # roster and demographics: ages at this date (default: today)
    include_special_pi: bool | None = None  # None: yes, unless the purpose is a sponsor report
    suppress_small_cells: bool | None = None  # demographics; None: on for a sponsor report
    csv_bom: bool = True
    age_bands: tuple[AgeBand, ...] = DEFAULT_AGE_BANDS
    timezone: str | None = None  # IANA name; default: this computer's zone
    chunk_size: int = 2000


@dataclass(frozen=True)
class ExportResult:
    path: Path
    report: str
    format: str
    rows: int
    sheets: tuple[str, ...]
    special_pi_included: bool
    omitted_columns: tuple[str, ...]
    generated_at: datetime
    time_zone: str
    logged: bool  # written to the access log (always, before the file appeared)


def validate_request(request: ExportRequest) -> ExportRequest:
    if request.report not in REPORTS:
        raise ValidationError("report", f"{request.report!r} is not one of {', '.join(REPORTS)}")
    if request.format not in FORMATS:
        raise ValidationError("format", f"{request.format!r} must be xlsx or csv")
    if request.purpose not in PURPOSES:
        raise ValidationError("purpose", f"{request.purpose!r} is not one of {', '.join(PURPOSES)}")
    if request.report != "audit" and (request.date_from or request.date_to or request.officer_id is not None):
        raise ValidationError("date range", "a date range and an officer apply to the audit trail only")
    if request.date_from and request.date_to and request.date_to < request.date_from:
        raise ValidationError("date range", "the end date is before the start date")
    if request.report != "demographics" and request.suppress_small_cells:
        raise ValidationError(
            "suppress_small_cells", "small-cell suppression applies to the demographics report"
        )
    if not request.age_bands:
        raise ValidationError("age_bands", "give at least one band")
    if request.chunk_size < 1:
        raise ValidationError("chunk_size", "must be at least 1")
    return request


def default_file_name(request: ExportRequest, today: date | None = None) -> str:
    """A file name with no personal data in it: ``cohort-12-roster-20260302.xlsx``."""
    today = today or datetime.now(report_zone(request.timezone)).date()
    scope = f"cohort-{request.cohort_id}" if request.cohort_id is not None else "all-cohorts"
    return f"{scope}-{_FILE_SLUGS.get(request.report, request.report)}-{today:%Y%m%d}.{request.format}"


def special_pi_allowed(request: ExportRequest, identity: Identity) -> bool:
    """Whether this export includes special personal information; refuses an explicit request the
    identity may not make."""
    wanted = request.include_special_pi
    if wanted is None:
        wanted = request.purpose != "sponsor_report"
    if wanted and not identity.can(SPECIAL_PI):
        if request.include_special_pi:
            raise PermissionDenied(
                "Your role may not export special personal information (race, disability, ID numbers). "
                "Export without it, or ask a super admin."
            )
        return False
    return bool(wanted)
