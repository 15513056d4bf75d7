"""Issue 20's "done when", end to end with the real server over mTLS, two enrolled terminals,
the SQLCipher caches, the keyring, the real printing and the admin CLI:

- a 転居 filed at one terminal, confirmed at the head office, shows the new address in another
  terminal's search and on its next 住民票の写し;
- a 特例転入 with the virtual card (movein_card.json through the simulator and 住基ネット's
  simulator) creates the new resident and household;
- a 転出 prints a 転出証明書;
- filing works offline and survives a SIGKILL between filing and delivery (tests/e2e/
  test_notifications_crash.py).
"""

from __future__ import annotations

import io
from pathlib import Path

import pdfplumber

from app.cards.simulator import CardProfile, VirtualCard
from app.cards.simulator_transport import SimulatorTransport
from app.services.card_desk import CardDeskService, DeskContext
from app.services.terminal import enroll
from app.store.audit import AuditAction
from resources import cards_dir
from server import notifications
from server.cli import main as server_main
from tests.e2e import notification_helpers as N
from tests.e2e.conftest import PASSWORDS
from tests.e2e.test_counter_services import self_request

REVIEWER = "review01"


def _text(pdf: bytes) -> str:
    with pdfplumber.open(io.BytesIO(pdf)) as doc:
        return "".join((page.extract_text() or "") for page in doc.pages).replace(" ", "")


def _confirm_by_cli(counter, notification_id: str) -> None:  # type: ignore[no-untyped-def]
    data_dir = str(counter.server.config.data_dir)
    args = ["--data-dir", data_dir, "notification", "confirm", notification_id, "--by", REVIEWER]
    assert server_main(args) == 0


def _second_terminal(counter, tmp_path: Path) -> Path:  # type: ignore[no-untyped-def]
    directory = tmp_path / "terminal-2"
    server = counter.server
    enroll(directory, server.base_url, server.ca_cert_path, server.make_token())
    return directory


def test_move_within_filed_here_confirmed_there_shows_everywhere(counter, tmp_path: Path) -> None:
    clerk = N.login_service(counter.terminal_dir).login("clerk01", PASSWORDS["clerk01"])
    try:
        assert clerk.sync_once().error is None
        h = N.plain_household(clerk)
        filed = N.file(clerk, N.move_within(clerk, h))
        nid = filed.notification.notification_id
        assert filed.notification.delivery == "unsent" and filed.certificate_pdf is None
        report = clerk.sync_once()
        assert report.error is None and clerk.cache.outbox_count() == 0
        assert not report.notices  # pending, not a conflict
        [row] = notifications.list_notifications(counter.server.db)
        assert (row.notification_id, row.state, row.terminal_no) == (
            nid,
            "pending",
            counter.config.terminal_no,
        )
        actions = [e.action for e in clerk.chain.query(operator_id="clerk01")]
        for step in ("notification_prepared", "notification_printed", "notification_filed"):
            assert step in actions

        _confirm_by_cli(counter, nid)

        # The filing terminal hears the decision through the feed.
        clerk.sync_once()
        [decision] = clerk.notification_decisions()
        assert (decision.notification_id, decision.state) == (nid, "confirmed")
        assert clerk.notification_decisions() == []  # shown once
    finally:
        clerk.logout()

    other_dir = _second_terminal(counter, tmp_path)
    other = N.login_service(other_dir).login("issuer01", PASSWORDS["issuer01"])
    try:
        assert other.config.terminal_no != counter.config.terminal_no
        report = other.sync_once()
        assert report.error is None and report.pull is not None and report.pull.complete
        hits = other.search(name=h.head.name, address="北進町123番地4").hits
        assert h.head_person_id in [x.person_id for x in hits]
        moved = other.open_household(h.household_id)
        assert (moved.address, moved.katagaki) == (N.NEW_ADDRESS.text, N.NEW_ADDRESS.katagaki)
        assert moved.postal_code == "090-0052"  # from the town list (北進町)
        head = moved.head
        assert head.history[-1].kind == "転居" and head.history[-1].reported_on == other.today()
        issued = other.issue(self_request(moved, h.head_person_id), moved)
        text = _text(issued.pdf)
        assert "北進町123番地4" in text and "北進ハイツ202号室" in text
    finally:
        other.logout()


def test_special_move_in_with_the_virtual_card_creates_resident_and_household(counter) -> None:
    clerk = N.login_service(counter.terminal_dir).login("clerk01", PASSWORDS["clerk01"])
    try:
        clerk.sync_once()
        card = VirtualCard(CardProfile.load(cards_dir() / "movein_card.json"))
        desk = CardDeskService(
            DeskContext("clerk01", ("clerk",), counter.config.terminal_no),
            lambda: SimulatorTransport(card),
            clerk.card_lookup,
            audit=clerk.card_audit,
        )
        reading = desk.read_with_pin("2468")  # the resident's PIN: 4情報 and 個人番号
        assert reading.face is not None and not desk.match(reading).found  # not registered here
        certificate = clerk.move_in_certificate_from_card(reading.face)
        assert certificate.source == "jukinet" and len(certificate.persons) == 3
        filed = N.file(clerk, N.special_move_in(clerk, certificate))
        assert clerk.sync_once().error is None
        nid = filed.notification.notification_id
        _confirm_by_cli(counter, nid)
        clerk.sync_once()
        [decision] = clerk.notification_decisions()
        assert decision.state == "confirmed"
        hits = clerk.search(name="大空 翔").hits
        assert len(hits) == 1 and hits[0].status == "resident"
        household = clerk.open_household(hits[0].household_id)
        assert household.head.name == "大空 翔" and household.address == certificate.destination
        assert sorted(p.name for p in household.members) == ["大空 美咲", "大空 翔", "大空 陽菜"]
        head = household.head
        # The screen's household is masked (issue 21): the register holds the card's number.
        assert clerk.cache.person(head.person_id)[0].my_number == "880000010103"
        assert head.previous_address is not None
        assert "個人番号カード継続利用" in head.history[-1].note
    finally:
        clerk.logout()


def test_move_out_prints_the_move_out_certificate(counter) -> None:
    clerk = N.login_service(counter.terminal_dir).login("clerk01", PASSWORDS["clerk01"])
    try:
        clerk.sync_once()
        h = N.plain_household(clerk, "たなか")
        filed = N.file(clerk, N.move_out(clerk, h))
        assert filed.certificate_pdf is not None and filed.certificate_no is not None
        assert filed.certificate_no.startswith(f"{counter.config.terminal_no}-")
        text = _text(filed.certificate_pdf)
        assert "転出証明書" in text and filed.certificate_no in text and "見本" not in text
        for p in h.members:
            assert p.name.replace(" ", "").replace("\u3000", "") in text
        assert "札幌市北区北24条西5丁目" in text
        clerk.record_certificate_print(filed, 1)
        assert clerk.sync_once().error is None
        detail = notifications.show(counter.server.db, filed.notification.notification_id)
        assert detail.move_out_certificate_no == filed.certificate_no
        actions = [e.action for e in clerk.chain.query(operator_id="clerk01")]
        assert actions.count(AuditAction.NOTIFICATION_PRINTED.value) == 2  # 届書 and 証明書
    finally:
        clerk.logout()
