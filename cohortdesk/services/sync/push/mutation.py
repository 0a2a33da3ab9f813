"""One pushed change as it reaches the server (``Mutation``) and what became of it while its batch is
applied (``Outcome``: a status that may still change until the batch's queued writes are sent)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cohortdesk.services.sync.spec import SYNC_SCHEMA_VERSION


@dataclass(frozen=True)
class Mutation:
    """One outbox entry as it travels to the server."""

    mutation_id: int
    table_name: str
    row_id: int
    op: str
    changes: dict[str, Any]
    base_row_version: int | None = None
    schema_version: int = SYNC_SCHEMA_VERSION
    created_at: datetime | None = None


@dataclass
class Outcome:
    """A mutation's result as the batch goes: ``applied`` may still become a conflict or a refusal
    when the queued write it waits on is sent (``flush``) or a held delete is decided."""

    status: str
    conflict_ids: list[int] = field(default_factory=list)
    detail: str | None = None

    def become(self, other: Outcome) -> None:
        """Take over another outcome's status, conflicts and detail."""
        self.status, self.conflict_ids, self.detail = other.status, other.conflict_ids, other.detail
