"""The counter's main window: 住民検索 and 世帯, カード窓口, 異動届, 届出審査, 交付履歴, 監査 (by
role), status bar.

A thin layer: it shows what app.services returns and calls it through background operations.
The tabs are built from the roles of the operator at the counter, and built again when another
operator takes the locked screen over. The window opens maximised the first time and remembers
its geometry and maximised state (settings.json of the terminal).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from PySide6.QtCore import QByteArray, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.auth.permissions import ROLE_LABELS, Permission, Role
from app.domain.certificates import FORM_LABELS
from app.domain.records import Household
from app.services.session_api import CounterSessionApi
from app.sync.errors import ClientTooOld
from ui.approval import ApprovalDialog
from ui.background import run_in_background, user_message
from ui.card_desk import CardDeskWidget
from ui.daily_report import DailyReportWindow, PrintReport, SaveReport
from ui.fkeys import FKeyBar
from ui.held_events import HeldEventsPanel
from ui.household_view import HouseholdView
from ui.idle_lock import IdleLock
from ui.issuance_dialog import IssuanceDialog, PrintFn
from ui.notification_review import ReviewTab
from ui.notification_tab import NotificationTab, show_decisions
from ui.password_dialog import PasswordChangeDialog
from ui.person_detail import PersonDetailDialog
from ui.privacy import exclude_from_capture
from ui.search_panel import SearchPanel
from ui.settings import Settings
from ui.status_bar import CounterStatusBar

log = logging.getLogger(__name__)

SYNC_INTERVAL_MS = 60_000
STATUS_INTERVAL_MS = 5_000
SYNC_STOP_WAIT_S = 30
GEOMETRY_KEY = "main_window_geometry"
MAXIMIZED_KEY = "main_window_maximized"


class _ProgressRelay(QObject):
    """Carries the engine's progress callback (worker thread) to the GUI thread."""

    progressed = Signal(int, int)


def _requester_label(kind: str) -> str:
    from app.domain.certificates import REQUESTER_LABELS, RequesterKind

    try:
        return REQUESTER_LABELS[RequesterKind(kind)]
    except ValueError:
        return kind


def _reprint_link(i: Any) -> str:
    """The 交付履歴's link between a reprint and the issuance it voided (issue 17)."""
    if getattr(i, "replaced_by", None):
        return f"→ {i.replaced_by} で再交付"
    if getattr(i, "replaces", None):
        return f"← {i.replaces} の再交付"
    return ""


