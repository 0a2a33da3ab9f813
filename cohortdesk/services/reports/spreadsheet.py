"""Writing report tables to XLSX (XlsxWriter, constant memory) and CSV, the way spreadsheet users expect.

Conventions (``docs/domain.md`` §7):

* XLSX: one sheet per table with a bold header row frozen at ``A2``, an autofilter over the data, column
  widths fitted to the longest value seen (capped), real date cells (``yyyy-mm-dd``), real numbers, and
  ID numbers and codes written as text cells with the text number format (leading zeros survive). Rows
  are streamed: XlsxWriter's ``constant_memory`` mode flushes each row as the next one starts.
* CSV: UTF-8, with a byte order mark by default (Excel then reads non-ASCII names correctly), RFC 4180
  quoting with CRLF line ends, ISO 8601 dates and times (with their UTC offset).
* Formula injection: a text value starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return gets a
  leading apostrophe in **both** formats (OWASP "CSV Injection"). In XLSX, ``write_string`` alone already
  stops Excel evaluating the cell, but a workbook is often re-saved as CSV and the raw text would then be
  live again; the prefix travels with the value. Numbers and dates are never touched: they are written
  as numbers and dates, not text.

Files are written to a private temporary file beside the destination and renamed into place only when
complete (``atomic_output``), so a failed or cancelled export leaves nothing behind.
"""

from __future__ import annotations

import csv
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from enum import StrEnum
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cohortdesk.errors import ValidationError

#: Leading characters that make a spreadsheet program read a cell as a formula.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
#: Excel's limit of rows on one sheet, header included.
XLSX_MAX_ROWS = 1_048_576
#: Widest a fitted column gets, in characters; longer values wrap nothing and stay readable on click.
MAX_COLUMN_WIDTH = 60
#: Printing: A4 paper (XlsxWriter's paper code), its size and the margins, in inches.
PAPER_A4 = 9
PAPER_INCHES = (8.27, 11.69)
MARGINS = {"left": 0.5, "right": 0.5, "top": 0.6, "bottom": 0.7}
#: A default row's height in points, and a chart's size: a chart is never wider than its table.
ROW_POINTS = 15
CHART_WIDTH = 720
CHART_ROWS = 20
INFO_LABEL_WIDTH = 30
INFO_VALUE_WIDTH = 90
DATE_FORMAT = "yyyy-mm-dd"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"


def neutralise(text: str) -> str:
    """``text`` made safe against formula injection: prefixed with ``'`` when it starts like a formula."""
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text


class Kind(StrEnum):
    """How a column's values are written."""

    TEXT = "text"  # free text (names, reasons): a string cell, neutralised
    CODE = "code"  # ID numbers, codes: a string cell with the text number format, leading zeros kept
    INT = "int"  # a whole number
    PERCENT = "percent"  # a ratio (0.25) shown as 25.0 %; CSV writes the percentage (25.0)
    DATE = "date"  # a ``date``
    DATETIME = "datetime"  # an aware ``datetime``, shown in the report's time zone
    BOOL = "bool"  # ``True``/``False`` written as Yes/No


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    kind: Kind = Kind.TEXT


@dataclass(frozen=True)
class ChartSpec:
    """A native column chart over part of a table: ``rows`` are data-row indexes (0 = first data row)."""

    title: str
    category_column: int
    value_columns: tuple[int, ...]
    first_row: int
    last_row: int
    x_title: str = ""
    y_title: str = "Learners"


@dataclass
class Table:
    """One sheet of a report: its columns and the rows (an iterable, consumed once, possibly streamed)."""

    sheet: str
    columns: Sequence[Column]
    rows: Iterable[Sequence[Any]]
    charts: Sequence[ChartSpec] = field(default_factory=tuple)


# --- time zones ---------------------------------------------------------------------------------


def report_zone(name: str | None = None) -> tzinfo:
    """The zone timestamps are shown in: ``name`` if given, else this computer's zone."""
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValidationError(
                "timezone", f"{name!r} is not a known time zone (e.g. Africa/Johannesburg)"
            ) from exc
    env = os.environ.get("TZ", "").lstrip(":")
    if env:
        try:
            return ZoneInfo(env)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    try:
        target = os.readlink("/etc/localtime")
        marker = target.find("zoneinfo/")
        if marker >= 0:
            return ZoneInfo(target[marker + len("zoneinfo/") :])
    except (OSError, ZoneInfoNotFoundError, ValueError):
        pass
    local = datetime.now().astimezone().tzinfo
    return local or UTC


