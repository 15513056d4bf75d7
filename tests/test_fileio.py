"""app.fileio: the one atomic write (temp file beside the target, fsync through a write handle,
replace retried while Windows holds the target open, directory fsync on POSIX)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from app import fileio
from app.fileio import REPLACE_BACKOFF, atomic_write, atomic_writer, replace_file


def _sharing_violation() -> PermissionError:
    # What os.replace raises on Windows while another process holds the target open
    # (ERROR_SHARING_VIOLATION, WinError 32). Simulated here: Linux has no such lock.
    return PermissionError(13, "The process cannot access the file", "target", 32)


def test_writes_and_replaces_whole_files_leaving_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "terminal.json"
    atomic_write(target, "一")
    atomic_write(target, b"\x00two")
    with atomic_writer(target, newline="\n") as fh:
        fh.write("三\n")
    assert target.read_text(encoding="utf-8") == "三\n"
    assert sorted(p.name for p in target.parent.iterdir()) == ["terminal.json"]


def test_a_failure_while_writing_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "keyslots.json"
    atomic_write(target, "old")
    with pytest.raises(RuntimeError), atomic_writer(target) as fh:
        fh.write("half of the new")
        raise RuntimeError("power cut (simulated)")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["keyslots.json"]


def test_replace_retries_while_windows_holds_the_target_open(tmp_path: Path) -> None:
    source, target = tmp_path / "new", tmp_path / "target"
    source.write_text("new")
    target.write_text("old")
    refusals = [_sharing_violation(), _sharing_violation()]
    waits: list[float] = []

    def held_open_twice(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        if refusals:
            raise refusals.pop(0)
        os.replace(src, dst)

    replace_file(source, target, os_replace=held_open_twice, sleep=waits.append)
    assert target.read_text() == "new" and not source.exists()
    assert waits == list(REPLACE_BACKOFF[:2])


def test_replace_gives_up_after_the_bounded_backoff(tmp_path: Path) -> None:
    source, target = tmp_path / "new", tmp_path / "target"
    source.write_text("new")
    target.write_text("old")
    tries: list[str] = []
    waits: list[float] = []

    def always_held(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        tries.append(str(dst))
        raise _sharing_violation()

    with pytest.raises(PermissionError):
        replace_file(source, target, os_replace=always_held, sleep=waits.append)
    assert len(tries) == len(REPLACE_BACKOFF) + 1 and waits == list(REPLACE_BACKOFF)
    assert target.read_text() == "old"


def test_atomic_write_goes_through_the_retry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = os.replace
    refusals = [_sharing_violation()]

    def held_once(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        if refusals:
            raise refusals.pop(0)
        real(src, dst)

    monkeypatch.setattr(fileio.os, "replace", held_once)
    monkeypatch.setattr(fileio.time, "sleep", lambda s: None)
    target = tmp_path / "settings.json"
    atomic_write(target, "{}")
    assert target.read_text() == "{}" and not refusals


def test_fsync_file_opens_for_writing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Windows' FlushFileBuffers fails on a handle opened read-only: the flags are the contract.
    path = tmp_path / "cache.db"
    path.write_bytes(b"x")
    flags: list[int] = []
    real_open = os.open

    def recording_open(p: str | os.PathLike[str], f: int, *args: int) -> int:
        flags.append(f)
        return real_open(p, f, *args)

    monkeypatch.setattr(fileio.os, "open", recording_open)
    fileio.fsync_file(path)
    assert flags and flags[0] & os.O_RDWR
