"""SA ID numbers, e-mails, demographic codes and JSON shapes: refused with the field named."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cohortdesk.errors import ValidationError
from cohortdesk.services import validation as v

TODAY = date(2026, 11, 26)


def make_id(dob: date, sequence: int, citizen: int = 0) -> str:
    body = f"{dob:%y%m%d}{sequence:04d}{citizen}8"
    for check in range(10):
        if v.luhn_valid(body + str(check)):
            return body + str(check)
    raise AssertionError


def test_known_examples():
    info = v.decode_sa_id("8001015009087", TODAY)
    assert info.valid and info.date_of_birth == date(1980, 1, 1) and info.sex == "M"
    assert info.citizenship == "citizen"
    young = v.decode_sa_id("0501014800087", TODAY)
    assert young.valid and young.date_of_birth == date(2005, 1, 1) and young.sex == "F"


@pytest.mark.parametrize(
    ("number", "problem"),
    [
        ("800101500908", "13 digits"),
        ("80010150090A7", "13 digits"),
        ("8001015009088", "check digit"),
        ("8013015009083", "date of birth"),
    ],
)
def test_bad_numbers_name_the_problem(number, problem):
    info = v.decode_sa_id(number, TODAY)
    assert not info.valid
    assert any(problem in p for p in info.problems)
    with pytest.raises(ValidationError) as err:
        v.validate_sa_id(number, "student_data.sa_id_number", TODAY)
    assert err.value.field == "student_data.sa_id_number"


@given(
    st.dates(min_value=date(1930, 1, 1), max_value=date(2025, 12, 31)),
    st.integers(0, 9999),
    st.sampled_from([0, 1]),
)
def test_generated_ids_round_trip(dob, sequence, citizen):
    number = make_id(dob, sequence, citizen)
    info = v.decode_sa_id(number, TODAY)
    assert info.valid
    assert info.sex == ("M" if sequence >= 5000 else "F")
    assert info.date_of_birth == dob or info.date_of_birth.year == dob.year - 100 or dob.year < 1927


@given(st.text(max_size=20))
def test_decode_never_crashes(text):
    v.decode_sa_id(text, TODAY)


@pytest.mark.parametrize("email", ["a@b", "no-at-sign", "two@@x.co.za", "x@y..za", " ", "a b@c.co.za"])
def test_bad_emails(email):
    with pytest.raises(ValidationError) as err:
        v.validate_email(email, "contact_email")
    assert err.value.field == "contact_email"


def test_email_normalised():
    assert v.validate_email("  Thandi.Nkosi@Example.CO.ZA ") == "thandi.nkosi@example.co.za"


def test_student_data_codes():
    cleaned = v.validate_student_data(
        {"race": "BA", "gender": "F", "disability": "N", "city": "Soweto", "age": 22}
    )
    assert cleaned["race"] == "BA"
    with pytest.raises(ValidationError, match=r"student_data\.race"):
        v.validate_student_data({"race": "XX"})
    with pytest.raises(ValidationError, match=r"student_data\.disability"):
        v.validate_student_data({"disability": "08"})
    with pytest.raises(ValidationError, match=r"student_data\.sa_id_number"):
        v.validate_student_data({"sa_id_number": "8001015009088"})
    with pytest.raises(ValidationError, match=r"student_data\.shoe_size"):
        v.validate_student_data({"shoe_size": 9})


def test_uploaded_documents_shape():
    good = {
        "id": {
            "file_name": "id.pdf",
            "content_type": "application/pdf",
            "size": 10,
            "checksum": "x",
            "storage_key": "abcdefghij",
            "uploaded_at": "2026-01-01T00:00:00+00:00",
        }
    }
    assert set(v.validate_uploaded_documents(good)) == {"id_document"}
    bad = {"cv": {**good["id"], "content_type": "application/x-msdownload"}}
    with pytest.raises(ValidationError, match=r"uploaded_documents\.cv\.content_type"):
        v.validate_uploaded_documents(bad)
