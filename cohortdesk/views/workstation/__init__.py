"""The verification officer's workstation, in parts that talk by signals:

* ``window``: ``MainWindow``, composes the parts; actions, menus, status bar, opening and claiming.
* ``layout``: which widgets exist and where (no behaviour).
* ``queue_pane``: the cohort tree and the enrollment queue.
* ``detail_pane``: documents, preview, student details, history.
* ``decisions``: Approve / Reject, what blocks them, the offline outbox.
* ``window_state``: remembered geometry, splitters, columns; where the window first opens.
* ``review_session``: the review claim's lease and banner; ``live_refresh``: other officers' changes.
"""

from cohortdesk.views.workstation.window import MainWindow

__all__ = ["MainWindow"]
