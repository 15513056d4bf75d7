"""「届出審査」: the head office (role 審査) works through the filed 住民異動届, oldest first.

The list shows ids, dates and states only; opening one shows the 届出 beside the register as it
is now, the conflicts (why it cannot be applied as filed) and the warnings the counter
acknowledged. 「確定」 writes it into the register (every terminal receives it); a conflict can
be confirmed against the register as it is now, once compared (「現在の版数で確定」);
「差戻し」 sends it back to the filing terminal with a reason. Online only, like the server it
talks to; every call through the session (app/services/notification_review.py).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtGui import QColor, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QMessageBox,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from app.domain import wareki
from app.domain.identifiers import mask_my_number
from app.domain.notifications import FILER_LABELS, PROCEDURE_LABELS
from app.domain.records import parse_household
from app.services.session_api import CounterSessionApi
from ui.background import run_in_background, user_message

STATE_LABELS = {
    "pending": "審査待ち",
    "conflict": "競合",
    "confirmed": "確定",
    "returned": "差戻し",
}
COLUMNS = ("届出日", "異動日", "手続", "状態", "受付", "端末", "職員", "期間経過")


def detail_html(detail: Any) -> str:
    """The 届出 and the register now, side by side (for the reviewer's eyes only)."""
    d, s = detail.draft, detail.summary
    esc = _escape
    rows = [
        f"<h3>{esc(PROCEDURE_LABELS[d.procedure])}　{esc(STATE_LABELS.get(s.state, s.state))}</h3>",
        f"<p>届出ID {esc(d.notification_id)}<br>届出日 {wareki.format_date(d.filed_on)}　"
        f"異動日 {wareki.format_date(d.moved_on)}　受付 {esc(d.office)}"
        f"（端末 {esc(s.terminal_no)}・{esc(s.operator_id)}）</p>",
        f"<p>届出人: {esc(d.filer.name)}（{esc(FILER_LABELS[d.filer.kind])}）</p>",
    ]
    if d.old_address:
        rows.append(f"<p>旧住所: {esc(d.old_address.full)}</p>")
    if d.new_address:
        rows.append(f"<p>新住所: {esc(d.new_address.full)}</p>")
    rows.append(
        "<table border=1 cellspacing=0 cellpadding=3><tr><th>異動者</th><th>生年月日</th>"
        "<th>続柄(異動後)</th><th>参照した版数</th></tr>"
    )
    for m in d.movers:
        version = d.relied_versions.get(m.key, "")
        rows.append(
            f"<tr><td>{esc(m.name)}</td><td>{wareki.format_date(m.birth_date)}</td>"
            f"<td>{esc(m.relationship)}</td><td>{version}</td></tr>"
        )
    rows.append("</table>")
    names = {m.key: m.name for m in d.movers}
    for raw in detail.households:
        names.update({m["person_id"]: m["name"] for m in raw["members"]})
    for i, plan in enumerate(d.households):
        roles = "、".join(
            f"{esc(names.get(r.key, r.key))}（{esc(r.relationship)}）" for r in plan.roles
        )
        rows.append(
            f"<p>異動後の世帯{i + 1}（{esc(plan.household_id or '新しい世帯')}）: {roles}</p>"
        )
    if detail.move_out_certificate_no:
        rows.append(f"<p>転出証明書: {esc(detail.move_out_certificate_no)}</p>")
    if detail.acknowledged:
        rows.append("<p><b>窓口で確認済みの注意</b><br>")
        rows.append("<br>".join(esc(a.message) for a in detail.acknowledged) + "</p>")
    rows.append("<h4>現在の住民票</h4>")
    for raw in detail.households:
        h = parse_household(raw)
        rows.append(f"<p>世帯 {esc(h.household_id)}: {esc(h.address)} {esc(h.katagaki or '')}<br>")
        for p in h.members:
            state = "" if p.status == "resident" else "（除票）"
            number = f"　個人番号 {mask_my_number(p.my_number)}" if p.my_number else ""
            rows.append(
                f"{esc(p.person_id)}　{esc(p.name)}　{esc(p.relationship)}　版数 {p.version}"
                f"{state}{number}<br>"
            )
        rows.append("</p>")
    if detail.conflicts:
        rows.append("<h4 style='color:#b71c1c'>競合</h4><ul>")
        rows.extend(f"<li>{esc(c.message)}</li>" for c in detail.conflicts)
        rows.append("</ul>")
    if detail.reason:
        rows.append(f"<p>差戻しの理由: {esc(detail.reason)}</p>")
    return "".join(rows)


def _escape(text: object) -> str:
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class ReviewTab(QWidget):
    def __init__(self, session: CounterSessionApi, parent: QWidget | None = None) -> None:
        super().__init__(parent, objectName="reviewTab")
        self.session = session
        self.items: list[Any] = []
        self.detail: Any = None

        self.table = QTableWidget(0, len(COLUMNS), objectName="reviewTable")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.decided = QCheckBox("審査済みも表示(&A)", objectName="reviewDecided")
        self.refresh_button = QPushButton("更新(&U)", objectName="reviewRefresh")
        self.view = QTextBrowser(objectName="reviewDetail")
        self.message = QLabel("", objectName="reviewMessage")
        self.message.setWordWrap(True)
        self.confirm_button = QPushButton("確定(&K)", objectName="reviewConfirm")
        self.confirm_current = QPushButton("現在の版数で確定…", objectName="reviewConfirmCurrent")
        self.return_button = QPushButton("差戻し(&R)…", objectName="reviewReturn")

        top = QHBoxLayout()
        top.addWidget(QLabel("審査待ちの届出(古い順)"))
        top.addStretch(1)
        top.addWidget(self.decided)
        top.addWidget(self.refresh_button)
        left = QWidget()
        ll = QVBoxLayout(left)
        ll.addLayout(top)
        ll.addWidget(self.table, 1)
        right = QWidget()
        rl = QVBoxLayout(right)
        rl.addWidget(self.view, 1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.message, 1)
        for b in (self.confirm_button, self.confirm_current, self.return_button):
            buttons.addWidget(b)
        rl.addLayout(buttons)
        splitter = QSplitter()
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setSizes([560, 760])
        layout = QVBoxLayout(self)
        layout.addWidget(splitter)

        self.refresh_button.clicked.connect(self.refresh)
        self.decided.toggled.connect(self.refresh)
        self.table.itemSelectionChanged.connect(self.open_selected)
        self.confirm_button.clicked.connect(lambda: self.confirm(current_versions=False))
        self.confirm_current.clicked.connect(lambda: self.confirm(current_versions=True))
        self.return_button.clicked.connect(self.send_back)
        QShortcut(QKeySequence("F5"), self, activated=self.refresh)
        self._enable(False)

    def _enable(self, on: bool) -> None:
        open_ = (
            on and self.detail is not None and self.detail.summary.state in ("pending", "conflict")
        )
        self.confirm_button.setEnabled(open_ and not (self.detail and self.detail.conflicts))
        self.confirm_current.setEnabled(open_ and bool(self.detail and self.detail.conflicts))
        self.return_button.setEnabled(open_)

    def refresh(self, *_args: object, note: str | None = None) -> None:
        """Reload the list; `note` (a decision just made) stays in front of the count."""
        decided = self.decided.isChecked()
        run_in_background(
            self,
            lambda: self.session.review_list(decided=decided),
            lambda items: self._show(items, note),
            lambda e: self.message.setText(user_message(e)),
        )

    def _show(self, items: list[Any], note: str | None = None) -> None:
        self.items = items
        self.table.setRowCount(len(items))
        for r, s in enumerate(items):
            values = (
                wareki.format_date(s.filed_on),
                wareki.format_date(s.moved_on),
                PROCEDURE_LABELS[s.procedure],
                STATE_LABELS.get(s.state, s.state),
                s.office,
                s.terminal_no,
                s.operator_id,
                "経過" if s.late else "",
            )
            for c, v in enumerate(values):
                item = QTableWidgetItem(v)
                if s.state == "conflict":
                    item.setForeground(QColor("#b71c1c"))
                self.table.setItem(r, c, item)
        count = f"{len(items)}件" if items else "審査待ちの届出はありません。"
        # A decision's note is not overwritten by the list that follows it.
        self.message.setText(f"{note} {count}" if note else count)
        self.detail = None
        self.view.clear()
        self._enable(False)
        if items:
            self.table.selectRow(0)

    def open_selected(self) -> None:
        rows = {i.row() for i in self.table.selectedIndexes()}
        if len(rows) != 1:
            return
        notification_id = self.items[rows.pop()].notification_id

        def shown(detail: Any) -> None:
            self.detail = detail
            self.view.setHtml(detail_html(detail))
            self._enable(True)

        run_in_background(
            self,
            lambda: self.session.review_detail(notification_id),
            shown,
            lambda e: self.message.setText(user_message(e)),
        )

    def confirm(self, *, current_versions: bool) -> None:
        if self.detail is None:
            return
        d = self.detail
        relied: dict[str, int] | None = None
        if current_versions:
            answer = QMessageBox.question(
                self,
                "現在の版数で確定",
                "届出の受付後に住民票が変わっています。現在の住民票と届出を比べ、"
                "このまま反映してよいことを確認しましたか。",
            )
            if answer != QMessageBox.StandardButton.Yes:
                return
            relied = {
                m["person_id"]: int(m["version"])
                for h in d.households
                for m in h["members"]
                if m["status"] == "resident"
            }
        nid = d.summary.notification_id
        run_in_background(
            self,
            lambda: self.session.review_confirm(nid, relied),
            lambda _d: self._decided("確定しました。全端末に配信されます。"),
            self._refused,
        )

    def send_back(self) -> None:
        if self.detail is None:
            return
        reason, ok = QInputDialog.getText(self, "差戻し", "差し戻す理由(届け出た窓口に届きます):")
        if not ok or not reason.strip():
            return
        nid = self.detail.summary.notification_id
        run_in_background(
            self,
            lambda: self.session.review_return(nid, reason),
            lambda _d: self._decided("差し戻しました。"),
            self._refused,
        )

    def _decided(self, text: str) -> None:
        self.message.setText(text)
        self.refresh(note=text)

    def _refused(self, exc: BaseException) -> None:
        self.message.setText(user_message(exc))
        self.refresh()


__all__ = ["ReviewTab", "detail_html"]
