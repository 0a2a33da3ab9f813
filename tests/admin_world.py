"""A small, realistic institution for the administration screens' tests and screenshots: templates
(one archived), two sponsors, an active cohort and an incomplete draft."""

from __future__ import annotations

from datetime import UTC, datetime

from cohortdesk.db import Database
from cohortdesk.models import Template
from cohortdesk.services import cohorts as cs
from tests import factories


def admin_world(db: Database) -> dict:
    acc = factories.account(db, "Ubuntu Skills Academy")
    admin = factories.user(db, acc, "Naledi", "Mahlangu", email="naledi@ubuntuskills.co.za")
    inst = cs.create_institution(
        db,
        cs.NewInstitution(
            account_id=acc,
            name="Ubuntu Skills Academy",
            registration_number="2011/104522/07",
            address="14 Church Street\nPolokwane\n0699",
            contact_email="admin@ubuntuskills.co.za",
            contact_phone="015 291 4400",
            super_admin_id=admin,
            settings={"hosting_location": "Own server, Polokwane office"},
        ),
    )
    agreement = factories.template(db, acc, admin, "Learnership tripartite agreement")
    internship_agreement = factories.template(db, acc, admin, "Internship agreement")
    consent = factories.template(db, acc, admin, "POPIA consent form")
    stipend = factories.template(db, acc, admin, "Stipend banking details form")
    archived = factories.template(db, acc, admin, "Old agreement (2019)")
    with db.session() as s:
        s.get(Template, archived).archived_at = datetime(2024, 1, 1)
    bank = cs.create_sponsor(
        db,
        cs.NewSponsor(
            institution_id=inst.id,
            company_name="Limpopo Mining Holdings",
            contact_name="Johan Botha",
            contact_email="jbotha@lmh.co.za",
            contact_phone="015 307 1200",
            tax_number="9012345678",
        ),
    )
    retail = cs.create_sponsor(
        db,
        cs.NewSponsor(
            institution_id=inst.id,
            company_name="Kasi Retail Group",
            contact_name="Palesa Molefe",
            contact_email="palesa@kasiretail.co.za",
        ),
    )
    active = cs.create_cohort(
        db,
        cs.NewCohort(
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
    )
    cs.change_cohort_state(db, active.id, "active")
    draft = cs.create_cohort(
        db,
        cs.NewCohort(
            institution_id=inst.id,
            name="Retail Graduate Internship",
            program_type="internship",
            sponsor_id=retail.id,
            student_count=0,
            required_document_types=("id_document", "tertiary_qualification", "cv"),
        ),
    )
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
        "cohorts": {"active": active, "draft": cs.get_cohort(db, draft.id)},
    }
