"""Who may do what, and the record of it.

* ``identity``: who is working (the login's person, institution, role and capabilities);
* ``logins``: managing who may log in (PostgreSQL login roles per person);
* ``privacy``: special personal information, masked unless the capability allows it, revealed on the
  record;
* ``log``: the append-only access log (views, reveals, exports, permission changes, ID number checks);
* ``id_check``: whether an ID number read off a document is the learner's hidden captured one, asked of
  the database (logged, rate-limited, answered only once logged).

The rules: ``docs/domain.md`` §5; what the database enforces: ``docs/claims-sync-security.md``.
"""
