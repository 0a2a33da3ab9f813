"""CohortDesk: the desktop side of cohort administration for South African training providers.

The package splits into a Qt-free core (``models``, ``db``, ``services``) that the command line, the
tests and the sync job drive, and a Qt shell (``views``) that only calls services.

``__version__`` is looked up on first use (PEP 562): ``importlib.metadata`` and its scan of the
installed distributions cost tens of milliseconds that every start of the window, and every render
worker process, would otherwise pay for a string few of them need.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path


@cache
def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("cohortdesk")
    except PackageNotFoundError:
        pass
    here = Path(__file__).resolve().parent
    frozen = here / "VERSION"  # written by the PyInstaller spec
    if frozen.is_file():
        return frozen.read_text(encoding="utf-8").strip()
    pyproject = here.parent / "pyproject.toml"  # a source checkout that was never installed
    if pyproject.is_file():
        import tomllib

        return str(tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["version"])
    return "0.0.0"


def __getattr__(name: str) -> str:
    if name == "__version__":
        return _version()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
