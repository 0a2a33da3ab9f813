"""The server's side of a push: one batch of a laptop's outbox applied inside the caller's
transaction (one transaction per batch), with one result per mutation. Where each part is:

* ``batch``: ``apply_batch`` (idempotency by per-device mutation id, a gap stops the batch, progress
  recorded) and ``BatchApplier``, which sends each mutation to the applier of its kind, in order;
* ``state``: what the batch holds of the server: its target rows locked up front (one call per table,
  parents first), the id reservations its new rows need, the DocuSeal users and templates they point at;
* ``ledger``: the conflicts the batch opens, refreshes, closes and resolves (``sync_conflict``);
* ``inserts``, ``updates``, ``deletes``: the appliers, one per kind of change, each with its checks and
  its conflict kinds (``parent_deleted``/``duplicate``; ``field_conflict``/``row_deleted``;
  ``delete_vs_edit``); inserts and updates are queued and written together;
* ``mutation``: one pushed change (``Mutation``) and its outcome while the batch runs.

The rules in short: an update follows the three-way rule per field (equal to ``old`` → apply ``new``;
equal to ``new`` → nothing to do; else a ``field_conflict`` while the other fields apply); an update
of a tombstoned row is ``row_deleted``; an insert under a tombstoned or absent parent
``parent_deleted``; an enrollment of a learner already in the cohort ``duplicate``; a delete of a row
changed since the laptop saw it, or with new live children, ``delete_vs_edit`` (no "delete wins");
anything failing validation or a state guard ``rejected`` with the reason. ``last_mutation_id``
advances for conflicts and rejections too: one bad mutation never blocks the queue and none vanishes.
"""

from cohortdesk.services.sync.push.batch import (
    RESULT_STATUSES,
    BatchApplier,
    MutationResult,
    PushResult,
    apply_batch,
)
from cohortdesk.services.sync.push.mutation import Mutation

__all__ = ["RESULT_STATUSES", "BatchApplier", "Mutation", "MutationResult", "PushResult", "apply_batch"]
