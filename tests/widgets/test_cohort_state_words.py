"""A cohort's state and its state changes in words: a draft with learners says so, and "Ready to
complete" is offered only when the cohort has run its course."""

from __future__ import annotations

from datetime import date

from cohortdesk.enums import CohortState
from cohortdesk.services.configuration.screens import CohortEdit
from cohortdesk.views.admin.cohorts_view import completing_early, state_words

TODAY = date(2026, 12, 7)


def test_a_draft_with_learners_is_worded_for_them():
    assert "Activate it to start enrolling" in state_words(CohortState.DRAFT, 0)
    text = state_words(CohortState.DRAFT, 12)
    assert text.startswith("Draft: 12 learners are on it already") and "start enrolling" not in text


def test_completing_is_ready_only_when_the_cohort_has_run():
    def edit(start, end):
        return CohortEdit(name="C", program_type="learnership", start_date=start, end_date=end)

    next_year = completing_early(CohortState.COMPLETED, edit(date(2027, 2, 1), date(2027, 11, 30)), TODAY)
    assert next_year is not None and next_year.startswith("It starts on 01 Feb 2027")
    running = completing_early(CohortState.COMPLETED, edit(date(2026, 1, 1), date(2027, 3, 1)), TODAY)
    assert running is not None and "runs until 01 Mar 2027" in running
    assert completing_early(CohortState.COMPLETED, edit(date(2025, 1, 1), date(2026, 6, 30)), TODAY) is None
    assert completing_early(CohortState.ACTIVE, edit(date(2027, 2, 1), None), TODAY) is None
