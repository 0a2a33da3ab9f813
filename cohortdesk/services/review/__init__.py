"""What the verification officer's work needs: where each part is.

* ``queue``: the reads of the workstation (cohort tree with live counts, queue pages, an enrollment's
  details, documents and history); ``queue_rows`` holds the rows it returns (no database code, so the
  window's modules load without SQLAlchemy);
* ``first_page``: the start view's first queue page on the embedded store, read with ``sqlite3``
  before SQLAlchemy loads (the same rows as ``queue.queue_page``);
* ``claims``: who is reviewing which enrollment, as a lease in the row (claim, renew, release);
* ``decisions``: the one path a decision is recorded on (and its history);
* ``workstation``: the window's calls on the background runner, put together from the three above;
* ``bulk``: bulk decisions, each enrollment under its own claim through the same decision path;
* ``listener``: live refresh hints (``LISTEN``) from PostgreSQL; ``live_batch``: how a window paces
  the re-reads they ask for.

The design: ``docs/claims-sync-security.md`` (Claims).
"""
