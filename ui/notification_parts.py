"""The pieces of the 異動届 tab (ui/notification_tab.py): the movers, the households after the
change, the address with the town list, the findings, a 和暦 date field. The paper 転出証明書 is in
ui/notification_paper.py.

Widgets only: they hold what the clerk typed and say when it changed (`changed`); the tab turns
that into a NotificationDraft and asks the session to check it in the background.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date

from PySide6.QtCore import QStringListModel, Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCompleter,
    QHeaderView,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from app.domain import wareki
from app.domain.errors import ValidationError
from app.domain.notifications import (
    Finding,
    HouseholdPlan,
    Mover,
    Role,
    Severity,
    TownList,
)

SEX_LABELS = {"male": "男", "female": "女"}
SEX_VALUES = {"男": "male", "女": "female"}
SEVERITY_LABELS = {Severity.ERROR: "エラー", Severity.WARNING: "注意", Severity.NOTICE: "情報"}
ERROR_STYLE = "border: 2px solid #c62828;"
WARNING_STYLE = "border: 2px solid #ef8f00;"
PROTECTED_BACKGROUND = QColor("#ffd7d7")


class DateField(QLineEdit):
    """A date typed in 和暦 as elsewhere (令和8年4月12日, R8.4.12, 5080412, 2026-04-12)."""

    def __init__(self, object_name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent, objectName=object_name)
        self.setPlaceholderText("例: 令和8年4月12日、R8.4.12")

    def value(self) -> date | None:
        try:
            return wareki.parse(self.text(), field="date")
        except ValidationError:
            return None

    def set_value(self, day: date | None) -> None:
        self.setText(wareki.format_date(day) if day else "")


class AddressField(QLineEdit):
    """The new address, completed from the municipality's 町名一覧 (town name or reading)."""

    def __init__(self, towns: Callable[[], TownList], parent: QWidget | None = None) -> None:
        super().__init__(parent, objectName="newAddress")
        self._towns = towns
        self.setPlaceholderText("例: 北海道北見市北進町123番地4(町名の読みでも候補が出ます)")
        self._model = QStringListModel(self)
        completer = QCompleter(self._model, self)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        self.setCompleter(completer)
        self.textEdited.connect(self._suggest)

    def _suggest(self, text: str) -> None:
        towns = self._towns()
        prefix = towns.municipality_name
        part = text.removeprefix(prefix).removeprefix("北見市").strip()
        if not part or any(ch.isdigit() for ch in part[-1:]):
            return
        self._model.setStringList([f"{prefix}{t.name}" for t in towns.suggest(part, limit=8)])


class MoversTable(QTableWidget):
    """異動者: a check per person (who moves), with the 続柄 afterwards (editable)."""

    changed = Signal()
    COLUMNS = ("異動", "氏名", "フリガナ", "生年月日", "性別", "続柄(異動後)", "備考")

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, len(self.COLUMNS), parent, objectName="moversTable")
        self.setHorizontalHeaderLabels(self.COLUMNS)
        self.verticalHeader().setVisible(False)
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.movers: list[Mover] = []
        self.itemChanged.connect(lambda _i: self.changed.emit())

    def show_movers(
        self,
        movers: Sequence[Mover],
        *,
        checked: bool,
        protected: frozenset[str] | set[str] = frozenset(),
    ) -> None:
        self.blockSignals(True)
        self.movers = list(movers)
        self.setRowCount(len(movers))
        for r, m in enumerate(movers):
            check = QTableWidgetItem()
            check.setFlags(Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsEnabled)
            check.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
            self.setItem(r, 0, check)
            note = (
                "支援措置" if m.key in protected else ("カード継続利用" if m.card_continued else "")
            )
            values = (
                m.name,
                m.name_kana,
                wareki.format_date(m.birth_date),
                SEX_LABELS[m.sex],
                m.relationship,
                note,
            )
            for c, v in enumerate(values, start=1):
                item = QTableWidgetItem(v)
                if c != 5:
                    item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
                if m.key in protected:
                    item.setBackground(PROTECTED_BACKGROUND)
                self.setItem(r, c, item)
        self.blockSignals(False)
        self.changed.emit()

    def chosen(self) -> list[Mover]:
        """The checked persons, with the 続柄 as typed."""
        from msgspec.structs import replace

        out = []
        for r, m in enumerate(self.movers):
            box = self.item(r, 0)
            if box is not None and box.checkState() == Qt.CheckState.Checked:
                rel = (self.item(r, 5).text() if self.item(r, 5) else m.relationship).strip()
                out.append(replace(m, relationship=rel))
        return out

    def set_checked(self, keys: set[str]) -> None:
        for r, m in enumerate(self.movers):
            box = self.item(r, 0)
            if box is not None:
                state = Qt.CheckState.Checked if m.key in keys else Qt.CheckState.Unchecked
                box.setCheckState(state)


