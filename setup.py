"""The package list, found rather than listed: every package under ``cohortdesk/``, plus Alembic's
migrations and the resources, which live at the top of the repository (where Alembic and packagers
expect them) and are installed inside the package (``pyproject.toml`` maps their folders)."""

from setuptools import find_packages, setup

setup(
    packages=[
        *find_packages(include=["cohortdesk", "cohortdesk.*"]),
        "cohortdesk.migrations",
        "cohortdesk.migrations.versions",
        "cohortdesk.resources",
    ]
)
