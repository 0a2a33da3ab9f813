"""Where a document's first page lands on screen, in pixels: computed alike by the preview (as it lays
the pages out, and for a page read ahead) and by the render worker (which draws the first page as it
opens a document, before anybody asks for it, so the page is on screen after one round trip).

Qt-free on purpose: the worker imports it before any engine, and both sides must get the very same
numbers for the same page sizes and the same room (``Room``), or the page drawn with the open is a
stand-in and is asked for again.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

MARGIN = 16  # around the pages, in logical pixels
GAP = 14  # between pages
MIN_ZOOM, MAX_ZOOM = 0.1, 4.0
#: The smallest zoom a fit may choose (a page 200 inches wide fits a 1,000 px pane at 0.7 %).
FIT_MIN_ZOOM = 0.001
PDF_POINT = 96 / 72  # a PDF point in logical pixels at 100 %
FIT_WIDTH, FIT_PAGE, CUSTOM = "fit_width", "fit_page", "custom"
MAX_RENDER_PIXELS = 4096 * 4096  # per rendered page; the GUI scales beyond that
LETTER = (612.0, 792.0)  # a page size to lay out by when none is known


@dataclass(frozen=True, slots=True)
class Room:
    """How the preview would show a document now: zoom mode (and zoom for ``CUSTOM``), rotation,
    device pixel ratio, and the page view's room (its width without the vertical scroll bar, the
    bar's width, its height), all in logical pixels."""

    mode: str
    zoom: float
    rotation: int
    ratio: float
    bare_width: int
    bar_extent: int
    height: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Room:
        return cls(
            mode=str(data["mode"]),
            zoom=float(data["zoom"]),
            rotation=int(data["rotation"]) % 360,
            ratio=float(data["ratio"]),
            bare_width=int(data["bare_width"]),
            bar_extent=int(data["bar_extent"]),
            height=int(data["height"]),
        )


def unit_of(info: dict[str, Any]) -> float:
    """Logical pixels per page unit of an open reply: PDF points, or image pixels."""
    return PDF_POINT if info.get("unit") == "pt" else 1.0


def logical_sizes(info: dict[str, Any]) -> list[tuple[float, float]]:
    unit = unit_of(info)
    return [(float(w) * unit, float(h) * unit) for w, h in info.get("sizes", [])]


def fit_scale(
    count: int,
    base_sizes: list[tuple[float, float]],
    rotation: int,
    fit_page: bool,
    bounds: tuple[float, float],
    bare_width: int,
    bar_extent: int,
    height: int,
) -> float:
    """The scale a document settles at fitted to the width (or the page) of this room, once the
    vertical scroll bar has come or gone. ``bounds`` clamp the fit as the preview clamps it."""
    sizes = [(h, w) if rotation % 360 in (90, 270) else (w, h) for w, h in base_sizes] or [LETTER]
    known = sizes[: max(1, min(count, len(sizes)))]
    widest = max(w for w, _ in known)

    def fitted(width: int) -> float:
        if fit_page:
            first_width, first_height = known[0]
            scale = max(min((width - 2 * MARGIN) / first_width, (height - 2 * MARGIN) / first_height), 0.01)
        else:
            scale = max(width - 2 * MARGIN, 40) / widest
        return min(max(scale, bounds[0]), bounds[1])

    def content_height(scale: float) -> int:
        heights = [max(1, round(h * scale)) for _, h in known]
        heights += [heights[-1]] * (count - len(known))
        return sum(heights) + GAP * (len(heights) - 1) + 2 * MARGIN

    scale = fitted(bare_width)
    if content_height(scale) > height:
        scale = fitted(bare_width - bar_extent)  # the scroll bar takes its room from the width
    return scale


def page_size_at(base_sizes: list[tuple[float, float]], rotation: int, scale: float) -> tuple[int, int]:
    """The first page's logical size for these page sizes (100 %, unrotated) at ``scale``."""
    width, height = base_sizes[0] if base_sizes else LETTER
    if rotation % 360 in (90, 270):
        width, height = height, width
    return max(1, round(width * scale)), max(1, round(height * scale))


def capped(width: int, height: int) -> tuple[int, int]:
    """Pages larger than the worker draws are drawn at its largest (and scaled on screen)."""
    pixels = width * height
    if pixels <= MAX_RENDER_PIXELS:
        return width, height
    scale = (MAX_RENDER_PIXELS / pixels) ** 0.5
    return max(1, int(width * scale)), max(1, int(height * scale))


def first_page_pixels(info: dict[str, Any], room: Room) -> tuple[int, int]:
    """The first page's size in device pixels (capped) when the document ``info`` describes (an
    open reply: pages, sizes, unit) is shown in ``room``."""
    unit = unit_of(info)
    sizes = logical_sizes(info)
    if room.mode in (FIT_WIDTH, FIT_PAGE):
        scale = fit_scale(
            int(info.get("pages", 1)),
            sizes,
            room.rotation,
            room.mode == FIT_PAGE,
            (FIT_MIN_ZOOM * unit, MAX_ZOOM * unit),
            room.bare_width,
            room.bar_extent,
            room.height,
        )
    else:
        scale = min(max(room.zoom * unit, MIN_ZOOM * unit), MAX_ZOOM * unit)
    width, height = page_size_at(sizes, room.rotation, scale)
    return capped(round(width * room.ratio), round(height * room.ratio))
