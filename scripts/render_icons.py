"""Render the SVG application icon to the PNG sizes desktops and installers expect.

Writes ``resources/icons/cohortdesk-<size>.png`` and the freedesktop hicolor tree under
``packaging/linux/icons``. Run after changing ``resources/icons/cohortdesk.svg``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtGui import QGuiApplication, QImage, QPainter  # noqa: E402
from PySide6.QtSvg import QSvgRenderer  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SVG = ROOT / "resources" / "icons" / "cohortdesk.svg"
SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
APP_ID = "za.co.cohortdesk.CohortDesk"


def render(size: int) -> QImage:
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    QSvgRenderer(str(SVG)).render(painter)
    painter.end()
    return image


def main() -> int:
    QGuiApplication(sys.argv[:1])
    for size in SIZES:
        image = render(size)
        image.save(str(ROOT / "resources" / "icons" / f"cohortdesk-{size}.png"))
        target = ROOT / "packaging" / "linux" / "icons" / "hicolor" / f"{size}x{size}" / "apps"
        target.mkdir(parents=True, exist_ok=True)
        image.save(str(target / f"{APP_ID}.png"))
    scalable = ROOT / "packaging" / "linux" / "icons" / "hicolor" / "scalable" / "apps"
    scalable.mkdir(parents=True, exist_ok=True)
    (scalable / f"{APP_ID}.svg").write_text(SVG.read_text(encoding="utf-8"), encoding="utf-8")
    print(f"rendered {len(SIZES)} sizes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
