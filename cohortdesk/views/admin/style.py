"""The small style sheet the administration screens share: calm, readable, and right for the light and
the dark theme alike; its colours come from the one palette (``views/theme.py``)."""

from __future__ import annotations

from cohortdesk.paths import resources_dir
from cohortdesk.views.theme import colours


def style_sheet() -> str:
    c = colours()
    check_mark = (resources_dir() / "icons" / "check-mark.svg").as_posix()
    return f"""
QLabel#pageTitle {{ font-size: 17pt; font-weight: 600; }}
QLabel#pageSubtitle, QLabel[role="hint"] {{ color: {c.muted}; }}
QLabel[role="fieldError"] {{ color: {c.error}; }}
QFrame#formErrorSummary {{
    background: {c.error_background}; border: 1px solid {c.error}; border-radius: 4px;
}}
QFrame#formErrorSummary QLabel {{ color: {c.error}; }}
QLabel[role="guard"] {{ color: {c.warning}; }}
QLabel[role="guardOk"] {{ color: {c.ok}; }}
QLabel[role="badge"] {{
    border: 1px solid {c.border}; border-radius: 9px; padding: 1px 9px; background: palette(base);
}}
QListWidget#adminNavigation {{
    border: none; border-right: 1px solid {c.border}; background: palette(base); font-size: 10.5pt;
    padding-top: 8px; outline: 0;
}}
QListWidget#adminNavigation::item {{ padding: 8px 14px; border: none; color: palette(text); }}
QListWidget#adminNavigation::item:selected {{
    background: {c.selected}; color: palette(text); border-left: 3px solid {c.accent};
}}
QListWidget::item {{ padding: 2px 2px; }}
QListWidget::indicator:unchecked {{
    width: 12px; height: 12px; border: 1px solid {c.muted}; border-radius: 2px; background: palette(base);
}}
QListWidget::indicator:checked {{
    width: 12px; height: 12px; border: 1px solid {c.accent}; border-radius: 2px; background: {c.accent};
    image: url("{check_mark}");
}}
QGroupBox {{ font-weight: 600; border: 1px solid {c.border}; border-radius: 5px; margin-top: 12px; }}
QGroupBox::title {{ subcontrol-origin: margin; left: 10px; padding: 0 4px; }}
QGroupBox QLabel, QGroupBox QLineEdit, QGroupBox QCheckBox, QGroupBox QListWidget, QGroupBox QComboBox,
QGroupBox QPlainTextEdit, QGroupBox QTableWidget, QGroupBox QTableView, QGroupBox QSpinBox,
QGroupBox QDateEdit, QGroupBox QPushButton {{ font-weight: normal; }}
*[invalid="true"] {{ border: 1px solid {c.error}; border-radius: 3px; }}
"""
