"""The procedures of the 「異動届」 tab that tests/e2e/test_notification_gui.py does not drive,
each for several persons, through the real widgets (pytest-qt, Qt offscreen) on a real session,
server and cache, confirmed at the head office (the admin CLI) and seen in the register after a
sync: 転入 with a paper 転出証明書, 転出 with its 転出証明書 (read back with pdftotext), typed
with the keyboard only, 特例転出 with a virtual card (the card desk's service over the
simulator), and 世帯変更: 世帯分離, then 世帯合併 of the separated back, and 世帯主変更.

The one seam: the print preview's 「印刷」 (`confirm_print`) answers yes; the PDFs themselves go
through the real print path to files (ui.print_job)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from app.cards.simulator import CardProfile, VirtualCard
from app.cards.simulator_transport import SimulatorTransport
from app.domain import wareki
from app.domain.certificates import IdentityDocument
from app.domain.identifiers import juminhyo_code_check_digit, local_government_code_check_digit
from app.domain.notifications import FilerKind, Procedure, Severity
from app.domain.records import Household
from app.services.card_desk import CardDeskService, DeskContext
from app.synthetic.data import SURNAMES
from server.cli import main as server_main
from tests.e2e import notification_helpers as N
from tests.e2e.conftest import PASSWORDS
from tests.e2e.test_notification_gui import type_text
from ui.main_window import MainWindow
from ui.notification_tab import CardRead, NotificationTab
from ui.print_job import print_document as print_job

TIMEOUT = 30_000


class Desk:
    """The clerk's window with the 異動届 tab; printed PDFs land in files, previews are listed."""

    def __init__(self, qtbot: Any, session: Any, tmp_path: Path, read_card: Any = None) -> None:
        self.qtbot, self.session, self.dir = qtbot, session, tmp_path
        self.previews: list[str] = []
        self.printed: list[Path] = []  # the documents sent to the printer, in order

        def print_document(pdf: bytes, copies: int) -> int:
            # The printer gets the page images (QtPdf → QPrinter); the document sent is kept
            # for pdftotext.
            n = len(self.printed)
            target = tmp_path / f"printed-{n}.pdf"
            pages = print_job(pdf, printer=None, copies=copies, output_file=str(target)).pages
            assert target.stat().st_size > 0 and pages >= 1
            sent = tmp_path / f"sent-{n}.pdf"
            sent.write_bytes(pdf)
            self.printed.append(sent)
            return pages

        def confirm(pdf: bytes, title: str) -> bool:
            self.previews.append(title)
            return True

        self.window = MainWindow(
            session,
            notification_tab_factory=lambda s: NotificationTab(
                s, print_document=print_document, read_card=read_card, confirm_print=confirm
            ),
        )
        qtbot.addWidget(self.window)
        # The clerk reads each message box (the head office's decisions after a sync) and
        # closes it; a box left open would hold the test in its event loop.
        self.dialogs: list[tuple[str, str]] = []
        self._reader = QTimer(self.window, interval=50, timeout=self._read_dialog)
        self._reader.start()
        self.window.resize(1366, 768)
        self.window.show()
        with qtbot.waitSignal(self.window.synced, timeout=TIMEOUT):
            self.window.sync_now()
        tab = self.window.notification_tab
        assert tab is not None
        self.tab: NotificationTab = tab
        self.window.tabs.setCurrentWidget(tab)

    def _read_dialog(self) -> None:
        box = QApplication.activeModalWidget()
        if isinstance(box, QMessageBox):
            self.dialogs.append((box.windowTitle(), box.text()))
            box.accept()

    def decided(self, nid: str) -> None:
        """The window's sync brings the head office's decision: 確定, shown to the clerk."""
        for _ in range(3):
            with self.qtbot.waitSignal(self.window.synced, timeout=TIMEOUT):
                self.window.sync_now()
            self.qtbot.waitUntil(lambda: not self.window._sync_running, timeout=TIMEOUT)
            if any(nid in text for _title, text in self.dialogs):
                break
        self.qtbot.waitUntil(
            lambda: any(nid in text for _title, text in self.dialogs), timeout=TIMEOUT
        )
        text = next(text for _title, text in self.dialogs if nid in text)
        assert "確定" in text, text

    def procedure(self, p: Procedure) -> None:
        self.tab.procedure.setCurrentIndex(self.tab.procedure.findData(p))

    def open(self, h: Household, *, as_target: bool = False) -> None:
        """Search by the 世帯主's name and birth date, take the household from the hits."""
        tab = self.tab
        tab.search_name.clear()
        tab.search_birth.clear()
        type_text(self.qtbot, tab.search_name, h.head.name)
        type_text(self.qtbot, tab.search_birth, wareki.format_date(h.head.birth_date))
        tab.register.hits = []
        tab.register.search()
        self.qtbot.waitUntil(lambda: bool(tab.register.hits), timeout=TIMEOUT)
        row = next(i for i, x in enumerate(tab.register.hits) if x.household_id == h.household_id)
        tab.hits_list.setCurrentRow(row)
        wanted = tab.target if as_target else tab.source
        (tab.choose_target if as_target else tab.choose_source).click()

        def chosen() -> bool:
            now = tab.target if as_target else tab.source
            return now is not None and now is not wanted and now.household_id == h.household_id

        self.qtbot.waitUntil(chosen, timeout=TIMEOUT)

    def tick(self, keys: Iterable[str]) -> None:
        self.tab.movers.set_checked(set(keys))

    def relationship(self, key: str, text: str) -> None:
        """Type the 続柄 afterwards in the households table."""
        table = self.tab.households
        row = next(r for r, (_i, k) in enumerate(table._rows) if k == key)
        table.item(row, 2).setText(text)

    def ready_to_print(self) -> None:
        tab = self.tab

        def ready() -> bool:
            return tab.print_button.isEnabled()

        try:
            self.qtbot.waitUntil(ready, timeout=TIMEOUT)
        except AssertionError:
            raise AssertionError(
                [f.message for f in tab.findings.findings] or "no draft: " + tab.message.text()
            ) from None

    def print_sign_file(self, *, acknowledge: bool = True) -> str:
        """F5's path, the clerk's ticks (and every warning acknowledged), F9's path."""
        tab = self.tab
        self.ready_to_print()
        if acknowledge:
            for i in range(tab.findings.count()):
                item = tab.findings.item(i)
                if item.flags() & Qt.ItemFlag.ItemIsUserCheckable:
                    item.setCheckState(Qt.CheckState.Checked)
        tab.print_form()
        self.qtbot.waitUntil(lambda: tab.prepared is not None, timeout=TIMEOUT)
        tab.signature.setChecked(True)
        tab.documents_checked.setChecked(True)
        self.qtbot.waitUntil(tab.file_button.isEnabled, timeout=TIMEOUT)
        with self.qtbot.waitSignal(tab.filed, timeout=TIMEOUT) as filed:
            tab.file()
        self.qtbot.waitUntil(lambda: self.session.cache.outbox_count() == 0, timeout=TIMEOUT)
        return str(filed.args[0])


