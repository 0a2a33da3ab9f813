"""The configuration screens' services, on SQLite and on a real PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from cohortdesk.errors import ConflictError, InvalidTransition, ValidationError
from cohortdesk.services.configuration import rejection_reasons as canned
from cohortdesk.services.configuration import screens as config
from cohortdesk.services.configuration.screens import (
    CohortEdit,
    InstitutionEdit,
    RejectionReason,
    SponsorEdit,
)
from tests.admin_world import admin_world


@pytest.fixture
def world(db):
    return admin_world(db)


def test_checks_list_every_problem_naming_its_field():
    problems = config.check_institution(
        InstitutionEdit(
            name="",
            contact_email="x@",
            contact_phone="12",
            rejection_reasons=(RejectionReason("Bad Code", "", ""), RejectionReason("ok", "Ok", "Fine")),
        )
    )
    fields = [p.field for p in problems]
    assert fields == [
        "name",
        "contact_email",
        "contact_phone",
        "rejection_reasons.1.code",
        "rejection_reasons.1.label",
        "rejection_reasons.1.message",
    ]
    duplicate = config.check_rejection_reasons(
        (RejectionReason("a", "A", "m"), RejectionReason("a", "B", "n"))
    )
    assert duplicate[0].message == "reason 2: code 'a' is used twice"
    assert [p.field for p in config.check_sponsor(SponsorEdit("Acme", tax_number="123"))] == ["tax_number"]
    assert (
        config.check_sponsor(SponsorEdit("Acme", tax_number="4123 456 789", contact_phone="+27 82 555 1234"))
        == []
    )
    cohort = config.check_cohort(
        CohortEdit(
            "",
            "apprenticeship",
            start_date=date(2026, 2, 1),
            end_date=date(2026, 1, 1),
            main_template_id=3,
            supporting_templates=(3,),
        )
    )
    assert [p.field for p in cohort] == ["name", "program_type", "end_date", "supporting_templates"]


def test_custom_document_type_keys():
    assert config.custom_document_type("Police clearance") == "custom_police_clearance"
    assert config.custom_document_type("  Custom: SAQA letter! ") == "custom_saqa_letter"
    with pytest.raises(ValidationError, match="custom_document_type"):
        config.custom_document_type(" -- ")


def test_load_admin_reads_everything_and_skips_archived_templates(db, world):
    snapshot = config.load_admin(db, world["institution"].id)
    assert snapshot.institution.name == "Ubuntu Skills Academy"
    assert [s.company_name for s in snapshot.sponsors] == ["Kasi Retail Group", "Limpopo Mining Holdings"]
    assert [c.cohort.name for c in snapshot.cohorts] == [
        "2026 Mining Learnership",
        "Retail Graduate Internship",
    ]
    assert snapshot.cohorts[0].sponsor_name == "Limpopo Mining Holdings" and snapshot.cohorts[0].enrolled == 0
    names = [t.name for t in snapshot.templates]
    assert "Old agreement (2019)" not in names and names[0] == "Internship agreement"
    assert config.list_templates(db, world["account"]) == list(snapshot.templates)
    # no reasons saved yet: the suggested ones are what officers see
    assert config.rejection_reasons(snapshot.institution) == config.DEFAULT_REJECTION_REASONS


def test_rejection_reasons_default_and_per_institution(db, world):
    institution_id = world["institution"].id
    defaults = canned.rejection_reasons(db, institution_id)
    assert defaults[0].code == "not_certified" and len(defaults) == 9
    assert {r.code for r in defaults} >= {"illegible", "smart_id_one_side_missing", "pages_missing"}
    from cohortdesk.models import Institution

    # settings written by something other than CohortDesk's forms: a malformed reason is skipped
    with db.session() as s:
        inst = s.get(Institution, institution_id)
        inst.settings = {
            "rejection_reasons": [
                {"code": "blurry", "label": "Blurry", "message": "Please rescan."},
                {"code": "", "label": "broken"},
            ]
        }
    assert canned.rejection_reasons(db, institution_id) == [
        canned.RejectionReason("blurry", "Blurry", "Please rescan.")
    ]
    assert canned.rejection_reasons(db, None) == list(canned.DEFAULT_REJECTION_REASONS)


def test_save_institution_keeps_other_settings_and_checks_the_version(db, world):
    inst = world["institution"]
    edit = replace(
        config.institution_edit_of(inst),
        contact_email=" Admin@Ubuntu.co.za ",
        rejection_reasons=(RejectionReason("blurry", "Blurry", "Please rescan."),),
    )
    saved = config.save_institution(db, inst.id, edit, inst.row_version)
    assert saved.contact_email == "admin@ubuntu.co.za"
    assert saved.settings["hosting_location"] == "Own server, Polokwane office"
    assert config.rejection_reasons(saved) == (RejectionReason("blurry", "Blurry", "Please rescan."),)
    # ... and they are what the officer's reject dialog offers for this institution's learners
    assert canned.rejection_reasons(db, inst.id) == [RejectionReason("blurry", "Blurry", "Please rescan.")]
    # a row pulled at another version than the form was opened on is not overwritten
    with pytest.raises(ConflictError, match="changed since you opened it"):
        config.save_institution(db, inst.id, edit, saved.row_version + 1)
    again = config.save_institution(db, inst.id, replace(edit, name="Ubuntu Skills"), saved.row_version)
    assert again.name == "Ubuntu Skills"
    with pytest.raises(ValidationError, match="contact_phone"):
        config.save_institution(db, inst.id, replace(edit, contact_phone="abc"), saved.row_version)


def test_save_sponsor_creates_and_updates(db, world):
    inst = world["institution"]
    created = config.save_sponsor(
        db, inst.id, None, SponsorEdit("Anglo Trust", contact_email="HR@anglo.example")
    )
    assert created.contact_email == "hr@anglo.example"
    updated = config.save_sponsor(
        db, inst.id, created.id, SponsorEdit("Anglo Trust", tax_number="9000 000 000"), created.row_version
    )
    assert updated.tax_number == "9000000000" and updated.contact_email is None
    with pytest.raises(ConflictError):
        config.save_sponsor(db, inst.id, created.id, SponsorEdit("Anglo"), updated.row_version + 1)


def test_save_cohort_validates_links_and_final_states(db, world):
    inst = world["institution"]
    draft = world["cohorts"]["draft"]
    edit = replace(config.cohort_edit_of(draft), main_template_id=world["templates"]["archived"])
    with pytest.raises(ValidationError, match="main_template_id"):
        config.save_cohort(db, inst.id, draft.id, edit, draft.row_version)
    good = replace(
        config.cohort_edit_of(draft),
        main_template_id=world["templates"]["internship"],
        student_count=8,
        start_date=date(2026, 3, 2),
        end_date=date(2026, 12, 18),
        sponsor_id=world["sponsors"]["mining"].id,
    )
    saved = config.save_cohort(db, inst.id, draft.id, good, draft.row_version)
    assert saved.sponsor_email == "jbotha@lmh.co.za" and saved.start_date.date() == date(2026, 3, 2)
    assert config.preview_blockers(saved, good, "active") == []
    assert "choose the main agreement template first" in config.preview_blockers(
        saved, replace(good, main_template_id=None), "active"
    )
    config.change_cohort_state(db, draft.id, "cancelled", saved.row_version)
    with pytest.raises(ValidationError, match="no longer change"):
        config.save_cohort(db, inst.id, draft.id, good)
    with pytest.raises(InvalidTransition):
        config.change_cohort_state(db, draft.id, "active")


@pytest.mark.parametrize(
    ("days", "words"),
    [
        (-1, "cannot be negative; 0 means certifications of any age are accepted"),
        (3651, "is at most 3650 days (ten years); 0 means no limit"),
    ],
)
def test_a_certification_age_limit_out_of_range_is_explained(days, words):
    problems = config.check_cohort(
        CohortEdit(name="Learnership", program_type="learnership", certification_max_age_days=days)
    )
    assert [(p.field, p.message) for p in problems] == [("certification_max_age_days", words)]


def test_save_cohort_keeps_the_certification_age_limit(db, world):
    institution = world["institution"].id
    edit = CohortEdit(name="Certified lately", program_type="learnership", certification_max_age_days=30)
    made = config.save_cohort(db, institution, None, edit)
    assert made.certification_max_age_days == 30
    assert config.cohort_edit_of(made).certification_max_age_days == 30
    saved = config.save_cohort(
        db, institution, made.id, replace(edit, certification_max_age_days=0), made.row_version
    )
    assert saved.certification_max_age_days == 0
    with pytest.raises(ValidationError, match="at most 3650 days"):
        config.save_cohort(db, institution, made.id, replace(edit, certification_max_age_days=9999))
    back = config.save_cohort(db, institution, made.id, replace(edit, certification_max_age_days=None))
    assert back.certification_max_age_days is None
