"""A second copy of the program on the same data directory is refused (issue 16): two real
processes, the lock taken by the first and refused to the second with a Japanese message."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.store.instance_lock import AlreadyRunning, InstanceLock

ROOT = Path(__file__).resolve().parents[2]
DEMO = [sys.executable, "-m", "cli.main", "demo", "--headless"]
HOLDER = """
import sys
from app.store.instance_lock import InstanceLock
with InstanceLock(sys.argv[1]):
    print("held", flush=True)
    sys.stdin.readline()
"""


def test_a_second_process_is_refused_until_the_first_ends(tmp_path: Path) -> None:
    first = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(tmp_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        cwd=ROOT,
        text=True,
    )
    try:
        assert first.stdout is not None and first.stdout.readline().strip() == "held"
        with pytest.raises(AlreadyRunning) as info:
            InstanceLock(tmp_path).acquire()
        assert "既にこのパソコンで起動しています" in info.value.message
        assert str(tmp_path) in info.value.message
    finally:
        assert first.stdin is not None
        first.stdin.close()
        first.wait(timeout=60)
    with InstanceLock(tmp_path):  # the first copy ended: the next one starts
        pass


def test_a_killed_copy_leaves_no_stale_lock(tmp_path: Path) -> None:
    first = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(tmp_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        cwd=ROOT,
        text=True,
    )
    assert first.stdout is not None and first.stdout.readline().strip() == "held"
    first.kill()
    first.wait(timeout=60)
    with InstanceLock(tmp_path):
        pass


def test_other_data_directories_are_independent(tmp_path: Path) -> None:
    with InstanceLock(tmp_path / "a"), InstanceLock(tmp_path / "b"):
        pass


def test_a_second_demo_on_the_same_folder_says_so(tmp_path: Path) -> None:
    with InstanceLock(tmp_path / "demo"):
        second = subprocess.run(
            [*DEMO, "--data-dir", str(tmp_path / "demo")],
            capture_output=True,
            cwd=ROOT,
            text=True,
            encoding="utf-8",
            timeout=120,
        )
    assert second.returncode == 3
    assert "既にこのパソコンで起動しています" in second.stdout
    assert "Traceback" not in second.stderr


def test_enroll_waits_for_the_running_copy_to_end(tmp_path: Path) -> None:
    """`madoguchi enroll` takes the lock too: while the GUI (here a holder process) runs on the
    folder, enrolling is refused with exit 9 and nothing is written; once it ends, enroll goes
    on (to the server, unreachable here: exit 5)."""
    data_dir = tmp_path / "terminal"
    enroll = [
        sys.executable, "-m", "cli.main", "enroll", "--data-dir", str(data_dir),
        "--server", "https://127.0.0.1:9", "--ca-fingerprint", "ab" * 32, "--token", "t0ken",
    ]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k != "MADOGUCHI_PROVISIONING"}
    first = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(data_dir)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        cwd=ROOT,
        text=True,
    )
    try:
        assert first.stdout is not None and first.stdout.readline().strip() == "held"
        refused = subprocess.run(
            enroll, capture_output=True, cwd=ROOT, text=True, encoding="utf-8", env=env,
            timeout=120,
        )  # fmt: skip
    finally:
        assert first.stdin is not None
        first.stdin.close()
        first.wait(timeout=60)
    assert refused.returncode == 9, refused.stdout + refused.stderr
    assert "既にこのパソコンで起動しています" in refused.stdout
    assert "Traceback" not in refused.stderr
    assert sorted(p.name for p in data_dir.iterdir()) == ["madoguchi.lock"]
    after = subprocess.run(
        enroll, capture_output=True, cwd=ROOT, text=True, encoding="utf-8", env=env, timeout=120
    )
    assert after.returncode == 5, after.stdout + after.stderr
