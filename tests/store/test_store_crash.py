"""SIGKILL while applying pages: the cache stays consistent and resumes from its cursor."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from app.store.db import open_cache
from app.store.keys import generate_dek

from .conftest import household_items
from .households import make_households

ROOT = Path(__file__).resolve().parents[2]
PERSONS, PAGE = 3000, 200


def _child(path: Path, dek: bytes) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.store.crash_child", str(path), dek.hex(), str(PERSONS),
         str(PAGE)],
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip


def _check_consistent(path: Path, dek: bytes, expected: list[dict]) -> int:
    with open_cache(path, dek) as c:
        cursor = c.cursor()
        assert cursor % PAGE == 0 or cursor == len(expected)  # only whole pages
        counts = c.counts()
        # Exactly the households up to the cursor: nothing half-applied, nothing beyond.
        assert counts["households"] == cursor
        assert counts["persons"] == sum(len(h["members"]) for h in expected[:cursor])
        for h in expected[max(0, cursor - 3) : cursor]:
            assert c.household_data(h["household_id"]) == h
        assert c.connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        keys = c.connection.execute("SELECT count(DISTINCT person_id) FROM search_keys")
        assert keys.fetchone()[0] == counts["persons"]
        return cursor


def test_sigkill_while_applying_pages(tmp_path: Path) -> None:
    path = tmp_path / "cache.db"
    dek = generate_dek()
    expected = [i.data for i in household_items(list(make_households(PERSONS, seed=77)))]
    cursors = []
    for target in (2, 5):
        proc = _child(path, dek)
        assert proc.stdout is not None and proc.stdin is not None
        written = 0
        for line in proc.stdout:
            if line.startswith("written"):
                written += 1
                if written == target:
                    # The child holds the page's transaction open until it reads a line.
                    os.kill(proc.pid, signal.SIGKILL)
                    break
                proc.stdin.write("go\n")
                proc.stdin.flush()
        proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        cursors.append(_check_consistent(path, dek, expected))
    # The first kill landed inside page 2's transaction: page 1 is there, page 2 is not; the
    # second, inside the 5th page of the resumed run.
    assert cursors[0] == PAGE
    assert cursors[1] == PAGE + 4 * PAGE
    assert 0 < cursors[0] < cursors[1] < len(expected)
    # Resume to the end from the stored cursor.
    proc = _child(path, dek)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0 and out.strip().endswith("finished")
    first_begin = int(out.split()[1])
    assert first_begin == min(cursors[1] + PAGE, len(expected))  # resumed, not restarted
    assert _check_consistent(path, dek, expected) == len(expected)
