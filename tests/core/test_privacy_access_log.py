"""Special personal information stays masked without the capability; a reveal is logged with its
reason; the access log records views and exports (on SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest

from cohortdesk.errors import PermissionDenied, ValidationError
from cohortdesk.services.access import log as access_log
from cohortdesk.services.access import privacy
from cohortdesk.services.access.identity import ROLE_CAPABILITIES, SPECIAL_PI, Identity, resolve_identity
from cohortdesk.services.documents.storage import DocumentStore
from tests import factories


def _officer(made, capabilities=frozenset()) -> Identity:
    return Identity(
        user_id=made["officer"],
        display_name="Officer One",
        account_id=made["account"],
        institution_id=made["institution"].id,
        role="officer",
        capabilities=ROLE_CAPABILITIES["officer"] | capabilities,
    )


@pytest.fixture
def made(db, tmp_path):
    return factories.setup_cohort(db, DocumentStore(tmp_path / "store"))


def test_special_pi_is_masked_without_the_capability(made):
    data = made["enrollment"].student_data
    masked = privacy.masked_student_data(data, _officer(made))
    assert masked["race"] == privacy.MASK and masked["disability"] == privacy.MASK
    assert masked["sa_id_number"].startswith("050101") and masked["sa_id_number"] != data["sa_id_number"]
    assert masked["city"] == "Polokwane" and masked["gender"] == "F"
    assert privacy.masked_student_data(data, _officer(made, frozenset({SPECIAL_PI}))) == data
    with pytest.raises(PermissionDenied):
        privacy.check_document_access(_officer(made), "disability_proof")
    privacy.check_document_access(_officer(made), "id_document")


def test_a_reveal_needs_the_capability_and_a_reason_and_is_logged(db, made):
    enrollment = made["enrollment"].id
    with pytest.raises(PermissionDenied):
        privacy.reveal_student_pi(db, _officer(made), enrollment, "EE report")
    holder = _officer(made, frozenset({SPECIAL_PI}))
    with pytest.raises(ValidationError) as info:
        privacy.reveal_student_pi(db, holder, enrollment, "  ")
    assert info.value.field == "reason"
    revealed = privacy.reveal_student_pi(db, holder, enrollment, "EE report for the SETA")
    assert (revealed.race, revealed.race_label, revealed.disability_label, revealed.sa_id_number) == (
        "BA",
        "Black: African",
        "None",
        "0501014800087",
    )
    admin = resolve_identity(db)
    [entry] = access_log.read_log(db, admin, kinds=("special_pi_reveal",))
    assert (entry.object_table, entry.object_id, entry.purpose) == (
        "cohort_enrollments",
        enrollment,
        "EE report for the SETA",
    )
    assert entry.details == {"fields": ["race", "disability", "sa_id_number"]}
    assert "0501014800087" not in str(entry) and "BA" not in entry.details["fields"]


def test_reveal_details_logs_then_shows_the_details_page_unmasked(db, made):
    enrollment = made["enrollment"].id
    holder = _officer(made, frozenset({SPECIAL_PI}))
    with pytest.raises(PermissionDenied):
        privacy.reveal_details(db, _officer(made), enrollment, "Checking documents")
    details = privacy.reveal_details(db, holder, enrollment, privacy.REVEAL_PURPOSES[0])
    assert details.revealed and details.race.display == "Black: African"
    assert details.id_check is not None and details.id_check.number.display == "0501014800087"
    [entry] = access_log.read_log(db, resolve_identity(db), kinds=("special_pi_reveal",))
    assert entry.purpose == privacy.REVEAL_PURPOSES[0] and entry.object_id == enrollment


def test_views_and_exports_are_logged_and_read_back_newest_first(db, made):
    officer = _officer(made)
    access_log.log_document_view(db, officer, made["enrollment"].id, "id_document")
    access_log.log_export(
        db,
        officer,
        "sponsor_report",
        row_count=20,
        object_table="cohorts",
        object_id=made["cohort"].id,
        file_format="xlsx",
        columns=["cohort_name", "student_name"],
    )
    with pytest.raises(ValidationError):
        access_log.log_export(db, officer, " ", row_count=1)
    with pytest.raises(PermissionDenied):
        access_log.read_log(db, officer)
    entries = access_log.read_log(db, resolve_identity(db))
    assert [e.kind for e in entries] == ["export", "document_view"]
    assert entries[0].details["row_count"] == 20 and entries[0].purpose == "sponsor_report"
    assert entries[1].details == {"document_type": "id_document"}
    assert [e.kind for e in access_log.read_log(db, resolve_identity(db), object_table="cohorts")] == [
        "export"
    ]
