"""CohortDesk: the desktop side of cohort administration for South African training providers.

The package splits into a Qt-free core (``models``, ``db``, ``services``) that the command line, the
tests and the sync job drive, and a Qt shell (``views``) that only calls services.
"""

from importlib.metadata import PackageNotFoundError, version
from pathlib import Path


def _version() -> str:
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


__version__ = _version()
