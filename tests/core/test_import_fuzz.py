"""Fuzzing the enrollment import with hostile workbooks and CSVs (hypothesis): whatever the bytes, the
import answers with a preview or a refusal in words, within its bounds, and never writes anything."""

from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from cohortdesk.db import Database
from cohortdesk.errors import ValidationError
from cohortdesk.models import CohortEnrollment, User
from cohortdesk.services.configuration import edits as ce
from cohortdesk.services.configuration import enrollment_import as ei
from cohortdesk.services.configuration.enrollment_import import ImportFileError
from tests import factories
from tests.core import hostile_files

FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)

HEADERS = [
    "Email",
    "E-mail",
    "First name",
    "Name",
    "Surname",
    "ID",
    "SA ID number",
    "Phone",
    "City",
    "",
    "Notes",
]
hostile_text = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        [
            '=HYPERLINK("http://evil.example","Click")',
            "=1+1",
            "@SUM(A1)",
            "+27 82 123 4567",
            "-2+3",
            "2.78212E+10",
            "8.00101E+12",
            "821234567",
            "115551234",
            "lerato@example.co.za",
            "LERATO@EXAMPLE.CO.ZA",
            "Zoë",
            "O'Brien",
            '"quoted, with comma"',
            "\ttab",
            "\r\n",
            "",
        ]
    ),
    st.integers(min_value=1, max_value=3000).map(lambda n: "x" * n),  # past the cell limit
)
rows = st.lists(st.lists(hostile_text, max_size=14), max_size=30)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, migrated) -> tuple[Database, int]:
    db = migrated.sqlite(tmp_path_factory.mktemp("fuzz") / "store.sqlite3")
    acc = factories.account(db)
    factories.user(db, acc, "Lerato", "Mokoena", "lerato@example.co.za")
    inst = ce.create_institution(db, ce.NewInstitution(account_id=acc, name="Acme Training")).row
    cohort = ce.create_cohort(db, ce.NewCohort(inst.id, "Q1", "learnership")).row
    yield db, cohort.id
    db.dispose()


def _counts(db: Database) -> tuple[int, int]:
    with db.read_session() as s:
        return (
            s.scalar(select(func.count()).select_from(CohortEnrollment)),
            s.scalar(select(func.count()).select_from(User)),
        )


def _check(store: tuple[Database, int], path: Path) -> None:
    db, cohort_id = store
    before = _counts(db)
    try:
        table = ei.read_table(path)
    except ImportFileError as exc:
        assert str(exc) and "Traceback" not in str(exc)
        return
    assert len(table.headers) <= ei.MAX_COLUMNS and len(table.rows) <= ei.MAX_ROWS
    for _line, cells in table.rows:
        assert len(cells) == len(table.headers)
        assert all(len(c) <= ei.MAX_CELL_CHARS for c in cells)
    try:
        preview = ei.check_rows(db, cohort_id, table)
    except (ImportFileError, ValidationError) as exc:
        assert str(exc)
    else:
        preview.report(problems_only=False)  # every issue can be put in words
        for row in preview.rows:
            assert all(len(str(v)) <= ei.MAX_CELL_CHARS for v in row.student_data.values())
    assert _counts(db) == before  # a preview writes nothing


@pytest.mark.slow
@FUZZ
@given(
    header=st.lists(st.sampled_from(HEADERS), min_size=1, max_size=12),
    body=rows,
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "cp1252", "latin-1"]),
    delimiter=st.sampled_from([",", ";", "\t"]),
    garbage=st.binary(max_size=64),
)
def test_hostile_csv(store, header, body, encoding, delimiter, garbage):
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter)
    writer.writerow(header)
    writer.writerows(body)
    data = buffer.getvalue().encode(encoding, errors="replace") + garbage
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "learners.csv"
        path.write_bytes(data)
        _check(store, path)


column_refs = st.one_of(
    st.integers(min_value=0, max_value=20),
    st.sampled_from([99, 100, 101, 700, 16383]),
)


@FUZZ
@given(
    header=st.lists(st.sampled_from([h for h in HEADERS if h]), min_size=1, max_size=8),
    body=st.lists(
        st.lists(st.tuples(column_refs, hostile_text), max_size=8),
        max_size=25,
    ),
    row_gap=st.sampled_from([1, 1, 1, 7, 5000]),
    dimension=st.sampled_from([None, "A1:C3", "A1:XFD1048576", "garbage"]),
    shared=st.lists(hostile_text, max_size=3),
)
def test_hostile_workbook(store, header, body, row_gap, dimension, shared):
    refs = [[(f"{ei.column_letter(i)}1", h) for i, h in enumerate(header)]]
    for cells in body:
        unique = {column: text for column, text in cells}
        refs.append([(f"{ei.column_letter(c)}{{row}}", t) for c, t in sorted(unique.items())])
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "learners.xlsx"
        hostile_files.workbook_rows(path, refs, row_gap=row_gap, dimension=dimension, shared=shared)
        _check(store, path)


@pytest.mark.slow
@pytest.mark.parametrize("maker", [hostile_files.column_xfd_bomb, hostile_files.huge_cell_bomb])
def test_bombs_are_refused(store, tmp_path, maker):
    path = maker(tmp_path / "bomb.xlsx")
    with pytest.raises(ImportFileError):
        ei.read_table(path)
