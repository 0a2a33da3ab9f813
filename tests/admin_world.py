"""A small, realistic institution for the administration screens' tests and screenshots: templates
(one archived), two sponsors, an active cohort and an incomplete draft."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import insert

from cohortdesk.db import Database
from cohortdesk.models import SyncConflict, Template
from cohortdesk.services.configuration import edits as ce
from tests import factories


def admin_world(db: Database) -> dict:
    acc = factories.account(db, "Ubuntu Skills Academy")
    admin = factories.user(db, acc, "Naledi", "Mahlangu", email="naledi@ubuntuskills.co.za")
    inst = ce.create_institution(
        db,
        ce.NewInstitution(
            account_id=acc,
            name="Ubuntu Skills Academy",
            registration_number="2011/104522/07",
            address="14 Church Street\nPolokwane\n0699",
            contact_email="admin@ubuntuskills.co.za",
            contact_phone="015 291 4400",
            super_admin_id=admin,
            settings={"hosting_location": "Own server, Polokwane office"},
        ),
    ).row
    agreement = factories.template(db, acc, admin, "Learnership tripartite agreement")
    internship_agreement = factories.template(db, acc, admin, "Internship agreement")
    consent = factories.template(db, acc, admin, "POPIA consent form")
    stipend = factories.template(db, acc, admin, "Stipend banking details form")
    archived = factories.template(db, acc, admin, "Old agreement (2019)")
    with db.session() as s:
        s.get(Template, archived).archived_at = datetime(2024, 1, 1)
    bank = ce.create_sponsor(
        db,
        ce.NewSponsor(
            institution_id=inst.id,
            company_name="Limpopo Mining Holdings",
            contact_name="Johan Botha",
            contact_email="jbotha@lmh.co.za",
            contact_phone="015 307 1200",
            tax_number="9012345678",
        ),
    ).row
    retail = ce.create_sponsor(
        db,
        ce.NewSponsor(
            institution_id=inst.id,
            company_name="Kasi Retail Group",
            contact_name="Palesa Molefe",
            contact_email="palesa@kasiretail.co.za",
        ),
    ).row
    active = ce.create_cohort(
        db,
        ce.NewCohort(
            institution_id=inst.id,
            name="2026 Mining Learnership",
            program_type="learnership",
            student_count=40,
            sponsor_id=bank.id,
            main_template_id=agreement,
            supporting_templates=(consent, stipend),
            required_document_types=("id_document", "matric_certificate", "bank_confirmation_letter"),
            start_date=datetime(2026, 2, 2, tzinfo=UTC),
            end_date=datetime(2027, 1, 29, tzinfo=UTC),
        ),
    ).row
    ce.change_cohort_state(db, active.id, "active")
    draft = ce.create_cohort(
        db,
        ce.NewCohort(
            institution_id=inst.id,
            name="Retail Graduate Internship",
            program_type="internship",
            sponsor_id=retail.id,
            student_count=0,
            required_document_types=("id_document", "tertiary_qualification", "cv"),
        ),
    ).row
    return {
        "account": acc,
        "admin": admin,
        "institution": inst,
        "templates": {
            "agreement": agreement,
            "internship": internship_agreement,
            "consent": consent,
            "stipend": stipend,
            "archived": archived,
        },
        "sponsors": {"mining": bank, "retail": retail},
        "cohorts": {"active": active, "draft": ce.get_cohort(db, draft.id)},
    }


STARTED = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def seed_inbox(db: Database, account: int, draft, retail) -> dict[str, int]:
    """What a pull leaves in the inbox: two field conflicts on one cohort, an edit of a deleted sponsor."""
    common = {
        "account_id": account,
        "device_id": "laptop-1",
        "theirs_updated_by": "thabo",
        "theirs_updated_at": STARTED + timedelta(hours=2),
        "started_at": STARTED,
        "status": "open",
        "created_at": STARTED + timedelta(hours=3),
    }
    rows = [
        {
            **common,
            "mutation_id": 4,
            "op": "update",
            "table_name": "cohorts",
            "row_id": draft.id,
            "field": "name",
            "kind": "field_conflict",
            "base_value": draft.name,
            "mine": f"{draft.name} (2026)",
            "theirs": f"{draft.name} Programme",
        },
        {
            **common,
            "mutation_id": 4,
            "op": "update",
            "table_name": "cohorts",
            "row_id": draft.id,
            "field": "student_count",
            "kind": "field_conflict",
            "base_value": draft.student_count,
            "mine": 30,
            "theirs": 24,
        },
        {
            **common,
            "mutation_id": 5,
            "op": "update",
            "table_name": "sponsors",
            "row_id": retail.id,
            "field": None,
            "kind": "row_deleted",
            "mine": {"contact_phone": [None, "011 555 0199"]},
            "theirs": None,
        },
    ]
    ids: dict[str, int] = {}
    with db.session() as s:
        for row in rows:
            new_id = s.execute(
                insert(SyncConflict.__table__).values(row).returning(SyncConflict.id)
            ).scalar_one()
            ids[row["field"] or row["kind"]] = new_id
    # the laptop's copy follows the server, as after a pull
    ce.update_cohort(db, draft.id, {"name": f"{draft.name} Programme", "student_count": 24})
    return ids
