"""Workflows, one function per user action: commands in, frozen rows out, typed errors (no Qt).

Grouped by what each part serves; each package's docstring maps its modules:

* ``review``: the verification officer's work (queue reads, claims, the one decision path, bulk
  decisions, live refresh);
* ``configuration``: institutions, sponsors, cohorts and enrollments (the one write path, the screens'
  reads and checks, state machines, the enrollment import, Sync now and the conflict inbox);
* ``sync``: offline-first sync between a laptop's store and the shared server;
* ``access``: who is working, logins, special personal information, the access log;
* ``connection``: connection profiles, the keyring, the connection-error classifier, start-up;
* ``documents``: the uploaded files and reading them locally;
* ``reports``: the five reports, the dashboard, their queries and the spreadsheet writers;
* ``notify``: learner e-mails (outbox, sender, settings, templates);
* ``demo``: repeatable demo data;
* ``rows`` and ``validation``: the frozen rows and the input checks every part shares.
"""
