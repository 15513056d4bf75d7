"""The issuance dialog with a requester who is a person (issue 19), through the real widgets and
the real session: 本人, 代理人 with 個人番号 (郵送 only), 第三者, 外国人住民, and a 支援措置
refusal. With MADOGUCHI_SCREENSHOTS=DIR each case saves the dialog as a PNG (docs/images)."""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from app.domain.certificates import IdentityDocument, Item, RequesterKind, ThirdPartyGround
from app.synthetic.generator import household_dicts
from tests.e2e.conftest import NEIGHBOUR_HOUSEHOLD, PERPETRATOR_NAME
from ui.issuance_dialog import IssuanceDialog
from ui.print_job import print_document

TIMEOUT = 30_000
K = RequesterKind


def _shot(dialog: IssuanceDialog, name: str) -> None:
    out = os.environ.get("MADOGUCHI_SCREENSHOTS")
    if not out:
        return
    # 1366 wide as at the counter; as tall as the form needs (at 768 it scrolls: issue 17).
    dialog.resize(1366, max(768, dialog.sizeHint().height()))
    # QPdfView renders its pages in the background; a screenshot waits for them (no assertion
    # depends on this wait).
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        QApplication.processEvents()
    dialog.grab().save(str(Path(out) / name))


@pytest.fixture
def session(counter) -> Any:
    s = counter.login("issuer01")
    s.sync_once()
    yield s
    s.logout()


def _dialog(qtbot, session, household, tmp_path: Path | None = None) -> IssuanceDialog:
    printed = (tmp_path or Path("/nonexistent")) / "printed.pdf"

    def print_to_file(pdf: bytes, copies: int, issuance_no: str, printer: str | None) -> int:
        return print_document(pdf, printer=printer, copies=copies, output_file=str(printed)).pages

    dialog = IssuanceDialog(
        session,
        household,
        approve_dialog=lambda *_a: None,
        print_pdf=print_to_file if tmp_path else None,
    )
    dialog.printed_path = printed  # type: ignore[attr-defined]
    qtbot.addWidget(dialog)
    dialog.resize(1366, 768)
    dialog.show()
    qtbot.waitUntil(lambda: dialog.context is not None, timeout=TIMEOUT)
    return dialog


def _tick(dialog: IssuanceDialog, *docs: IdentityDocument) -> None:
    for doc in docs:
        dialog.id_checks[doc].setChecked(True)


def _decided(qtbot, dialog: IssuanceDialog) -> Any:
    """The decision for what is on screen now (it is asked for in the background once the
    inputs pause)."""
    qtbot.waitUntil(lambda: not dialog.deciding, timeout=TIMEOUT)
    return dialog.decision


def _resident_household(session, *, numbers: bool = False):
    for hit in session.search(name="さとう").hits:
        if hit.status == "resident" and not hit.protected:
            h = session.open_household(hit.household_id)
            head = h.head
            if not head.is_removed and (not numbers or head.my_number):
                return h
    raise AssertionError("no household")


def test_self_sees_what_always_prints(qtbot, session) -> None:
    household = _resident_household(session)
    dialog = _dialog(qtbot, session, household)
    panel = dialog.requester_panel
    panel.member.setCurrentIndex(panel.member.findData(household.head_person_id))
    _tick(dialog, IdentityDocument.DRIVERS_LICENSE)
    _decided(qtbot, dialog)
    assert dialog.decision is not None and dialog.decision.allowed
    assert "本人の請求（住民基本台帳法第12条）" in dialog.decision_label.text()
    items = dialog.items_panel.checks
    # §12: 前住所, 住民となった年月日, 記事 always print (ticked, not a choice) ...
    for item in (Item.PREVIOUS_ADDRESS, Item.BECAME_RESIDENT, Item.HISTORY):
        assert items[item].isChecked() and not items[item].isEnabled()
    # ... 世帯主の氏名及び続柄, 本籍, 個人番号 are choices, unticked.
    for item in (Item.HEAD_AND_RELATIONSHIP, Item.HONSEKI, Item.MY_NUMBER):
        assert items[item].isEnabled() and not items[item].isChecked()
    assert "登録あり" in panel.identity.text()
    _shot(dialog, "screen-issuance-self.png")
    # And the items, further down the form (it scrolls at 1366x768).
    dialog.form_scroll.ensureWidgetVisible(dialog.items_panel)
    _shot(dialog, "screen-issuance-items.png")
    dialog.accept()


