"""The document preview: ``DocumentPreview`` draws PDFs and images in a separate render process.

Modules: ``widget`` (the panel), ``page_view`` (layout and painting), ``client`` (the worker
process, time limits, restarts), ``render_worker`` (the process itself), ``protocol`` (frames on
the pipe), ``sniff`` (file type from magic bytes), ``cache`` (rendered pages), ``messages``.

The widget is imported lazily so that the render worker, which lives in this package too, starts
without loading QtWidgets.
"""

from __future__ import annotations

from typing import Any

__all__ = ["SHORTCUTS", "DocumentPreview"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from cohortdesk.views.preview import widget

        return getattr(widget, name)
    raise AttributeError(name)
