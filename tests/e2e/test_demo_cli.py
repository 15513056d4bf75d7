"""`madoguchi demo --headless` as a subprocess: the README's first command, end to end."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

DEMO = [sys.executable, "-m", "cli.main", "demo", "--headless", "--residents", "200"]


def _run(args: list[str], timeout: float = 240) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "DBUS_SESSION_BUS_ADDRESS"}
    return subprocess.run(
        args,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=Path(__file__).resolve().parents[2],
        env=env,
    )


def test_demo_headless_syncs_and_reuses_its_folder(tmp_path: Path) -> None:
    data = tmp_path / "demo"
    first = _run([*DEMO, "--data-dir", str(data), "--port", "0"])
    assert first.returncode == 0, first.stdout + first.stderr
    assert "同期が完了しました" in first.stdout
    found = re.search(r"キャッシュの住民数: ([\d,]+)人", first.stdout)
    assert found is not None
    persons = int(found.group(1).replace(",", ""))
    assert persons == 201  # 200 synthetic residents and the resident of the demo card
    assert "issuer01" in first.stdout  # demo operators are printed
    assert (data / "terminal" / "cache.db").is_file()

    second = _run([*DEMO, "--data-dir", str(data), "--port", "0"])
    assert second.returncode == 0, second.stdout + second.stderr
    assert "合成住民データを作成" not in second.stdout  # reused, not regenerated
    assert "この端末を中央サーバーに登録" not in second.stdout
    assert f"{persons}人" in second.stdout


def test_demo_says_clearly_when_its_port_is_taken(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        result = _run([*DEMO, "--data-dir", str(tmp_path / "demo"), "--port", str(port)])
    assert result.returncode == 2
    assert f"ポート {port}" in result.stdout
    assert "Traceback" not in result.stderr