def test_proxy_with_my_number_is_issued_as_mail(qtbot, session, tmp_path: Path) -> None:
    household = _resident_household(session, numbers=True)
    dialog = _dialog(qtbot, session, household, tmp_path)
    panel = dialog.requester_panel
    panel.set_kind(K.PROXY)
    panel.enter_by_hand("代理　花子", "北海道網走市南六条東一丁目1番地", "S55.5.5")
    panel.principal.setCurrentIndex(panel.principal.findData(household.head_person_id))
    panel.power_of_attorney.setChecked(True)
    panel.reason.setText("勤務先への扶養控除の届出に添付するため")
    _tick(dialog, IdentityDocument.DRIVERS_LICENSE)
    dialog.scope_some.setChecked(True)
    dialog.member_checks[household.head_person_id].setChecked(True)
    dialog.items_panel.ask(Item.MY_NUMBER)
    d = _decided(qtbot, dialog)
    assert d is not None and d.allowed and d.deliver_by_mail
    text = dialog.decision_label.text()
    assert "郵送のみ" in text and "送付先" in text and household.address in text
    assert dialog.issue_button.text() == "郵送で交付する"
    dialog.preview_button.click()  # the 見本 starts with the address sheet
    qtbot.waitUntil(lambda: "見本(" in dialog.preview_status.text(), timeout=TIMEOUT)
    _shot(dialog, "screen-issuance-proxy-mail.png")

    dialog.issue_button.click()
    qtbot.waitUntil(lambda: dialog.issued is not None, timeout=TIMEOUT)
    assert dialog.issued.issuance.mailed
    assert "窓口では渡さないでください" in dialog.decision_label.text()
    assert dialog.print_button.text() == "印刷（郵送用）"
    with qtbot.waitSignal(dialog.printed, timeout=TIMEOUT):
        dialog.print_button.click()
    info = subprocess.run(
        ["pdfinfo", str(dialog.printed_path)], capture_output=True, text=True, check=True
    )
    pages = re.search(r"^Pages:\s+(\d+)$", info.stdout, re.MULTILINE)
    assert pages is not None and int(pages.group(1)) == dialog.issued.sheets + 1
    no = dialog.issued.issuance.issuance_no
    dialog.accept()

    # 交付履歴 shows who asked and that it left by mail.
    from ui.main_window import IssuanceHistory

    history = IssuanceHistory(session, lambda pdf: None)
    qtbot.addWidget(history)
    history.refresh()
    qtbot.waitUntil(lambda: history.table.rowCount() > 0, timeout=TIMEOUT)
    columns = list(IssuanceHistory.COLUMNS)
    row = next(r for r in range(history.table.rowCount()) if history.table.item(r, 0).text() == no)
    assert history.table.item(row, columns.index("交付方法")).text() == "郵送"
    assert history.table.item(row, columns.index("請求者")).text() == "代理人（委任状）"
    assert "うち郵送 1件" in history.summary.text()


def test_third_party_purpose_is_judged(qtbot, session) -> None:
    household = _resident_household(session)
    dialog = _dialog(qtbot, session, household)
    panel = dialog.requester_panel
    panel.set_kind(K.THIRD_PARTY)
    panel.enter_by_hand("債権　回収", "北海道札幌市中央区北1条西2丁目1番地", "S50.4.1")
    panel.ground.setCurrentIndex(panel.ground.findData(ThirdPartyGround.OWN_RIGHTS))
    _tick(dialog, IdentityDocument.DRIVERS_LICENSE)
    dialog.scope_some.setChecked(True)
    dialog.member_checks[household.head_person_id].setChecked(True)
    panel.reason.setText("必要なため")
    _decided(qtbot, dialog)
    assert dialog.decision is not None and not dialog.decision.allowed
    assert "具体的" in dialog.decision_label.text()
    panel.reason.setText("貸金返還請求訴訟の提起のため")
    panel.submit_to.setText("札幌地方裁判所北見支部")
    items = dialog.items_panel.checks
    # §12の3: only the 基礎証明事項 always print; 前住所 and 本籍 are choices with a reason.
    assert items[Item.ADDRESS_SET].isChecked() and not items[Item.ADDRESS_SET].isEnabled()
    assert items[Item.PREVIOUS_ADDRESS].isEnabled() and not items[Item.PREVIOUS_ADDRESS].isChecked()
    assert not items[Item.MY_NUMBER].isEnabled()
    dialog.items_panel.ask(Item.HONSEKI)
    _decided(qtbot, dialog)
    assert dialog.decision.allowed and "必要と認められない" in dialog.decision_label.text()
    dialog.items_panel.justified.setChecked(True)
    _decided(qtbot, dialog)
    assert dialog.decision.allowed
    assert Item.HONSEKI in dialog.decision.items[household.head_person_id]
    dialog.preview_button.click()
    qtbot.waitUntil(lambda: "見本(" in dialog.preview_status.text(), timeout=TIMEOUT)
    _shot(dialog, "screen-issuance-third-party.png")
    dialog.accept()


