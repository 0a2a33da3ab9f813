"""Enrollment import from XLSX or CSV: read a file, preview it row by row, commit the good rows.

    table = read_table(path)                           # file work only (the GUI's io lane)
    preview = check_rows(db, cohort_id, table)         # validation + a few set-based reads
    preview = preview_file(db, cohort_id, path)        # both at once (the CLI)
    result = commit_import(db, preview, progress=..., cancelled=...)   # valid rows, one transaction
    write_template(path)                               # .xlsx (with a Codes sheet) or .csv

Reading: XLSX through openpyxl (read-only, values not formulas, first sheet); CSV as UTF-8 with or
without a byte order mark (Windows-1252 as a fallback, with a warning), its delimiter (``,`` ``;`` or
tab) sniffed. Headers are matched ignoring case, spaces and punctuation, with common aliases
("Surname", "ID number", "E-mail address"). Spreadsheet programs turn ID numbers and phone numbers into
numbers and drop their leading zero: a 12-digit ID number gets it back, with a warning.

The preview (frozen dataclasses) lists every row with its problems, each naming the row (the
spreadsheet's row number, header = row 1) and the field. Errors keep a row out of the import: a
missing or malformed e-mail, missing names, an e-mail or SA ID number twice in the file, a learner
already in the cohort, an SA ID number failing its date or Luhn check, an unknown code (race, gender,
disability, province), an e-mail belonging to another DocuSeal account, and, on a laptop paired with
a server, an e-mail with no DocuSeal user yet (see ``config_edits.enroll_learners`` for why). Warnings
do not: the same SA ID number in another *active* cohort of the institution (named), suspicious ID
digits, an ID number that disagrees with the gender or date of birth given, an age outside 15–65.

The commit goes through the one configuration write path (``config_edits.enroll_learners``): users
matched or created and enrollments inserted set-based in one transaction, with one outbox entry per
enrollment when the store is paired; a cancel or any refusal leaves the database as it was.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from sqlalchemy import select

from cohortdesk.db import Database
from cohortdesk.enums import CohortState
from cohortdesk.errors import CohortDeskError, ValidationError
from cohortdesk.models import Cohort, CohortEnrollment
from cohortdesk.services import validation
from cohortdesk.services.configuration import edits as config_edits
from cohortdesk.services.reports.spreadsheet import atomic_output
from cohortdesk.services.rows import Changes
from cohortdesk.services.sync import local

#: Columns the import understands, in the template's order: (key, header, required).
COLUMNS: tuple[tuple[str, str, bool], ...] = (
    ("email", "Email", True),
    ("first_name", "First name", True),
    ("last_name", "Last name", True),
    ("sa_id_number", "SA ID number", False),
    ("alternate_id", "Alternate ID", False),
    ("alternate_id_type", "Alternate ID type", False),
    ("date_of_birth", "Date of birth", False),
    ("gender", "Gender", False),
    ("race", "Race", False),
    ("disability", "Disability", False),
    ("province", "Province", False),
    ("city", "City", False),
    ("phone", "Phone", False),
)
HEADERS = {key: header for key, header, _required in COLUMNS}
REQUIRED = tuple(key for key, _header, required in COLUMNS if required)

_ALIASES = {
    "email": ("email", "emailaddress", "mail", "learneremail", "studentemail"),
    "first_name": ("firstname", "firstnames", "name", "givenname", "givennames", "forename", "forenames"),
    "last_name": ("lastname", "surname", "familyname"),
    "sa_id_number": (
        "saidnumber",
        "said",
        "saidno",
        "idnumber",
        "idno",
        "id",
        "nationalid",
        "identitynumber",
    ),
    "alternate_id": ("alternateid", "alternativeid", "passport", "passportnumber", "altid"),
    "alternate_id_type": ("alternateidtype", "alternativeidtype", "idtype"),
    "date_of_birth": ("dateofbirth", "dob", "birthdate", "birthday"),
    "gender": ("gender", "sex", "gendercode"),
    "race": ("race", "populationgroup", "equity", "equitycode", "racecode"),
    "disability": ("disability", "disabilitystatus", "disabilitycode", "disabilitystatuscode"),
    "province": ("province", "provincecode"),
    "city": ("city", "town", "cityortown"),
    "phone": (
        "phone",
        "phonenumber",
        "cell",
        "cellphone",
        "cellnumber",
        "mobile",
        "mobilenumber",
        "telephone",
    ),
}
_HEADER_KEYS = {alias: key for key, aliases in _ALIASES.items() for alias in aliases}

#: Code lists a cell is matched against (code or label, any case); the stored value is the code.
CODE_LISTS: dict[str, dict[str, str]] = {
    "gender": validation.GENDERS,
    "race": validation.POPULATION_GROUPS,
    "disability": validation.DISABILITY_STATUSES,
    "province": validation.PROVINCES,
}
#: The template's sample row; left in a file by mistake it is refused, not imported.
SAMPLE = {
    "email": "lerato.mokoena@example.co.za",
    "first_name": "Lerato",
    "last_name": "Mokoena",
    "sa_id_number": "0501014800087",
    "alternate_id": "",
    "alternate_id_type": "",
    "date_of_birth": "2005-01-01",
    "gender": "F",
    "race": "BA",
    "disability": "N",
    "province": "7",
    "city": "Johannesburg",
    "phone": "0821234567",
}
AGE_RANGE = (15, 65)
_CHUNK = 1000

# Bounds on what a file may hold, checked while reading (before the rest is read): any file costs
# bounded memory and time, and one beyond them is refused in words. Far above any real learner list.
#: Size of the file on disk.
MAX_FILE_BYTES = 16 * 1024 * 1024
#: Uncompressed size of any one part of an XLSX (its sheet, its shared strings): a zip bomb is
#: refused from the archive's directory, before anything is decompressed.
MAX_XLSX_PART_BYTES = 64 * 1024 * 1024
#: Data rows (after the header) and columns.
MAX_ROWS = 50_000
MAX_COLUMNS = 100
#: Text kept per cell; a longer cell is cut there and its row refused with its size in words.
MAX_CELL_CHARS = 1_000
#: Separators on one CSV line (columns, plus room for separators quoted inside cells).
_MAX_SEPARATORS = 4 * (MAX_COLUMNS + MAX_CELL_CHARS)
#: All the text kept from one file.
MAX_TOTAL_CHARS = 64 * 1024 * 1024
#: Header aliases that may mean something else: the preview says how they were read.
_AMBIGUOUS = {"name": "first_name", "id": "sa_id_number", "idno": "sa_id_number", "idnumber": "sa_id_number"}
#: What a spreadsheet program would run as a formula if the text were typed into a cell.
_FORMULA_START = ("=", "@", "+", "-", "\t", "\r")
_PHONE_LIKE = re.compile(r"^[+-]?[\d\s()-]+$")
_SCIENTIFIC = re.compile(r"^[+-]?\d+(?:[.,]\d+)?[eE][+-]?\d+$")


class ImportFileError(CohortDeskError):
    """The file cannot be read as a spreadsheet; the message says why in plain words."""


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class RowIssue:
    severity: Severity
    field: str  # a column key (``email``), or ``row``
    message: str

    def describe(self, line: int) -> str:
        if self.field == "row":
            return f"row {line}: {self.message}"
        return f"row {line}, {HEADERS.get(self.field, self.field)}: {self.message}"


@dataclass(frozen=True)
class SourceTable:
    """What a file holds, as text cells: its header row and data rows (with their row numbers)."""

    name: str
    headers: tuple[str, ...]
    rows: tuple[tuple[int, tuple[str, ...]], ...]  # each cut to the header's width
    warnings: tuple[str, ...] = ()
    #: (row number, column index, characters) of cells longer than ``MAX_CELL_CHARS`` (kept cut).
    long_cells: tuple[tuple[int, int, int], ...] = ()


@dataclass(frozen=True)
class ImportRow:
    """One data row of the file as it would be imported, with everything wrong with it."""

    line: int
    email: str
    first_name: str
    last_name: str
    student_data: Mapping[str, Any]
    issues: tuple[RowIssue, ...] = ()
    user_id: int | None = None  # the DocuSeal user matched by e-mail; None: one will be created
    source: Mapping[str, str] = field(default_factory=dict)  # the cells as read, by column key

    @property
    def status(self) -> Severity | None:
        """``ERROR`` (not imported), ``WARNING`` (imported, look at it) or ``None`` (fine)."""
        severities = {issue.severity for issue in self.issues}
        if Severity.ERROR in severities:
            return Severity.ERROR
        return Severity.WARNING if severities else None

    @property
    def importable(self) -> bool:
        return self.status is not Severity.ERROR

    @property
    def name(self) -> str:
        return " ".join(part for part in (self.first_name, self.last_name) if part)

    @property
    def message(self) -> str:
        return "; ".join(f"{HEADERS.get(i.field, i.field)}: {i.message}" for i in self.issues)


@dataclass(frozen=True)
class ImportPreview:
    cohort_id: int
    cohort_name: str
    source: str
    rows: tuple[ImportRow, ...]
    columns: tuple[str, ...]  # the keys found in the header, in file order
    ignored_columns: tuple[str, ...] = ()
    file_warnings: tuple[str, ...] = ()
    paired: bool = False

    @property
    def valid_rows(self) -> tuple[ImportRow, ...]:
        return tuple(r for r in self.rows if r.importable)

    @property
    def counts(self) -> dict[str, int]:
        errors = sum(1 for r in self.rows if r.status is Severity.ERROR)
        warnings = sum(1 for r in self.rows if r.status is Severity.WARNING)
        return {
            "rows": len(self.rows),
            "valid": len(self.rows) - errors - warnings,
            "warnings": warnings,
            "errors": errors,
            "importable": len(self.rows) - errors,
            "new_users": sum(1 for r in self.rows if r.importable and r.user_id is None),
        }

    def summary(self) -> str:
        c = self.counts
        return (
            f"{c['rows']} rows: {c['importable']} can be imported ({c['valid']} fine, "
            f"{c['warnings']} with warnings), {c['errors']} with errors"
        )

    def report(self, problems_only: bool = True) -> list[str]:
        """The preview as lines of text: the summary, file warnings, then each row's problems."""
        lines = [f"{self.source} → cohort {self.cohort_name!r} (id {self.cohort_id})", self.summary()]
        lines += [f"note: {w}" for w in self.file_warnings]
        if self.ignored_columns:
            lines.append(f"note: columns ignored (not known): {', '.join(self.ignored_columns)}")
        for row in self.rows:
            if not row.issues:
                if not problems_only:
                    lines.append(f"row {row.line}: ok ({row.email})")
                continue
            for issue in row.issues:
                lines.append(f"{issue.severity.value}: {issue.describe(row.line)}")
        return lines


