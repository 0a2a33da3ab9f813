"""The cohort dashboard window of one institution (or one of its cohorts): figures in tiles, where the
active learners are (a bar per stage), where they are stuck by document (stacked bars and a table with
how long), read by ``services.reports.dashboard`` on the background runner. Opened from the cohort tree's
context menu or Tools → Cohort dashboard…; several can be open at once, one per institution."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from cohortdesk.services.reports import dashboard
from cohortdesk.services.reports.dashboard import Dashboard, Waiting
from cohortdesk.views.dashboard.chart import Bar, BarChart, Series
from cohortdesk.views.errors import user_message
from cohortdesk.views.runner import Runner
from cohortdesk.views.theme import CHART

STAGE_COLORS = {
    "reupload": CHART["rejected"],
    "uploads": CHART["not_uploaded"],
    "check": CHART["check"],
    "learner_signature": CHART["learner_signature"],
    "sponsor": CHART["sponsor"],
    "institution": CHART["institution"],
}
STUCK_SERIES = (
    Series("Not uploaded", CHART["not_uploaded"]),
    Series("Rejected, no new upload", CHART["rejected"]),
    Series("Waiting for a check", CHART["check"]),
)


def days_text(days: float | None) -> str:
    if days is None:
        return "–"
    if days < 1:
        return "under a day"
    return f"{days:,.0f} day" + ("" if round(days) == 1 else "s")


def waiting_text(w: Waiting) -> str:
    if not w.count:
        return "–"
    return f"{w.count:,} · median {days_text(w.median_days)}, longest {days_text(w.longest_days)}"


class Tile(QFrame):
    def __init__(self, title: str, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("panel")
        self.setProperty("tile", name)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 8, 12, 10)
        layout.setSpacing(2)
        self.title = QLabel(title, self)
        self.title.setObjectName("panelHint")
        self.value = QLabel("…", self)
        self.value.setObjectName(f"tile_{name}")
        font = self.value.font()
        font.setPointSizeF(max(font.pointSizeF(), 9) * 1.7)
        font.setBold(True)
        self.value.setFont(font)
        self.note = QLabel("", self)
        self.note.setObjectName("panelHint")
        self.note.setWordWrap(True)
        for widget in (self.title, self.value, self.note):
            layout.addWidget(widget)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)

    def show_value(self, value: str, note: str = "") -> None:
        self.value.setText(value)
        self.note.setText(note)
        self.setAccessibleName(f"{self.title.text()}: {value}. {note}".strip())


class DashboardWindow(QDialog):
    """One institution's dashboard; ``load(cohort_id)`` reads it again for another scope."""

    def __init__(
        self,
        runner: Runner,
        db: Any,
        institution_id: int,
        cohort_id: int | None = None,
        parent: QWidget | None = None,
        remind: Callable[[list[tuple[int, str]], QWidget], object] | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("dashboardWindow")
        self.setWindowTitle("Cohort dashboard")
        self.setWindowFlag(Qt.WindowType.WindowMaximizeButtonHint, True)
        self.runner = runner
        self.db = db
        self.institution_id = institution_id
        self.cohort_id = cohort_id
        self.dashboard: Dashboard | None = None
        self.remind = remind
        self._loading = False
        self._build()
        self.load(cohort_id)

    # --- layout --------------------------------------------------------------------------------

    def _build(self) -> None:
        outer = QVBoxLayout(self)
        outer.setContentsMargins(14, 12, 14, 12)
        head = QHBoxLayout()
        self.heading = QLabel("Cohort dashboard", self)
        self.heading.setObjectName("dashboardHeading")
        font = self.heading.font()
        font.setPointSizeF(max(font.pointSizeF(), 9) * 1.35)
        font.setBold(True)
        self.heading.setFont(font)
        self.heading.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        head.addWidget(self.heading, 1)
        self.scope = QComboBox(self)
        self.scope.setObjectName("dashboardScope")
        self.scope.setAccessibleName("Cohort shown")
        self.scope.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.scope.activated.connect(lambda _i: self.load(self.scope.currentData()))
        head.addWidget(self.scope)
        self.refresh_button = QPushButton("&Refresh", self)
        self.refresh_button.setObjectName("dashboardRefresh")
        self.refresh_button.clicked.connect(lambda: self.load(self.cohort_id))
        head.addWidget(self.refresh_button)
        outer.addLayout(head)
        self.status = QLabel("Reading…", self)
        self.status.setObjectName("dashboardStatus")
        self.status.setWordWrap(True)
        outer.addWidget(self.status)

        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        body = QWidget(scroll)
        body.setObjectName("dashboardBody")
        content = QVBoxLayout(body)
        content.setContentsMargins(0, 4, 0, 0)
        content.setSpacing(10)
        tiles = QGridLayout()
        tiles.setSpacing(8)
        self.tiles = {
            "total": Tile("Enrolled", "total", body),
            "active": Tile("Active", "active", body),
            "completed": Tile("Completed", "completed", body),
            "sponsor": Tile("Awaiting sponsor", "sponsor", body),
            "average": Tile("Average completion time", "average", body),
        }
        for column, tile in enumerate(self.tiles.values()):
            tiles.addWidget(tile, 0, column)
        content.addLayout(tiles)

        self.stage_chart = BarChart([Series("Learners", CHART["learners"])], body, legend=False)
        self.stage_chart.setObjectName("stageChart")
        self.stage_chart.setAccessibleName("Where the active learners are")
        self.stage_chart.empty_text = "No active learners."
        content.addWidget(self._panel("Where the active learners are", self.stage_chart, body))

        self.stuck_chart = BarChart(STUCK_SERIES, body)
        self.stuck_chart.setObjectName("stuckChart")
        self.stuck_chart.setAccessibleName("Where learners are stuck, by document")
        self.stuck_chart.empty_text = "Nobody is stuck on a document."
        self.stuck_table = QTableWidget(0, 4, body)
        self.stuck_table.setObjectName("stuckTable")
        self.stuck_table.setAccessibleName("Stuck documents and how long")
        self.stuck_table.setHorizontalHeaderLabels(
            ["Document", "Not uploaded", "Rejected, no new upload", "Waiting for a check"]
        )
        self.stuck_table.verticalHeader().hide()
        self.stuck_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.stuck_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.stuck_table.setWordWrap(False)
        header = self.stuck_table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        for column in (1, 2, 3):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Stretch)
        stuck = QWidget(body)
        stuck_layout = QVBoxLayout(stuck)
        stuck_layout.setContentsMargins(0, 0, 0, 0)
        stuck_layout.addWidget(self.stuck_chart)
        stuck_layout.addWidget(self.stuck_table)
        remind_row = QHBoxLayout()
        remind_row.addStretch(1)
        self.remind_button = QPushButton("Remind learners missing uploads…", stuck)
        self.remind_button.setObjectName("dashboardRemind")
        self.remind_button.setToolTip(
            "Each gets an e-mail listing what they have not uploaded, within your limit"
        )
        self.remind_button.clicked.connect(self._remind_missing)
        self.remind_button.setVisible(self.remind is not None)
        self.remind_button.setEnabled(False)
        remind_row.addWidget(self.remind_button)
        stuck_layout.addLayout(remind_row)
        content.addWidget(self._panel("Where learners are stuck, by document", stuck, body))
        content.addStretch(1)
        scroll.setWidget(body)
        outer.addWidget(scroll, 1)

    def _remind_missing(self) -> None:
        if self.remind is not None and self.dashboard is not None and self.dashboard.missing_uploads:
            self.remind(list(self.dashboard.missing_uploads), self)

    def _panel(self, title: str, inner: QWidget, parent: QWidget) -> QFrame:
        frame = QFrame(parent)
        frame.setObjectName("panel")
        layout = QVBoxLayout(frame)
        layout.setContentsMargins(12, 8, 12, 10)
        label = QLabel(title, frame)
        label.setObjectName("panelTitle")
        layout.addWidget(label)
        layout.addWidget(inner)
        return frame

    # --- loading ---------------------------------------------------------------------------------

    def load(self, cohort_id: int | None = None) -> None:
        """Read the dashboard (of one cohort, or all of the institution's) on the runner."""
        self.cohort_id = cohort_id
        self._loading = True
        self.refresh_button.setEnabled(False)
        self.status.setText("Reading…")
        self.runner.db(dashboard.institution_dashboard, self.db, self.institution_id, cohort_id).success(
            self.show_dashboard
        ).failure(self._failed).finally_(self._done).start()

    def _done(self) -> None:
        self._loading = False
        self.refresh_button.setEnabled(True)

    def _failed(self, error: BaseException) -> None:
        self.status.setText(f"The dashboard could not be read. {user_message(error)}")

    def show_dashboard(self, data: Dashboard) -> None:
        self.dashboard = data
        self.setWindowTitle(f"Cohort dashboard · {data.institution_name}")
        self.heading.setText(data.institution_name)
        self.scope.blockSignals(True)
        self.scope.clear()
        self.scope.addItem("All cohorts", None)
        for cohort in data.cohorts:
            state = "" if cohort.state == "active" else f" ({cohort.state})"
            self.scope.addItem(f"{cohort.name}{state}", cohort.id)
        self.scope.setCurrentIndex(max(self.scope.findData(data.cohort_id), 0))
        self.scope.blockSignals(False)
        local = data.as_of.astimezone()
        self.status.setText(
            f"{data.scope_name} · as of {local:%d %b %Y %H:%M}. Completed means the learner's part is "
            "complete and every document is verified."
        )
        t = self.tiles
        t["total"].show_value(
            f"{data.total:,}",
            f"{data.not_started:,} in draft, finished or cancelled cohorts" if data.not_started else "",
        )
        t["active"].show_value(f"{data.active:,}", "in active cohorts, not yet completed")
        share = f"{data.completed / data.total:.0%} of enrolled" if data.total else ""
        t["completed"].show_value(f"{data.completed:,}", share)
        sponsor = data.awaiting_sponsor
        t["sponsor"].show_value(
            f"{sponsor.count:,}",
            f"signed by the learner; median wait {days_text(sponsor.median_days)}" if sponsor.count else "",
        )
        if data.average_completion_days is None:
            t["average"].show_value("–", "nobody has completed yet")
        else:
            t["average"].show_value(
                days_text(data.average_completion_days),
                f"enrolment to verified and signed, over {data.completion_sample:,}",
            )
        self.stage_chart.series = tuple(
            Series(stage.label, STAGE_COLORS.get(stage.key, CHART["learners"])) for stage in data.stages
        )
        bars = []
        for index, stage in enumerate(data.stages):
            values = [0.0] * len(data.stages)
            values[index] = stage.count
            bars.append(
                Bar(stage.label, tuple(values), tuple(f"{stage.count:,} learner(s)" for _ in data.stages))
            )
        self.stage_chart.set_bars(bars if data.active else [])
        self.stuck_chart.set_bars(
            [
                Bar(
                    d.label,
                    (d.missing.count, d.rejected.count, d.to_check.count),
                    (
                        f"Not uploaded: {waiting_text(d.missing)}",
                        f"Rejected, no new upload: {waiting_text(d.rejected)}",
                        f"Waiting for a check: {waiting_text(d.to_check)}",
                    ),
                )
                for d in data.stuck
            ]
        )
        waiting = len(data.missing_uploads)
        self.remind_button.setEnabled(waiting > 0)
        self.remind_button.setText(
            f"Remind the {waiting:,} learner{'s' if waiting != 1 else ''} missing uploads…"
            if waiting
            else "Nobody is missing an upload"
        )
        self.stuck_table.setRowCount(len(data.stuck))
        for row, d in enumerate(data.stuck):
            for column, text in enumerate(
                (d.label, waiting_text(d.missing), waiting_text(d.rejected), waiting_text(d.to_check))
            ):
                self.stuck_table.setItem(row, column, QTableWidgetItem(text))
        self.stuck_table.setFixedHeight(
            self.stuck_table.horizontalHeader().height()
            + sum(self.stuck_table.rowHeight(r) for r in range(len(data.stuck)))
            + 4
        )
