"""Issue 21 item 10 (client half): `madoguchi` logs to a private rotating file in its data dir."""

from __future__ import annotations

import logging
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import cli.gui
from cli.main import main


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)


def test_the_gui_entry_point_logs_ids_to_a_private_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, restore_logging: None
) -> None:
    started: list[Path] = []
    monkeypatch.setattr(cli.gui, "run_gui", lambda data_dir: started.append(data_dir) or 0)
    assert main(["--data-dir", str(tmp_path / "terminal")]) == 0
    assert started == [tmp_path / "terminal"]
    logging.getLogger("app.sync.engine").info("sync push: %d sent", 3)
    logging.getLogger("httpx").info("HTTP Request: GET https://x/v1/changes?after=1")
    for handler in logging.getLogger().handlers:
        handler.flush()
    log = tmp_path / "terminal" / "logs" / "madoguchi.log"
    text = log.read_text(encoding="utf-8")
    assert "app.sync.engine: sync push: 3 sent" in text
    assert "HTTP Request" not in text  # per-request lines of the HTTP library stay out
    if sys.platform != "win32":
        assert stat.S_IMODE(log.stat().st_mode) == 0o600