class IssuanceHistory(QWidget):
    """交付履歴 of the day, and the 日計表."""

    COLUMNS = (
        "交付番号",
        "時刻",
        "職員ID",
        "様式",
        "世帯ID",
        "人数",
        "通数",
        "手数料",
        "請求者",
        "交付方法",
        "状態",
        "印刷し直し",
    )

    def __init__(
        self,
        session: CounterSessionApi,
        show_report: Callable[[bytes], None],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.session = session
        self._show_report = show_report
        self.table = QTableWidget(0, len(self.COLUMNS), objectName="historyTable")
        self.table.setHorizontalHeaderLabels(self.COLUMNS)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        # The 交付番号 is what a clerk reads out: it is never cut.
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.summary = QLabel("", objectName="historySummary")
        self.summary.setWordWrap(True)
        refresh = QPushButton("更新(&U)", objectName="historyRefresh")
        refresh.clicked.connect(self.refresh)
        self.report_button = QPushButton("日計表…(&D)", objectName="dailyReportButton")
        self.report_button.clicked.connect(self.daily_report)
        self.void_button = QPushButton("選んだ交付を取消…(&V)", objectName="voidButton")
        self.void_button.clicked.connect(self.void_selected)
        self.void_button.setVisible(session.can(Permission.VOID_CERTIFICATE))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        row = QHBoxLayout()
        row.addWidget(self.summary, 1)
        row.addWidget(refresh)
        row.addWidget(self.void_button)
        row.addWidget(self.report_button)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.table, 1)

    def refresh(self) -> None:
        run_in_background(self, self.session.issuances_today, self._show, self._failed)

    def _failed(self, exc: BaseException) -> None:
        self.summary.setText(user_message(exc))

    def _show(self, issuances: list[Any]) -> None:
        self.table.setRowCount(len(issuances))
        fees = copies = 0
        for r, i in enumerate(issuances):
            at = (
                datetime.fromisoformat(str(i.issued_at))
                if not isinstance(i.issued_at, datetime)
                else i.issued_at
            )
            values = (
                i.issuance_no,
                at.astimezone().strftime("%H:%M"),
                i.operator_id,
                {k.value: label for k, label in FORM_LABELS.items()}.get(i.kind, i.kind),
                i.household_id,
                str(len(i.person_ids)),
                str(i.copies),
                f"{i.fee_yen:,}円",
                _requester_label(i.requester_kind),
                "郵送" if i.mailed else "窓口",
                "取消" if i.voided else "交付",
                _reprint_link(i),
            )
            for c, v in enumerate(values):
                self.table.setItem(r, c, QTableWidgetItem(v))
            if not i.voided:
                fees += i.fee_yen
                copies += i.copies
        mailed = sum(1 for i in issuances if i.mailed and not i.voided)
        self.summary.setText(
            f"本日の交付: {len(issuances)}件（うち郵送 {mailed}件）、{copies}通、手数料 {fees:,}円"
        )

    def void_selected(self) -> None:
        """取消 (監督者): the selected issuance, with a reason that the audit trail keeps."""
        from PySide6.QtWidgets import QInputDialog

        rows = {i.row() for i in self.table.selectedIndexes()}
        if len(rows) != 1:
            self.summary.setText("取り消す交付を1件選んでください。")
            return
        no = self.table.item(rows.pop(), 0).text()
        reason, ok = QInputDialog.getText(self, "交付の取消", f"交付番号 {no} を取り消す理由:")
        if not ok:
            return
        session = self.session
        run_in_background(
            self, lambda: session.void(no, reason), lambda _r: self.refresh(), self._failed
        )

    def daily_report(self) -> None:
        self.report_button.setEnabled(False)

        def shown(pdf: bytes) -> None:
            self.report_button.setEnabled(True)
            self._show_report(pdf)

        def failed(exc: BaseException) -> None:
            self.report_button.setEnabled(True)
            self._failed(exc)

        run_in_background(self, self.session.daily_report_pdf, shown, failed)