def pdftotext(path: Path) -> str:
    if shutil.which("pdftotext") is None:
        pytest.skip("poppler-utils (pdftotext) is not installed")
    out = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    )
    return out.stdout.replace(" ", "").replace("\u3000", "")


def confirm(counter: Any, nid: str) -> None:
    data_dir = str(counter.server.config.data_dir)
    args = ["--data-dir", data_dir, "notification", "confirm", nid, "--by", "review01"]
    assert server_main(args) == 0


def households(session: Any, at_least: int, where: Callable[[Household], bool] = lambda h: True):  # type: ignore[no-untyped-def]
    """Plain households (residents only, nobody protected) of `at_least` persons."""
    today = session.today()
    seen: set[str] = set()
    for _kanji, kana, _weight in SURNAMES:
        for hit in session.search(name=kana, limit=50).hits:
            if hit.household_id in seen or hit.status != "resident" or hit.protected:
                continue
            seen.add(hit.household_id)
            h = session.open_household(hit.household_id)
            if (
                len(h.members) >= at_least
                and all(p.status == "resident" and not p.is_protected_on(today) for p in h.members)
                and where(h)
            ):
                yield h


def _code(n: int) -> str:
    body = f"97{n:08d}"
    return body + str(juminhyo_code_check_digit(body))