def zone_label(zone: tzinfo, at: datetime) -> str:
    """``Africa/Johannesburg (UTC+02:00)``: the zone's name and its offset at ``at``."""
    local = at.astimezone(zone)
    offset = local.utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    hours, mins = divmod(abs(minutes), 60)
    name = getattr(zone, "key", None) or local.tzname() or "local time"
    return f"{name} (UTC{sign}{hours:02d}:{mins:02d})"


# --- atomic output ------------------------------------------------------------------------------


@contextmanager
def atomic_output(destination: Path) -> Iterator[Path]:
    """Yield a private (0600) temporary path beside ``destination``; rename it into place on success.

    On any error, cancellation or interrupt the temporary file is removed and ``destination`` is left
    as it was.
    """
    destination = Path(destination).expanduser()
    folder = destination.parent
    if not folder.is_dir():
        raise ValidationError("destination", f"the folder {str(folder)!r} does not exist")
    if destination.is_dir():
        raise ValidationError("destination", f"{str(destination)!r} is a folder; give a file name")
    try:
        fd, temp_name = tempfile.mkstemp(prefix=f".{destination.name}.", suffix=".part", dir=folder)
    except PermissionError as exc:
        raise ValidationError(
            "destination", f"CohortDesk may not write to the folder {str(folder)!r}"
        ) from exc
    os.close(fd)
    temp = Path(temp_name)
    try:
        yield temp
        with open(temp, "rb+") as fh:
            os.fsync(fh.fileno())
        try:
            os.replace(temp, destination)
        except PermissionError as exc:
            raise ValidationError(
                "destination",
                f"{destination.name} could not be replaced; if it is open in a spreadsheet program, "
                "close it and export again",
            ) from exc
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


# --- writers ------------------------------------------------------------------------------------


def _display_length(value: Any) -> int:
    if isinstance(value, str):
        if "\n" not in value and "\r" not in value:  # nearly every cell: skip splitting (hot loop)
            return len(value)
        return max((len(line) for line in value.splitlines()), default=0)
    return len(str(value))


def _column_pixels(width: float) -> int:
    """A column's width in pixels for a width in characters (Excel's default font, as XlsxWriter
    computes it)."""
    return int(width * 7 + 0.5) + 5 if width >= 1 else int(width * 12 + 0.5)


@dataclass(frozen=True)
class PageLayout:
    """How a sheet prints on A4: the orientation, and the scale that fits its columns to the page
    width in Excel's default font (a program with wider fonts scales further down), hence which
    printed page a row lands on (the header row repeated on each)."""

    table_pixels: int
    landscape: bool
    scale: int  # percent
    rows_per_page: int

    @classmethod
    def for_width(cls, table_pixels: int) -> PageLayout:
        def printable(inches: float, *margins: str) -> float:
            return (inches - sum(MARGINS[m] for m in margins)) * 72  # points

        table_points = table_pixels * 0.75  # 96 pixels to 72 points an inch
        portrait_width = printable(PAPER_INCHES[0], "left", "right")
        landscape = table_points > portrait_width
        width = printable(PAPER_INCHES[1 if landscape else 0], "left", "right")
        height = printable(PAPER_INCHES[0 if landscape else 1], "top", "bottom")
        # 3 % to spare: spreadsheet programs measure a font's characters a little differently.
        scale = max(10, min(100, int(97 * width / table_points))) if table_points else 100
        return cls(table_pixels, landscape, scale, max(2, int(height / (ROW_POINTS * scale / 100))))

    def page_of(self, row: int) -> int:
        """The printed page (0 = the first) of sheet row ``row`` (0 = the header row)."""
        if row < self.rows_per_page:
            return 0
        return 1 + (row - self.rows_per_page) // (self.rows_per_page - 1)


def _footer_text(text: str) -> str:
    """Text for a header or footer field: ``&`` starts a control code there, so it is doubled."""
    return text.replace("&", "&&")