class MainWindow(QMainWindow):
    logged_out = Signal()
    synced = Signal(object)  # SyncReport, after the status bar shows it
    rebuilt = Signal()  # the tabs were built again for the operator now at the counter

    def __init__(
        self,
        session: CounterSessionApi,
        *,
        card_desk_factory: Callable[[CounterSessionApi], QWidget] | None = None,
        audit_viewer_factory: Callable[[CounterSessionApi], QWidget] | None = None,
        print_pdf: PrintFn | None = None,
        print_report: PrintReport | None = None,
        save_report: SaveReport | None = None,
        settings: Settings | None = None,
        demo_menu: Callable[[QMainWindow], None] | None = None,
        requester_card_reader: Any = None,
        notification_tab_factory: Callable[[CounterSessionApi], NotificationTab] | None = None,
        sync_interval_ms: int = SYNC_INTERVAL_MS,
        idle_clock: Callable[[], float] | None = None,
    ) -> None:
        super().__init__()
        self.setObjectName("mainWindow")
        self.session = session
        self._card_desk_factory = card_desk_factory
        self._audit_viewer_factory = audit_viewer_factory
        self._notification_tab_factory = notification_tab_factory
        self._print_pdf = print_pdf
        self._print_report = print_report
        self._save_report = save_report
        self.settings = settings
        self._requester_card_reader = requester_card_reader  # issuance: the requester's card
        self._sync_running = False
        self._asking_reconnect = False
        self._closing = False
        self._cancel_sync = threading.Event()
        self._sync_idle = threading.Event()  # set while no sync runs (logout waits for it)
        self._sync_idle.set()
        self.setWindowTitle(f"窓口 — {session.config.municipality_name} 端末 {session.terminal_no}")
        self.resize(1280, 760)

        self.tabs = QTabWidget(objectName="mainTabs")
        self.search_panel: SearchPanel | None = None
        self.household_view: HouseholdView | None = None
        self.card_desk: QWidget | None = None
        # 書かない窓口 (issue 20): the clerk's 異動届, the head office's 届出審査.
        self.notification_tab: NotificationTab | None = None
        self.history: IssuanceHistory | None = None
        self.held_events: HeldEventsPanel | None = None
        self.tabs.currentChanged.connect(self._tab_changed)
        self.fkeys = FKeyBar(self)
        central = QWidget(objectName="mainCentral")
        cv = QVBoxLayout(central)
        cv.setContentsMargins(0, 0, 0, 0)
        cv.setSpacing(0)
        cv.addWidget(self.tabs, 1)
        cv.addWidget(self.fkeys)
        self.setCentralWidget(central)

        self.status = CounterStatusBar(self)
        self.setStatusBar(self.status)
        self._relay = _ProgressRelay(self)
        self._relay.progressed.connect(self.status.show_progress)

        self.file_menu = menu = self.menuBar().addMenu("ファイル(&F)")
        sync_now = QAction("今すぐ同期", self)
        sync_now.triggered.connect(self.sync_now)
        menu.addAction(sync_now)
        change = QAction("パスワードの変更…", self)
        change.triggered.connect(self.change_password)
        menu.addAction(change)
        logout = QAction("ログアウト", self)
        logout.setShortcut(QKeySequence("Ctrl+Shift+Q"))
        logout.triggered.connect(self.close)
        menu.addAction(logout)
        if demo_menu is not None:
            demo_menu(self)

        self._build_tabs()
        self._build_fkeys()

        self.sync_timer = QTimer(self)
        self.sync_timer.setInterval(sync_interval_ms)
        self.sync_timer.timeout.connect(self.sync_now)
        self.status_timer = QTimer(self)
        self.status_timer.setInterval(STATUS_INTERVAL_MS)
        self.status_timer.timeout.connect(self.refresh_status)

        lock_kwargs: dict[str, Any] = {}
        if idle_clock is not None:
            lock_kwargs["clock"] = idle_clock
        self.idle_lock = IdleLock(
            self,
            unlock=session.auth.unlock,
            takeover=session.auth.takeover,
            policy=session.idle_policy(),
            on_lock=session.auth.lock,
            operator_label=lambda: (
                f"{session.operator.display_name}(職員ID {session.operator.operator_id})"
            ),
            **lock_kwargs,
        )
        self.idle_lock.taken_over.connect(lambda _s: self.rebuild_for_operator())
        self.idle_lock.session_ended.connect(self.close)
        # Windows: keep personal data out of screenshots and screen sharing (DESIGN.md §8).
        exclude_from_capture(self)

    # --- the tabs, by the roles of the operator at the counter ------------------------------

    def _build_tabs(self) -> None:
        session = self.session
        if session.can(Permission.SEARCH):
            self.search_panel = SearchPanel(session)
            reveal = (
                session.reveal_protected_address if session.can(Permission.REVEAL_ADDRESS) else None
            )
            reveal_number = (
                session.reveal_my_number if session.can(Permission.REVEAL_MY_NUMBER) else None
            )
            self.household_view = HouseholdView(
                reveal_address=reveal,
                person_detail=session.can(Permission.VIEW_PERSON_DETAIL),
                reveal_my_number=reveal_number,
            )
            splitter = QSplitter(objectName="searchSplitter")
            splitter.addWidget(self.search_panel)
            splitter.addWidget(self.household_view)
            splitter.setChildrenCollapsible(False)
            splitter.setStretchFactor(0, 6)
            splitter.setStretchFactor(1, 5)
            # The stretch factors share only what is left over the panes' size hints, and the
            # household's hint is wide: at 1366 px the search list got ~515 px and its 住所
            # column showed only 「…」. Proportional sizes give the list 6/11 of the width.
            splitter.setSizes([6000, 5000])
            self.tabs.addTab(splitter, "住民検索")
            self.search_panel.household_chosen.connect(self.open_household)
            self.search_panel.cleared.connect(self.household_view.clear)
            self.household_view.issue_requested.connect(self.open_issuance)
            self.household_view.detail_requested.connect(self.open_person_detail)
            self.household_view.issue_button.setVisible(session.can(Permission.ISSUE_CERTIFICATE))
        if self._card_desk_factory is not None and session.can(Permission.CARD_READ):
            self.card_desk = self._card_desk_factory(session)
            if isinstance(self.card_desk, CardDeskWidget):
                self.card_desk.household_requested.connect(self._open_from_card)
            self.tabs.addTab(self.card_desk, "カード窓口")
        factory = self._notification_tab_factory
        if factory is not None and session.can(Permission.FILE_NOTIFICATION):
            self.notification_tab = factory(session)
            self.notification_tab.filed.connect(lambda _id: self.sync_now())
            self.tabs.addTab(self.notification_tab, "異動届")
        if session.can(Permission.REVIEW_NOTIFICATION):
            self.tabs.addTab(ReviewTab(session), "届出審査")
        if session.can(Permission.DAILY_REPORT):
            self.history = IssuanceHistory(session, self.show_daily_report)
            self.tabs.addTab(self.history, "交付履歴")
        if session.can(Permission.APPROVE):  # 送信保留: the supervisor's list (issue 21)
            self.held_events = HeldEventsPanel(session)
            self.tabs.addTab(self.held_events, "送信保留")
        if self._audit_viewer_factory is not None and session.can(Permission.VIEW_AUDIT):
            self.tabs.addTab(self._audit_viewer_factory(session), "監査ログ")
        if self.tabs.count() == 0:
            self.tabs.addTab(QLabel("この職員に使える機能はありません。"), "—")
        self._update_operator_label()

    def _build_fkeys(self) -> None:
        self.fkeys.clear()
        if self.search_panel is not None:
            self.fkeys.add(1, self.key_search)
            self.fkeys.add(2, self.key_clear)
            if self.session.can(Permission.ISSUE_CERTIFICATE):
                self.fkeys.add(3, self.key_issue)
        if isinstance(self.card_desk, CardDeskWidget):
            desk = self.card_desk
            self.fkeys.add(6, lambda: self._card_key(desk.pin_button))
            self.fkeys.add(7, lambda: self._card_key(desk.b_button))
        if self.search_panel is not None or isinstance(self.card_desk, CardDeskWidget):
            self.fkeys.add(8, self.key_open_household)
        self.fkeys.add(9, self.sync_now)
        self.fkeys.add(12, self.key_back)
        self._tab_changed(self.tabs.currentIndex())

    def rebuild_for_operator(self) -> None:
        """Another operator took the locked screen over: nothing of the previous operator's work
        stays (their customer, their dialogs), and the tabs follow the new operator's roles."""
        for dialog in self.findChildren(QDialog):
            if dialog.isVisible():
                dialog.reject()
        while self.tabs.count():
            widget = self.tabs.widget(0)
            self.tabs.removeTab(0)
            widget.deleteLater()
        self.search_panel = self.household_view = None
        self.card_desk = self.history = None
        self.held_events = None
        self.notification_tab = None
        self._build_tabs()
        self._build_fkeys()
        self.tabs.setCurrentIndex(0)
        self.focus_first_field()
        self.rebuilt.emit()

    def _update_operator_label(self) -> None:
        op = self.session.operator
        roles = "・".join(
            ROLE_LABELS.get(Role(r), r) for r in op.roles if r in Role._value2member_map_
        )
        self.status.show_operator(f"{op.display_name}(職員ID {op.operator_id}・{roles})")

    def _tab_changed(self, index: int) -> None:
        widget = self.tabs.widget(index)
        if self.history is not None and widget is self.history:
            self.history.refresh()
        if self.held_events is not None and widget is self.held_events:
            self.held_events.refresh()
        # A tab with keys of its own (the 異動届 tab's F5 届書, F9 届出) has them to itself: the
        # bar's key would make them ambiguous, and Qt then fires neither.
        own = (
            {sc.key().toString() for sc in widget.findChildren(QShortcut)}
            if widget is not None
            else set()
        )
        for n, shortcut in self.fkeys.shortcuts.items():
            free = f"F{n}" not in own
            shortcut.setEnabled(free)
            self.fkeys.buttons[n].setEnabled(free)

    def focus_first_field(self) -> None:
        """The cursor where a clerk starts: 氏名 of the search."""
        if self.search_panel is not None:
            self.tabs.setCurrentIndex(self.tabs.indexOf(self.search_panel.parentWidget()))
            self.search_panel.name.setFocus(Qt.FocusReason.OtherFocusReason)

    # --- function keys -------------------------------------------------------------------------

    def _search_tab(self) -> bool:
        if self.search_panel is None:
            return False
        self.tabs.setCurrentIndex(self.tabs.indexOf(self.search_panel.parentWidget()))
        return True

    def key_search(self) -> None:
        if self._search_tab():
            assert self.search_panel is not None
            self.search_panel.run_search()

    def key_clear(self) -> None:
        if self._search_tab():
            assert self.search_panel is not None
            self.search_panel.clear()

    def key_issue(self) -> None:
        view = self.household_view
        if view is not None and view.household is not None and view.issue_button.isEnabled():
            view.issue_button.click()

    def key_open_household(self) -> None:
        current = self.tabs.currentWidget()
        if isinstance(self.card_desk, CardDeskWidget) and current is self.card_desk:
            self.card_desk.open_household_button.click()
        elif self.search_panel is not None and self._search_tab():
            self.search_panel.open_row(self.search_panel.selected_row())

    def _card_key(self, button: QPushButton) -> None:
        if self.card_desk is not None:
            self.tabs.setCurrentWidget(self.card_desk)
            if button.isEnabled():
                button.click()

    def key_back(self) -> None:
        self.focus_first_field()

    # --- window state --------------------------------------------------------------------------

    def show_restored(self) -> None:
        """Show with the geometry of the last session, maximised the first time."""
        settings = self.settings
        geometry = settings.get(GEOMETRY_KEY) if settings is not None else None
        if geometry:
            self.restoreGeometry(QByteArray.fromBase64(str(geometry).encode("ascii")))
        maximized = settings.get(MAXIMIZED_KEY, True) if settings is not None else True
        if maximized:
            self.showMaximized()
        else:
            self.show()

    def window_state_values(self) -> dict[str, Any]:
        return {
            GEOMETRY_KEY: bytes(self.saveGeometry().toBase64().data()).decode("ascii"),
            MAXIMIZED_KEY: self.isMaximized(),
        }

    def start(self) -> None:
        """Timers, the idle lock and a first sync; separate from __init__ so tests control it."""
        self.idle_lock.install()
        self.sync_timer.start()
        self.status_timer.start()
        self.refresh_status()
        self.sync_now()
        self.activateWindow()
        QTimer.singleShot(0, self.focus_first_field)

    # --- sync ------------------------------------------------------------------------------------

    def refresh_status(self) -> None:
        run_in_background(self, self.session.status, self.status.show_status, lambda _e: None)

    def sync_now(self) -> None:
        # Under the idle lock the session refuses every call (app.services): wait for the unlock.
        if self._sync_running or self._closing or self.idle_lock.is_locked:
            return
        self._sync_running = True
        relay = self._relay
        cancel, idle = self._cancel_sync, self._sync_idle
        session = self.session
        idle.clear()

        def work() -> Any:
            try:
                return session.sync_once(progress=relay.progressed.emit, cancel=cancel)
            finally:
                idle.set()

        run_in_background(self, work, self._synced, self._sync_failed)

    def _synced(self, report: Any) -> None:
        self._sync_running = False
        if self._closing:  # the window was closed (logout) while the sync ran
            return
        self.status.hide_progress()
        self.status.showMessage(report.message, 8000)
        too_old = isinstance(report.error, ClientTooOld)
        self.status.show_update_required(report.error.message if too_old else None)
        if report.notices:
            certificates = all(n.event_type != "notification_filed" for n in report.notices)
            QMessageBox.warning(
                self,
                "交付後に住民票が更新されていました" if certificates else "本庁で確認される処理",
                "\n\n".join(n.text for n in report.notices),
            )
        if self.notification_tab is not None:  # the head office's answers to our 届出
            run_in_background(
                self,
                self.session.notification_decisions,
                self._show_decisions,
                lambda _e: None,
            )
        if report.terminal_action != "none":
            QMessageBox.critical(self, "端末の登録取消", report.message)
        elif self.session.needs_reconnect(report) and not self._asking_reconnect:
            self.ask_reconnect()
        self.refresh_status()
        self.synced.emit(report)

    def _show_decisions(self, decisions: list[Any]) -> None:
        if not self._closing:  # a late answer after logout opens nothing
            show_decisions(self, decisions)

    def ask_reconnect(self) -> None:
        """The server is back but this session began offline (or expired): one password prompt,
        then the outbox drains. Declining keeps working offline; the next sync asks again."""
        from PySide6.QtWidgets import QInputDialog, QLineEdit

        self._asking_reconnect = True
        try:
            password, ok = QInputDialog.getText(
                self,
                "中央サーバーに再接続",
                "中央サーバーに接続できるようになりました。\n"
                "未送信のデータを送るため、パスワードを入力してください。",
                QLineEdit.EchoMode.Password,
            )
            if not ok or not password:
                return
            session = self.session
            run_in_background(
                self,
                lambda: session.reconnect(password),
                lambda _r: self.sync_now(),
                lambda e: QMessageBox.warning(self, "再接続できません", user_message(e)),
            )
        finally:
            self._asking_reconnect = False

    def _sync_failed(self, exc: BaseException) -> None:
        self._sync_running = False
        self.status.hide_progress()
        if isinstance(exc, ClientTooOld):
            self.status.show_update_required(exc.message)
        self.status.showMessage(user_message(exc), 8000)
        self.refresh_status()

    # --- search → household → issuance ----------------------------------------------------------

    def open_household(self, household_id: str, _person_id: str = "") -> None:
        view = self.household_view
        if view is not None:
            view.clear()  # never the previous household while the next one loads

        def shown(household: Household) -> None:
            if self.household_view is view and view is not None:
                view.show_household(household, self.session.today())

        session = self.session
        run_in_background(
            self,
            lambda: session.open_household(household_id),
            shown,
            lambda e: QMessageBox.warning(self, "世帯を開けません", user_message(e)),
        )

    def _open_from_card(self, household_id: str) -> None:
        if self._search_tab():
            self.open_household(household_id)

    def change_password(self) -> PasswordChangeDialog:
        """The operator's own change (online): checked by the server's rule as typed."""
        session = self.session
        dialog = PasswordChangeDialog(
            session.operator.operator_id,
            session.change_password,
            lambda password, _op, previous: session.password_problems(password, previous),
            parent=self,
        )
        dialog.changed.connect(
            lambda _r: self.status.showMessage("パスワードを変更しました。", 8000)
        )
        dialog.open()
        return dialog

    def approve_dialog(
        self, situation: str, request: Any, household: Household, replaces: str | None = None
    ) -> Any:
        """The supervisor's approval of this request (a one-time token, app.services.issuance);
        `replaces`: of a reprint of that 交付番号."""
        session = self.session
        dialog = ApprovalDialog(
            lambda sup, pw, reason: session.approve(
                sup, pw, reason, request, household, replaces=replaces
            ),
            situation=situation,
            parent=self,
        )
        return dialog.approval if dialog.exec() else None

    def _printer(self) -> str:
        return str(self.settings.get("printer", "") or "") if self.settings is not None else ""

    def open_issuance(self, household: Household) -> IssuanceDialog:
        dialog = IssuanceDialog(
            self.session,
            household,
            approve_dialog=self.approve_dialog,
            print_pdf=self._print_pdf,
            printer=self._printer(),
            read_card=self._requester_card_reader,
            parent=self,
        )
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        # An issuance leaves an event in the outbox: send it now rather than at the next tick.
        dialog.finished.connect(lambda _r: self.sync_now())
        dialog.open()
        return dialog

    def open_person_detail(self, person_id: str) -> PersonDetailDialog | None:
        """個人の詳細 of a member of the household on screen (audited by the session)."""
        view = self.household_view
        household = view.household if view is not None else None
        if household is None:
            return None
        dialog = PersonDetailDialog(
            self.session, household.member(person_id), household, parent=self
        )
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def show_daily_report(self, pdf: bytes) -> DailyReportWindow:
        window = DailyReportWindow(
            pdf,
            self.session.today(),
            print_report=self._print_report,
            save_report=self._save_report,
            printer=self._printer(),
            parent=self,
        )
        window.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        window.show()
        return window

    # --- closing ---------------------------------------------------------------------------------

    def closeEvent(self, event: QCloseEvent) -> None:
        """Logout runs in the background (its audit entry and closing the cache wait for the
        cache's lock); `logged_out` follows when it is done."""
        if self._closing:
            event.accept()
            return
        self._closing = True
        self.sync_timer.stop()
        self.status_timer.stop()
        self.idle_lock.uninstall()
        self._cancel_sync.set()
        settings, values, session = self.settings, self.window_state_values(), self.session
        idle = self._sync_idle

        def work() -> None:
            # The sync was asked to stop; logout closes the cache, so not under a running sync.
            idle.wait(SYNC_STOP_WAIT_S)
            try:
                if settings is not None:
                    for key, value in values.items():
                        settings.set(key, value)
                    settings.write()
            except OSError as exc:  # the window's size is not worth a failed logout
                log.warning("window state not saved: %s", type(exc).__name__)
            session.logout()

        def failed(exc: BaseException) -> None:
            log.warning("logout failed: %s", type(exc).__name__)
            self.logged_out.emit()

        run_in_background(self, work, lambda _r: self.logged_out.emit(), failed)
        super().closeEvent(event)
