"""Modules loaded on first use: the window is built and painted before SQLAlchemy and the ORM load.

    if TYPE_CHECKING:
        from cohortdesk.services.review import claims
    else:
        claims = lazy_module("cohortdesk.services.review.claims")

``lazy_module`` returns a stand-in whose attributes are looked up in the real module, imported the
first time one is read (on whichever thread reads it first). The import itself goes through
``importlib.import_module``, whose per-module locks make two threads asking at once import it once;
the stand-in never enters ``sys.modules``, so ordinary imports of the module are untouched. (Not
``importlib.util.LazyLoader``: before Python 3.12.3 its modules raced when two threads read them
first, and we support 3.12.2.)

Only modules whose names are looked up when called belong here: anything needed to build a screen
(a row type, a constant) lives in a module that imports no database code.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from types import ModuleType
from typing import Any


class _LazyModule(ModuleType):
    """Reads every attribute from the real module, importing it on the first read. Nothing is cached
    here, so a test that patches the real module is seen through the stand-in too."""

    def __getattr__(self, attr: str) -> Any:
        # Always through import_module, never straight from sys.modules: a module another thread is
        # still importing is in sys.modules half made, and import_module waits for it to be done.
        return getattr(importlib.import_module(self.__name__), attr)


def lazy_module(name: str) -> ModuleType:
    """``name`` itself if it is imported already, else a stand-in that imports it on first use."""
    loaded = sys.modules.get(name)
    if loaded is not None:
        return loaded
    if importlib.util.find_spec(name) is None:
        raise ModuleNotFoundError(f"No module named {name!r}", name=name)
    return _LazyModule(name)
