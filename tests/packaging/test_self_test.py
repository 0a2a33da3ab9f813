"""``cohortdesk --self-test``: a fresh interpreter starts headless in a fresh home, loads demo data,
renders the main window to PNG and exits 0 (CI runs the same on the PyInstaller bundle)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtGui import QImage

ROOT = Path(__file__).resolve().parents[2]


def _run(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COHORTDESK_")}
    env.update(COHORTDESK_HOME=str(home), QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, "-m", "cohortdesk", "--self-test", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.slow
def test_self_test_renders_the_main_window_on_demo_data(tmp_path):
    png = tmp_path / "shot.png"
    result = _run(tmp_path / "home", str(png))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "self-test passed" in result.stdout and "preview rendered" in result.stdout
    image = QImage(str(png))
    assert not image.isNull() and image.width() >= 800 and image.height() >= 600
    assert (tmp_path / "home" / "data" / "cohortdesk.sqlite3").is_file()


def test_self_test_failure_is_one_clear_line_and_exit_1(tmp_path):
    home = tmp_path / "not-a-folder"
    home.write_text("a file where the home folder should be", encoding="utf-8")
    result = _run(home)
    assert result.returncode == 1
    assert "CohortDesk self-test FAILED:" in result.stderr