@dataclass(frozen=True)
class ImportResult:
    cohort_id: int
    enrolled: int
    users_created: int
    users_matched: int
    skipped: int  # rows with errors, left out
    changes_queued: int  # outbox entries written (0 when the store is not paired)
    changes: Changes = field(default_factory=Changes)

    def summary(self) -> str:
        queued = f"; {self.changes_queued} changes waiting to sync" if self.changes_queued else ""
        return (
            f"Enrolled {self.enrolled} learners ({self.users_created} new DocuSeal users, "
            f"{self.users_matched} existing); {self.skipped} rows with errors left out{queued}."
        )


# --- reading files -----------------------------------------------------------------------------


def header_key(header: str) -> str | None:
    """The column a header names (``" E-mail Address "`` → ``email``), or ``None``."""
    return _HEADER_KEYS.get(re.sub(r"[^a-z0-9]", "", str(header).lower()))


def cell_text(value: Any) -> str:
    """A cell as the text a person typed: whole numbers without ``.0``, dates as ``YYYY-MM-DD``."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value).strip()


def column_letter(index: int) -> str:
    """``0`` → ``A``, ``26`` → ``AA`` (how a spreadsheet names the column)."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _size(chars: int) -> str:
    return f"{chars:,} characters" if chars < 10_000 else f"{chars / 1024:,.0f} KB of text"


