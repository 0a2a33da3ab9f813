"""SQLAlchemy 2 ORM classes: DocuSeal's core tables and the five tables CohortDesk adds (no Qt)."""

from cohortdesk.models.base import Base
from cohortdesk.models.cohorts import (
    NEW_TABLES,
    Cohort,
    CohortEnrollment,
    DocumentVerification,
    InstallSetting,
    Institution,
    Sponsor,
)
from cohortdesk.models.docuseal import (
    DOCUSEAL_TABLES,
    Account,
    ActiveStorageAttachment,
    ActiveStorageBlob,
    Submission,
    Submitter,
    Template,
    TemplateFolder,
    User,
)
from cohortdesk.models.enums import (
    CohortState,
    EnrollmentState,
    ProgramType,
    VerificationAction,
    VerificationState,
)

__all__ = [
    "DOCUSEAL_TABLES",
    "NEW_TABLES",
    "Account",
    "ActiveStorageAttachment",
    "ActiveStorageBlob",
    "Base",
    "Cohort",
    "CohortEnrollment",
    "CohortState",
    "DocumentVerification",
    "EnrollmentState",
    "InstallSetting",
    "Institution",
    "ProgramType",
    "Sponsor",
    "Submission",
    "Submitter",
    "Template",
    "TemplateFolder",
    "User",
    "VerificationAction",
    "VerificationState",
]
