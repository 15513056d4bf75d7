"""Start the GUI: QApplication, fonts, login → main window → (logout) → login again."""

from __future__ import annotations

import gc
import logging
import sys
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def default_data_dir(kind: str = "terminal") -> Path:
    """The terminal's folder: per machine on Windows (%ProgramData%\\Madoguchi\\terminal),
    $XDG_DATA_HOME/madoguchi/<kind> elsewhere; the demo's ("demo") per user everywhere."""
    from app.machine.paths import default_data_dir as machine_default

    return machine_default(kind)


def migrate_per_user_terminal(data_dir: Path) -> None:
    """Windows: bring the per-user terminal of an earlier version (%LOCALAPPDATA%) into the
    machine folder, once, when `data_dir` is the default machine folder."""
    if sys.platform != "win32" or Path(data_dir) != default_data_dir():
        return
    from app.machine.paths import legacy_user_dir
    from app.machine.setup import migrate_legacy, secret_store_for
    from app.store.keys import DeviceSecret

    migrated = migrate_legacy(
        Path(data_dir),
        legacy_user_dir(),
        legacy_store_factory=DeviceSecret,
        new_store_factory=secret_store_for(Path(data_dir)),
    )
    if migrated is not None:
        log.info("terminal %s moved to the machine folder", migrated.terminal_no)


def _ui_font_family() -> str | None:
    from PySide6.QtGui import QFontDatabase

    families = set(QFontDatabase.families())
    for name in ("Yu Gothic UI", "Meiryo UI", "IPAexGothic", "IPAゴシック", "Noto Sans CJK JP"):
        if name in families:
            return name
    return None


def install_japanese(app: Any) -> Any:
    """Qt's own texts (OK/キャンセル, 閉じる, the file dialog, the calendar) in Japanese, and
    dates in Japanese order: Qt's qtbase_ja translation from PySide6's translations folder."""
    from PySide6.QtCore import QLibraryInfo, QLocale, QTranslator

    QLocale.setDefault(QLocale(QLocale.Language.Japanese, QLocale.Country.Japan))
    translator = QTranslator(app)
    folders = [QLibraryInfo.path(QLibraryInfo.LibraryPath.TranslationsPath)]
    bundle = getattr(sys, "_MEIPASS", None)  # the frozen Windows build (packaging/madoguchi.spec)
    if bundle:
        folders.append(str(Path(bundle) / "PySide6" / "translations"))
    for folder in folders:
        if translator.load(QLocale(QLocale.Language.Japanese), "qtbase", "_", folder):
            app.installTranslator(translator)
            break
    else:  # a build without Qt's translations: the buttons stay in English
        log.warning("qtbase_ja translation not found in %s", ", ".join(folders))
    return translator


def create_application(argv: list[str] | None = None) -> Any:
    from PySide6.QtGui import QFont
    from PySide6.QtWidgets import QApplication

    from ui.privacy import install_capture_guard

    app = QApplication.instance() or QApplication(argv or [sys.argv[0]])
    app.setApplicationName("Madoguchi")
    app.setApplicationDisplayName("窓口")
    family = _ui_font_family()
    if family:
        app.setFont(QFont(family, 10))
    if app.property("madoguchiJapanese") is None:
        app.setProperty("madoguchiJapanese", True)
        install_japanese(app)
    # Every top-level window is kept out of screen captures as it is shown (DESIGN.md §8).
    install_capture_guard(app)
    return app


def build_login_service(
    data_dir: Path, secret_store_factory: Any = None, jukinet: Any = None
) -> Any:
    """`jukinet`: the 住基ネット adapter (the demo's simulator; None: no 特例転入 here)."""
    from app.machine.setup import secret_store_for
    from app.services.login import LoginService
    from app.services.notifications import NotificationTools
    from printing import (
        render_certificate,
        render_daily_report,
        render_move_out_certificate,
        render_notification_form,
    )

    return LoginService(
        data_dir,
        render_certificate,
        daily_report_renderer=render_daily_report,
        # Windows: the DPAPI machine-scope file in the data folder; elsewhere the keyring.
        secret_store_factory=secret_store_factory or secret_store_for(Path(data_dir)),
        notification_tools=NotificationTools(
            render_notification_form, render_move_out_certificate, jukinet
        ),
    )


