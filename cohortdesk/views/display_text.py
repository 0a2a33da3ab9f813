"""Text from outside (a learner's file name) made safe to show: direction overrides and invisible
characters stripped, control characters shown as visible marks, so "learner_…\u202egnp.pdf" cannot pose
as "…fdp.png" and a newline cannot wrap a name over two lines."""

from __future__ import annotations

import unicodedata

#: Shown in place of a control character (a newline, a tab, a NUL, …).
CONTROL_MARK = "\N{REPLACEMENT CHARACTER}"


def visible_name(text: str | None) -> str:
    """``text`` with bidirectional controls and zero-width characters removed and every other control
    character replaced by a visible mark."""
    if not text:
        return ""
    shown: list[str] = []
    for ch in text:
        category = unicodedata.category(ch)
        if category == "Cf":  # format characters: bidi overrides/isolates, zero-width joiners, BOM
            continue
        if category in ("Cc", "Zl", "Zp"):  # C0/C1 controls, line and paragraph separators
            shown.append(CONTROL_MARK)
            continue
        shown.append(ch)
    return "".join(shown)
