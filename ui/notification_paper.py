"""転入 with a paper 転出証明書: what the certificate says, typed by the clerk (the box on the
異動届 tab, ui/notification_tab.py), and the dialog for one of its persons."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QPushButton,
    QWidget,
)

from app.domain.notifications import MoveOutCertificate, MoveOutPerson
from ui.notification_parts import SEX_VALUES, DateField


class PaperCertificateBox(QGroupBox):
    """転入 with a paper 転出証明書: what it says, typed by the clerk (persons added one by one)."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("転出証明書(紙)", parent, objectName="paperCertificate")
        self.persons: list[MoveOutPerson] = []
        self.municipality = QLineEdit(objectName="certMunicipality")
        self.municipality.setPlaceholderText("例: 北海道札幌市中央区")
        self.code = QLineEdit(objectName="certCode")
        self.code.setPlaceholderText("6桁(検査数字を含む)")
        self.number = QLineEdit(objectName="certNumber")
        self.address = QLineEdit(objectName="certAddress")
        self.katagaki = QLineEdit(objectName="certKatagaki")
        self.head = QLineEdit(objectName="certHead")
        self.planned = DateField("certPlanned")
        self.reported = DateField("certReported")
        form = QFormLayout(self)
        form.addRow("発行市区町村", self.municipality)
        form.addRow("市区町村コード", self.code)
        form.addRow("証明書番号", self.number)
        form.addRow("従前の住所", self.address)
        form.addRow("方書", self.katagaki)
        form.addRow("世帯主", self.head)
        form.addRow("転出予定日", self.planned)
        form.addRow("転出届の日", self.reported)
        self.add_person = QPushButton("転入者を追加(&A)…", objectName="addPerson")
        self.add_person.clicked.connect(self._add_person)
        form.addRow(self.add_person)
        for w in (self.municipality, self.code, self.number, self.address, self.katagaki):
            w.textChanged.connect(self.changed)
        for w in (self.head, self.planned, self.reported):
            w.textChanged.connect(self.changed)

    def _add_person(self) -> None:
        dialog = PersonDialog(self)
        if dialog.exec():
            person = dialog.person()
            if person is not None:
                self.persons.append(person)
                self.changed.emit()

    def certificate(self) -> MoveOutCertificate | None:
        planned, reported = self.planned.value(), self.reported.value()
        if not (self.persons and planned and reported and self.address.text().strip()):
            return None
        return MoveOutCertificate(
            source="paper",
            issuing_municipality=self.municipality.text().strip(),
            issuing_municipality_code=self.code.text().strip(),
            address=self.address.text().strip(),
            katagaki=self.katagaki.text().strip() or None,
            head_name=self.head.text().strip(),
            destination="",
            planned_on=planned,
            reported_on=reported,
            persons=tuple(self.persons),
            certificate_no=self.number.text().strip() or None,
        )


class PersonDialog(QDialog):
    """One person of a paper 転出証明書."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("転入者の追加")
        self.name = QLineEdit(objectName="personName")
        self.kana = QLineEdit(objectName="personKana")
        self.birth = DateField("personBirth")
        self.sex = QComboBox(objectName="personSex")
        self.sex.addItems(["男", "女"])
        self.relationship = QLineEdit(objectName="personRelationship")
        self.code = QLineEdit(objectName="personCode")
        self.my_number = QLineEdit(objectName="personMyNumber")
        self.honseki = QLineEdit(objectName="personHonseki")
        self.hittosha = QLineEdit(objectName="personHittosha")
        form = QFormLayout(self)
        form.addRow("氏名", self.name)
        form.addRow("フリガナ", self.kana)
        form.addRow("生年月日", self.birth)
        form.addRow("性別", self.sex)
        form.addRow("続柄", self.relationship)
        form.addRow("住民票コード", self.code)
        form.addRow("個人番号(任意)", self.my_number)
        form.addRow("本籍", self.honseki)
        form.addRow("筆頭者", self.hittosha)
        self.message = QLabel("")
        form.addRow(self.message)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def person(self) -> MoveOutPerson | None:
        birth = self.birth.value()
        if birth is None or not self.name.text().strip() or not self.code.text().strip():
            return None
        return MoveOutPerson(
            name=self.name.text().strip(),
            name_kana=self.kana.text().strip(),
            birth_date=birth,
            sex=SEX_VALUES[self.sex.currentText()],  # type: ignore[arg-type]
            relationship=self.relationship.text().strip(),
            juminhyo_code=self.code.text().strip(),
            my_number=self.my_number.text().strip() or None,
            honseki=self.honseki.text().strip() or None,
            hittosha=self.hittosha.text().strip() or None,
        )

    def _accept(self) -> None:
        if self.person() is None:
            self.message.setText("氏名・生年月日・住民票コードを入力してください。")
            return
        self.accept()
