"""The counter's main window: 住民検索 and 世帯, カード窓口, 異動届, 届出審査, 交付履歴, 監査 (by
role), status bar.

A thin layer: it shows what app.services returns and calls it through background operations.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
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
from ui.held_events import HeldEventsPanel
from ui.household_view import HouseholdView
from ui.idle_lock import IdleLock
from ui.issuance_dialog import IssuanceDialog
from ui.notification_review import ReviewTab
from ui.notification_tab import NotificationTab, show_decisions
from ui.password_dialog import PasswordChangeDialog
from ui.privacy import exclude_from_capture
from ui.search_panel import SearchPanel
from ui.status_bar import CounterStatusBar

log = logging.getLogger(__name__)

SYNC_INTERVAL_MS = 60_000
STATUS_INTERVAL_MS = 5_000


class _ProgressRelay(QObject):
    """Carries the engine's progress callback (worker thread) to the GUI thread."""

    progressed = Signal(int, int)


def _requester_label(kind: str) -> str:
    from app.domain.certificates import REQUESTER_LABELS, RequesterKind

    try:
        return REQUESTER_LABELS[RequesterKind(kind)]
    except ValueError:
        return kind


class IssuanceHistory(QWidget):
    """交付履歴 of the day, and the 日計表 as a PDF."""

    COLUMNS = (
        "交付番号",
        "時刻",
        "職員",
        "様式",
        "世帯ID",
        "人数",
        "通数",
        "手数料",
        "請求者",
        "交付方法",
        "状態",
    )

    def __init__(
        self, session: CounterSessionApi, show_pdf: Callable[[bytes, str], None], parent=None
    ) -> None:
        super().__init__(parent)
        self.session = session
        self._show_pdf = show_pdf
        self.table = QTableWidget(0, len(self.COLUMNS), objectName="historyTable")
        self.table.setHorizontalHeaderLabels(self.COLUMNS)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.summary = QLabel("", objectName="historySummary")
        refresh = QPushButton("更新")
        refresh.clicked.connect(self.refresh)
        self.report_button = QPushButton("日計表(PDF)", objectName="dailyReportButton")
        self.report_button.clicked.connect(self.daily_report)
        self.void_button = QPushButton("選んだ交付を取消…", objectName="voidButton")
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
        run_in_background(
            self, lambda: self.session.void(no, reason), lambda _r: self.refresh(), self._failed
        )

    def daily_report(self) -> None:
        run_in_background(
            self,
            self.session.daily_report_pdf,
            lambda pdf: self._show_pdf(pdf, "日計表"),
            self._failed,
        )