def build_main_window(session: Any, *, demo: Any = None) -> Any:
    """The main window with every part wired: card desk, audit viewer, printing, demo menu."""
    from ui.main_window import MainWindow
    from ui.print_job import print_document
    from ui.settings import Settings, SettingsDialog

    settings = Settings.beside(session.cache.path)

    # These run in background operations (ui.background): the print, then its audit entry.
    def print_issued(pdf: bytes, copies: int, issuance_no: str, printer: str | None) -> int:
        outcome = print_document(
            pdf, printer=printer, copies=copies, title=f"住民票の写し {issuance_no}"
        )
        session.record_print(issuance_no, outcome.pages)
        return outcome.pages

    def print_report(pdf: bytes, printer: str | None) -> int:
        from app.services.issuance import daily_report_target

        day = session.today()
        outcome = print_document(pdf, printer=printer, title=f"日計表 {day:%Y-%m-%d}")
        session.record_print(daily_report_target(day), outcome.pages)
        return outcome.pages

    def save_report(pdf: bytes, path: str) -> None:
        from app.fileio import atomic_write
        from app.services.issuance import ExportMedium, daily_report_target

        # Recorded first: an output that cannot be recorded does not happen.
        session.record_export(daily_report_target(session.today()), ExportMedium.PDF_FILE)
        atomic_write(Path(path), pdf)

    window = MainWindow(
        session,
        card_desk_factory=_card_desk_factory(demo),
        audit_viewer_factory=_audit_viewer,
        print_pdf=print_issued,
        print_report=print_report,
        save_report=save_report,
        settings=settings,
        demo_menu=_demo_menu(demo) if demo is not None else None,
        requester_card_reader=_requester_card_reader(session, demo),
        notification_tab_factory=_notification_tab_factory(demo, session),
    )
    from PySide6.QtGui import QAction

    settings_action = QAction("設定…", window)
    settings_action.triggered.connect(
        lambda: SettingsDialog(Settings.beside(session.cache.path), window).exec()
    )
    window.file_menu.insertAction(window.file_menu.actions()[0], settings_action)
    return window


def _audit_viewer(session: Any) -> Any:
    from ui.audit_viewer import AuditViewer

    return AuditViewer(
        session.auth.session, query=session.audit_log, verify=session.verify_audit_chain
    )


def _card_desk_factory(demo: Any) -> Any:
    from cli.card_desk_wiring import card_desk_widget

    return lambda session: card_desk_widget(session, demo=demo)


def _requester_card_reader(session: Any, demo: Any) -> Any:
    """The issuance dialog reads the requester's card through the card desk's reader path."""
    from app.auth.permissions import Permission

    if not session.can(Permission.CARD_READ):
        return None
    try:
        from cli.card_desk_wiring import requester_card_reader
    except ImportError:
        return None
    return requester_card_reader(session, demo=demo)


def _notification_tab_factory(demo: Any, session: Any) -> Any:
    """The 異動届 tab, printing through the terminal's printer, the card through the desk's
    reader path."""
    from ui.notification_tab import NotificationTab
    from ui.print_job import print_document as print_job
    from ui.settings import Settings

    def print_document(pdf: bytes, copies: int) -> int:
        # Runs in the tab's background operation (ui.print_job: vector to CUPS, raster on
        # Windows in the print child).
        printer = Settings.beside(session.cache.path).get("printer") or None
        return print_job(pdf, printer=printer, copies=copies, title="住民異動届").pages

    reader = None
    try:
        from cli.card_desk_wiring import notification_card_reader

        reader = notification_card_reader(session, demo=demo)
    except ImportError:  # pyscard missing: no card path
        pass

    return lambda s: NotificationTab(s, print_document=print_document, read_card=reader)


def _demo_menu(demo: Any) -> Any:
    def install(window: Any) -> None:
        from PySide6.QtGui import QAction

        menu = window.menuBar().addMenu("デモ")
        stop = QAction("中央サーバーを停止(オフラインの確認)", window)
        start = QAction("中央サーバーを再開", window)

        def do_stop() -> None:
            demo.server.stop()
            window.status.showMessage("デモ: 中央サーバーを停止しました。", 5000)
            window.sync_now()

        def do_start() -> None:
            demo.server.start()
            window.status.showMessage("デモ: 中央サーバーを再開しました。", 5000)
            window.sync_now()

        stop.triggered.connect(do_stop)
        start.triggered.connect(do_start)
        menu.addAction(stop)
        menu.addAction(start)
        menu.addSeparator()
        # Which virtual card lies on the reader: the resident's, or the moving-in family's
        # (特例転入 with the simulated 住基ネット, docs/notifications.md).
        from cli.card_desk_wiring import present_demo_card

        for label, name in (
            ("カード: 北見市の住民(demo_card)", "demo_card.json"),
            ("カード: 札幌市からの転入者(movein_card)", "movein_card.json"),
        ):
            action = QAction(label, window)
            action.triggered.connect(
                lambda _c=False, n=name, t=label: (
                    present_demo_card(n),
                    window.status.showMessage(f"デモ: {t}をリーダーに置きました。", 5000),
                )
            )
            menu.addAction(action)

    return install


