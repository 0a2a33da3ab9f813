"""The workstation and the administration window at the sizes officers use: each opens within the
screen, keeps Approve, the status bar, Save and the sync status on it, and no label or rich-text pane
breaks a word. One child process per size (``fit_check.py``), since Qt fixes the scale at start-up;
1366x768 at 125 % also under a real X server (Xvfb), which holds a window to its least size."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
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
    report = _fit_check([str(width), str(height), str(scale)])
    assert report["problems"] == []
    assert report["compact"] is compact


@pytest.mark.slow
@pytest.mark.skipif(
    shutil.which("xvfb-run") is None, reason="Xvfb is not installed (scripts/test.sh installs it)"
)
def test_opens_within_a_real_x_screen_at_125_percent():
    # X holds a window to its least size as it is shown: the window must already be in the compact
    # arrangement then. Shown wide (least width 1,112 px of the 1,093 the screen has at 125 %), it
    # stayed wider than the screen after it turned compact; offscreen Qt never showed this.
    xvfb = ["xvfb-run", "-a", "-s", "-screen 0 1366x768x24"]
    report = _fit_check(["1366", "768", "1.25", "--x11"], prefix=xvfb)
    assert report["problems"] == []
    assert report["compact"] is True


def _fit_check(args: list[str], prefix: list[str] | None = None) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "COHORTDESK_HOME")}
    result = subprocess.run(
        [*(prefix or []), sys.executable, "-m", "tests.widgets.fit_check", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("FIT ")]
    assert lines, result.stdout[-2000:] + result.stderr[-3000:]
    return json.loads(lines[-1][4:])
