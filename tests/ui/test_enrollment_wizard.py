"""The first-run wizard (pytest-qt, Qt offscreen) against a real server on loopback.

The device secret goes through the machine seam's Linux fake (tests.support.machine): the
Windows DPAPI code cannot run here; everything else (TLS, the CA check, enrollment) is real.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.machine.provisioning import Provisioning
from app.machine.setup import secret_store_for
from app.services.enrollment import enroll_checked
from app.services.terminal import TerminalFiles
from server import admin, setup_cli
from server.embedded import EmbeddedServer
from tests.support.machine import FakeMachineApi
from tests.support.server import FAST_PASSWORDS
from ui.enrollment_wizard import EnrollmentWizard

TIMEOUT = 30_000


@pytest.fixture
def server(tmp_path: Path) -> Iterator[EmbeddedServer]:
    srv = EmbeddedServer(tmp_path / "server", **FAST_PASSWORDS)
    srv.start()
    try:
        yield srv
    finally:
        srv.close()


def _wizard(qtbot: Any, server: EmbeddedServer, data_dir: Path, fingerprint: str | None = None):
    api = FakeMachineApi()
    provisioning = Provisioning(
        server_url=server.base_url,
        ca_fingerprint_sha256=fingerprint or setup_cli.ca_fingerprint(server.config),
        municipality_code="012084",
        source=data_dir.parent / "provisioning.json",
    )

    def enroll(folder: Path, checked: Any, token: str) -> Any:
        return enroll_checked(
            folder, checked, token, secret_store_for(folder, api=api), machine_api=api
        )

    wizard = EnrollmentWizard(data_dir, provisioning=provisioning, enroll=enroll)
    qtbot.addWidget(wizard)
    wizard.show()
    return wizard


def test_the_administrator_enrolls_the_pc(qtbot: Any, server: EmbeddedServer, tmp_path) -> None:
    data_dir = tmp_path / "Madoguchi" / "terminal"
    wizard = _wizard(qtbot, server, data_dir)
    # Prefilled from provisioning.json: the administrator only confirms and types the token.
    assert wizard.server.text() == server.base_url
    assert len(wizard.fingerprint.text()) == 64
    wizard.check_button.click()
    qtbot.waitUntil(lambda: wizard.pages.currentIndex() == 1, timeout=TIMEOUT)
    assert "北見市(団体コード 012084)" in wizard.server_label.text()
    assert "一致しました" in wizard.server_label.text()

    wizard.token.setText("not-the-token")
    wizard.submit_button.click()
    qtbot.waitUntil(lambda: "無効" in wizard.message.text(), timeout=TIMEOUT)
    assert wizard.pages.currentIndex() == 1 and not TerminalFiles(data_dir).is_enrolled()

    wizard.token.setText(server.make_token())
    wizard.submit_button.click()
    qtbot.waitUntil(lambda: wizard.pages.currentIndex() == 2, timeout=TIMEOUT)
    assert TerminalFiles(data_dir).is_enrolled()
    assert f"端末 {wizard.config.terminal_no}" in wizard.done_label.text()
    assert wizard.token.text() == ""
    with qtbot.waitSignal(wizard.accepted, timeout=TIMEOUT):
        wizard.finish_button.click()


def test_a_wrong_fingerprint_stops_at_the_first_step(
    qtbot: Any, server: EmbeddedServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    real = admin.enroll
    monkeypatch.setattr(admin, "enroll", lambda *a, **k: calls.append("x") or real(*a, **k))
    wizard = _wizard(qtbot, server, tmp_path / "terminal", fingerprint="cd" * 32)
    wizard.check_button.click()
    qtbot.waitUntil(lambda: "一致しません" in wizard.message.text(), timeout=TIMEOUT)
    assert wizard.pages.currentIndex() == 0 and wizard.check_button.isEnabled()
    assert calls == [] and not (tmp_path / "terminal").exists()


def test_without_provisioning_the_fields_are_empty_and_say_why(qtbot: Any, tmp_path) -> None:
    wizard = EnrollmentWizard(tmp_path / "terminal")
    qtbot.addWidget(wizard)
    assert wizard.server.text() == "" and wizard.fingerprint.text() == ""
    source = wizard.findChild(type(wizard.message), "enrollSource")
    assert source is not None and "provisioning.json" in source.text()
    wizard.server.setText("http://plain")
    wizard.fingerprint.setText("00")
    wizard.check_button.click()
    qtbot.waitUntil(lambda: "https://" in wizard.message.text(), timeout=TIMEOUT)
