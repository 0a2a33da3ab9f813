"""Realistic, repeatable demo data: ``load_demo(db, students=200, seed=7)`` (the generator's module
docstring says what a load holds). Where things are, in the order a load runs:

* ``reference``: the data the demo draws from (names, cities, code weights, the two institutions and
  their cohorts, the document pack per programme) and its seeded helpers (ID numbers, weighted picks);
* ``planning``: every student, enrollment, state, upload and decision planned in seeded Python first;
* ``documents``: the planned uploads made as real files (``files``: the PDFs, scans and photos
  themselves) and stored through ``DocumentStore``;
* ``organisations``: accounts, staff, templates, institutions, sponsors and cohorts as rows;
* ``students``: users, signed agreements, uploads, enrollments and decisions, a batch at a time;
* ``tables``: set-based inserts and ids handed out before the rows exist;
* ``generator``: ``load_demo`` / ``has_demo`` and ``DemoGenerator``, which stacks the layers above.
"""

from cohortdesk.services.demo.generator import DemoGenerator, DemoSummary, has_demo, load_demo
from cohortdesk.services.demo.planning import DemoCancelled
from cohortdesk.services.demo.reference import (
    DEMO_ACCOUNT_UUIDS,
    STAFF_USER_ROLE,
    STUDENT_USER_ROLE,
    sa_id_number,
)
from cohortdesk.services.demo.tables import iter_demo_tables

__all__ = [
    "DEMO_ACCOUNT_UUIDS",
    "STAFF_USER_ROLE",
    "STUDENT_USER_ROLE",
    "DemoCancelled",
    "DemoGenerator",
    "DemoSummary",
    "has_demo",
    "iter_demo_tables",
    "load_demo",
    "sa_id_number",
]
