"""The enrollment import on SQLite and PostgreSQL: reading XLSX and CSV, every validation
case of the preview, the commit through the configuration write path, the template, bad files."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import openpyxl
import pytest
import xlsxwriter
from sqlalchemy import func, select

from cohortdesk.db import Database
from cohortdesk.errors import OperationCancelled, SyncError, ValidationError
from cohortdesk.models import CohortEnrollment, SyncOutbox, User
from cohortdesk.services.configuration import edits as ce
from cohortdesk.services.configuration import enrollment_import as ei
from cohortdesk.services.configuration.enrollment_import import ImportFileError, Severity
from cohortdesk.services.sync import local
from cohortdesk.services.validation import luhn_valid
from tests import factories

TODAY = date(2026, 3, 1)


def sa_id(prefix12: str) -> str:
    """Complete 12 digits with the Luhn check digit."""
    return next(prefix12 + str(d) for d in range(10) if luhn_valid(prefix12 + str(d)))


ID_A = sa_id("800101500908")  # 1980-01-01, male
ID_B = sa_id("950615012308")  # 1995-06-15, female
ID_C = sa_id("020304567808")  # 2002-03-04, male
ID_BAD_DATE = sa_id("801301500908")  # month 13
ID_OTHER = sa_id("900720345608")  # enrolled in another active cohort
ID_ZERO = sa_id("050101480008")  # 2005-01-01, leading zero


@pytest.fixture
def world(db: Database) -> dict:
    acc = factories.account(db)
    other_acc = factories.account(db, "Other Training")
    inst = ce.create_institution(db, ce.NewInstitution(account_id=acc, name="Acme Training")).row
    admin = factories.user(db, acc, "Admin", "One")
    template = factories.template(db, acc, admin)
    cohort = ce.create_cohort(db, ce.NewCohort(inst.id, "Q1 2026 Learnership", "learnership")).row
    active = ce.create_cohort(
        db,
        ce.NewCohort(
            inst.id,
            "Retail Internship",
            "internship",
            student_count=10,
            main_template_id=template,
            start_date=date(2026, 1, 1),
            end_date=date(2026, 12, 31),
        ),
    ).row
    ce.change_cohort_state(db, active.id, "active")
    draft = ce.create_cohort(db, ce.NewCohort(inst.id, "Draft Candidacy", "candidacy")).row
    enrolled = factories.user(db, acc, "Sipho", "Dlamini", "sipho@example.co.za")
    ce.enroll(db, ce.NewEnrollment(cohort.id, enrolled, {"sa_id_number": ID_C}))
    elsewhere = factories.user(db, acc, "Ayesha", "Patel", "ayesha@example.co.za")
    ce.enroll(db, ce.NewEnrollment(active.id, elsewhere, {"sa_id_number": ID_OTHER}))
    drafted = factories.user(db, acc, "Pieter", "van Wyk", "pieter@example.co.za")
    ce.enroll(db, ce.NewEnrollment(draft.id, drafted, {"sa_id_number": ID_B}))
    existing = factories.user(db, acc, "Thandi", "Nkosi", "thandi.nkosi@example.co.za")
    factories.user(db, other_acc, "Else", "Where", "elsewhere@example.co.za")
    return {
        "db": db,
        "account": acc,
        "institution": inst,
        "cohort": cohort.id,
        "active": active.id,
        "existing": existing,
    }


HEADER = ["Email", "First name", "Last name", "SA ID number", "Gender", "Race", "Disability", "Province"]


def write_xlsx(path: Path, rows: list[list[object]], header: list[str] = HEADER) -> Path:
    """A workbook as people make them: numbers where they typed digits, text elsewhere."""
    workbook = xlsxwriter.Workbook(str(path))
    sheet = workbook.add_worksheet("Sheet1")
    sheet.write_row(0, 0, header)
    for r, values in enumerate(rows, start=1):
        for c, value in enumerate(values):
            if isinstance(value, int | float):
                sheet.write_number(r, c, value)
            elif value is not None:
                sheet.write_string(r, c, str(value))
    workbook.close()
    return path


def issues(row: ei.ImportRow) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for issue in row.issues:
        found.setdefault(f"{issue.severity.value}:{issue.field}", []).append(issue.message)
    return found


def test_every_validation_case_names_row_and_field(world, tmp_path):
    rows = [
        ["thandi.nkosi@example.co.za", "Thandi", "Nkosi", ID_A, "M", "BA", "N", "7"],  # 2 existing user
        ["ZOE.OBRIEN@Example.co.za", "Zoë", "O'Brien-Nkosi", ID_B, "female", "White", 1, 5],  # 3 codes
        ["", "No", "Email", None, None, None, None, None],  # 4 missing email
        ["not-an-email", "Bad", "Email", None, None, None, None, None],  # 5 malformed
        ["zoe.obrien@example.co.za", "Zoë", "Again", None, None, None, None, None],  # 6 dup e-mail
        ["nameless@example.co.za", "", "", None, None, None, None, None],  # 7 missing names
        ["luhn@example.co.za", "Lu", "Hn", ID_A[:-1] + str((int(ID_A[-1]) + 1) % 10), None, None, None, None],
        ["date@example.co.za", "Da", "Te", ID_BAD_DATE, None, None, None, None],  # 9 bad date
        ["codes@example.co.za", "Co", "Des", None, "X", "Green", "08", "12"],  # 10 unknown codes
        ["sipho@example.co.za", "Sipho", "Dlamini", None, None, None, None, None],  # 11 in cohort
        ["other.id@example.co.za", "Nomsa", "Mthembu", ID_C, None, None, None, None],  # 12 ID in cohort
        ["hopper@example.co.za", "Kagiso", "Molefe", ID_OTHER, "M", None, None, None],  # 13 active cohort
        ["elsewhere@example.co.za", "Else", "Where", None, None, None, None, None],  # 14 other account
        ["dupid@example.co.za", "Du", "Pid", ID_A, None, None, None, None],  # 15 duplicate ID in file
        ["zero@example.co.za", "Lindiwe", "Zulu", int(ID_ZERO), "F", "BA", "N", "N"],  # 16 number cell
        [None, None, None, None, None, None, None, None],  # blank: skipped
    ]
    path = write_xlsx(tmp_path / "learners.xlsx", rows)
    preview = ei.preview_file(world["db"], world["cohort"], path, today=TODAY)
    by_line = {r.line: r for r in preview.rows}
    assert sorted(by_line) == list(range(2, 17))

    assert issues(by_line[2]) == {}  # names match the DocuSeal user: nothing to say
    assert by_line[2].user_id == world["existing"] and by_line[2].student_data["race"] == "BA"
    zoe = by_line[3]
    assert zoe.status is None and zoe.email == "zoe.obrien@example.co.za" and zoe.last_name == "O'Brien-Nkosi"
    assert zoe.student_data == {
        "sa_id_number": ID_B, "gender": "F", "race": "Wh", "disability": "01", "province": "5"
    }  # fmt: skip
    assert issues(by_line[4]) == {"error:email": ["is missing"], "warning:sa_id_number": [
        "no SA ID number or alternate ID: reports will list the learner as incomplete"]}  # fmt: skip
    assert "'not-an-email' is not a valid e-mail address" in issues(by_line[5])["error:email"]
    assert issues(by_line[7])["error:first_name"] == ["is missing"]
    assert issues(by_line[7])["error:last_name"] == ["is missing"]
    assert "Luhn check failed" in issues(by_line[8])["error:sa_id_number"][0]
    assert "801301 is not a valid date of birth" in issues(by_line[9])["error:sa_id_number"][0]
    codes = issues(by_line[10])
    assert codes["error:gender"] == ["unknown code 'X'; use one of M, F"]
    assert codes["error:race"][0].startswith("unknown code 'Green'")
    assert codes["error:disability"][0].startswith("unknown code '08'")
    assert codes["error:province"][0].startswith("unknown code '12'")
    assert issues(by_line[11])["error:email"] == ["this learner is already enrolled in the cohort"]
    assert issues(by_line[12])["error:sa_id_number"] == [f"{ID_C} is already enrolled in this cohort"]
    hopper = issues(by_line[13])
    assert hopper["warning:sa_id_number"] == [
        f"also enrolled in the active cohort 'Retail Internship' (id {world['active']})"
    ]
    assert hopper["warning:gender"] == ["M differs from the ID number, which is registered F"]
    assert by_line[13].importable
    assert issues(by_line[14])["error:email"] == ["belongs to a user of another DocuSeal account"]
    assert issues(by_line[15])["error:sa_id_number"] == [f"{ID_A} is also in row 2"]
    zero = by_line[16]
    assert zero.importable and zero.student_data["sa_id_number"] == ID_ZERO
    assert "leading zero restored" in issues(zero)["warning:sa_id_number"][0]

    # a duplicate e-mail differs only in case; the draft cohort's ID (row 3) raises nothing
    assert issues(by_line[6])["error:email"] == [f"{zoe.email} is also in row 3"]
    assert preview.counts == {
        "rows": 15, "valid": 2, "warnings": 2, "errors": 11, "importable": 4, "new_users": 3
    }  # fmt: skip
    report = "\n".join(preview.report())
    assert "error: row 10, Disability: unknown code '08'" in report
    assert "warning: row 13, SA ID number: also enrolled in the active cohort 'Retail Internship'" in report


def test_commit_enrolls_valid_rows_and_creates_users(world, tmp_path):
    db = world["db"]
    path = tmp_path / "learners.csv"
    path.write_text(
        "email,first name,surname,id number,gender\n"
        f"thandi.nkosi@example.co.za,Thandi,Nkosi,{ID_A},M\n"
        f"Zoe.OBrien@example.co.za,Zoë,O'Brien-Nkosi,{ID_B},F\n"
        "bad,Bad,Row,,\n",
        encoding="utf-8",
    )
    preview = ei.preview_file(db, world["cohort"], path, today=TODAY)
    assert preview.counts["importable"] == 2
    seen: list[tuple[int, int]] = []
    result = ei.commit_import(db, preview, progress=lambda done, total, _text: seen.append((done, total)))
    assert (result.enrolled, result.users_created, result.users_matched, result.skipped) == (2, 1, 1, 1)
    assert result.changes_queued == 0 and seen[-1] == (2, 2)
    with db.read_session() as s:
        user = s.execute(select(User).where(User.email == "zoe.obrien@example.co.za")).scalar_one()
        assert (user.first_name, user.last_name, user.role, user.account_id) == (
            "Zoë", "O'Brien-Nkosi", ce.LEARNER_USER_ROLE, world["account"]
        )  # fmt: skip
        enrollment = s.execute(
            select(CohortEnrollment).where(CohortEnrollment.user_id == user.id)
        ).scalar_one()
        assert enrollment.cohort_id == world["cohort"] and enrollment.state == "waiting"
        assert enrollment.document_verification_state == "pending"
        assert enrollment.student_data == {"sa_id_number": ID_B, "gender": "F"}
    again = ei.preview_file(db, world["cohort"], path, today=TODAY)
    assert again.counts["importable"] == 0
    assert ce.list_enrollments(db, world["cohort"])[-1].student_data["sa_id_number"] == ID_B


def test_commit_refuses_when_data_changed_since_preview(world, tmp_path):
    db = world["db"]
    path = write_xlsx(
        tmp_path / "a.xlsx", [["new.one@example.co.za", "New", "One", ID_A, "M", None, None, None]]
    )
    preview = ei.preview_file(db, world["cohort"], path, today=TODAY)
    ei.commit_import(db, preview)
    with pytest.raises(ValidationError, match="row 2, email: .*already enrolled.*preview the file again"):
        ei.commit_import(db, preview)


def test_cancel_writes_nothing(world, tmp_path):
    db = world["db"]
    rows = [
        [f"learner{i}@example.co.za", "Learner", f"Nr {i}", None, None, None, None, None] for i in range(1500)
    ]
    preview = ei.preview_file(db, world["cohort"], write_xlsx(tmp_path / "big.xlsx", rows), today=TODAY)
    calls = iter([False, False, True])  # the users, the first chunk of enrollments, then cancel
    with pytest.raises(OperationCancelled):
        ei.commit_import(db, preview, cancelled=lambda: next(calls, True))
    with db.read_session() as s:
        assert s.scalar(select(func.count()).select_from(User).where(User.email.like("learner%"))) == 0
        assert s.scalar(select(func.count()).select_from(CohortEnrollment)) == 3


def test_csv_with_bom_semicolons_and_unicode(world, tmp_path):
    path = tmp_path / "excel.csv"
    text = (
        "\ufeffE-mail Address ; FIRST NAME;Last  Name;SA ID Number;Notes\r\n"
        f"nomvula@example.co.za;Nomvula;Ndlovu-D'Almeida;{ID_B};likes maths\r\n"
        "andré@example.co.za;André;Müller;;\r\n"
    )
    path.write_bytes(text.encode("utf-8"))
    preview = ei.preview_file(world["db"], world["cohort"], path, today=TODAY)
    assert preview.columns == ("email", "first_name", "last_name", "sa_id_number")
    assert preview.ignored_columns == ("Notes",)
    first, second = preview.rows
    assert (first.first_name, first.last_name, first.status) == ("Nomvula", "Ndlovu-D'Almeida", None)
    assert second.status is Severity.ERROR  # e-mail addresses are ASCII (validation.validate_email)
    assert "'andré@example.co.za' is not a valid e-mail address" in second.message
    assert second.last_name == "Müller" and second.first_name == "André"


def test_windows_1252_csv_is_read_with_a_warning(world, tmp_path):
    path = tmp_path / "ansi.csv"
    path.write_bytes("Email,First name,Last name\nrene@example.co.za,René,Müller\n".encode("cp1252"))
    preview = ei.preview_file(world["db"], world["cohort"], path, today=TODAY)
    assert preview.rows[0].first_name == "René" and "Windows-1252" in preview.file_warnings[0]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("broken.xlsx", b"PK\x03\x04 this is not really a zip", "cannot be read as an Excel workbook"),
        ("renamed.xlsx", b"Email,First name\n", "not a valid Excel workbook"),
        ("old.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600), "old Excel 97"),
        ("photo.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", r"not a text \(CSV\) file"),
        ("empty.csv", b"", "is empty"),
        ("missing.csv", None, "does not exist"),
    ],
)
def test_unreadable_files_are_refused_in_plain_words(tmp_path, name, content, message):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ImportFileError, match=message):
        ei.read_table(path)


def test_a_file_without_the_required_columns_is_refused(world, tmp_path):
    path = tmp_path / "names.csv"
    path.write_bytes(b"First name,Last name\nA,B\n")
    with pytest.raises(ImportFileError, match="has no 'Email' column. The first row must name the columns"):
        ei.preview_file(world["db"], world["cohort"], path)


def test_closed_cohort_is_refused(world, tmp_path):
    db = world["db"]
    ce.change_cohort_state(db, world["cohort"], "cancelled")
    path = write_xlsx(tmp_path / "a.xlsx", [["x@example.co.za", "X", "Y", None, None, None, None, None]])
    with pytest.raises(ValidationError, match="cancelled; it takes no new enrollments"):
        ei.preview_file(db, world["cohort"], path)


def test_templates(world, tmp_path):
    xlsx = ei.write_template(tmp_path / "template.xlsx")
    workbook = openpyxl.load_workbook(xlsx)
    assert workbook.sheetnames == ["Learners", "Codes"]
    sheet = workbook["Learners"]
    header = [c.value for c in sheet[1]]
    assert header == [h for _k, h, _r in ei.COLUMNS]
    sample = {h: c.value for h, c in zip(header, sheet[2], strict=True)}
    assert sample["SA ID number"] == "0501014800087" and sheet["D2"].number_format == "@"
    codes = {(r[0], r[1]) for r in workbook["Codes"].iter_rows(min_row=2, values_only=True)}
    assert ("Disability", "01") in codes and ("Race", "Wh") in codes and ("Province", "N") in codes
    # the sample row is refused, not imported
    preview = ei.preview_file(world["db"], world["cohort"], xlsx, today=TODAY)
    assert [i.message for i in preview.rows[0].issues] == ["this is the template's sample row; delete it"]
    csv_path = ei.write_template(tmp_path / "template.csv")
    assert csv_path.read_bytes().startswith(b"\xef\xbb\xbfEmail,First name,Last name,SA ID number")


# --- on a laptop paired with a server -----------------------------------------------------------


@pytest.fixture
def paired(sqlite_db: Database) -> dict:
    db = sqlite_db
    acc = factories.account(db)
    inst = ce.create_institution(db, ce.NewInstitution(account_id=acc, name="Acme Training")).row
    cohort = ce.create_cohort(db, ce.NewCohort(inst.id, "Q1", "learnership")).row
    learners = [factories.user(db, acc, f"Learner{i}", "Pulled", f"l{i}@example.co.za") for i in range(3)]
    with db.session() as s:
        local.update_state(s, account_id=acc, server_url="postgresql://127.0.0.1:9/cohortdesk")
        local.add_to_pool(s, "cohort_enrollments", list(range(9000, 9003)))
    return {"db": db, "cohort": cohort.id, "learners": learners}


def test_paired_commit_writes_one_outbox_entry_per_enrollment(paired, tmp_path):
    db = paired["db"]
    rows = [[f"L{i}@example.co.za", f"Learner{i}", "Pulled", None, None, None, None, None] for i in range(3)]
    rows.append(["unknown@example.co.za", "Not", "There", None, None, None, None, None])
    preview = ei.preview_file(db, paired["cohort"], write_xlsx(tmp_path / "a.xlsx", rows), today=TODAY)
    assert preview.paired and preview.counts["importable"] == 3
    assert "no DocuSeal user of this account has this e-mail yet" in preview.rows[3].message
    result = ei.commit_import(db, preview)
    assert result.enrolled == 3 and result.users_created == 0 and result.changes_queued == 3
    table = SyncOutbox.__table__
    with db.read_session() as s:
        entries = s.execute(select(table).order_by(table.c.mutation_id)).all()
        assert local.pool_counts(s)["cohort_enrollments"] == 0
    assert [e.row_id for e in entries] == [9000, 9001, 9002]
    assert {e.op for e in entries} == {"insert"} and {e.table_name for e in entries} == {"cohort_enrollments"}
    assert [e.changes_json["user_id"] for e in entries] == paired["learners"]
    assert entries[0].changes_json["cohort_id"] == paired["cohort"]
    mutation_ids = [e.mutation_id for e in entries]
    assert mutation_ids == list(range(mutation_ids[0], mutation_ids[0] + 3))


def test_paired_commit_without_enough_reserved_ids_writes_nothing(paired, tmp_path):
    db = paired["db"]
    with db.session() as s:
        s.execute(local._pool.delete().where(local._pool.c.id > 9000))
    rows = [[f"l{i}@example.co.za", f"Learner{i}", "Pulled", None, None, None, None, None] for i in range(3)]
    preview = ei.preview_file(db, paired["cohort"], write_xlsx(tmp_path / "a.xlsx", rows), today=TODAY)
    with pytest.raises(SyncError, match="cannot be reached.*it can create 1 of the 3 now"):
        ei.commit_import(db, preview)
    with db.read_session() as s:
        assert s.scalar(select(func.count()).select_from(CohortEnrollment)) == 0
        assert s.scalar(select(func.count()).select_from(SyncOutbox)) == 0
        assert local.pool_counts(s)["cohort_enrollments"] == 1


# --- command line -------------------------------------------------------------------------------


def test_cli_template_preview_and_commit(world, tmp_path, capsys):
    from cohortdesk.cli import main

    db = world["db"]
    url = db.url.render_as_string(hide_password=False)
    template = tmp_path / "template.xlsx"
    assert main(["--url", url, "import-template", "-o", str(template)]) == 0
    assert template.exists() and "wrote" in capsys.readouterr().out
    path = tmp_path / "learners.csv"
    path.write_text(
        f"Email,First name,Last name,SA ID number\nnaledi@example.co.za,Naledi,Khumalo,{ID_A}\n"
        "broken,Bad,Row,123\n",
        encoding="utf-8-sig",
    )
    cohort = str(world["cohort"])
    assert main(["--url", url, "import-enrollments", "--cohort", cohort, str(path)]) == 1
    out = capsys.readouterr().out
    assert "2 rows: 1 can be imported (1 fine, 0 with warnings), 1 with errors" in out
    assert "error: row 3, Email: 'broken' is not a valid e-mail address" in out
    assert "error: row 3, SA ID number: '123' is not a valid SA ID number: must be exactly 13 digits" in out
    assert "dry run: nothing written" in out
    assert len(ce.list_enrollments(db, world["cohort"])) == 1
    assert main(["--url", url, "import-enrollments", "--cohort", cohort, str(path), "--commit"]) == 0
    assert "Enrolled 1 learners (1 new DocuSeal users, 0 existing); 1 rows with errors left out." in (
        capsys.readouterr().out
    )
    assert len(ce.list_enrollments(db, world["cohort"])) == 2
    (tmp_path / "bad.xlsx").write_bytes(b"PK\x03\x04 nope")
    assert main(["--url", url, "import-enrollments", "--cohort", cohort, str(tmp_path / "bad.xlsx")]) == 2
    assert "cannot be read as an Excel workbook" in capsys.readouterr().err


def test_an_email_stored_with_capitals_is_matched(world, tmp_path):
    db = world["db"]
    capitals = factories.user(db, world["account"], "Mpho", "Sello", "Mpho.Sello@Example.co.za")
    path = tmp_path / "a.csv"
    path.write_text(f"Email,First name,Last name,SA ID number\nmpho.sello@example.co.za,Mpho,Sello,{ID_A}\n")
    preview = ei.preview_file(db, world["cohort"], path, today=TODAY)
    assert preview.rows[0].user_id == capitals and preview.rows[0].status is None
    result = ei.commit_import(db, preview)
    assert (result.users_created, result.users_matched) == (0, 1)
    assert ce.list_enrollments(db, world["cohort"])[-1].user_id == capitals
