"""The clerk's answers on the 異動届 tab: the new address (or 転出先) with the town list, the
届出人, the 本人確認書類. Each box holds what was typed, says when it changed (`changed`) and
hands it over as the domain's values; the tab assembles the draft."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QWidget,
)

from app.domain.certificates import IDENTITY_LABELS, IdentityDocument
from app.domain.notifications import FILER_LABELS, Filer, FilerKind, Procedure, TownList
from app.domain.notifications.forms import FORM_DOCUMENTS
from app.domain.notifications.model import HOUSEHOLD_CHANGE, MOVE_OUT, NEW_KEY_PREFIX
from ui.notification_parts import AddressField


class AddressBox(QGroupBox):
    """新住所 (転入・転居) or 転出先 with 転出先の世帯主 (転出); the postal code from the town list.
    A 世帯変更 moves no address: the box is disabled."""

    changed = Signal()

    def __init__(self, towns: Callable[[], TownList], parent: QWidget | None = None) -> None:
        super().__init__("新住所・転出先", parent, objectName="addressBox")
        self._towns = towns
        form = QFormLayout(self)
        self.new_address = AddressField(towns)
        self.katagaki = QLineEdit(objectName="newKatagaki")
        self.postal = QLabel("", objectName="postalCode")
        self.destination_head = QLineEdit(objectName="destinationHead")
        self.address_label = QLabel("住所(&N)")
        self.address_label.setBuddy(self.new_address)
        form.addRow(self.address_label, self.new_address)
        form.addRow("方書", self.katagaki)
        form.addRow("郵便番号", self.postal)
        self.destination_head_label = QLabel("転出先の世帯主")
        form.addRow(self.destination_head_label, self.destination_head)
        self.new_address.textChanged.connect(self._address_changed)
        self.katagaki.textChanged.connect(self.changed)
        self.destination_head.textChanged.connect(self.changed)

    def set_procedure(self, p: Procedure) -> None:
        moves_address = p not in HOUSEHOLD_CHANGE
        for w in (self.new_address, self.katagaki, self.postal, self.address_label):
            w.setEnabled(moves_address)
        out = p in MOVE_OUT
        self.address_label.setText("転出先(&N)" if out else "新住所(&N)")
        self.destination_head.setVisible(out)
        self.destination_head_label.setVisible(out)

    def _address_changed(self, text: str) -> None:
        match = self._towns().match(text) if text.strip() else None
        town = match.town if match is not None else None
        self.postal.setText(town.postal_code if town is not None else "")
        self.changed.emit()

    def clear(self) -> None:
        for w in (self.new_address, self.katagaki, self.destination_head):
            w.clear()


class FilerBox(QGroupBox):
    """届出人: 区分, who of the household (or the 転入者) stands at the counter, name, phone,
    and for a 代理人 the 委任状 seen."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("届出人(&F)", parent, objectName="filerBox")
        form = QFormLayout(self)
        self.kind = QComboBox(objectName="filerKind")
        for k in FilerKind:
            self.kind.addItem(FILER_LABELS[k], k)
        self.person = QComboBox(objectName="filerPerson")
        self.name = QLineEdit(objectName="filerName")
        self.phone = QLineEdit(objectName="filerPhone")
        self.attorney = QCheckBox("委任状・資格を確認", objectName="attorney")
        form.addRow("区分", self.kind)
        form.addRow("届出人", self.person)
        form.addRow("氏名", self.name)
        form.addRow("電話", self.phone)
        form.addRow("", self.attorney)
        self.kind.currentIndexChanged.connect(self.changed)
        self.name.textChanged.connect(self.changed)
        self.phone.textChanged.connect(self.changed)
        self.attorney.toggled.connect(self.changed)

    def set_candidates(self, candidates: Sequence[tuple[str, str]]) -> None:
        """(label, key) of who may file; the first one is proposed."""
        self.person.blockSignals(True)
        self.person.clear()
        self.person.addItem("(その他の方: 氏名を入力)", None)
        for label, key in candidates:
            self.person.addItem(label, key)
        self.person.blockSignals(False)

    def set_kind(self, kind: FilerKind) -> None:
        self.kind.setCurrentIndex(self.kind.findData(kind))

    def choose_person(self, key: str) -> bool:
        index = self.person.findData(key)
        if index >= 0:
            self.person.setCurrentIndex(index)
        return index >= 0

    def filer(self) -> Filer:
        person_id = self.person.currentData()
        if person_id is not None and str(person_id).startswith(NEW_KEY_PREFIX):
            person_id = None  # a 転入者 has no person id yet
        return Filer(
            kind=FilerKind(self.kind.currentData()),
            name=self.name.text().strip(),
            person_id=person_id,
            phone=self.phone.text().strip() or None,
            power_of_attorney=self.attorney.isChecked(),
        )

    def clear(self) -> None:
        self.name.clear()
        self.phone.clear()
        self.attorney.setChecked(False)


class DocumentsBox(QGroupBox):
    """本人確認書類 seen at the counter (the 届書's list)."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("本人確認書類(&I)", parent, objectName="documentsBox")
        grid = QGridLayout(self)
        self.boxes: dict[IdentityDocument, QCheckBox] = {}
        for i, doc in enumerate(FORM_DOCUMENTS):
            box = QCheckBox(IDENTITY_LABELS[doc], objectName=f"doc_{doc.value}")
            self.boxes[doc] = box
            grid.addWidget(box, i // 3, i % 3)
            box.toggled.connect(self.changed)

    def documents(self) -> tuple[IdentityDocument, ...]:
        return tuple(d for d, box in self.boxes.items() if box.isChecked())

    def clear(self) -> None:
        for box in self.boxes.values():
            box.setChecked(False)
