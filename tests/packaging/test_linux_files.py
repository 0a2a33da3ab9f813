"""The Linux desktop entry and AppStream metainfo pass their validators; icons exist in every size."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINUX = ROOT / "packaging" / "linux"
APP_ID = "za.co.cohortdesk.CohortDesk"


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{name} is not installed (scripts/test.sh installs it)")
        pytest.skip(f"{name} is not installed")
    return path


def test_desktop_entry_validates():
    result = subprocess.run(
        [_tool("desktop-file-validate"), str(LINUX / f"{APP_ID}.desktop")], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "error" not in result.stdout.lower()


def test_metainfo_validates():
    result = subprocess.run(
        [_tool("appstreamcli"), "validate", "--no-net", str(LINUX / f"{APP_ID}.metainfo.xml")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_icons_in_every_size():
    for size in (16, 24, 32, 48, 64, 128, 256, 512):
        assert (LINUX / "icons" / "hicolor" / f"{size}x{size}" / "apps" / f"{APP_ID}.png").is_file()
    assert (LINUX / "icons" / "hicolor" / "scalable" / "apps" / f"{APP_ID}.svg").is_file()
    assert (ROOT / "resources" / "icons" / "cohortdesk.ico").is_file()


def test_windows_installer_paths_match_the_spec():
    iss = (ROOT / "packaging" / "windows" / "cohortdesk.iss").read_text(encoding="utf-8")
    spec = (ROOT / "packaging" / "cohortdesk.spec").read_text(encoding="utf-8")
    assert r"dist\cohortdesk" in iss and "PrivilegesRequired=lowest" in iss
    assert "name=NAME" in spec and "cohortdesk.exe" in iss


def test_metainfo_screenshots_are_the_ones_in_docs():
    import re

    metainfo = (LINUX / f"{APP_ID}.metainfo.xml").read_text(encoding="utf-8")
    images = re.findall(r"<image>([^<]+)</image>", metainfo)
    assert len(images) >= 3
    for image in images:
        assert (ROOT / "docs" / "screenshots" / image.rsplit("/", 1)[-1]).is_file(), image