def test_foreign_resident_items(qtbot, session) -> None:
    foreign = next(
        h for h in household_dicts(150, 11) if any(m["nationality"] for m in h["members"])
    )
    household = session.open_household(foreign["household_id"])
    member = next(m for m in household.members if m.is_foreign and not m.is_removed)
    dialog = _dialog(qtbot, session, household)
    panel = dialog.requester_panel
    panel.member.setCurrentIndex(panel.member.findData(member.person_id))
    _tick(dialog, IdentityDocument.RESIDENCE_CARD)
    dialog.scope_some.setChecked(True)
    dialog.member_checks[member.person_id].setChecked(True)
    dialog.form_kind.setCurrentIndex(dialog.form_kind.findData("individual"))
    # 国籍・地域 and the §30の45 items are choices, left out unless asked.
    for item in (Item.NATIONALITY, Item.FOREIGN_STATUS, Item.RESIDENCE_CARD_NUMBER):
        assert dialog.items_panel.checks[item].isEnabled()
        assert not dialog.items_panel.checks[item].isChecked()
    dialog.items_panel.ask(Item.NATIONALITY, Item.FOREIGN_STATUS)
    _decided(qtbot, dialog)
    assert dialog.decision is not None and dialog.decision.allowed
    dialog.preview_button.click()
    qtbot.waitUntil(lambda: "見本(" in dialog.preview_status.text(), timeout=TIMEOUT)
    _shot(dialog, "screen-issuance-foreign.png")
    dialog.accept()


def test_support_measure_refusal_shows_the_clerk_why(qtbot, session) -> None:
    household = session.open_household(NEIGHBOUR_HOUSEHOLD)
    dialog = _dialog(qtbot, session, household)
    panel = dialog.requester_panel
    panel.set_kind(K.THIRD_PARTY)
    panel.enter_by_hand(PERPETRATOR_NAME, "北海道札幌市中央区北1条西2丁目", "昭和50年1月1日")
    panel.ground.setCurrentIndex(panel.ground.findData(ThirdPartyGround.OWN_RIGHTS))
    panel.reason.setText("貸金返還請求訴訟の提起のため")
    panel.submit_to.setText("札幌地方裁判所")
    _tick(dialog, IdentityDocument.DRIVERS_LICENSE)
    d = _decided(qtbot, dialog)
    assert d is not None and not d.allowed
    text = dialog.decision_label.text()
    # The resident hears no reason; the clerk's line says what it is.
    assert "応じることができません" in text and "【職員向け】" in text and "加害者" in text
    assert not dialog.issue_button.isEnabled()
    _shot(dialog, "screen-issuance-protected-refusal.png")
    dialog.accept()


def test_requester_read_from_their_card(qtbot, session) -> None:
    """The card desk's reader path (the virtual card in the simulator transport): the 代理人
    shows their 個人番号カード, the resident types the PIN, the register finds them."""
    from cli.card_desk_wiring import requester_card_reader

    household = _resident_household(session)
    reader = requester_card_reader(session, demo=True, ask_pin=lambda parent: "1234")
    dialog = IssuanceDialog(session, household, approve_dialog=lambda *_a: None, read_card=reader)
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: dialog.context is not None, timeout=TIMEOUT)
    panel = dialog.requester_panel
    panel.set_kind(K.PROXY)
    assert panel.card_button.isVisibleTo(dialog)
    panel.card_button.click()
    qtbot.waitUntil(lambda: panel.found is not None, timeout=TIMEOUT)
    assert panel.found.person_id == "P-DEMO-CARD" and panel.found.name == "窓口 花子"
    assert "登録あり" in panel.identity.text()
    assert dialog.request().requester.person_id == "P-DEMO-CARD"
    dialog.accept()


def test_wide_area_is_not_offered_for_own_residents(qtbot, session) -> None:
    """§12の4 is for residents of another municipality: for this city's own household the
    dialog does not offer 広域交付 (it could be chosen, only to be refused)."""
    household = _resident_household(session)
    assert household.municipality_code == session.config.municipality_code
    dialog = _dialog(qtbot, session, household)
    kinds = dialog.requester_panel.kind
    index = kinds.findData(K.WIDE_AREA)
    assert not kinds.model().item(index).isEnabled()
    assert "他の市区町村" in kinds.itemData(index, Qt.ItemDataRole.ToolTipRole)
    assert kinds.model().item(kinds.findData(K.SELF)).isEnabled()
    dialog.accept()
