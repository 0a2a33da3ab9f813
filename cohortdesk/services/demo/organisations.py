"""The demo's organisations as rows: DocuSeal accounts, staff users, template folders and templates with
their files, institutions with their settings, sponsors and cohorts."""

from __future__ import annotations

import math
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table
from sqlalchemy.orm import Session

from cohortdesk.models import (
    Account,
    ActiveStorageAttachment,
    ActiveStorageBlob,
    Cohort,
    Institution,
    Sponsor,
    Template,
    TemplateFolder,
    User,
)
from cohortdesk.services.configuration.rejection_reasons import DEFAULT_REJECTION_REASONS
from cohortdesk.services.demo import files
from cohortdesk.services.demo.documents import FileWriter
from cohortdesk.services.demo.reference import (
    COHORTS,
    DEMO_ACCOUNT_UUIDS,
    INSTITUTIONS,
    PROGRAMME_DOCS,
    STAFF_USER_ROLE,
    ascii_fold,
)
from cohortdesk.services.demo.tables import IdBlocks, bulk_insert
from cohortdesk.services.documents.storage import StoredFile
from cohortdesk.services.validation import document_label


class OrganisationWriter(FileWriter):
    """Inserts accounts, staff, templates, institutions, sponsors and cohorts (the third layer of
    ``DemoGenerator``)."""

    #: Set when the insert begins (``DemoGenerator.insert``): ids handed out before the rows exist, and
    #: each stored file's blob id.
    ids: IdBlocks
    blob_ids: dict[str, int]

    # --- rows -------------------------------------------------------------------------------------

    def _emit(self, session: Session, table: Table, rows: list[dict[str, Any]], on_rows: Any) -> None:
        if rows:
            bulk_insert(session, table, rows, on_rows)
        self.totals.add(table.name, len(rows))

    def _blob_row(self, stored: StoredFile, demo_file: files.DemoFile, when: datetime) -> dict[str, Any]:
        blob_id = self.ids.take("active_storage_blobs")
        self.blob_ids[stored.key] = blob_id
        return {
            "id": blob_id,
            "key": stored.key,
            "filename": stored.file_name,
            "content_type": stored.content_type,
            "metadata": demo_file.blob_metadata(),
            "service_name": "disk",
            "byte_size": stored.size,
            "checksum": stored.checksum,
            # DocuSeal fills blob uuids lazily: some are still empty.
            "uuid": self._uuid() if self.rng.random() < 0.7 else None,
            "created_at": when,
        }

    def _attachment_row(self, record_type: str, record_id: int, name: str, blob_id: int, when: datetime):
        return {
            "id": self.ids.take("active_storage_attachments"),
            "name": name,
            "record_type": record_type,
            "record_id": record_id,
            "blob_id": blob_id,
            "uuid": self._uuid(),
            "created_at": when,
        }

    def _user_row(self, account_id: int, email: str, first: str, last: str, role: str, when: datetime):
        user_id = self.ids.take("users")
        return user_id, {
            "id": user_id,
            "account_id": account_id,
            "email": email.lower(),
            "encrypted_password": "",  # no usable password: these people sign in to CohortDesk, not here
            "first_name": first,
            "last_name": last,
            "role": role,
            "uuid": self._uuid(),
            "sign_in_count": 0,
            "failed_attempts": 0,
            "otp_required_for_login": False,
            "created_at": when,
            "updated_at": when,
        }

    def _own(self, table: str, account_id: int, when: datetime, **values: Any) -> dict[str, Any]:
        """A row of one of CohortDesk's own tables, with the columns every such table carries."""
        row = {
            "id": self.ids.take(table),
            "uuid": self._uuid(),
            "account_id": account_id,
            "created_at": when,
            "updated_at": when,
            "row_version": 1,
        }
        row.update(values)
        return row

    def _insert_organisations(self, session: Session, on_rows: Any) -> None:
        rng = self.rng
        created = self.now - timedelta(days=540)
        blobs: list[dict[str, Any]] = []
        attachments: list[dict[str, Any]] = []
        accounts, users, folders, templates = [], [], [], []
        institutions, sponsors, cohorts = [], [], []
        self.accounts: list[int] = []
        self.staff: list[list[int]] = []
        self.main_templates: dict[tuple[int, str], dict[str, Any]] = {}
        self.sponsor_rows: list[list[dict[str, Any]]] = []
        self.cohort_rows: list[dict[str, Any]] = []
        for inst_index, inst in enumerate(INSTITUTIONS):
            account_id = self.ids.take("accounts")
            self.accounts.append(account_id)
            accounts.append(
                {
                    "id": account_id,
                    "name": inst["account"],
                    "timezone": "Africa/Johannesburg",
                    "locale": "en-US",
                    "uuid": DEMO_ACCOUNT_UUIDS[inst_index],
                    "archived_at": None,
                    "created_at": created,
                    "updated_at": created,
                }
            )
            staff_ids = []
            for first, last in inst["staff"]:
                email = f"{ascii_fold(first).lower()}.{ascii_fold(last).lower()}@{inst['domain']}"
                user_id, row = self._user_row(account_id, email, first, last, STAFF_USER_ROLE, created)
                staff_ids.append(user_id)
                users.append(row)
            self.staff.append(staff_ids)
            super_admin = staff_ids[0]
            # Template folders: DocuSeal gives every account a "Default" folder.
            folder_ids = {}
            for name, parent in (
                ("Default", None),
                ("Agreements", None),
                ("Supporting documents", "Agreements"),
            ):
                folder_id = self.ids.take("template_folders")
                folder_ids[name] = folder_id
                folders.append(
                    {
                        "id": folder_id,
                        "account_id": account_id,
                        "author_id": super_admin,
                        "name": name,
                        "parent_folder_id": folder_ids.get(parent) if parent else None,
                        "archived_at": None,
                        "created_at": created,
                        "updated_at": created,
                    }
                )
            for programme, required in PROGRAMME_DOCS.items():
                stored, demo_file = self.template_files[f"{inst_index}:{programme}"]
                template = self._template(
                    account_id, super_admin, folder_ids["Agreements"], f"{programme.capitalize()} Agreement",
                    stored, demo_file, (*required, "disability_proof"), created, blobs, attachments,
                )  # fmt: skip
                templates.append(template["row"])
                self.main_templates[(inst_index, programme)] = template
            for name in (
                "POPIA Consent Form",
                "Fixed-term Employment Contract (s18(2))",
                "Learner Code of Conduct",
            ):
                stored, demo_file = self.template_files[f"{inst_index}:{name}"]
                template = self._template(
                    account_id, super_admin, folder_ids["Supporting documents"], name, stored, demo_file, (),
                    created, blobs, attachments,
                )  # fmt: skip
                templates.append(template["row"])
                self.main_templates[(inst_index, name)] = template
            old = self._template(
                account_id, super_admin, folder_ids["Default"], "Learnership Agreement (2023 version)",
                *self.template_files[f"{inst_index}:learnership"], ("id_document",), created, blobs, attachments,
            )  # fmt: skip
            old["row"]["archived_at"] = created + timedelta(days=90)
            templates.append(old["row"])

            institution = self._own(
                "institutions",
                account_id,
                created,
                name=inst["name"],
                registration_number=inst["registration_number"],
                address=inst["address"],
                contact_email=f"info@{inst['domain']}",
                contact_phone=inst["phone"],
                super_admin_id=super_admin,
                settings={
                    "rejection_reasons": [asdict(r) for r in DEFAULT_REJECTION_REASONS],
                    "hosting_location": inst["hosting"],
                    "staff": [
                        {"user_id": uid, "role": "super_admin" if uid == super_admin else "officer"}
                        for uid in staff_ids
                    ],
                    "created_by": "demo",
                    "demo_seed": self.seed,
                },
            )
            institutions.append(institution)
            self.institution_ids.append(institution["id"])
            inst_sponsors = []
            for sponsor_index, (company, contact, tax) in enumerate(inst["sponsors"]):
                first, last = contact.split(" ", 1)
                email = f"{ascii_fold(first).lower()}.{ascii_fold(last).lower()}@{ascii_fold(company.split()[0]).lower()}.example.co.za"
                sponsor_user = None
                if sponsor_index == 0:  # this sponsor signs in DocuSeal with an account of its own
                    sponsor_user, row = self._user_row(account_id, email, first, last, "viewer", created)
                    users.append(row)
                inst_sponsors.append(
                    self._own(
                        "sponsors",
                        account_id,
                        created,
                        institution_id=institution["id"],
                        company_name=company,
                        contact_email=email,
                        contact_name=contact,
                        contact_phone=f"0{rng.choice(('11', '12', '21', '31', '41'))} 555 {rng.randrange(10000):04d}",
                        tax_number=tax,
                        user_id=sponsor_user,
                    )
                )
            sponsors.extend(inst_sponsors)
            self.sponsor_rows.append(inst_sponsors)

        planned = [0] * len(COHORTS)
        for plan in self.plans:
            planned[plan.cohort] += 1
        for index, (inst_index, name, programme, state, sponsor_index, _share) in enumerate(COHORTS):
            when, start, end = self._cohort_dates(index)
            sponsor = self.sponsor_rows[inst_index][sponsor_index]
            main = self.main_templates[(inst_index, programme)]["row"]["id"]
            supporting = [self.main_templates[(inst_index, "POPIA Consent Form")]["row"]["id"]]
            if programme == "learnership":
                supporting.append(
                    self.main_templates[(inst_index, "Fixed-term Employment Contract (s18(2))")]["row"]["id"]
                )
            expected = max(10, int(math.ceil(planned[index] * 1.1 / 5.0)) * 5)
            row = self._own(
                "cohorts",
                self.accounts[inst_index],
                when,
                institution_id=self.institution_ids[inst_index],
                name=name,
                program_type=programme,
                sponsor_email=sponsor["contact_email"],
                sponsor_id=sponsor["id"],
                student_count=expected,
                main_template_id=main,
                supporting_templates=supporting,
                required_document_types=list(PROGRAMME_DOCS[programme]),
                admin_signed_at=None if state == "draft" else start - timedelta(days=10),
                state=state,
                start_date=start,
                end_date=end,
                created_by_id=self.staff[inst_index][0],
            )
            if state == "draft":
                # Drafts that cannot be activated yet, so the guards have something to say.
                if programme == "learnership":
                    row["main_template_id"] = None
                elif programme == "candidacy":
                    row.update(student_count=0, start_date=None, end_date=None)
            cohorts.append(row)
        self.cohort_rows = cohorts

        for table, rows in (
            (Account.__table__, accounts),
            (User.__table__, users),
            (TemplateFolder.__table__, folders),
            (ActiveStorageBlob.__table__, blobs),
            (Template.__table__, templates),
            (ActiveStorageAttachment.__table__, attachments),
            (Institution.__table__, institutions),
            (Sponsor.__table__, sponsors),
            (Cohort.__table__, cohorts),
        ):
            self._emit(session, table, rows, on_rows)
        self.totals.add("organisation_users", len(users))

    def _template(
        self,
        account_id: int,
        author_id: int,
        folder_id: int,
        name: str,
        stored: StoredFile,
        demo_file: files.DemoFile,
        documents: tuple[str, ...],
        when: datetime,
        blobs: list[dict[str, Any]],
        attachments: list[dict[str, Any]],
    ) -> dict[str, Any]:
        """A DocuSeal template: roles, fields (one file field per document type), schema, source PDF."""
        template_id = self.ids.take("templates")
        if stored.key not in self.blob_ids:
            blobs.append(self._blob_row(stored, demo_file, when))
        attachment = self._attachment_row(
            "Template", template_id, "documents", self.blob_ids[stored.key], when
        )
        attachments.append(attachment)
        roles = [
            {"name": role, "uuid": self._uuid()} for role in ("Learner", "Employer", "Training Provider")
        ]
        if not documents:
            roles = roles[:1]
        fields: list[dict[str, Any]] = []
        doc_fields: dict[str, str] = {}

        def area(page: int, row: int) -> list[dict[str, Any]]:
            return [{"attachment_uuid": attachment["uuid"], "page": page, "x": 0.12, "y": 0.1 + 0.07 * row,
                     "w": 0.34, "h": 0.045}]  # fmt: skip

        for row, doc in enumerate(documents):
            field_uuid = self._uuid()
            doc_fields[doc] = field_uuid
            fields.append(
                {"uuid": field_uuid, "submitter_uuid": roles[0]["uuid"], "name": document_label(doc), "type": "file",
                 "required": doc != "disability_proof", "preferences": {}, "areas": area(1, row)}
            )  # fmt: skip
        for line, role in enumerate(roles):
            fields.append({"uuid": self._uuid(), "submitter_uuid": role["uuid"], "name": f"{role['name']} signature",
                           "type": "signature", "required": True, "preferences": {}, "areas": area(demo_file.pages - 1, 8 + line)})  # fmt: skip
            fields.append({"uuid": self._uuid(), "submitter_uuid": role["uuid"], "name": "Date", "type": "date",
                           "required": True, "preferences": {"format": "YYYY-MM-DD"}, "areas": area(demo_file.pages - 1, 11 + line)})  # fmt: skip
        template_row = {
            "id": template_id,
            "account_id": account_id,
            "author_id": author_id,
            "folder_id": folder_id,
            "name": name,
            "slug": self._slug(),
            "external_id": None,
            "source": "native",
            "fields": fields,
            "schema": [
                {"attachment_uuid": attachment["uuid"], "name": demo_file.file_name.removesuffix(".pdf")}
            ],
            "submitters": roles,
            "preferences": {},
            "variables_schema": None,
            "shared_link": False,
            "archived_at": None,
            "created_at": when,
            "updated_at": when,
        }
        return {"row": template_row, "roles": roles, "doc_fields": doc_fields}
