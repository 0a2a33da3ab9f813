"""What the verification officer's work needs: where each part is.

* ``queue``: the reads of the workstation (cohort tree with live counts, queue pages, an enrollment's
  details, documents and history);
* ``claims``: who is reviewing which enrollment, as a lease in the row (claim, renew, release);
* ``decisions``: the one path a decision is recorded on (and its history);
* ``workstation``: the window's calls on the background runner, put together from the three above;
* ``bulk``: bulk decisions, each enrollment under its own claim through the same decision path;
* ``listener``: live refresh hints (``LISTEN``) from PostgreSQL.

The design: ``docs/claims-sync-security.md`` (Claims).
"""
