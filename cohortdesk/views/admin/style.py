"""Colours and the small style sheet the administration screens share (calm, readable, high contrast)."""

from __future__ import annotations

ERROR = "#b42318"
ERROR_BACKGROUND = "#fdecea"
WARNING = "#8a5300"
WARNING_BACKGROUND = "#fff4e0"
OK = "#1d6b3a"
OK_BACKGROUND = "#e8f5ec"
MUTED = "#5f6b7a"
BORDER = "#d5dae1"
ACCENT = "#1f5fa8"

STYLE_SHEET = f"""
QLabel#pageTitle {{ font-size: 17pt; font-weight: 600; }}
QLabel#pageSubtitle, QLabel[role="hint"] {{ color: {MUTED}; }}
QLabel[role="fieldError"] {{ color: {ERROR}; }}
QFrame#formErrorSummary {{
    background: {ERROR_BACKGROUND}; border: 1px solid {ERROR}; border-radius: 4px;
}}
QFrame#formErrorSummary QLabel {{ color: {ERROR}; }}
QLabel[role="guard"] {{ color: {WARNING}; }}
QLabel[role="guardOk"] {{ color: {OK}; }}
QLabel[role="badge"] {{
    border: 1px solid {BORDER}; border-radius: 9px; padding: 1px 9px; background: #f3f5f8;
}}
QListWidget#adminNavigation {{
    border: none; border-right: 1px solid {BORDER}; background: #f6f7f9; font-size: 10.5pt;
    padding-top: 8px; outline: 0;
}}
QListWidget#adminNavigation::item {{ padding: 8px 14px; border: none; }}
QListWidget#adminNavigation::item:selected {{
    background: #e3ebf6; color: #10253f; border-left: 3px solid {ACCENT};
}}
QListWidget::item {{ padding: 2px 2px; }}
QGroupBox {{ font-weight: 600; border: 1px solid {BORDER}; border-radius: 5px; margin-top: 12px; }}
QGroupBox::title {{ subcontrol-origin: margin; left: 10px; padding: 0 4px; }}
QGroupBox QLabel, QGroupBox QLineEdit, QGroupBox QCheckBox, QGroupBox QListWidget, QGroupBox QComboBox,
QGroupBox QPlainTextEdit, QGroupBox QTableWidget, QGroupBox QSpinBox, QGroupBox QDateEdit,
QGroupBox QPushButton {{ font-weight: normal; }}
*[invalid="true"] {{ border: 1px solid {ERROR}; border-radius: 3px; }}
"""
