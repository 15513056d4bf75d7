"""The status bar: online/offline, the cache's age, the outbox length, and sync progress.

It always shows where the terminal stands (DESIGN.md §5); it never blocks: the snapshot it reads
(`session.status()`) is cheap and the sync itself runs in the background.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QLabel, QProgressBar, QStatusBar, QWidget

from app.sync.freshness import FreshnessState, format_age


class CounterStatusBar(QStatusBar):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("counterStatusBar")
        self.operator = QLabel("", objectName="statusOperator")
        self.connection = QLabel("未接続", objectName="statusConnection")
        self.age = QLabel("", objectName="statusAge")
        self.outbox = QLabel("", objectName="statusOutbox")
        # Events the server refused or kept failing on: a supervisor looks at them (送信保留).
        self.held = QLabel("", objectName="statusHeld")
        self.held.setStyleSheet("color: #fff; background: #a05a00; font-weight: bold;")
        self.held.hide()
        self.progress = QProgressBar(objectName="statusProgress")
        self.progress.setMaximumWidth(180)
        self.progress.setTextVisible(True)
        self.progress.hide()
        # Shown while the server refuses this program as too old (until a sync succeeds).
        self.update_notice = QLabel("", objectName="statusUpdateRequired")
        self.update_notice.setStyleSheet("color: #fff; background: #b00020; font-weight: bold;")
        self.update_notice.hide()
        self.addPermanentWidget(self.update_notice)
        for w in (self.operator, self.connection, self.age, self.outbox, self.held):
            w.setContentsMargins(8, 0, 8, 0)
            self.addPermanentWidget(w)
        self.addPermanentWidget(self.progress)

    def show_operator(self, text: str) -> None:
        self.operator.setText(text)

    def show_status(self, status: Any) -> None:
        """`status` is an app.sync.results.SyncStatus."""
        if status.online is None:
            self.connection.setText("● 接続確認中")
            self.connection.setStyleSheet("color: #666;")
        elif status.online:
            self.connection.setText("● オンライン")
            self.connection.setStyleSheet("color: #0b7a2a; font-weight: bold;")
        else:
            self.connection.setText("● オフライン")
            self.connection.setStyleSheet("color: #b00020; font-weight: bold;")
        f = status.freshness
        age = "データ未同期" if f.age is None else f"データ: {format_age(f.age)}前"
        if f.age is None:
            # No complete pull yet: the first sync is still to come or running. (Search says
            # for itself when it cannot answer yet: app/store/search.py.)
            age += "(初回同期が終わるまで交付できません)"
            self.age.setStyleSheet("color: #b00020; font-weight: bold;")
        elif f.state is FreshnessState.STALE:
            age += "(古い: 交付は監督者承認)"
            self.age.setStyleSheet("color: #a05a00; font-weight: bold;")
        elif f.state is FreshnessState.EXPIRED:
            age += "(期限切れ: 検索のみ)"
            self.age.setStyleSheet("color: #b00020; font-weight: bold;")
        else:
            self.age.setStyleSheet("")
        self.age.setText(age)
        self.outbox.setText(f"未送信 {status.outbox_count}件")
        self.outbox.setStyleSheet("color: #a05a00;" if status.outbox_count else "")
        held = status.held_count
        self.held.setText(f" 送信保留 {held}件(監督者が確認) ")
        self.held.setVisible(held > 0)

    def show_update_required(self, message: str | None) -> None:
        """The server's answer to this program's version: `message` while it is refused."""
        if message:
            self.update_notice.setText(f" {message} ")
            self.update_notice.setToolTip(message)
            self.update_notice.show()
        else:
            self.update_notice.hide()

    def show_progress(self, done: int, total: int | None) -> None:
        self.progress.show()
        if total:
            self.progress.setRange(0, total)
            self.progress.setValue(min(done, total))
            self.progress.setFormat(f"同期中 {done:,}/{total:,}")
            self.progress.setToolTip("")
        else:  # a step of unknown length: the server preparing the register, or the indexes
            self.progress.setRange(0, 0)
            self.progress.setToolTip("同期の準備または仕上げをしています。")

    def hide_progress(self) -> None:
        self.progress.hide()