class MainWindow(QMainWindow):
    logged_out = Signal()
    synced = Signal(object)  # SyncReport, after the status bar shows it

    def __init__(
        self,
        session: CounterSessionApi,
        *,
        card_desk_factory: Callable[[CounterSessionApi], QWidget] | None = None,
        audit_viewer_factory: Callable[[CounterSessionApi], QWidget] | None = None,
        print_pdf: Callable[[bytes, int, str], int] | None = None,
        demo_menu: Callable[[QMainWindow], None] | None = None,
        requester_card_reader: Any = None,
        notification_tab_factory: Callable[[CounterSessionApi], NotificationTab] | None = None,
        sync_interval_ms: int = SYNC_INTERVAL_MS,
        idle_clock: Callable[[], float] | None = None,
    ) -> None:
        super().__init__()
        self.setObjectName("mainWindow")
        self.session = session
        self._print_pdf = print_pdf
        self._requester_card_reader = requester_card_reader  # issuance: the requester's card
        self._sync_running = False
        self._asking_reconnect = False
        self._cancel_sync = threading.Event()
        self.setWindowTitle(f"窓口 — {session.config.municipality_name} 端末 {session.terminal_no}")
        self.resize(1280, 800)

        self.tabs = QTabWidget(objectName="mainTabs")
        self.search_panel: SearchPanel | None = None
        self.household_view: HouseholdView | None = None
        if session.can(Permission.SEARCH):
            self.search_panel = SearchPanel(session)
            reveal = session.reveal_my_number if session.can(Permission.REVEAL_MY_NUMBER) else None
            self.household_view = HouseholdView(reveal_my_number=reveal)
            splitter = QSplitter()
            splitter.addWidget(self.search_panel)
            splitter.addWidget(self.household_view)
            splitter.setSizes([560, 720])
            self.tabs.addTab(splitter, "住民検索")
            self.search_panel.household_chosen.connect(self.open_household)
            self.household_view.issue_requested.connect(self.open_issuance)
            self.household_view.issue_button.setVisible(session.can(Permission.ISSUE_CERTIFICATE))
        if card_desk_factory is not None and session.can(Permission.CARD_READ):
            self.tabs.addTab(card_desk_factory(session), "カード窓口")
        # 書かない窓口 (issue 20): the clerk's 異動届, the head office's 届出審査.
        self.notification_tab: NotificationTab | None = None
        if notification_tab_factory is not None and session.can(Permission.FILE_NOTIFICATION):
            self.notification_tab = notification_tab_factory(session)
            self.notification_tab.filed.connect(lambda _id: self.sync_now())
            self.tabs.addTab(self.notification_tab, "異動届")
        if session.can(Permission.REVIEW_NOTIFICATION):
            self.tabs.addTab(ReviewTab(session), "届出審査")
        self.history: IssuanceHistory | None = None
        if session.can(Permission.DAILY_REPORT):
            self.history = IssuanceHistory(session, self.show_pdf_window)
            self.tabs.addTab(self.history, "交付履歴")
            self.tabs.currentChanged.connect(self._tab_changed)
        self.held_events: HeldEventsPanel | None = None
        if session.can(Permission.APPROVE):  # 送信保留: the supervisor's list (issue 21)
            self.held_events = HeldEventsPanel(session)
            self.tabs.addTab(self.held_events, "送信保留")
            if self.history is None:
                self.tabs.currentChanged.connect(self._tab_changed)
        if audit_viewer_factory is not None and session.can(Permission.VIEW_AUDIT):
            self.tabs.addTab(audit_viewer_factory(session), "監査ログ")
        if self.tabs.count() == 0:
            self.tabs.addTab(QLabel("この職員に使える機能はありません。"), "—")
        self.setCentralWidget(self.tabs)

        self.status = CounterStatusBar(self)
        self.setStatusBar(self.status)
        self._update_operator_label()
        self._relay = _ProgressRelay(self)
        self._relay.progressed.connect(self.status.show_progress)

        self.file_menu = menu = self.menuBar().addMenu("ファイル")
        sync_now = QAction("今すぐ同期", self)
        sync_now.triggered.connect(self.sync_now)
        menu.addAction(sync_now)
        change = QAction("パスワードの変更…", self)
        change.triggered.connect(self.change_password)
        menu.addAction(change)
        logout = QAction("ログアウト", self)
        logout.triggered.connect(self.close)
        menu.addAction(logout)
        if demo_menu is not None:
            demo_menu(self)

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
                f"{session.operator.display_name}({session.operator.operator_id})"
            ),
            **lock_kwargs,
        )
        self.idle_lock.taken_over.connect(lambda _s: self._update_operator_label())
        self.idle_lock.session_ended.connect(self.close)
        # Windows: keep personal data out of screenshots and screen sharing (DESIGN.md §8).
        exclude_from_capture(self)

    def start(self) -> None:
        """Timers, the idle lock and a first sync; separate from __init__ so tests control it."""
        self.idle_lock.install()
        self.sync_timer.start()
        self.status_timer.start()
        self.refresh_status()
        self.sync_now()

    def _update_operator_label(self) -> None:
        op = self.session.operator
        roles = "・".join(
            ROLE_LABELS.get(Role(r), r) for r in op.roles if r in Role._value2member_map_
        )
        self.status.show_operator(f"{op.display_name}({op.operator_id}・{roles})")

    def _tab_changed(self, index: int) -> None:
        if self.history is not None and self.tabs.widget(index) is self.history:
            self.history.refresh()
        if self.held_events is not None and self.tabs.widget(index) is self.held_events:
            self.held_events.refresh()

    # --- sync ------------------------------------------------------------------------------------

    def refresh_status(self) -> None:
        run_in_background(self, self.session.status, self.status.show_status, lambda _e: None)

    def sync_now(self) -> None:
        # Under the idle lock the session refuses every call (app.services): wait for the unlock.
        if self._sync_running or self.idle_lock.is_locked:
            return
        self._sync_running = True
        relay = self._relay
        cancel = self._cancel_sync

        def work() -> Any:
            return self.session.sync_once(progress=relay.progressed.emit, cancel=cancel)

        run_in_background(self, work, self._synced, self._sync_failed)

    def _synced(self, report: Any) -> None:
        self._sync_running = False
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
                lambda decisions: show_decisions(self, decisions),
                lambda _e: None,
            )
        if report.terminal_action != "none":
            QMessageBox.critical(self, "端末の登録取消", report.message)
        elif self.session.needs_reconnect(report) and not self._asking_reconnect:
            self.ask_reconnect()
        self.refresh_status()
        self.synced.emit(report)

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
            run_in_background(
                self,
                lambda: self.session.reconnect(password),
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
        def shown(household: Household) -> None:
            assert self.household_view is not None
            self.household_view.show_household(household, self.session.today())

        run_in_background(
            self,
            lambda: self.session.open_household(household_id),
            shown,
            lambda e: QMessageBox.warning(self, "世帯を開けません", user_message(e)),
        )

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

    def approve_dialog(self, situation: str, request: Any, household: Household) -> Any:
        dialog = ApprovalDialog(
            lambda sup, pw, reason: self.session.approve(sup, pw, reason, request, household),
            situation=situation,
            parent=self,
        )
        return dialog.approval if dialog.exec() else None

    def open_issuance(self, household: Household) -> IssuanceDialog:
        dialog = IssuanceDialog(
            self.session,
            household,
            approve_dialog=self.approve_dialog,
            print_pdf=self._print_issued if self._print_pdf else None,
            read_card=self._requester_card_reader,
            parent=self,
        )
        # An issuance leaves an event in the outbox: send it now rather than at the next tick.
        dialog.finished.connect(lambda _r: self.sync_now())
        dialog.open()
        return dialog

    def _print_issued(self, pdf: bytes, copies: int, issuance_no: str) -> int:
        assert self._print_pdf is not None
        return self._print_pdf(pdf, copies, issuance_no)

    def show_pdf_window(self, pdf: bytes, title: str) -> None:
        from ui.pdf_preview import PdfPreview

        view = PdfPreview(self)
        view.setWindowFlag(Qt.WindowType.Window, True)
        view.setWindowTitle(title)
        view.resize(800, 1000)
        view.show_pdf(pdf)
        view.show()

    # --- closing ---------------------------------------------------------------------------------

    def closeEvent(self, event: QCloseEvent) -> None:
        self.sync_timer.stop()
        self.status_timer.stop()
        self.idle_lock.uninstall()
        self._cancel_sync.set()
        try:
            self.session.logout()
        except Exception as exc:
            log.warning("logout failed: %s", type(exc).__name__)
        self.logged_out.emit()
        super().closeEvent(event)
