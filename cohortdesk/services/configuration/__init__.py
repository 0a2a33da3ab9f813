"""What the super admin configures: institutions, sponsors, cohorts and enrollments.

* ``edits``: the one write path (row and outbox entry together; on PostgreSQL the server's write
  function), and the reads the screens show;
* ``screens``: what the configuration screens ask of the store (lists, per-form checks, saves through
  ``edits``);
* ``rejection_reasons``: the canned reasons officers pick from when they reject (an institution's own,
  else the defaults), and the rules their fields follow;
* ``states``: the cohort and enrollment state machines, their guards in words;
* ``enrollment_import``: learners from XLSX or CSV, previewed row by row, committed through ``edits``;
* ``sync_actions``: Sync now and the conflict inbox as the screens show them (the engine is
  ``services.sync``).
"""
