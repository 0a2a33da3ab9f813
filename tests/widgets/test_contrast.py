"""Both themes reach WCAG AA: every text colour 4.5:1 on what it is drawn on, field borders 3:1 against
the field and the window around it. Computed from the one palette (``views/theme.py``) itself."""

from __future__ import annotations

import pytest
from PySide6.QtGui import QPalette

from cohortdesk.views import style
from cohortdesk.views import theme as themes
from cohortdesk.views.theme import contrast

TEXT, BORDER = 4.5, 3.0


@pytest.fixture(params=["light", "dark"])
def theme(request, qapp):
    style.apply(qapp, request.param)
    yield request.param
    style.apply(qapp, "light")


def _pairs(palette: QPalette, c: themes.Colours):
    role = QPalette.ColorRole
    base, window = palette.color(role.Base), palette.color(role.Window)
    alternate = palette.color(role.AlternateBase)
    for name in ("Text", "PlaceholderText", "Link"):
        for background, where in ((base, "base"), (alternate, "alternate rows")):
            yield f"{name} on {where}", palette.color(getattr(role, name)), background, TEXT
    for name in ("WindowText", "PlaceholderText"):
        yield f"{name} on window", palette.color(getattr(role, name)), window, TEXT
    yield "ButtonText on button", palette.color(role.ButtonText), palette.color(role.Button), TEXT
    yield "ToolTipText", palette.color(role.ToolTipText), palette.color(role.ToolTipBase), TEXT
    yield "selected text", palette.color(role.HighlightedText), palette.color(role.Highlight), TEXT
    for state, (fg, bg) in c.badges.items():
        yield f"badge {state}", fg, bg, TEXT
    for action in ("approved", "rejected"):  # History draws the action in the badge's text colour
        yield f"History {action}", themes.badge_colours(action)[0], base, TEXT
        yield f"History {action} (alternate row)", themes.badge_colours(action)[0], alternate, TEXT
    for surface, where in ((base, "base"), (window, "window")):
        yield f"field border on {where}", c.field_border, surface, BORDER
        for name in ("error", "warning", "ok", "muted", "accent"):
            yield f"{name} on {where}", getattr(c, name), surface, TEXT
    yield "difference on its band", c.error, c.error_background, TEXT
    yield "error banner", c.error, c.error_background, TEXT
    yield "warning banner", c.warning, c.warning_background, TEXT
    yield "new rows", c.news_text, c.news_background, TEXT
    yield "key chip", c.key_text, c.key_background, TEXT
    yield "Approve button", "#ffffff", c.approve, TEXT
    yield "Reject (confirm) button", "#ffffff", c.confirm_reject, TEXT


def test_every_text_and_field_border_reaches_wcag_aa(qapp, theme):
    palette = qapp.palette()
    c = themes.DARK if theme == "dark" else themes.LIGHT
    assert themes.colours() is c
    failures = [
        f"{label}: {contrast(fg, bg):.2f}:1 (needs {need}:1)"
        for label, fg, bg, need in _pairs(palette, c)
        if contrast(fg, bg) < need
    ]
    assert failures == []


def test_contrast_formula():
    assert contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)
