"""Both themes reach WCAG AA: every text colour 4.5:1 on what it is drawn on, field borders 3:1 against
the field and the window around it. Computed from the palettes and colour tables themselves."""

from __future__ import annotations

import pytest
from PySide6.QtGui import QPalette

from cohortdesk.views import style
from cohortdesk.views import theme as themes

TEXT, BORDER = 4.5, 3.0


@pytest.fixture(params=["light", "dark"])
def theme(request, qapp):
    style.apply(qapp, request.param)
    yield request.param
    style.apply(qapp, "light")


def _pairs(palette: QPalette, colours: dict[str, str], admin: themes.Colours):
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
    for state, (fg, bg) in style.BADGES.items():
        yield f"badge {state}", fg, bg, TEXT
    for action in ("approved", "rejected"):  # History draws the action in the badge's text colour
        yield f"History {action}", style.badge_colors(action)[0], base, TEXT
        yield f"History {action} (alternate row)", style.badge_colors(action)[0], alternate, TEXT
    for key in ("muted_text", "mismatch_text", "ok_text", "reject_text"):
        yield key, colours[key], base, TEXT
    yield "difference on its band", colours["mismatch_text"], colours["mismatch_background"], TEXT
    yield "new rows", colours["news_text"], colours["news_background"], TEXT
    yield "Approve button", "#ffffff", "#1f7a3f", TEXT
    yield "Reject (confirm) button", "#ffffff", "#b0271f", TEXT
    for surface, where in ((base, "base"), (window, "window")):
        yield f"field border on {where}", colours["field_border"], surface, BORDER
        for name in ("error", "warning", "ok", "muted"):
            yield f"admin {name} on {where}", getattr(admin, name), surface, TEXT
    yield "admin error summary", admin.error, admin.error_background, TEXT
    yield "admin warning band", admin.warning, admin.warning_background, TEXT


def test_every_text_and_field_border_reaches_wcag_aa(qapp, theme):
    palette = qapp.palette()
    colours = style.DARK_COLOURS if theme == "dark" else style.LIGHT_COLOURS
    admin = themes.DARK if theme == "dark" else themes.LIGHT
    assert themes.colours() is admin
    failures = [
        f"{label}: {style.contrast(fg, bg):.2f}:1 (needs {need}:1)"
        for label, fg, bg, need in _pairs(palette, colours, admin)
        if style.contrast(fg, bg) < need
    ]
    assert failures == []


def test_contrast_formula():
    assert style.contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert style.contrast("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)
