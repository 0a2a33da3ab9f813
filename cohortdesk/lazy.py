"""Modules loaded on first use: the window is built and painted before SQLAlchemy and the ORM load.

    if TYPE_CHECKING:
        from cohortdesk.services.review import claims
    else:
        claims = lazy_module("cohortdesk.services.review.claims")

The module object stands in ``sys.modules`` at once; its code runs the first time one of its
attributes is read (on whichever thread reads it first; Python's lazy loader holds a lock meanwhile).
Only modules whose names are looked up when called belong here: anything needed to build a screen
(a row type, a constant) lives in a module that imports no database code.
"""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType


def lazy_module(name: str) -> ModuleType:
    """``name``, imported now if it already is, else on first attribute access."""
    loaded = sys.modules.get(name)
    if loaded is not None:
        return loaded
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise ModuleNotFoundError(f"No module named {name!r}", name=name)
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    parent, _dot, child = name.rpartition(".")
    if parent:
        setattr(sys.modules[parent], child, module)
    return module
