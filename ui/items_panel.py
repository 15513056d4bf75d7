"""記載する項目: what the article prints anyway is shown ticked and disabled; only the real
choices (特別の請求, or 第三者's items that the purpose must justify) can be ticked; what the
article never allows is shown unticked and disabled. The rules are app.domain.certificates
`item_options` — the same table `decide` applies.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QCheckBox, QGridLayout, QGroupBox, QLabel, QWidget

from app.domain.certificates import FOREIGN_ITEMS, ITEM_LABELS, Item, RequesterKind, item_options
from app.domain.records import Household


class ItemsPanel(QGroupBox):
    changed = Signal()

    def __init__(self, household: Household, parent: QWidget | None = None) -> None:
        super().__init__("記載する項目", parent)
        self.setObjectName("itemsPanel")
        grid = QGridLayout(self)
        self.checks: dict[Item, QCheckBox] = {}
        has_foreign = any(m.is_foreign for m in household.members)
        shown = [i for i in Item if has_foreign or i not in FOREIGN_ITEMS | {Item.ALIAS}]
        for n, item in enumerate(shown):
            cb = QCheckBox(ITEM_LABELS[item], objectName=f"item_{item.value}")
            cb.toggled.connect(self._toggled)
            self.checks[item] = cb
            grid.addWidget(cb, n // 2, n % 2)
        rows = (len(shown) + 1) // 2
        self.justified = QCheckBox(
            "請求事由から、選んだ項目は必要と認める（第12条の3第7項）", objectName="justified"
        )
        self.justified.toggled.connect(self._toggled)
        grid.addWidget(self.justified, rows, 0, 1, 2)
        self.legend = QLabel("", objectName="itemsLegend")
        self.legend.setWordWrap(True)
        grid.addWidget(self.legend, rows + 1, 0, 1, 2)
        self._choices: set[Item] = set()
        self._asked: set[Item] = set()  # the clerk's ticks, kept across kinds
        self._updating = False

    def set_rule(self, kind: RequesterKind, removed: bool) -> None:
        """Show the items as the article of `kind` treats them."""
        options = item_options(kind, removed)
        self._choices = set(options.on_request | options.with_reason) & set(self.checks)
        self._updating = True
        for item, cb in self.checks.items():
            if item in options.always:
                cb.setChecked(True)
                cb.setEnabled(False)
                cb.setToolTip("この請求では必ず記載されます（省略できません）。")
            elif item in self._choices:
                cb.setEnabled(True)
                cb.setChecked(item in self._asked)
                tip = (
                    "請求事由から必要と認めた場合だけ記載します。"
                    if item in options.with_reason
                    else "請求があった場合だけ記載します。"
                )
                cb.setToolTip(tip)
            else:
                cb.setChecked(False)
                cb.setEnabled(False)
                cb.setToolTip("この請求では記載できません。")
        self._updating = False
        self.justified.setVisible(bool(options.with_reason))
        self.legend.setText("チェック済みで選べない項目は、この請求では必ず記載されます。")

    def _toggled(self) -> None:
        if self._updating:
            return
        self._asked = {i for i in self._choices if self.checks[i].isChecked()}
        self.changed.emit()

    def ask(self, *items: Item) -> None:
        """Tick choices (tests, screenshots)."""
        for item in items:
            self.checks[item].setChecked(True)

    def items(self) -> frozenset[Item]:
        """The items asked for: the ticked choices."""
        return frozenset(i for i in self._choices if self.checks[i].isChecked())

    def justified_items(self) -> frozenset[Item]:
        return self.items() if self.justified.isChecked() else frozenset()