class _TableBuilder:
    """Turns rows of raw cells into a ``SourceTable`` within the bounds, refusing in words the moment a
    bound is crossed (so the rest of the file is never read)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.headers: tuple[str, ...] | None = None
        self.rows: list[tuple[int, tuple[str, ...]]] = []
        self.warnings: list[str] = []
        self.long_cells: list[tuple[int, int, int]] = []
        self.beyond: list[tuple[int, int]] = []  # (row number, first column index with data past the header)
        self.total = 0

    def add(self, number: int, values: Sequence[Any]) -> None:
        width = len(values)
        if width > MAX_COLUMNS:
            tail = values[MAX_COLUMNS:]
            if tail.count(None) + tail.count("") != len(tail):  # C-speed: rows can be 16,384 cells wide
                last = next(i for i in range(width - 1, MAX_COLUMNS - 1, -1) if values[i] not in (None, ""))
                raise ImportFileError(
                    f"{self.name} has data in column {column_letter(last)} of row {number}: a learner list "
                    f"has at most {MAX_COLUMNS} columns. Delete the columns you do not need (or copy the "
                    "learners to a new sheet) and import again."
                )
            values = values[:MAX_COLUMNS]
        if self.headers is None:
            cells = tuple(self._text(number, i, v) for i, v in enumerate(values))
            while cells and not cells[-1]:
                cells = cells[:-1]
            if any(cells):
                self.headers = cells
            return
        if all(v is None or (isinstance(v, str) and not v.strip()) for v in values):
            return  # a blank line
        if len(self.rows) >= MAX_ROWS:
            raise ImportFileError(
                f"{self.name} has more than {MAX_ROWS:,} learners (row {number} and on). Split it into "
                f"files of at most {MAX_ROWS:,} rows and import them one after the other."
            )
        header_width = len(self.headers)
        for i in range(header_width, len(values)):
            if values[i] not in (None, "") and (not isinstance(values[i], str) or values[i].strip()):
                self.beyond.append((number, i))
                break
        self.rows.append(
            (
                number,
                tuple(
                    self._text(number, i, values[i]) if i < len(values) else "" for i in range(header_width)
                ),
            )
        )

    def _text(self, number: int, index: int, value: Any) -> str:
        text = cell_text(value)
        if len(text) > MAX_CELL_CHARS:
            self.long_cells.append((number, index, len(text)))
            text = text[:MAX_CELL_CHARS]
        self.total += len(text)
        if self.total > MAX_TOTAL_CHARS:
            raise ImportFileError(
                f"{self.name} holds more than {MAX_TOTAL_CHARS // (1024 * 1024)} MB of text by row {number}: "
                "far more than a learner list. Check it is the right file."
            )
        return text

    def table(self) -> SourceTable:
        if self.headers is None:
            raise ImportFileError(f"{self.name} is empty: it has no header row.")
        if self.beyond:
            first_row, first_col = self.beyond[0]
            more = (
                f" and {len(self.beyond) - 1} more row{'s' if len(self.beyond) > 2 else ''}"
                if len(self.beyond) > 1
                else ""
            )
            self.warnings.append(
                f"row {first_row}{more} {'have' if more else 'has'} data beyond the last named column "
                f"(in column {column_letter(first_col)}); it is not imported. Give the column a header "
                "or delete it."
            )
        return SourceTable(
            self.name, self.headers, tuple(self.rows), tuple(self.warnings), tuple(self.long_cells)
        )


def read_table(path: Path | str) -> SourceTable:
    """Read an XLSX or CSV file into text cells; ``ImportFileError`` in plain words if it cannot.

    Bounded: the file's size, an XLSX's uncompressed parts, rows, columns and text are checked as it
    is read (see ``MAX_*``), and the file is refused as soon as one is crossed.
    """
    path = Path(path)
    try:
        with path.open("rb") as handle:
            head = handle.read(8)
            size = handle.seek(0, io.SEEK_END)
    except FileNotFoundError:
        raise ImportFileError(f"The file {path.name} does not exist (any more).") from None
    except IsADirectoryError:
        raise ImportFileError(f"{path.name} is a folder, not a file.") from None
    except OSError as exc:
        raise ImportFileError(f"The file {path.name} cannot be opened: {exc.strerror or exc}.") from exc
    if size > MAX_FILE_BYTES:
        raise ImportFileError(
            f"{path.name} is {size / (1024 * 1024):,.0f} MB: a learner list is at most "
            f"{MAX_FILE_BYTES // (1024 * 1024)} MB. Check it is the right file, or split it."
        )
    if head.startswith(b"PK\x03\x04"):
        return _read_xlsx(path)
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise ImportFileError(
            f"{path.name} is an old Excel 97–2003 (.xls) workbook or a password-protected one. Open it in "
            f"your spreadsheet program and save it as an Excel workbook (.xlsx) without a password, or as CSV."
        )
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        raise ImportFileError(
            f"{path.name} is not a valid Excel workbook: the file is damaged or is another kind of file "
            f"with an .xlsx name. Save it again from your spreadsheet program, or as CSV."
        )
    return _read_csv(path)


def _check_xlsx_parts(path: Path, damaged: str) -> None:
    """Refuse a workbook whose parts would decompress to more than the bounds (from the zip directory:
    nothing is decompressed; reading never yields more than a part's recorded size)."""
    try:
        with zipfile.ZipFile(path) as archive:
            parts = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ImportFileError(damaged) from exc
    total = 0
    for part in parts:
        total += part.file_size
        if part.file_size > MAX_XLSX_PART_BYTES or total > 4 * MAX_XLSX_PART_BYTES:
            raise ImportFileError(
                f"{path.name} would unpack to more than {MAX_XLSX_PART_BYTES // (1024 * 1024)} MB "
                f"({part.filename} alone is {part.file_size / (1024 * 1024):,.0f} MB): far more than a "
                "learner list, so it was not opened. Check it is the right file; a sheet with a huge cell "
                "or thousands of empty formatted cells can do this: copy the learners to a new workbook."
            )


def _read_xlsx(path: Path) -> SourceTable:
    import openpyxl  # imported here: only an import needs it

    damaged = (
        f"{path.name} cannot be read as an Excel workbook: it is damaged or not really an .xlsx file. "
        f"Save it again from your spreadsheet program, or as CSV."
    )
    _check_xlsx_parts(path, damaged)
    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, TypeError, OSError) as exc:
        raise ImportFileError(damaged) from exc
    except Exception as exc:  # openpyxl's own InvalidFileException and XML parse errors
        raise ImportFileError(damaged) from exc
    try:
        if not workbook.worksheets:
            raise ImportFileError(f"{path.name} has no worksheet.")
        sheet = workbook.worksheets[0]
        # The recorded dimension may be stale or forged: rows are streamed without it, each row only as
        # wide as its last cell, and the builder stops at the first row past a bound.
        sheet.reset_dimensions()
        builder = _TableBuilder(path.name)
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            builder.add(number, values)
        return builder.table()
    except ImportFileError:
        raise
    except Exception as exc:
        raise ImportFileError(damaged) from exc
    finally:
        workbook.close()


