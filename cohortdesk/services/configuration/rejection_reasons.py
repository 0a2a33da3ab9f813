"""The canned rejection reasons an officer picks from: what one is, the suggested defaults, and the set
an institution offers.

An institution keeps its own list in ``institutions.settings["rejection_reasons"]`` (``[{"code",
"label", "message"}]``), written through the one configuration write path (``edits`` and the screens'
``save_institution``; the sync spec checks each written list). Until it has one, officers see
``DEFAULT_REJECTION_REASONS``. The rules a reason's fields follow (``CODE_PATTERN`` and the lengths)
live here so the form checks (``screens.check_rejection_reasons``) and the write's validation
(``sync.spec.validate_rejection_reasons``) agree. The domain rule: ``docs/domain.md`` §8.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cohortdesk.db import Database

#: A reason's code: lower-case letters, digits and underscores, starting with a letter.
CODE_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")
CODE_MAX = 64
LABEL_MAX = 100
MESSAGE_MAX = 1000


@dataclass(frozen=True)
class RejectionReason:
    code: str
    label: str
    message: str  # learner-visible text that pre-fills the editable reason


DEFAULT_REJECTION_REASONS: tuple[RejectionReason, ...] = (
    RejectionReason(
        "not_certified",
        "Not certified",
        "This copy is not certified. Please upload a copy certified by a commissioner of oaths, "
        "with their stamp, signature, name and date.",
    ),
    RejectionReason(
        "certification_too_old",
        "Certification too old",
        "The certification on this copy is older than this programme accepts. Please upload a "
        "recently certified copy.",
    ),
    RejectionReason(
        "illegible",
        "Illegible",
        "We cannot read this document clearly. Please upload a sharper scan or photo of the whole page.",
    ),
    RejectionReason(
        "smart_id_one_side_missing",
        "Smart ID: one side missing",
        "Only one side of your smart ID card was uploaded. Please upload both sides, certified.",
    ),
    RejectionReason(
        "name_mismatch",
        "Name does not match",
        "The name on this document does not match the name you registered with. Please upload the "
        "correct document or contact us to correct your details.",
    ),
    RejectionReason(
        "wrong_document",
        "Wrong document",
        "This is not the document we asked for here. Please upload the correct document.",
    ),
    RejectionReason(
        "pages_missing",
        "Pages missing",
        "Some pages of this document are missing. Please upload every page in one file.",
    ),
    RejectionReason(
        "foreign_qualification_needs_saqa",
        "Foreign qualification needs SAQA evaluation",
        "Foreign qualifications need a SAQA evaluation certificate. Please upload it with your "
        "qualification.",
    ),
    RejectionReason(
        "disability_letter_incomplete",
        "Disability letter incomplete",
        "The letter must come from a medical practitioner and show their name, practice number, "
        "signature and date. Please upload a complete letter.",
    ),
)


def parse_reasons(raw: Any) -> list[RejectionReason]:
    """The well-formed reasons of a stored list (anything else skipped; a missing label made from the code)."""
    reasons: list[RejectionReason] = []
    if not isinstance(raw, list):
        return reasons
    for item in raw:
        if not isinstance(item, dict):
            continue
        code = str(item.get("code") or "").strip()
        label = str(item.get("label") or "").strip() or code.replace("_", " ").capitalize()
        message = str(item.get("message") or "").strip()
        if code and message:
            reasons.append(RejectionReason(code, label, message))
    return reasons


def offered(settings: Mapping[str, Any] | None) -> tuple[RejectionReason, ...]:
    """The reasons an institution with these settings offers: its own, else the defaults."""
    return tuple(parse_reasons((settings or {}).get("rejection_reasons")) or DEFAULT_REJECTION_REASONS)


def rejection_reasons(db: Database, institution_id: int | None) -> list[RejectionReason]:
    """The reasons officers pick from for an institution's documents (the defaults without one)."""
    if institution_id is None:
        return list(DEFAULT_REJECTION_REASONS)
    from sqlalchemy import select  # here: the reject dialog's module loads before SQLAlchemy

    from cohortdesk.models import Institution

    with db.read_session() as s:
        settings = s.scalar(select(Institution.settings).where(Institution.id == institution_id))
    return list(offered(settings))
