"""The manual's screenshots at 1366x768, taken from `madoguchi demo` under Xvfb:

    xvfb-run -a -s "-screen 0 1366x768x24" uv run python tools/screenshots.py --out docs/images

Starts the demo (embedded server on a free port, synthetic residents, virtual card), logs in as
issuer01 through the login dialog, and drives the real windows as a clerk would, grabbing the
whole screen at each step. Xvfb has no window manager: a window asked to be maximised is given
the screen's size instead, and no title bars show. Look at every image before committing it.
"""

from __future__ import annotations

import argparse
import socket
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    ap.add_argument("--residents", type=int, default=3000)
    ap.add_argument("--data-dir", type=Path, default=None)
    args = ap.parse_args(argv)

    from PySide6.QtGui import QGuiApplication, QInputMethodEvent
    from PySide6.QtWidgets import QApplication, QWidget

    from cli.demo import prepare
    from cli.gui import build_login_service, build_main_window, create_application
    from ui.daily_report import DailyReportWindow
    from ui.issuance_dialog import IssuanceDialog
    from ui.login import LoginDialog

    app = create_application()
    base = args.data_dir or Path(tempfile.mkdtemp(prefix="madoguchi-shots-"))
    env = prepare(base, args.residents, free_port())
    args.out.mkdir(parents=True, exist_ok=True)

    def wait(predicate: Callable[[], bool], what: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise SystemExit(f"timed out: {what}")
            app.processEvents()
            time.sleep(0.02)

    def settle(seconds: float = 0.5) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            app.processEvents()
            time.sleep(0.02)

    def shot(name: str, widget: QWidget | None = None) -> None:
        settle()
        screen = QGuiApplication.primaryScreen()
        image = widget.grab() if widget is not None else screen.grabWindow(0)
        path = args.out / name
        image.save(str(path))
        print(f"  {path}")

    def type_text(widget: QWidget, text: str) -> None:
        for ch in text:
            event = QInputMethodEvent()
            event.setCommitString(ch)
            QApplication.sendEvent(widget, event)

    def fill_screen(window: QWidget) -> None:
        # No window manager under Xvfb: a maximised window keeps its size; give it the screen.
        window.setGeometry(window.screen().availableGeometry())

    try:
        service = build_login_service(env.terminal_dir, env.secret_store_factory)
        login = LoginDialog(service.login, terminal_label="北見市 端末(デモ)")
        login.show()
        login.operator_id.setText("issuer01")
        login.password.setText(env.operators["issuer01"])
        shot("screen-login.png", login)
        sessions: list[object] = []
        login.logged_in.connect(sessions.append)
        login.buttons.accepted.emit()
        wait(lambda: bool(sessions), "login")
        session = sessions[0]

        window = build_main_window(session, demo=env)
        window.show_restored()
        fill_screen(window)
        window.start()
        # The first sync, as the status bar shows it (a bigger --residents keeps it longer).
        wait(window.status.progress.isVisible, "the first sync's progress")
        wait(lambda: window.status.progress.maximum() > 0, "the first sync's count", 30)
        shot("screen-first-sync.png")
        wait(lambda: "オンライン" in window.status.connection.text(), "online")
        wait(
            lambda: window.status.outbox.text() == "未送信 0件" and not window._sync_running, "sync"
        )

        panel, view = window.search_panel, window.household_view
        assert panel is not None and view is not None
        type_text(panel.name, "たかはし")
        window.fkeys.press(1)
        wait(lambda: bool(panel.hits), "search")
        row = next(
            i for i, h in enumerate(panel.hits) if h.status == "resident" and not h.protected
        )
        panel.table.selectRow(row)
        window.fkeys.press(8)
        wait(lambda: view.household is not None, "household")
        shot("screen-search.png")

        # 番地 typed with dashes, as a clerk types it: 「北5条東6丁目11番5号」 as 「北5条東6-11-5」.
        from app.domain.addresses import search_key

        street = next(
            (h for h in panel.hits if "丁目" in h.address and h.address.endswith("号")),
            panel.hits[row],
        )
        typed = search_key(street.address).removeprefix("北海道北見市")
        panel.clear()
        type_text(panel.address, typed)
        window.fkeys.press(1)
        wait(lambda: bool(panel.hits), "search by 番地")
        panel.table.selectRow(0)
        window.fkeys.press(8)
        wait(lambda: view.household is not None, "household by 番地")
        shot("screen-search-banchi.png")

        # A household under 支援措置: the first protected resident of the demo's synthetic data.
        from app.synthetic.generator import household_dicts
        from cli.demo import DEMO_SEED

        protected_names = [
            m["name_kana"]
            for h in household_dicts(args.residents, DEMO_SEED)
            for m in h["members"]
            if m.get("support_measure") and m["status"] == "resident"
        ][:3]
        for name in protected_names:
            panel.clear()
            type_text(panel.name, name)
            window.fkeys.press(1)
            wait(lambda: bool(panel.hits), "search")
            protected = next((i for i, h in enumerate(panel.hits) if h.protected), None)
            if protected is not None:
                panel.table.selectRow(protected)
                window.fkeys.press(8)
                wait(lambda: view.household is not None and view.address_hidden, "protected")
                shot("screen-protected.png")
                break
        panel.clear()
        type_text(panel.name, "たかはし")
        window.fkeys.press(1)
        wait(lambda: bool(panel.hits), "search")
        panel.table.selectRow(row)
        window.fkeys.press(8)
        wait(lambda: view.household is not None and not view.address_hidden, "household")

        window.fkeys.press(3)
        wait(lambda: any(d.isVisible() for d in window.findChildren(IssuanceDialog)), "dialog")
        dialog = next(d for d in window.findChildren(IssuanceDialog) if d.isVisible())
        wait(lambda: not dialog.deciding, "decision")
        requester = dialog.requester_panel
        household = view.household
        assert household is not None
        requester.member.setCurrentIndex(requester.member.findData(household.head_person_id))
        license_ = next(d for d in dialog.id_checks if d.value == "drivers_license")
        dialog.id_checks[license_].setChecked(True)
        wait(lambda: not dialog.deciding and dialog.issue_button.isEnabled(), "allowed")
        dialog.preview_button.click()
        wait(lambda: "見本(" in dialog.preview_status.text(), "preview")
        shot("screen-issuance.png")
        dialog.issue_button.click()
        wait(lambda: dialog.issued is not None, "issued")
        # 印刷し直し: printed (the demo has no printer here: a stand-in that reports one page),
        # then F6 with the supervisor's approval (given here without the modal dialog).
        first_no = dialog.issued.issuance.issuance_no
        dialog._print_pdf = lambda *_a: 1
        dialog.print_issued()
        wait(dialog.reprint_button.isEnabled, "printed")

        def approve(_situation: str, request: object, hh: object, replaces: str | None = None):
            return session.approve(  # type: ignore[attr-defined]
                "super01",
                env.operators["super01"],
                "用紙詰まりのため",
                request,
                hh,
                replaces=replaces,
            )

        dialog._approve_dialog = approve  # type: ignore[method-assign]
        dialog.reprint()
        wait(lambda: dialog.issued.issuance.issuance_no != first_no, "reprinted")
        shot("screen-reprint.png")
        dialog.reject()

        assert window.history is not None
        window.tabs.setCurrentWidget(window.history)
        wait(lambda: window.history.table.rowCount() > 1, "history")  # type: ignore[union-attr]
        shot("screen-history-reprint.png")
        window.history.report_button.click()
        wait(lambda: any(w.isVisible() for w in window.findChildren(DailyReportWindow)), "report")
        shot("screen-daily-report.png")
        for w in window.findChildren(DailyReportWindow):
            w.reject()

        if window.card_desk is not None:
            from ui.card_desk import CardDeskWidget

            desk = window.card_desk
            assert isinstance(desk, CardDeskWidget)
            window.tabs.setCurrentWidget(desk)
            window.fkeys.press(6)
            wait(lambda: desk.pin_window is not None and desk.pin_window.isVisible(), "pin")
            pad = desk.pin_window
            assert pad is not None
            for k in "12":
                pad.press(k)
            shot("screen-card-pin.png")
            for k in "34":
                pad.press(k)
            pad.press("決定")
            wait(lambda: desk.match is not None and not desk.busy, "card read")
            shot("screen-card-desk.png")

        window.close()
        wait(lambda: session.closed, "logout")  # type: ignore[attr-defined]
    finally:
        env.server.stop()  # type: ignore[attr-defined]
    return 0


if __name__ == "__main__":
    sys.exit(main())
