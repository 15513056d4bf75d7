"""Every window with personal data is excluded from screen capture (DESIGN.md §8), by one
mechanism: the guard cli.gui installs on the QApplication catches each top-level window as it
is shown. Qt offscreen, real session and server; the Windows call goes through the seam
(ui.privacy.WindowsBackend with a fake user32: SetWindowDisplayAffinity exists on Windows only,
and wine cannot judge the result — it is on the checklist for a real PC)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from cli.gui import build_main_window
from tests.auth.test_privacy_ui import FakeUser32
from tests.e2e.test_counter_services import _first_resident_household, self_request
from ui import privacy
from ui.approval import ApprovalDialog
from ui.card_desk import CollationBDialog, CustomerPinWindow
from ui.privacy import WDA_EXCLUDEFROMCAPTURE, WindowsBackend, install_capture_guard

TIMEOUT = 30_000


@pytest.fixture
def user32(qapp: QApplication) -> Iterator[FakeUser32]:
    fake = FakeUser32()
    previous = privacy.set_backend(WindowsBackend(fake))
    privacy.clear_capture_calls()
    install_capture_guard(qapp)
    try:
        yield fake
    finally:
        privacy.remove_capture_guard(qapp)
        privacy.set_backend(previous)
        privacy.clear_capture_calls()


def _excluded(fake: FakeUser32, window: QWidget) -> bool:
    return (int(window.winId()), WDA_EXCLUDEFROMCAPTURE) in fake.calls


def test_each_window_with_personal_data_is_excluded(qtbot: Any, counter, user32) -> None:
    session = counter.login("issuer01")
    shown: dict[str, QWidget] = {}
    try:
        report = session.sync_once()
        assert report.error is None, report.message
        window = build_main_window(session)  # 住民検索, 世帯, カード窓口, 交付履歴
        qtbot.addWidget(window)
        window.show()
        shown["main window (search, household, card desk, history)"] = window

        hit, household = _first_resident_household(session)
        dialog = window.open_issuance(household)
        qtbot.addWidget(dialog)
        shown["issuance dialog"] = dialog

        session.preview(self_request(household, hit.person_id), household)  # audited, shown
        preview = window.show_daily_report(session.daily_report_pdf())
        shown["PDF window (日計表)"] = preview

        approval = ApprovalDialog(lambda *_a: None, parent=window)
        approval.show()
        shown["supervisor approval"] = approval
        for name, cls in (("PIN pad", CustomerPinWindow), ("照合番号B", CollationBDialog)):
            card_dialog = cls(window)
            card_dialog.show()
            shown[name] = card_dialog
        box = QMessageBox(QMessageBox.Icon.Warning, "世帯を開けません", "…", parent=window)
        box.show()
        shown["message box"] = box

        for name, w in shown.items():
            assert _excluded(user32, w), f"{name} is not excluded from capture"
        # Nothing visible escapes it, whatever opened it.
        for w in QApplication.topLevelWidgets():
            if w.isVisible():
                assert _excluded(user32, w), f"{type(w).__name__} {w.objectName()} not excluded"
        for w in (preview, approval, box):
            w.close()
        window.close()
    finally:
        session.logout()


def test_the_auditors_window_is_excluded(qtbot: Any, counter, user32) -> None:
    session = counter.login("audit01")
    window = build_main_window(session)  # the audit log viewer is its one tab
    qtbot.addWidget(window)
    window.show()
    assert [window.tabs.tabText(i) for i in range(window.tabs.count())] == ["監査ログ"]
    assert _excluded(user32, window)
    window.close()
