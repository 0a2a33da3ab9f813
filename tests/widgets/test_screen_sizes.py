"""The workstation and the administration window at the sizes officers use: each opens within the
screen, keeps Approve, the status bar, Save and the sync status on it, and no label or rich-text pane
breaks a word. One child process per size (``fit_check.py``), since Qt fixes the scale at start-up."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("width", "height", "scale", "compact"),
    [
        (1366, 768, 1.0, True),
        (1920, 1080, 1.0, False),
        (1920, 1080, 1.5, True),
        (1366, 768, 1.25, True),
    ],
    ids=["1366x768", "1920x1080", "1920x1080@150%", "1366x768@125%"],
)
def test_fits_the_screen_without_breaking_words(width, height, scale, compact):
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "COHORTDESK_HOME")}
    result = subprocess.run(
        [sys.executable, "-m", "tests.widgets.fit_check", str(width), str(height), str(scale)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("FIT ")]
    assert lines, result.stdout[-2000:] + result.stderr[-3000:]
    report = json.loads(lines[-1][4:])
    assert report["problems"] == []
    assert report["compact"] is compact
