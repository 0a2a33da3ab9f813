"""The demo's students as rows, a batch at a time: users, their signed agreements (submissions and
submitters), uploads (blobs and attachments), enrollments and the decisions on them."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from cohortdesk.models import (
    ActiveStorageAttachment,
    ActiveStorageBlob,
    CohortEnrollment,
    DocumentVerification,
    Submission,
    Submitter,
    User,
)
from cohortdesk.services.demo.organisations import OrganisationWriter
from cohortdesk.services.demo.planning import Batch, EnrollmentPlan
from cohortdesk.services.demo.reference import (
    COHORTS,
    INSTITUTIONS,
    REASON_MESSAGES,
    REASONS_FOR,
    STUDENT_USER_ROLE,
    age_on,
)
from cohortdesk.services.validation import document_label


class StudentWriter(OrganisationWriter):
    """Inserts the planned students batch by batch (the fourth layer of ``DemoGenerator``)."""

    def _insert_students(self, session: Session, plans: list[EnrollmentPlan], on_rows: Any) -> None:
        batch = Batch()
        for plan in plans:
            self._student_rows(plan, batch)
        for table, rows in (
            (User.__table__, batch.users),
            (ActiveStorageBlob.__table__, batch.blobs),
            (Submission.__table__, batch.submissions),
            (Submitter.__table__, batch.submitters),
            (ActiveStorageAttachment.__table__, batch.attachments),
            (CohortEnrollment.__table__, batch.enrollments),
            (DocumentVerification.__table__, batch.verifications),
        ):
            self._emit(session, table, rows, on_rows)

    def _decided_at(self, after: datetime, until: datetime) -> datetime:
        """A moment between ``after`` and ``until`` (at least ten minutes later), whole seconds."""
        span = max((until - after).total_seconds(), 600)
        return (after + timedelta(seconds=self.rng.uniform(0.05, 0.9) * span)).replace(microsecond=0)

    def _upload_times(self, plan: EnrollmentPlan) -> dict[str, datetime]:
        """Documents arrive between enrollment and the last upload; the last one (or a re-upload) last."""
        times: dict[str, datetime] = {}
        for position, doc in enumerate(plan.uploaded):
            if position == len(plan.uploaded) - 1 and doc != plan.resubmitted:
                times[doc] = plan.last_upload_at
            else:
                fraction = self.rng.uniform(0.0, 0.95)
                times[doc] = (plan.created_at + (plan.last_upload_at - plan.created_at) * fraction).replace(
                    microsecond=0
                )
        if plan.resubmitted:
            times[plan.resubmitted] = plan.last_upload_at
        return times

    def _signing_rows(
        self, plan: EnrollmentPlan, batch: Batch, until: datetime
    ) -> tuple[int | None, list[int], dict[str, Any] | None]:
        """The main agreement's submission with its three parties, and the POPIA consent submission."""
        rng = self.rng
        student = plan.student
        inst_index, _name, programme, cohort_state, sponsor_index, _share = COHORTS[plan.cohort]
        if cohort_state == "draft":
            return None, [], None  # invitations go out when the cohort is activated
        account_id = self.accounts[inst_index]
        main = self.main_templates[(inst_index, programme)]
        complete = plan.state == "complete"
        learner_done = None
        if complete or (
            plan.state == "in_progress" and plan.verification != "pending" and rng.random() < 0.5
        ):
            learner_done = min(plan.last_upload_at + timedelta(minutes=rng.randrange(5, 600)), until)
        others_done = self._decided_at(learner_done, until) if complete and learner_done else None
        snapshot = student.index < self.unique_files
        submission_id = self.ids.take("submissions")
        submission = {
            "id": submission_id,
            "account_id": account_id,
            "template_id": main["row"]["id"],
            "created_by_user_id": self.staff[inst_index][0],
            "name": main["row"]["name"],
            "slug": self._slug(),
            "source": "invite",
            "submitters_order": "preserved",
            # DocuSeal snapshots the template; readers fall back to templates.fields when it is NULL.
            "template_fields": main["row"]["fields"] if snapshot else None,
            "template_schema": main["row"]["schema"] if snapshot else None,
            "template_submitters": main["row"]["submitters"] if snapshot else None,
            "preferences": {},
            "variables": None,
            "variables_schema": None,
            "expire_at": None,
            "completed_at": others_done,
            "archived_at": None,
            "created_at": plan.created_at,
            "updated_at": others_done or plan.last_upload_at,
        }
        batch.submissions.append(submission)
        sponsor = self.sponsor_rows[inst_index][sponsor_index]
        institution = INSTITUTIONS[inst_index]
        parties = (
            (student.email, f"{student.first_name} {student.last_name}", student.phone, learner_done),
            (sponsor["contact_email"], sponsor["contact_name"], sponsor["contact_phone"], others_done),
            (f"info@{institution['domain']}", institution["name"], institution["phone"], others_done),
        )
        learner: dict[str, Any] | None = None
        for position, (role, (email, name, phone, done_at)) in enumerate(
            zip(main["roles"], parties, strict=True)
        ):
            opened = None
            if position == 0:
                if plan.uploaded:
                    opened = plan.last_upload_at
                elif rng.random() < 0.3:  # opened the invitation, nothing uploaded yet
                    opened = plan.created_at + timedelta(hours=3)
            row = {
                "id": self.ids.take("submitters"),
                "submission_id": submission_id,
                "account_id": account_id,
                "uuid": role["uuid"],
                "slug": self._slug(),
                "email": email,
                "name": name,
                "phone": phone,
                "external_id": None,
                "values": {},
                "preferences": {"send_email": True},
                "metadata": {},
                "sent_at": plan.created_at if position == 0 else learner_done,
                "opened_at": done_at or opened,
                "completed_at": done_at,
                "declined_at": None,
                "ip": "196.25.1.200" if done_at else None,
                "ua": "Mozilla/5.0 (Linux; Android 14) Mobile" if done_at else None,
                "timezone": "Africa/Johannesburg" if done_at else None,
                "created_at": plan.created_at,
                "updated_at": done_at or opened or plan.created_at,
            }
            batch.submitters.append(row)
            if position == 0:
                learner = row
        supporting: list[int] = []
        if plan.state != "waiting" and learner is not None:
            popia = self.main_templates[(inst_index, "POPIA Consent Form")]
            consent_id = self.ids.take("submissions")
            supporting.append(consent_id)
            consent_at = plan.created_at + timedelta(minutes=rng.randrange(10, 240))
            batch.submissions.append(
                {
                    **submission,
                    "id": consent_id,
                    "template_id": popia["row"]["id"],
                    "name": popia["row"]["name"],
                    "slug": self._slug(),
                    "template_fields": None,
                    "template_schema": None,
                    "template_submitters": None,
                    "completed_at": consent_at,
                    "updated_at": consent_at,
                }
            )
            batch.submitters.append(
                {
                    **learner,
                    "id": self.ids.take("submitters"),
                    "submission_id": consent_id,
                    "uuid": popia["roles"][0]["uuid"],
                    "slug": self._slug(),
                    "opened_at": consent_at,
                    "completed_at": consent_at,
                    "ip": "196.25.1.200",
                    "ua": "Mozilla/5.0 (Linux; Android 14) Mobile",
                    "timezone": "Africa/Johannesburg",
                    "updated_at": consent_at,
                }
            )
        return submission_id, supporting, learner

    def _student_rows(self, plan: EnrollmentPlan, batch: Batch) -> None:
        rng = self.rng
        student = plan.student
        inst_index, _name, programme, _state, _sponsor, _share = COHORTS[plan.cohort]
        account_id = self.accounts[inst_index]
        cohort = self.cohort_rows[plan.cohort]
        if student.user_id is None:
            student.user_id, user = self._user_row(
                account_id,
                student.email,
                student.first_name,
                student.last_name,
                STUDENT_USER_ROLE,
                plan.created_at,
            )
            user["uuid"] = student.user_uuid
            batch.users.append(user)
        until = min(self.now, cohort["end_date"] or self.now)
        upload_times = self._upload_times(plan)
        submission_id, supporting_ids, learner = self._signing_rows(plan, batch, until)
        main = self.main_templates[(inst_index, programme)]

        uploaded_documents: dict[str, Any] = {}
        replaced: dict[str, dict[str, Any]] = {}
        values: dict[str, str] = {}
        for doc in plan.uploaded:
            for version in (0, 1) if doc == plan.resubmitted else (0,):
                stored, demo_file = self._pool_file(plan, doc, version)
                when = upload_times[doc]
                if doc == plan.resubmitted and version == 0:
                    when = (plan.created_at + (plan.last_upload_at - plan.created_at) * 0.3).replace(
                        microsecond=0
                    )
                if stored.key not in self.blob_ids:
                    batch.blobs.append(self._blob_row(stored, demo_file, when))
                meta = stored.as_upload()
                meta["uploaded_at"] = when.isoformat()
                if learner is not None:
                    attachment = self._attachment_row(
                        "Submitter", learner["id"], "attachments", self.blob_ids[stored.key], when
                    )
                    batch.attachments.append(attachment)
                    values[main["doc_fields"][doc]] = attachment["uuid"]
                if doc == plan.resubmitted and version == 0:
                    replaced[doc] = meta
                else:
                    uploaded_documents[doc] = meta
        if learner is not None:
            learner["values"] = values  # a replaced upload stays as an attachment no field refers to

        enrollment_id = self.ids.take("cohort_enrollments")
        officers = self.staff[inst_index]
        decisions: list[dict[str, Any]] = []

        def decide(
            doc: str, action: str, at: datetime, meta: dict[str, Any], code: str | None = None
        ) -> None:
            metadata = {"checksum": meta["checksum"], "storage_key": meta["storage_key"]}
            if code:
                metadata["reason_code"] = code
            officer = rng.choice(officers[1:]) if rng.random() < 0.85 else officers[0]
            decisions.append(
                self._own(
                    "document_verifications",
                    account_id,
                    at,
                    cohort_enrollment_id=enrollment_id,
                    admin_id=officer,
                    document_type=doc,
                    action=action,
                    reason=REASON_MESSAGES[code] if code else None,
                    metadata=metadata,
                )
            )

        if plan.verification == "verified":
            if plan.resubmitted:
                old = replaced[plan.resubmitted]
                old_at = datetime.fromisoformat(old["uploaded_at"])
                first_at = (old_at + (plan.last_upload_at - old_at) * rng.uniform(0.2, 0.8)).replace(
                    microsecond=0
                )
                decide(plan.resubmitted, "rejected", first_at, old, rng.choice(REASONS_FOR[plan.resubmitted]))
            for doc in plan.uploaded:
                decide(doc, "approved", self._decided_at(plan.last_upload_at, until), uploaded_documents[doc])
        elif plan.verification == "rejected":
            for doc in plan.uploaded:
                at = self._decided_at(plan.last_upload_at, until)
                if doc in plan.rejected:
                    decide(doc, "rejected", at, uploaded_documents[doc], rng.choice(REASONS_FOR[doc]))
                elif rng.random() < 0.7:
                    decide(doc, "approved", at, uploaded_documents[doc])
        else:
            for doc in plan.approved_early:
                decide(doc, "approved", self._decided_at(plan.last_upload_at, until), uploaded_documents[doc])
        decisions.sort(key=lambda row: row["created_at"])
        rejection_reason = None
        if plan.verification == "rejected":
            latest = {row["document_type"]: row for row in decisions}
            rejection_reason = "\n".join(
                f"{document_label(doc)}: {latest[doc]['reason']}" for doc in sorted(plan.rejected)
            )
        student_data: dict[str, Any] = {
            "age": age_on(student.date_of_birth, self.now.date()),
            "date_of_birth": student.date_of_birth.isoformat(),
            "race": student.race,
            "gender": student.gender,
            "disability": student.disability,
            "city": student.city,
            "province": student.province,
            "phone": student.phone,
        }
        if student.sa_id_number:
            student_data["sa_id_number"] = student.sa_id_number
        else:
            student_data.update(alternate_id=student.alternate_id, alternate_id_type="527")  # 527: passport
        last_change = decisions[-1]["created_at"] if decisions else plan.last_upload_at
        batch.enrollments.append(
            {
                "id": enrollment_id,
                "uuid": self._uuid(),
                "account_id": account_id,
                "cohort_id": cohort["id"],
                "user_id": student.user_id,
                "submission_id": submission_id,
                "supporting_submission_ids": supporting_ids,
                "state": plan.state,
                "document_verification_state": plan.verification,
                "rejection_reason": rejection_reason,
                "student_data": student_data,
                "uploaded_documents": uploaded_documents,
                "pending_since": plan.last_upload_at,
                "created_at": plan.created_at,
                "updated_at": max(last_change, plan.created_at),
                "row_version": 1 + len(decisions),
            }
        )
        batch.verifications.extend(decisions)
