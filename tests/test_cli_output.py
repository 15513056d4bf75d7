"""The commands' output through a pipe on Windows (issue 16).

Piped stdout on Windows uses the ANSI code page, cp932, unless told otherwise: a name with an
IVS (葛 + U+E0102) or a character outside JIS (𠮷) raised UnicodeEncodeError and the command
died half-way. PYTHONIOENCODING=cp932 puts Linux's Python in the same state; the command must
write UTF-8 whatever the code page.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.cards.conftest import DEMO_PROFILE

ROOT = Path(__file__).resolve().parents[1]
NAME = "葛\U000e0102城 𠮷子"


def test_piped_output_under_cp932_is_utf8_with_ivs_and_non_jis_names(tmp_path: Path) -> None:
    profile = json.loads(DEMO_PROFILE.read_text(encoding="utf-8"))
    profile["name"] = NAME
    path = tmp_path / "card.json"
    path.write_text(json.dumps(profile, ensure_ascii=False), encoding="utf-8")
    env = {**os.environ, "PYTHONIOENCODING": "cp932", "PYTHONUTF8": "0"}
    done = subprocess.run(
        [sys.executable, "-m", "cli.main", "card", "read", "--simulator", str(path)],
        input=(profile["kenhojo_pin"] + "\n").encode(),
        capture_output=True,
        cwd=ROOT,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr.decode("utf-8", "replace")
    out = done.stdout.decode("utf-8")
    assert f"氏名: {NAME}" in out
    assert "個人番号: ●●●●●●●●" in out