def _fill_person(name: str, kana: str, birth: str, sex: str, rel: str, code: str) -> None:
    """The 「転入者の追加」 dialog, filled and accepted when it opens (modal)."""
    dialog = QApplication.activeModalWidget()
    assert dialog is not None and dialog.windowTitle() == "転入者の追加"
    for field, text in (
        ("personName", name),
        ("personKana", kana),
        ("personBirth", birth),
        ("personRelationship", rel),
        ("personCode", code),
    ):
        dialog.findChild(QWidget, field).setText(text)  # type: ignore[union-attr]
    sex_box = dialog.findChild(QWidget, "personSex")
    sex_box.setCurrentText(sex)  # type: ignore[union-attr]
    dialog._accept()  # type: ignore[attr-defined]


def test_move_in_with_a_paper_certificate_for_a_family(qtbot, counter, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    clerk = N.login_service(counter.terminal_dir).login("clerk01", PASSWORDS["clerk01"])
    desk = Desk(qtbot, clerk, tmp_path)
    tab, today = desk.tab, clerk.today()
    desk.procedure(Procedure.MOVE_IN)
    assert tab.paper.isVisible() and not tab.choose_source.isEnabled()
    paper = tab.paper
    type_text(qtbot, paper.municipality, "北海道札幌市中央区")
    paper.code.setText("01101" + str(local_government_code_check_digit("01101")))
    paper.number.setText("中央-2026-0415")
    type_text(qtbot, paper.address, "北海道札幌市中央区北1条西2丁目3番地")
    type_text(qtbot, paper.head, "転入 一郎")
    paper.planned.set_value(today - timedelta(days=5))
    paper.reported.set_value(today - timedelta(days=20))
    family = [
        ("転入 一郎", "テンニュウ イチロウ", "S55.6.1", "男", "世帯主", _code(1)),
        ("転入 和子", "テンニュウ カズコ", "S58.2.3", "女", "妻", _code(2)),
        ("転入 誠", "テンニュウ マコト", "H27.9.9", "男", "子", _code(3)),
    ]
    for person in family:
        QTimer.singleShot(0, lambda p=person: _fill_person(*p))
        paper.add_person.click()
    assert [m.name for m in tab.movers.chosen()] == [p[0] for p in family]
    assert tab.filer_name.text() == "転入 一郎"  # the 世帯主 on the certificate files
    type_text(qtbot, tab.moved_on, wareki.format_date(today - timedelta(days=3)))
    type_text(qtbot, tab.new_address, "北海道北見市北進町200番地")
    tab.documents[IdentityDocument.DRIVERS_LICENSE].setChecked(True)
    nid = desk.print_sign_file()
    assert desk.previews == ["住民異動届"]
    text = pdftotext(desk.printed[0])
    assert "転入" in text and all(p[0].replace(" ", "") in text for p in family)
    assert "北見市北進町200番地" in text and "札幌市中央区北1条西2丁目3番地" in text

    confirm(counter, nid)
    desk.decided(nid)
    hits = clerk.search(name="てんにゅう").hits
    assert sorted(h.name for h in hits) == sorted(p[0] for p in family)
    h = clerk.open_household(hits[0].household_id)
    assert h.address == "北海道北見市北進町200番地" and h.head.name == "転入 一郎"
    assert {p.name: p.relationship for p in h.members}["転入 和子"] == "妻"
    desk.window.close()


def test_move_out_typed_with_the_keyboard_only_prints_its_certificate(
    qtbot, counter, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """Every step from the keyboard: Alt-keys to the fields, arrows, Space, Enter, F5, F9."""
    clerk = N.login_service(counter.terminal_dir).login("clerk01", PASSWORDS["clerk01"])
    desk = Desk(qtbot, clerk, tmp_path)
    tab, window = desk.tab, desk.window
    h = next(households(clerk, 2))
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=TIMEOUT)

    def key(k: Qt.Key, mod: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier) -> None:
        target = QApplication.focusWidget()
        assert target is not None
        qtbot.keyClick(target, k, mod)

    def focused() -> QWidget | None:
        return QApplication.focusWidget()

    alt = Qt.KeyboardModifier.AltModifier
    key(Qt.Key.Key_P, alt)
    assert focused() is tab.procedure
    while tab.current_procedure() != Procedure.MOVE_OUT:
        key(Qt.Key.Key_Down)
    assert tab.address.address_label.text() == "転出先(&N)"
    key(Qt.Key.Key_S, alt)  # 「住民票から」: its first field
    assert focused() is tab.search_name
    type_text(qtbot, tab.search_name, h.head.name)
    key(Qt.Key.Key_Tab)
    assert focused() is tab.search_birth
    type_text(qtbot, tab.search_birth, wareki.format_date(h.head.birth_date))
    key(Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: focused() is tab.hits_list, timeout=TIMEOUT)
    while tab.register.hits[tab.hits_list.currentRow()].household_id != h.household_id:
        key(Qt.Key.Key_Down)
    key(Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: tab.source is not None, timeout=TIMEOUT)
    assert [m.key for m in tab.movers.chosen()] == [p.person_id for p in h.members]
    key(Qt.Key.Key_D, alt)
    assert focused() is tab.moved_on
    type_text(qtbot, tab.moved_on, wareki.format_date(clerk.today() + timedelta(days=10)))
    key(Qt.Key.Key_N, alt)
    assert focused() is tab.new_address
    type_text(qtbot, tab.new_address, "北海道札幌市北区北24条西5丁目1番1号")
    key(Qt.Key.Key_Tab)
    assert focused() is tab.katagaki
    key(Qt.Key.Key_Tab)
    assert focused() is tab.destination_head
    type_text(qtbot, tab.destination_head, h.head.name)
    key(Qt.Key.Key_I, alt)  # 「本人確認書類」: its first box
    first = focused()
    assert first in tab.documents.values()
    key(Qt.Key.Key_Space)
    assert first is not None and first.isChecked()  # type: ignore[attr-defined]
    desk.ready_to_print()
    key(Qt.Key.Key_F5)
    qtbot.waitUntil(lambda: tab.prepared is not None, timeout=TIMEOUT)
    assert focused() is tab.signature  # the print hands the focus to the clerk's first tick
    key(Qt.Key.Key_G, alt)  # a button's Alt-key clicks it animated: the tick comes a moment later
    qtbot.waitUntil(tab.signature.isChecked, timeout=TIMEOUT)
    key(Qt.Key.Key_R, alt)
    qtbot.waitUntil(tab.documents_checked.isChecked, timeout=TIMEOUT)
    qtbot.waitUntil(tab.file_button.isEnabled, timeout=TIMEOUT)
    with qtbot.waitSignal(tab.filed, timeout=TIMEOUT) as filed:
        key(Qt.Key.Key_F9)
    nid = filed.args[0]
    assert desk.previews == ["住民異動届", "転出証明書"] and len(desk.printed) == 2
    assert "転出証明書" in tab.message.text() and "印刷しました" in tab.message.text()

    certificate = pdftotext(desk.printed[1])
    assert "転出証明書" in certificate and "札幌市北区北24条西5丁目1番1号" in certificate
    for p in h.members:
        assert p.name.replace(" ", "").replace("\u3000", "") in certificate, p.person_id
    assert "見本" not in certificate
    form = pdftotext(desk.printed[0])
    assert "転出" in form and "札幌市北区北24条西5丁目1番1号" in form

    qtbot.waitUntil(lambda: clerk.cache.outbox_count() == 0, timeout=TIMEOUT)
    confirm(counter, nid)
    desk.decided(nid)
    removed = clerk.open_household(h.household_id)
    assert {p.status for p in removed.members} == {"removed"}
    assert {p.removal_reason for p in removed.members} == {"転出"}
    window.close()


def _card_reader(clerk: Any, counter: Any, profile: CardProfile) -> Any:
    """The tab's card path over the card desk's service and a virtual card (PIN entered)."""
    card = VirtualCard(profile)
    desk = CardDeskService(
        DeskContext("clerk01", ("clerk",), counter.config.terminal_no),
        lambda: SimulatorTransport(card),
        clerk.card_lookup,
        audit=clerk.card_audit,
    )

    def prepare(_parent: QWidget) -> Callable[[], CardRead]:
        def work() -> CardRead:
            reading = desk.read_with_pin(profile.kenhojo_pin)
            assert reading.face is not None
            match = desk.match(reading)
            return CardRead(reading.face, match.person, match.household)

        return work

    return prepare


def test_special_move_out_with_the_card_for_a_household(qtbot, counter, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    clerk = N.login_service(counter.terminal_dir).login("clerk01", PASSWORDS["clerk01"])
    clerk.sync_once()
    h = next(households(clerk, 3, lambda h: clerk.cache.person(h.head_person_id)[0].my_number))
    head = clerk.cache.person(h.head_person_id)[0]
    profile = CardProfile(
        name=head.name,
        address=h.address,
        birth_date=head.birth_date,
        sex=head.sex,
        my_number=head.my_number,
        kenhojo_pin="2580",
        jpki_auth_pin="2580",
        jpki_sign_password="ABC123",
        security_code="1357",
        card_expires_on=clerk.today() + timedelta(days=3000),
        certificate_expires_on=clerk.today() + timedelta(days=1500),
    )
    desk = Desk(qtbot, clerk, tmp_path, read_card=_card_reader(clerk, counter, profile))
    tab = desk.tab
    desk.procedure(Procedure.SPECIAL_MOVE_OUT)
    tab.card_button.click()
    qtbot.waitUntil(lambda: tab.source is not None, timeout=TIMEOUT)
    assert tab.card_presented and tab.documents[IdentityDocument.MY_NUMBER_CARD].isChecked()
    assert tab.filer_name.text() == head.name
    assert tab.filer_kind.currentData() == FilerKind.SELF
    assert len(tab.movers.chosen()) == len(h.members) >= 3
    type_text(qtbot, tab.moved_on, wareki.format_date(clerk.today() + timedelta(days=7)))
    type_text(qtbot, tab.new_address, "北海道旭川市6条通7丁目")
    nid = desk.print_sign_file()
    assert desk.previews == ["住民異動届"] and len(desk.printed) == 1  # no paper: 住基ネット
    assert "転出証明書" not in tab.message.text()
    form = pdftotext(desk.printed[0])
    assert "個人番号カード" in form and "旭川市6条通7丁目" in form

    confirm(counter, nid)
    desk.decided(nid)
    gone = clerk.open_household(h.household_id)
    assert {p.status for p in gone.members} == {"removed"}
    assert {p.moved_out_to for p in gone.members} == {"北海道旭川市6条通7丁目"}
    desk.window.close()


def test_household_changes_separation_merger_and_head_change(
    qtbot, counter, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """世帯分離 of two children, 世帯合併 of that new household back into the old one (the same
    address), and a 世帯主変更 of another household: each confirmed, each seen in the register."""
    clerk = N.login_service(counter.terminal_dir).login("clerk01", PASSWORDS["clerk01"])
    desk = Desk(qtbot, clerk, tmp_path)
    tab, today = desk.tab, clerk.today()

    def children(h: Household) -> list[Any]:
        return [p for p in h.members if p.relationship == "子"]

    family = next(households(clerk, 4, lambda h: len(children(h)) >= 2))
    first, second = children(family)[:2]

    # 世帯分離: the two children form a household at the same address; the elder heads it.
    desk.procedure(Procedure.SEPARATION)
    desk.open(family)
    assert tab.movers.chosen() == []  # nobody is ticked for a 分離
    desk.tick({first.person_id, second.person_id})
    elder, younger = sorted((first, second), key=lambda p: p.birth_date)
    plans = tab.households.current()
    new = next(p for p in plans if p.household_id is None)
    assert {r.key for r in new.roles} == {first.person_id, second.person_id}
    desk.relationship(elder.person_id, "世帯主")
    desk.relationship(younger.person_id, "弟" if younger.sex == "male" else "妹")
    type_text(qtbot, tab.moved_on, wareki.format_date(today - timedelta(days=1)))
    tab.filer_kind.setCurrentIndex(tab.filer_kind.findData(FilerKind.HEAD))
    tab.documents[IdentityDocument.DRIVERS_LICENSE].setChecked(True)
    assert not tab.new_address.isEnabled()  # a 世帯変更 moves no address
    nid = desk.print_sign_file()
    text = pdftotext(desk.printed[-1])
    assert "世帯分離" in text and elder.name.replace(" ", "") in text
    confirm(counter, nid)
    desk.decided(nid)
    old = clerk.open_household(family.household_id)
    assert elder.person_id not in {p.person_id for p in old.members}
    _p, separated_id = clerk.cache.person(elder.person_id)
    separated = clerk.open_household(separated_id)
    assert separated.address == family.address and separated.head.person_id == elder.person_id
    assert len(separated.members) == 2

    # 世帯合併: the separated household joins the old one again (same address), as 子.
    desk.procedure(Procedure.MERGER)
    desk.open(separated)
    desk.open(old, as_target=True)
    assert {m.key for m in tab.movers.chosen()} == {elder.person_id, younger.person_id}
    desk.relationship(elder.person_id, "子")
    desk.relationship(younger.person_id, "子")
    type_text(qtbot, tab.moved_on, wareki.format_date(today))
    tab.documents[IdentityDocument.DRIVERS_LICENSE].setChecked(True)
    nid = desk.print_sign_file()
    confirm(counter, nid)
    desk.decided(nid)
    merged = clerk.open_household(family.household_id)
    assert {p.person_id for p in merged.members if p.status == "resident"} >= {
        elder.person_id,
        younger.person_id,
    }
    assert {p.person_id: p.relationship for p in merged.members}[elder.person_id] == "子"

    # 世帯主変更 of another household with a 妻: she becomes 世帯主, he 夫.
    couple = next(
        households(
            clerk,
            2,
            lambda h: (
                h.household_id != family.household_id
                and any(p.relationship == "妻" for p in h.members)
            ),
        )
    )
    wife = next(p for p in couple.members if p.relationship == "妻")
    desk.procedure(Procedure.HEAD_CHANGE)
    desk.open(couple)
    desk.relationship(couple.head_person_id, "夫")
    desk.relationship(wife.person_id, "世帯主")
    type_text(qtbot, tab.moved_on, wareki.format_date(today - timedelta(days=3)))
    tab.filer_person.setCurrentIndex(tab.filer_person.findData(wife.person_id))
    tab.documents[IdentityDocument.DRIVERS_LICENSE].setChecked(True)
    nid = desk.print_sign_file()
    assert "世帯主変更" in pdftotext(desk.printed[-1])
    confirm(counter, nid)
    desk.decided(nid)
    after = clerk.open_household(couple.household_id)
    assert after.head_person_id == wife.person_id
    assert {p.person_id: p.relationship for p in after.members}[couple.head_person_id] == "夫"
    assert all(f.severity != Severity.ERROR for f in tab.findings.findings)
    desk.window.close()
