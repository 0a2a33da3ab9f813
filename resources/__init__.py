"""Icons, stylesheets and other files the application ships (installed as ``cohortdesk.resources``)."""

from pathlib import Path

RESOURCES_DIR = Path(__file__).resolve().parent