class XlsxReportWriter:
    """Streams tables into one workbook; ``close()`` writes the file."""

    def __init__(self, path: Path, zone: tzinfo) -> None:
        self._tmpdir = tempfile.mkdtemp(prefix="cohortdesk-xlsx-")  # constant_memory row files (0700)
        import xlsxwriter  # imported on first use: it costs start-up time of every screen

        self.workbook = xlsxwriter.Workbook(
            str(path),
            {
                "constant_memory": True,
                "tmpdir": self._tmpdir,
                "strings_to_numbers": False,
                "strings_to_formulas": False,
                "strings_to_urls": False,
            },
        )
        self.zone = zone
        wb = self.workbook
        self.header_format = wb.add_format({"bold": True, "bottom": 1, "bg_color": "#E8EEF4"})
        self.text_format = wb.add_format({"num_format": "@"})
        self.date_format = wb.add_format({"num_format": DATE_FORMAT})
        self.datetime_format = wb.add_format({"num_format": DATETIME_FORMAT})
        self.percent_format = wb.add_format({"num_format": "0.0%"})
        self.int_format = wb.add_format({"num_format": "0"})
        self.label_format = wb.add_format({"bold": True, "valign": "top"})
        self.title_format = wb.add_format({"bold": True, "font_size": 14})
        self.wrap_format = wb.add_format({"text_wrap": True, "valign": "top"})
        self.info_date_format = wb.add_format({"num_format": DATE_FORMAT, "align": "left"})
        self.info_datetime_format = wb.add_format({"num_format": DATETIME_FORMAT, "align": "left"})
        self.info_number_format = wb.add_format({"align": "left"})
        self.sheets: list[str] = []
        self._footer = "&R&8Page &P of &N"

    # One function per column kind, bound once per table: this is the hot loop of every export.
    def _cell_writers(self, ws: Any, columns: Sequence[Column]) -> list[Callable[[int, int, Any], None]]:
        zone = self.zone
        write_string, write_number, write_datetime = ws.write_string, ws.write_number, ws.write_datetime

        def text(r: int, c: int, v: Any, fmt: Any = None) -> None:
            if v is None or v == "":
                return
            if isinstance(v, bool):
                write_string(r, c, "Yes" if v else "No", fmt)
            elif isinstance(v, int | float):
                write_number(r, c, v)
            else:
                s = str(v)
                write_string(r, c, "'" + s if s.startswith(FORMULA_TRIGGERS) else s, fmt)

        def code(r: int, c: int, v: Any) -> None:
            text(r, c, v if v is None or isinstance(v, str) else str(v), self.text_format)

        def number(fmt: Any) -> Callable[[int, int, Any], None]:
            def write(r: int, c: int, v: Any) -> None:
                if v is None:
                    return
                if isinstance(v, int | float) and not isinstance(v, bool):
                    write_number(r, c, v, fmt)
                else:
                    text(r, c, v)  # e.g. "<5" in a suppressed cell

            return write

        def day(r: int, c: int, v: Any) -> None:
            if v is not None:
                write_datetime(r, c, v, self.date_format)

        def moment(r: int, c: int, v: Any) -> None:
            if v is not None:
                write_datetime(r, c, v.astimezone(zone).replace(tzinfo=None), self.datetime_format)

        def yes_no(r: int, c: int, v: Any) -> None:
            if v is not None:
                write_string(r, c, "Yes" if v else "No")

        by_kind: dict[Kind, Callable[[int, int, Any], None]] = {
            Kind.TEXT: text,
            Kind.CODE: code,
            Kind.INT: number(None),
            Kind.PERCENT: number(self.percent_format),
            Kind.DATE: day,
            Kind.DATETIME: moment,
            Kind.BOOL: yes_no,
        }
        return [by_kind[col.kind] for col in columns]

    def write_table(self, table: Table, row_hook: Callable[[], None] | None = None) -> int:
        """Write ``table`` to a new sheet; returns the number of data rows written."""
        ws = self.workbook.add_worksheet(table.sheet)
        self.sheets.append(table.sheet)
        columns = list(table.columns)
        for c, col in enumerate(columns):
            ws.write_string(0, c, col.header, self.header_format)
        writers = self._cell_writers(ws, columns)
        # The hot loop of every export: the columns are split by kind once, so each cell costs one
        # index, one class test and one XlsxWriter call. A string in a text or code column (nearly
        # every cell) and a whole number in a number column are written right here; anything else
        # goes through its column kind's writer. ``longest`` is the widest display length seen per
        # text or code column (other columns keep their header's width).
        longest = [len(col.header) + 2 for col in columns]  # room for the autofilter arrow
        string_columns = [
            (c, self.text_format if col.kind is Kind.CODE else None)
            for c, col in enumerate(columns)
            if col.kind in (Kind.TEXT, Kind.CODE)
        ]
        int_columns = [c for c, col in enumerate(columns) if col.kind is Kind.INT]
        other_columns = [
            (c, writers[c])
            for c, col in enumerate(columns)
            if col.kind not in (Kind.TEXT, Kind.CODE, Kind.INT)
        ]
        # XlsxWriter's public ``write_*`` methods parse A1 notation on every call; their undecorated
        # twins take (row, column) as we have them, saving about a tenth of the writing time of a
        # roster. The public methods serve where an XlsxWriter version lacks the twins.
        write_string = getattr(ws, "_write_string", ws.write_string)
        write_number = getattr(ws, "_write_number", ws.write_number)
        triggers = FORMULA_TRIGGERS
        row = 0
        for values in table.rows:
            row += 1
            if row >= XLSX_MAX_ROWS:
                raise ValidationError(
                    "format",
                    f"the {table.sheet} sheet has more rows than Excel allows; export as CSV instead",
                )
            for c, fmt in string_columns:
                value = values[c]
                if value.__class__ is str:
                    if value:
                        write_string(row, c, "'" + value if value.startswith(triggers) else value, fmt)
                        if len(value) > longest[c]:
                            longest[c] = max(longest[c], _display_length(value))
                elif value is not None:
                    writers[c](row, c, value)
                    longest[c] = max(longest[c], _display_length(value))
            for c in int_columns:
                value = values[c]
                if value.__class__ is int:
                    write_number(row, c, value)
                elif value is not None:
                    writers[c](row, c, value)
            for c, write in other_columns:
                write(row, c, values[c])
            if row_hook is not None:
                row_hook()
        final_widths = []
        for c, col in enumerate(columns):
            width = {Kind.DATE: 12, Kind.DATETIME: 20}.get(col.kind, longest[c] + 2)
            width = min(max(width, len(col.header) + 4), MAX_COLUMN_WIDTH)
            final_widths.append(width)
            ws.set_column(c, c, width, self.text_format if col.kind is Kind.CODE else None)
        ws.freeze_panes(1, 0)
        ws.autofilter(0, 0, max(row, 1), len(columns) - 1)
        page = PageLayout.for_width(sum(_column_pixels(width) for width in final_widths))
        # Charts go under the table, at most as wide as it is. Unless the table and its charts fit
        # on the first page, each chart starts a page of its own, so no page edge cuts one. (The
        # program printing picks the final scale, never larger than ours: a first page only holds
        # more rows than ``page`` expects.)
        last_row, breaks = max(row, 1), []
        for spec in table.charts:
            at_row = last_row + 2
            if page.page_of(at_row + CHART_ROWS) > 0:
                breaks.append(at_row)
            self._add_chart(ws, table.sheet, spec, at_row, min(CHART_WIDTH, page.table_pixels))
            last_row = at_row + CHART_ROWS - 1
        if breaks:
            ws.set_h_pagebreaks(breaks)
        self._print_setup(ws, page, last_row, len(columns) - 1, repeat_header=True)
        return row

    def _add_chart(self, ws: Any, sheet: str, spec: ChartSpec, at_row: int, width: int) -> None:
        chart = self.workbook.add_chart({"type": "column"})
        first, last = spec.first_row + 1, spec.last_row + 1
        for value_column in spec.value_columns:
            chart.add_series(
                {
                    "name": [sheet, 0, value_column],
                    "categories": [sheet, first, spec.category_column, last, spec.category_column],
                    "values": [sheet, first, value_column, last, value_column],
                    "gap": 80,
                }
            )
        chart.set_title({"name": spec.title})
        chart.set_x_axis({"name": spec.x_title})
        chart.set_y_axis({"name": spec.y_title, "major_gridlines": {"visible": True}})
        chart.set_legend({"position": "bottom"})
        chart.set_size({"width": width, "height": CHART_ROWS * ROW_POINTS * 4 // 3})  # 20 pixels a row
        ws.insert_chart(at_row, 0, chart, {"object_position": 3})  # neither moved nor sized with cells

    def set_document(self, report: str, institution: str) -> None:
        """Name the report and the institution for every printed page's footer."""
        self._footer = f"&L&8{_footer_text(report)}&C&8{_footer_text(institution)}&R&8Page &P of &N"

    def _print_setup(
        self, ws: Any, page: PageLayout, last_row: int, last_column: int, *, repeat_header: bool
    ) -> None:
        """A4, landscape when the sheet is wide, scaled so every column fits the page width, the
        header row on every page, gridlines printed, and the footer: report, institution, "Page N of
        M"."""
        ws.set_paper(PAPER_A4)
        if page.landscape:
            ws.set_landscape()
        else:
            ws.set_portrait()
        ws.fit_to_pages(1, 0)
        if repeat_header:
            ws.repeat_rows(0)
        ws.hide_gridlines(0)
        ws.set_margins(**MARGINS)
        ws.print_area(0, 0, last_row, last_column)
        ws.set_footer(self._footer, {"margin": 0.3})

    def write_info(self, sheet: str, title: str, items: Sequence[tuple[str, Any]]) -> None:
        """The "Report info" sheet: a title, then one label/value pair per row."""
        ws = self.workbook.add_worksheet(sheet)
        self.sheets.append(sheet)
        ws.write_string(0, 0, title, self.title_format)
        ws.set_column(0, 0, INFO_LABEL_WIDTH)
        ws.set_column(1, 1, INFO_VALUE_WIDTH)
        for offset, (label, value) in enumerate(items):
            row = offset + 2
            if isinstance(value, str) and len(value) > INFO_VALUE_WIDTH:
                # Spreadsheet programs do not grow a row for wrapped text written by XlsxWriter.
                ws.set_row(row, ROW_POINTS * -(-len(value) * 11 // (INFO_VALUE_WIDTH * 10)))
            ws.write_string(row, 0, label, self.label_format)
            if isinstance(value, datetime):
                ws.write_datetime(
                    row, 1, value.astimezone(self.zone).replace(tzinfo=None), self.info_datetime_format
                )
            elif isinstance(value, date):
                ws.write_datetime(row, 1, value, self.info_date_format)
            elif isinstance(value, int | float) and not isinstance(value, bool):
                ws.write_number(row, 1, value, self.info_number_format)
            elif value is not None:
                ws.write_string(row, 1, neutralise(str(value)), self.wrap_format)
        page = PageLayout.for_width(_column_pixels(INFO_LABEL_WIDTH) + _column_pixels(INFO_VALUE_WIDTH))
        self._print_setup(ws, page, len(items) + 1, 1, repeat_header=False)

    def close(self) -> None:
        try:
            self.workbook.close()
        finally:
            shutil.rmtree(self._tmpdir, ignore_errors=True)

    def discard(self) -> None:
        """Abandon the workbook (after an error or cancel): remove its temporary row files."""
        for ws in self.workbook.worksheets():
            fh = getattr(ws, "row_data_fh", None)
            if fh is not None:
                try:
                    fh.close()
                except OSError:
                    pass
        shutil.rmtree(self._tmpdir, ignore_errors=True)


class CsvReportWriter:
    """Writes one table as RFC 4180 CSV (UTF-8, optional BOM, CRLF line ends)."""

    def __init__(self, path: Path, zone: tzinfo, *, bom: bool = True) -> None:
        self._file = open(path, "w", encoding="utf-8-sig" if bom else "utf-8", newline="")  # noqa: SIM115
        self._csv = csv.writer(self._file, dialect="excel", lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
        self.zone = zone
        self.sheets: list[str] = []

    def _converters(self, columns: Sequence[Column]) -> list[Callable[[Any], str]]:
        zone = self.zone

        def text(v: Any) -> str:
            if v is None:
                return ""
            if isinstance(v, bool):
                return "Yes" if v else "No"
            if isinstance(v, int | float):
                return str(v)
            s = str(v)
            return "'" + s if s.startswith(FORMULA_TRIGGERS) else s

        def whole(v: Any) -> str:
            if v is None:
                return ""
            return str(v) if isinstance(v, int) and not isinstance(v, bool) else text(v)

        def percent(v: Any) -> str:
            if v is None:
                return ""
            return f"{v * 100:.1f}" if isinstance(v, int | float) else text(v)

        def day(v: Any) -> str:
            return "" if v is None else v.isoformat()

        def moment(v: Any) -> str:
            return "" if v is None else v.astimezone(zone).isoformat(timespec="seconds")

        def yes_no(v: Any) -> str:
            return "" if v is None else ("Yes" if v else "No")

        by_kind: dict[Kind, Callable[[Any], str]] = {
            Kind.TEXT: text,
            Kind.CODE: text,
            Kind.INT: whole,
            Kind.PERCENT: percent,
            Kind.DATE: day,
            Kind.DATETIME: moment,
            Kind.BOOL: yes_no,
        }
        return [by_kind[col.kind] for col in columns]

    def write_table(self, table: Table, row_hook: Callable[[], None] | None = None) -> int:
        if self.sheets:
            raise ValidationError("format", "a CSV file holds one table; choose XLSX for several sheets")
        self.sheets.append(table.sheet)
        columns = list(table.columns)
        self._csv.writerow([col.header for col in columns])
        converters = self._converters(columns)
        writerow = self._csv.writerow
        rows = 0
        for values in table.rows:
            writerow([convert(value) for convert, value in zip(converters, values, strict=True)])
            rows += 1
            if row_hook is not None:
                row_hook()
        return rows

    def set_document(self, report: str, institution: str) -> None:
        """CSV is not printed with a footer; nothing to name."""

    def write_info(self, sheet: str, title: str, items: Sequence[tuple[str, Any]]) -> None:
        """CSV has no second sheet: the report information is not written (see the XLSX export)."""

    def close(self) -> None:
        self._file.close()

    def discard(self) -> None:
        self._file.close()
