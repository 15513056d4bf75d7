"""Every window and dialog fits the screens the branch offices have: 1366x768 at 100 %, and
1920x1080 at 125 % and 150 % (what Windows makes of a 1920x1080 panel: 1536x864 and 1280x720
logical pixels). Each screen less a 40-pixel taskbar, as Qt's offscreen platform takes it from a
config file, in a fresh process per screen (the size and the scale factor are fixed when Qt
starts): tests/e2e/screen_probe.py opens every window and dialog and checks every action button.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import PASSWORDS

ROOT = Path(__file__).resolve().parents[2]
TASKBAR = 40  # pixels at 100 %; Windows scales it with the rest


@pytest.mark.parametrize(
    ("width", "height", "scale"),
    [(1366, 768, 1.0), (1920, 1080, 1.25), (1920, 1080, 1.5)],
    ids=["1366x768@100%", "1920x1080@125%", "1920x1080@150%"],
)
def test_every_window_fits_the_screen(
    counter, tmp_path: Path, width: int, height: int, scale: float
) -> None:
    screen = {
        "screens": [
            {
                "name": "counter",
                "x": 0,
                "y": 0,
                "width": width,
                "height": height - round(TASKBAR * scale),
                "logicalDpi": 96,
                "logicalBaseDpi": 96,
                "dpr": 1,
            }
        ]
    }
    config = tmp_path / "screen.json"
    config.write_text(json.dumps(screen), encoding="utf-8")
    passwords = tmp_path / "passwords.json"
    passwords.write_text(json.dumps(PASSWORDS), encoding="utf-8")
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": f"offscreen:configfile={config}",
        "QT_SCALE_FACTOR": str(scale),
        "PYTHONPATH": str(ROOT),
    }
    out = subprocess.run(
        [sys.executable, "-m", "tests.e2e.screen_probe", str(counter.terminal_dir), str(passwords)],
        env=env,
        capture_output=True,
        text=True,
        timeout=280,
        cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert len(result["checked"]) >= 19, result["checked"]
    assert {
        "個人の詳細・理由",
        "個人の詳細",
        "メイン画面・カード窓口・住所の表示",
        "メイン画面・交付履歴(印刷し直し)",
        "交付履歴・列の幅",
        "住民検索・住所の列",
    } <= set(result["checked"])
    assert result["problems"] == [], "\n".join(result["problems"])
