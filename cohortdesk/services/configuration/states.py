"""The cohort and enrollment state machines, with their guards spelled out in words.

``cohort_blockers`` returns the reasons a transition cannot happen yet (empty when it can), so a screen
can show them before the user commits; the services call the same functions and raise
``InvalidTransition`` with those words, writing nothing.
"""

from __future__ import annotations

from cohortdesk.enums import CohortState, EnrollmentState
from cohortdesk.services.rows import CohortRow

COHORT_TRANSITIONS: dict[CohortState, frozenset[CohortState]] = {
    CohortState.DRAFT: frozenset({CohortState.ACTIVE, CohortState.CANCELLED}),
    CohortState.ACTIVE: frozenset({CohortState.COMPLETED, CohortState.CANCELLED}),
    CohortState.COMPLETED: frozenset(),
    CohortState.CANCELLED: frozenset(),
}

ENROLLMENT_TRANSITIONS: dict[EnrollmentState, frozenset[EnrollmentState]] = {
    EnrollmentState.WAITING: frozenset({EnrollmentState.IN_PROGRESS}),
    EnrollmentState.IN_PROGRESS: frozenset({EnrollmentState.COMPLETE}),
    EnrollmentState.COMPLETE: frozenset(),
}


def cohort_blockers(cohort: CohortRow, target: CohortState | str) -> list[str]:
    """Why ``cohort`` cannot move to ``target`` now; an empty list means it can."""
    current, target = CohortState(cohort.state), CohortState(target)
    if target not in COHORT_TRANSITIONS[current]:
        allowed = ", ".join(sorted(s.value for s in COHORT_TRANSITIONS[current])) or "nothing (it is final)"
        return [f"a {current.value} cohort can only become {allowed}"]
    reasons: list[str] = []
    if target is CohortState.ACTIVE:
        if cohort.main_template_id is None:
            reasons.append("choose the main agreement template first")
        if not cohort.required_document_types:
            reasons.append("list at least one required document type")
        if cohort.student_count <= 0:
            reasons.append("set the expected number of students")
        if cohort.start_date is None or cohort.end_date is None:
            reasons.append("set the start and end dates")
    return reasons


def enrollment_blockers(current: EnrollmentState | str, target: EnrollmentState | str) -> list[str]:
    current, target = EnrollmentState(current), EnrollmentState(target)
    if target not in ENROLLMENT_TRANSITIONS[current]:
        allowed = (
            ", ".join(sorted(s.value for s in ENROLLMENT_TRANSITIONS[current])) or "nothing (it is final)"
        )
        return [f"a {current.value} enrollment can only become {allowed}"]
    return []
