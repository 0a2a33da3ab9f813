"""CohortDesk: the desktop side of cohort administration for South African training providers.

The package splits into a Qt-free core (``models``, ``db``, ``services``) that the command line, the
tests and the sync job drive, and a Qt shell (``views``) that only calls services.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("cohortdesk")
except PackageNotFoundError:  # running from a source checkout that was never installed
    __version__ = "0.1.0"
