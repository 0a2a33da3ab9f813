"""The cohort dashboard: ``DashboardWindow`` (figures, charts, stuck documents) and its QPainter chart."""

from cohortdesk.views.dashboard.window import DashboardWindow

__all__ = ["DashboardWindow"]