def _warm_up(data_dir: Path) -> None:
    """Load what the first login and the main window need while the clerk types: the modules
    (httpx, pydantic models, SQLCipher, reportlab) and IPAmj明朝 (46 MB)."""
    try:
        import app.services.login  # noqa: F401
        import ui.main_window  # noqa: F401
        from printing import preload_fonts

        preload_fonts()
    except Exception as exc:  # the login itself reports any real problem
        log.warning("warm-up failed: %s", type(exc).__name__)


def run_gui(data_dir: str | Path | None = None, demo: Any = None) -> int:
    import threading

    app = create_application()
    # Between a logout and the next login no window is open: quit only when the login is closed.
    app.setQuitOnLastWindowClosed(False)
    from app.services.terminal import TerminalConfig, TerminalFiles
    from ui.login import LoginDialog

    data_dir = Path(data_dir) if data_dir else default_data_dir()
    from app.store.instance_lock import AlreadyRunning, InstanceLock

    try:  # held until the process ends
        instance = InstanceLock(data_dir).acquire()
    except AlreadyRunning as exc:
        from PySide6.QtWidgets import QMessageBox

        print(exc.message, file=sys.stderr)
        QMessageBox.critical(None, "窓口", exc.message)
        return 3
    files = TerminalFiles(data_dir)
    if demo is None and not files.is_enrolled():
        try:
            migrate_per_user_terminal(data_dir)
        except Exception as exc:  # shown; the wizard can still enroll the PC anew
            from ui.background import user_message

            log.warning("per-user terminal not migrated: %s", type(exc).__name__)
            from PySide6.QtWidgets import QMessageBox

            QMessageBox.warning(None, "窓口", user_message(exc))
    if not files.is_enrolled():
        from ui.enrollment_wizard import run_enrollment_wizard

        # First run: the city's IT administrator enrolls the PC (a clerk closes it).
        if not run_enrollment_wizard(data_dir):
            return 2
    # The server's password rule, for the forced change at login (the server checks again).
    from app.domain.passwords import PasswordRules, context_words_of

    rules = PasswordRules()
    try:
        terminal = TerminalConfig.load(files)
        label = f"{terminal.municipality_name} 端末 {terminal.terminal_no}"
        words = context_words_of(terminal.municipality_name, terminal.municipality_code)
        rules = PasswordRules(context_words=words)
    except Exception:  # the dialog still opens; the login call reports the problem
        label = ""
    threading.Thread(target=_warm_up, args=(data_dir,), name="warm-up", daemon=True).start()
    secret_store_factory = demo.secret_store_factory if demo is not None else None
    login_service: list[Any] = []

    def login(operator_id: str, password: str, new_password: str | None = None) -> Any:
        # Runs in a background operation; the warm-up has usually loaded everything by now.
        if not login_service:
            jukinet = demo.jukinet if demo is not None else None
            login_service.append(build_login_service(data_dir, secret_store_factory, jukinet))
        return login_service[0].login(operator_id, password, new_password)

    windows: list[Any] = []

    def show_login() -> None:
        dialog = LoginDialog(login, terminal_label=label, password_check=rules.problems)
        windows.append(dialog)
        dialog.logged_in.connect(show_main)
        dialog.rejected.connect(app.quit)
        dialog.show()

    def show_main(session: Any) -> None:
        window = build_main_window(session, demo=demo)
        windows.append(window)
        window.logged_out.connect(show_login)
        window.show_restored()
        window.start()

    show_login()
    # Everything built so far lives as long as the program: keep it out of the garbage
    # collector's scans, whose pauses otherwise stall the GUI during a long sync.
    gc.freeze()
    try:
        return int(app.exec())
    finally:
        instance.release()