class HouseholdsTable(QTableWidget):
    """The households after the change: everyone in each, with the 続柄 (one 世帯主 each)."""

    changed = Signal()
    COLUMNS = ("世帯", "氏名", "続柄")

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, len(self.COLUMNS), parent, objectName="householdsTable")
        self.setHorizontalHeaderLabels(self.COLUMNS)
        self.verticalHeader().setVisible(False)
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.plans: list[HouseholdPlan] = []
        self._rows: list[tuple[int, str]] = []  # (plan index, key) of each row
        self.itemChanged.connect(lambda _i: self.changed.emit())

    def show_plans(self, plans: Sequence[HouseholdPlan], names: dict[str, str]) -> None:
        self.blockSignals(True)
        self.plans = list(plans)
        self._rows = [(i, r.key) for i, p in enumerate(plans) for r in p.roles]
        self.setRowCount(len(self._rows))
        for row, (i, key) in enumerate(self._rows):
            plan = plans[i]
            label = plan.household_id or "新しい世帯"
            if plan.at_new_address:
                label += "(新住所)"
            rel = next(r.relationship for r in plan.roles if r.key == key)
            for c, v in enumerate((label, names.get(key, key), rel)):
                item = QTableWidgetItem(v)
                if c != 2:
                    item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
                self.setItem(row, c, item)
        self.blockSignals(False)

    def current(self) -> tuple[HouseholdPlan, ...]:
        """The plans with the 続柄 as typed."""
        typed: dict[tuple[int, str], str] = {}
        for row, (i, key) in enumerate(self._rows):
            item = self.item(row, 2)
            typed[(i, key)] = item.text().strip() if item else ""
        out = []
        for i, plan in enumerate(self.plans):
            roles = tuple(
                Role(key=r.key, relationship=typed.get((i, r.key), r.relationship))
                for r in plan.roles
            )
            out.append(
                HouseholdPlan(
                    household_id=plan.household_id, roles=roles, at_new_address=plan.at_new_address
                )
            )
        return tuple(out)


class FindingsList(QListWidget):
    """What the checks say, errors first; a warning is acknowledged by ticking it."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, objectName="findingsList")
        self.findings: tuple[Finding, ...] = ()
        self._acknowledged: set[str] = set()
        self.itemChanged.connect(self._ticked)
        self.setWordWrap(True)

    def show_findings(self, findings: Sequence[Finding]) -> None:
        self.blockSignals(True)
        self.clear()
        self.findings = tuple(findings)
        for f in findings:
            item = QListWidgetItem(f"【{SEVERITY_LABELS[f.severity]}】{f.message}")
            if f.article:
                item.setToolTip(f.article)
            if f.severity == Severity.ERROR:
                item.setForeground(QColor("#b71c1c"))
            elif f.severity == Severity.WARNING:
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                ticked = f.code in self._acknowledged
                item.setCheckState(Qt.CheckState.Checked if ticked else Qt.CheckState.Unchecked)
                item.setForeground(QColor("#8a5a00"))
            item.setData(Qt.ItemDataRole.UserRole, f.code)
            self.addItem(item)
        if not findings:
            self.addItem(QListWidgetItem("指摘事項はありません。"))
        self.blockSignals(False)

    def _ticked(self, item: QListWidgetItem) -> None:
        code = item.data(Qt.ItemDataRole.UserRole)
        if not code:
            return
        if item.checkState() == Qt.CheckState.Checked:
            self._acknowledged.add(code)
        else:
            self._acknowledged.discard(code)
        self.changed.emit()

    def acknowledged(self) -> set[str]:
        warnings = {f.code for f in self.findings if f.severity == Severity.WARNING}
        return self._acknowledged & warnings

    def forget(self) -> None:
        """A new 届出: nothing acknowledged, nothing shown."""
        self._acknowledged.clear()
        self.show_findings(())

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == Severity.ERROR]

    @property
    def open_warnings(self) -> list[Finding]:
        ack = self.acknowledged()
        return [f for f in self.findings if f.severity == Severity.WARNING and f.code not in ack]


def mark_fields(widgets: dict[str, QWidget], findings: Sequence[Finding]) -> None:
    """A red (error) or amber (warning) frame on the field a finding names, its message as the
    tooltip; the fields without findings lose theirs."""
    worst: dict[str, Finding] = {}
    for f in findings:
        head = f.field.split(".")[0].split("[")[0]
        if head in widgets and (head not in worst or f.severity < worst[head].severity):
            worst[head] = f
    for name, widget in widgets.items():
        f = worst.get(name)
        if f is None or f.severity == Severity.NOTICE:
            widget.setStyleSheet("")
            widget.setToolTip("")
        else:
            widget.setStyleSheet(ERROR_STYLE if f.severity == Severity.ERROR else WARNING_STYLE)
            widget.setToolTip(f.message)