def _decode(path: Path, data: bytes) -> tuple[str, list[str]]:
    warnings: list[str] = []
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):  # Excel's "Unicode text": UTF-16 with a BOM
        try:
            return data.decode("utf-16"), warnings
        except UnicodeDecodeError as exc:
            raise ImportFileError(f"{path.name} is damaged UTF-16 text. Save it as 'CSV UTF-8'.") from exc
    if b"\x00" in data[:4096]:
        raise ImportFileError(
            f"{path.name} is not a text (CSV) file or an Excel workbook. Save it as .xlsx or CSV (UTF-8)."
        )
    try:
        return data.decode("utf-8-sig"), warnings
    except UnicodeDecodeError:
        warnings.append(
            "the file is not UTF-8; it was read as Windows-1252 (check names with accents). "
            "Save it as 'CSV UTF-8' to be sure."
        )
        return data.decode("cp1252", errors="replace"), warnings


def _read_csv(path: Path) -> SourceTable:
    text, warnings = _decode(path, path.read_bytes())
    text = text.replace("\x00", "")
    sample = text[:65536]
    first_lines = "\n".join(sample.splitlines()[:20])
    try:
        dialect: Any = csv.Sniffer().sniff(first_lines, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    # A long cell is read whole (the file's size bounds it) and then refused in words with its row;
    # the csv module's own limit would stop the file with its message instead.
    csv.field_size_limit(max(csv.field_size_limit(), MAX_FILE_BYTES))
    delimiter = getattr(dialect, "delimiter", ",")

    def lines() -> Iterator[str]:
        # A line with tens of thousands of separators would become a list as long: refused first.
        for number, line in enumerate(io.StringIO(text, newline=""), start=1):
            if line.count(delimiter) > _MAX_SEPARATORS:
                raise ImportFileError(
                    f"{path.name} has {line.count(delimiter):,} {delimiter!r} separators on line {number}: "
                    f"a learner list has at most {MAX_COLUMNS} columns. Check it is the right file."
                )
            yield line

    reader = csv.reader(lines(), dialect)
    builder = _TableBuilder(path.name)
    builder.warnings.extend(warnings)
    try:
        for values in reader:
            builder.add(reader.line_num, values)
    except csv.Error as exc:
        raise ImportFileError(
            f"{path.name} is not a readable CSV file (line {reader.line_num}: {exc})."
        ) from exc
    return builder.table()


# --- checking rows -----------------------------------------------------------------------------


def _code_lookup(codes: Mapping[str, str]) -> dict[str, str]:
    lookup: dict[str, str] = {}
    for code, label in codes.items():
        lookup[code.lower()] = code
        lookup[label.lower()] = code
        if code.isdigit():
            lookup[str(int(code))] = code  # "01" read back from a number cell as "1"
    return lookup


_LOOKUPS = {name: _code_lookup(codes) for name, codes in CODE_LISTS.items()}


@dataclass
class _Draft:
    line: int
    values: dict[str, str]
    issues: list[RowIssue] = field(default_factory=list)
    student_data: dict[str, Any] = field(default_factory=dict)
    email: str = ""
    user_id: int | None = None

    def error(self, column: str, message: str) -> None:
        self.issues.append(RowIssue(Severity.ERROR, column, message))

    def warn(self, column: str, message: str) -> None:
        self.issues.append(RowIssue(Severity.WARNING, column, message))


def _check_formula_text(draft: _Draft) -> None:
    """Warn about text a spreadsheet program would run as a formula (``=HYPERLINK(…)``): it is stored
    as the text it is, and reports put a ``'`` before it, but it is rarely a learner's real name."""
    for key, value in draft.values.items():
        if not value.startswith(_FORMULA_START):
            continue
        if key == "phone" and _PHONE_LIKE.match(value) or key == "sa_id_number" and value[1:].isdigit():
            continue
        shown = value if len(value) <= 40 else value[:40] + "…"
        draft.warn(
            key,
            f"{shown!r} starts with {value[0]!r}, like a spreadsheet formula: it is kept as plain text; "
            "check it is really what the learner wrote",
        )


def _check_values(draft: _Draft, today: date) -> None:
    """The checks that need nothing but the row itself."""
    v = draft.values
    raw_email = v.get("email", "")
    if not raw_email:
        draft.error("email", "is missing")
    else:
        try:
            draft.email = validation.validate_email(raw_email)
        except ValidationError:
            draft.error("email", f"{raw_email!r} is not a valid e-mail address")
        if draft.email == SAMPLE["email"]:
            draft.error("row", "this is the template's sample row; delete it")
    for key in ("first_name", "last_name"):
        if not v.get(key):
            draft.error(key, "is missing")
        elif len(v[key]) > 100:
            draft.error(key, "is longer than 100 characters")
    data = draft.student_data
    for key in ("gender", "race", "disability", "province"):
        raw = v.get(key, "")
        if not raw:
            continue
        code = _LOOKUPS[key].get(raw.lower())
        if code is None:
            choices = ", ".join(CODE_LISTS[key])
            draft.error(key, f"unknown code {raw!r}; use one of {choices}")
        else:
            data[key] = code
    for key in ("city", "alternate_id", "alternate_id_type"):
        if v.get(key):
            if len(v[key]) > 100:
                draft.error(key, "is longer than 100 characters")
            else:
                data[key] = v[key]
    phone = v.get("phone", "")
    if phone:
        if _SCIENTIFIC.match(phone):
            draft.error(
                "phone",
                f"{phone!r} is in scientific notation: the spreadsheet rounded the number and its last "
                "digits are lost. Format the column as text and type the numbers again",
            )
        elif re.fullmatch(r"[1-8]\d{8}", phone):
            # South African numbers have ten digits starting with 0; stored as a number, the 0 goes.
            phone = "0" + phone
            kind = "cell" if phone[1] in "678" else "landline"
            draft.warn(
                "phone",
                f"leading zero restored ({phone}, a {kind} number the spreadsheet stored as a number); "
                "format the column as text",
            )
        data["phone"] = phone
    dob: date | None = None
    if v.get("date_of_birth"):
        try:
            dob = date.fromisoformat(v["date_of_birth"][:10])
            data["date_of_birth"] = dob.isoformat()
        except ValueError:
            draft.error("date_of_birth", f"{v['date_of_birth']!r} is not a date (write YYYY-MM-DD)")
    number = re.sub(r"[\s-]", "", v.get("sa_id_number", ""))
    if number and _SCIENTIFIC.match(number):
        draft.error(
            "sa_id_number",
            f"{number!r} is in scientific notation: the spreadsheet rounded the ID number and its last "
            "digits are lost. Format the column as text and type the numbers again",
        )
    elif number:
        if len(number) == 12 and number.isdigit():
            number = "0" + number
            draft.warn(
                "sa_id_number",
                f"leading zero restored ({number}): the spreadsheet stored the ID number as a number",
            )
        info = validation.decode_sa_id(number, today)
        if not info.valid:
            draft.error("sa_id_number", f"{number!r} is not a valid SA ID number: {'; '.join(info.problems)}")
        else:
            data["sa_id_number"] = info.number
            for warning in info.warnings:
                draft.warn("sa_id_number", warning)
            if data.get("gender") and data["gender"] != info.sex:
                draft.warn(
                    "gender",
                    f"{data['gender']} differs from the ID number, which is registered {info.sex}",
                )
            if dob is not None and info.date_of_birth is not None and dob != info.date_of_birth:
                draft.warn(
                    "date_of_birth",
                    f"{dob.isoformat()} differs from the ID number's {info.date_of_birth.isoformat()}",
                )
            age = info.age_on(today)
            if age is not None and not AGE_RANGE[0] <= age <= AGE_RANGE[1]:
                draft.warn("sa_id_number", f"the learner would be {age} years old")
    elif not v.get("alternate_id"):
        draft.warn(
            "sa_id_number", "no SA ID number or alternate ID: reports will list the learner as incomplete"
        )


def _mark_file_duplicates(drafts: list[_Draft]) -> None:
    first_email: dict[str, int] = {}
    first_id: dict[str, int] = {}
    for draft in drafts:
        if draft.email:
            if draft.email in first_email:
                draft.error("email", f"{draft.email} is also in row {first_email[draft.email]}")
            else:
                first_email[draft.email] = draft.line
        number = draft.student_data.get("sa_id_number")
        if number:
            if number in first_id:
                draft.error("sa_id_number", f"{number} is also in row {first_id[number]}")
            else:
                first_id[number] = draft.line


def _chunks(values: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


def check_rows(
    db: Database, cohort_id: int, table: SourceTable, *, today: date | None = None
) -> ImportPreview:
    """Validate every row of ``table`` for enrollment in ``cohort_id``: the preview, nothing written."""
    today = today or datetime.now(UTC).date()
    mapping: dict[int, str] = {}
    ignored: list[str] = []
    file_warnings = list(table.warnings)
    duplicates: dict[int, int] = {}  # a second column naming a field -> the column used for it
    for index, header in enumerate(table.headers):
        key = header_key(header)
        if key is not None and key in mapping.values():
            used = next(i for i, k in mapping.items() if k == key)
            duplicates[index] = used
            file_warnings.append(
                f"columns {column_letter(used)} ({table.headers[used]!r}) and {column_letter(index)} "
                f"({header!r}) both name {HEADERS[key]}: column {column_letter(used)} is imported; a row "
                f"where {column_letter(index)} says something else is refused. Delete one of them."
            )
            continue
        if key is None:
            if header:
                ignored.append(header)
            continue
        mapping[index] = key
        if re.sub(r"[^a-z0-9]", "", header.lower()) in _AMBIGUOUS:
            file_warnings.append(
                f"column {column_letter(index)} ({header!r}) was read as {HEADERS[key]}"
                + (
                    "; if it holds full names, split it into First name and Last name"
                    if key == "first_name"
                    else "; if it holds passport or other numbers, name it 'Alternate ID'"
                )
            )
    missing = [HEADERS[k] for k in REQUIRED if k not in mapping.values()]
    if missing:
        raise ImportFileError(
            f"{table.name} has no {' or '.join(repr(m) for m in missing)} column. The first row must "
            f"name the columns; expected: {', '.join(HEADERS.values())} (download the template)."
        )
    long_cells: dict[int, list[tuple[int, int]]] = {}
    for line, index, chars in table.long_cells:
        long_cells.setdefault(line, []).append((index, chars))
    drafts: list[_Draft] = []
    for line, cells in table.rows:
        if not any(cells):
            continue  # blank line
        values = {key: (cells[i] if i < len(cells) else "") for i, key in mapping.items()}
        draft = _Draft(line, values)
        for index, chars in long_cells.get(line, ()):
            draft.error(
                mapping.get(index, "row"),
                f"the cell in column {column_letter(index)} holds {_size(chars)}; a cell may hold at most "
                f"{MAX_CELL_CHARS:,} characters (was something pasted into it by mistake?)",
            )
        too_long = {issue.field: issue for issue in draft.issues}
        for index, used in duplicates.items():
            other = cells[index] if index < len(cells) else ""
            if other and other != (cells[used] if used < len(cells) else ""):
                draft.error(
                    mapping[used],
                    f"column {column_letter(used)} says {cells[used]!r} but column {column_letter(index)} "
                    f"says {other!r}; keep one",
                )
        _check_formula_text(draft)
        _check_values(draft, today)
        if too_long:  # what else a cut cell fails says nothing more
            draft.issues = [i for i in draft.issues if i.field not in too_long or too_long[i.field] is i]
        drafts.append(draft)
    _mark_file_duplicates(drafts)

    with db.session() as s:
        cohort = s.get(Cohort, cohort_id)
        if cohort is None or cohort.deleted_at is not None:
            raise ValidationError("cohort_id", f"there is no cohort with id {cohort_id}")
        if cohort.state in (CohortState.COMPLETED.value, CohortState.CANCELLED.value):
            raise ValidationError("cohort_id", f"the cohort is {cohort.state}; it takes no new enrollments")
        cohort_name, account_id, institution_id = cohort.name, cohort.account_id, cohort.institution_id
        paired = local.is_paired(s)
        emails = sorted({d.email for d in drafts if d.email})
        users = config_edits.users_by_email(s, emails)
        sa_id = CohortEnrollment.student_data["sa_id_number"].as_string()
        in_cohort_users: set[int] = set()
        in_cohort_ids: set[str] = set()
        for r in s.execute(
            select(CohortEnrollment.user_id, sa_id.label("sa_id")).where(
                CohortEnrollment.cohort_id == cohort_id, CohortEnrollment.deleted_at.is_(None)
            )
        ):
            in_cohort_users.add(r.user_id)
            if r.sa_id:
                in_cohort_ids.add(r.sa_id)
        numbers = sorted({d.student_data["sa_id_number"] for d in drafts if "sa_id_number" in d.student_data})
        elsewhere: dict[str, list[str]] = {}
        others = (
            select(sa_id.label("sa_id"), Cohort.id, Cohort.name)
            .join(Cohort, Cohort.id == CohortEnrollment.cohort_id)
            .where(
                Cohort.institution_id == institution_id,
                Cohort.state == CohortState.ACTIVE.value,
                Cohort.deleted_at.is_(None),
                Cohort.id != cohort_id,
                CohortEnrollment.deleted_at.is_(None),
            )
            .order_by(Cohort.name)
        )
        # The ID number sits in JSON (no index): a few IDs are looked up, many are matched in one pass.
        wanted = set(numbers)
        statements = [others.where(sa_id.in_(numbers))] if len(numbers) <= _CHUNK else [others]
        for statement in statements:
            for r in s.execute(statement):
                if r.sa_id in wanted:
                    elsewhere.setdefault(r.sa_id, []).append(f"{r.name!r} (id {r.id})")

    for draft in drafts:
        number = draft.student_data.get("sa_id_number")
        if number and number in in_cohort_ids:
            draft.error("sa_id_number", f"{number} is already enrolled in this cohort")
        if number and number in elsewhere:
            cohorts = ", ".join(elsewhere[number])
            draft.warn("sa_id_number", f"also enrolled in the active cohort {cohorts}")
        if not draft.email:
            continue
        hit = users.get(draft.email)
        if hit is None:
            if paired:
                draft.error(
                    "email",
                    "no DocuSeal user of this account has this e-mail yet; add the learner in DocuSeal "
                    "and sync, then import again",
                )
            continue
        user_id, user_account, first, last = hit.id, hit.account_id, hit.first_name, hit.last_name
        if user_account != account_id:
            draft.error("email", "belongs to a user of another DocuSeal account")
            continue
        draft.user_id = user_id
        if user_id in in_cohort_users:
            draft.error("email", "this learner is already enrolled in the cohort")
        elif (first.lower(), last.lower()) != (
            draft.values.get("first_name", "").lower(),
            draft.values.get("last_name", "").lower(),
        ) and (first or last):
            draft.warn("email", f"an existing DocuSeal user, {first} {last}".rstrip() + ", will be enrolled")

    rows = tuple(
        ImportRow(
            line=d.line,
            email=d.email or d.values.get("email", ""),
            first_name=d.values.get("first_name", ""),
            last_name=d.values.get("last_name", ""),
            student_data=dict(d.student_data),
            issues=tuple(sorted(d.issues, key=lambda i: i.severity is not Severity.ERROR)),
            user_id=d.user_id,
            source=d.values,
        )
        for d in drafts
    )
    return ImportPreview(
        cohort_id=cohort_id,
        cohort_name=cohort_name,
        source=table.name,
        rows=rows,
        columns=tuple(mapping.values()),
        ignored_columns=tuple(ignored),
        file_warnings=tuple(file_warnings),
        paired=paired,
    )


def preview_file(
    db: Database, cohort_id: int, path: Path | str, *, today: date | None = None
) -> ImportPreview:
    return check_rows(db, cohort_id, read_table(path), today=today)


# --- commit ------------------------------------------------------------------------------------


def commit_import(
    db: Database,
    preview: ImportPreview,
    *,
    progress: Callable[[int, int, str], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> ImportResult:
    """Enroll the preview's importable rows in one transaction (nothing at all on error or cancel).

    ``progress(done, total, text)`` and ``cancelled()`` follow the runner's convention.
    """
    rows = preview.valid_rows
    if not rows:
        raise ValidationError("rows", "no row can be imported; correct the errors in the file first")
    learners = [
        config_edits.NewLearner(r.email, r.first_name, r.last_name, dict(r.student_data)) for r in rows
    ]
    if preview.paired:
        from cohortdesk.services.configuration import (
            sync_actions as admin_sync,  # the sync machinery, only for a paired laptop
        )

        if progress is not None:
            progress(0, 0, "Reserving ids for the new enrollments")
        admin_sync.ensure_reserved_ids(db, "cohort_enrollments", len(learners))
    try:
        done = config_edits.enroll_learners(
            db,
            preview.cohort_id,
            learners,
            progress=None if progress is None else lambda n, total: progress(n, total, "Enrolling learners"),
            cancelled=cancelled,
        )
    except ValidationError as exc:
        match = re.match(r"rows\[(\d+)\]\.(.*)", exc.field)
        if match is None:
            raise
        line = rows[int(match.group(1))].line
        raise ValidationError(
            f"row {line}, {match.group(2)}",
            f"{exc.message} (the data changed since the preview; preview the file again)",
        ) from exc
    return ImportResult(
        cohort_id=preview.cohort_id,
        enrolled=len(done.enrollment_ids),
        users_created=done.users_created,
        users_matched=done.users_matched,
        skipped=len(preview.rows) - len(rows),
        changes_queued=len(done.mutation_ids),
        changes=done.changes,
    )


# --- template ----------------------------------------------------------------------------------


def write_refused_rows(preview: ImportPreview, destination: Path | str) -> Path:
    """Write the rows that would not be imported, as they were in the file, to a CSV (UTF-8 with BOM,
    the import's own column headings) with a last column "Problems", so they can be corrected and
    imported again."""
    destination = Path(destination).expanduser()
    if destination.suffix.lower() != ".csv":
        destination = destination.with_suffix(".csv")
    refused = [row for row in preview.rows if not row.importable]
    keys = list(preview.columns) or [key for key, _header, _required in COLUMNS]
    with atomic_output(destination) as temp, temp.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([*(HEADERS.get(key, key) for key in keys), "Problems"])
        for row in refused:
            writer.writerow([*(row.source.get(key, "") for key in keys), row.message])
    return destination


def write_template(destination: Path | str) -> Path:
    """Write the import template: ``.csv`` (header and sample row, UTF-8 with BOM) or ``.xlsx``.

    The XLSX has the header row (bold, frozen), the sample row, text-formatted ID and phone columns,
    drop-down lists for the coded columns, and a second sheet, "Codes", listing every valid code.
    """
    destination = Path(destination).expanduser()
    keys = [key for key, _header, _required in COLUMNS]
    with atomic_output(destination) as temp:
        if destination.suffix.lower() == ".csv":
            with temp.open("w", encoding="utf-8-sig", newline="") as handle:
                writer = csv.writer(handle)
                writer.writerow([HEADERS[k] for k in keys])
                writer.writerow([SAMPLE[k] for k in keys])
        else:
            _write_xlsx_template(temp, keys)
    return destination


def _write_xlsx_template(path: Path, keys: list[str]) -> None:
    import xlsxwriter

    workbook = xlsxwriter.Workbook(str(path))
    try:
        bold = workbook.add_format({"bold": True, "bg_color": "#E8EEF5", "border": 1})
        text = workbook.add_format({"num_format": "@"})
        sheet = workbook.add_worksheet("Learners")
        codes = workbook.add_worksheet("Codes")
        codes.write_row(0, 0, ["Column", "Code", "Meaning"], bold)
        ranges: dict[str, str] = {}
        row = 1
        for key, values in CODE_LISTS.items():
            first = row
            for code, label in values.items():
                codes.write_string(row, 0, HEADERS[key])
                codes.write_string(row, 1, code)
                codes.write_string(row, 2, label)
                row += 1
            ranges[key] = f"=Codes!$B${first + 1}:$B${row}"
        codes.set_column(0, 0, 14)
        codes.set_column(1, 1, 8, text)
        codes.set_column(2, 2, 40)
        codes.freeze_panes(1, 0)
        for col, key in enumerate(keys):
            header = HEADERS[key]
            width = max(len(header), len(SAMPLE[key])) + 4
            cell_format = (
                text if key in ("sa_id_number", "phone", "disability", "province", "alternate_id") else None
            )
            sheet.set_column(col, col, width, cell_format)
            sheet.write_string(0, col, header, bold)
            sheet.write_string(1, col, SAMPLE[key], cell_format)
            if key in ranges:
                sheet.data_validation(
                    1,
                    col,
                    5000,
                    col,
                    {
                        "validate": "list",
                        "source": ranges[key],
                        "error_type": "warning",
                        "error_message": "Not a known code: see the Codes sheet.",
                    },
                )
            if key in REQUIRED:
                sheet.write_comment(0, col, "Required")
        sheet.freeze_panes(1, 0)
        sheet.write_comment(
            1, 0, "Sample row: replace it with your learners (a row left with this e-mail is refused)."
        )
    finally:
        workbook.close()
