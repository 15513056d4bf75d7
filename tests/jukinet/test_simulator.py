"""The simulated 住基ネット: the 転出証明書情報 of the moving-in card, read from the virtual card
as the counter reads it (券面事項入力補助AP with the PIN), and the notices Kitami sends."""

from __future__ import annotations

from datetime import date

import pytest
from msgspec.structs import replace

from app.cards.mynumber import MyNumberCard
from app.cards.simulator import CardProfile, VirtualCard
from app.domain.notifications import CheckContext, check
from app.jukinet import (
    CardIdentity,
    JukinetAdapter,
    JukinetError,
    JukinetUnavailable,
    MoveInNotice,
    NotFound,
    SimulatedJukinet,
)
from app.jukinet.simulator import demo_certificates
from resources import cards_dir
from tests.domain.notifications import data as D

TODAY = date(2026, 4, 20)


class _InProcess:
    """The virtual card in this process (the transport seam of app.cards is transmit/close)."""

    def __init__(self, card: VirtualCard) -> None:
        self.card = card
        card.reset()

    def transmit(self, apdu: bytes) -> bytes:
        return self.card.process(apdu)

    def close(self) -> None:
        pass


def read_card(profile_file: str, pin: str) -> CardIdentity:
    card = VirtualCard(CardProfile.load(cards_dir() / profile_file))
    face = MyNumberCard(_InProcess(card)).read_face_info(pin=pin)  # type: ignore[arg-type]
    return CardIdentity.from_card(face)


def test_it_is_an_adapter() -> None:
    adapter: JukinetAdapter = SimulatedJukinet()
    assert adapter is not None


def test_the_moving_in_card_finds_its_household() -> None:
    jukinet = SimulatedJukinet.demo(TODAY)
    card = read_card("movein_card.json", "2468")
    c = jukinet.fetch_move_out_certificate(card)
    assert c.source == "jukinet" and c.issuing_municipality == "北海道札幌市中央区"
    assert [p.name for p in c.persons] == ["大空 翔", "大空 美咲", "大空 陽菜"]
    assert c.persons[0].card_holder and not c.persons[1].card_holder
    assert (c.planned_on, c.reported_on) == (date(2026, 4, 17), date(2026, 4, 10))
    # The demo register's resident card has no 特例転出.
    with pytest.raises(NotFound):
        jukinet.fetch_move_out_certificate(read_card("demo_card.json", "1234"))


def test_a_card_whose_4_items_differ_is_refused() -> None:
    jukinet = SimulatedJukinet.demo(TODAY)
    card = read_card("movein_card.json", "2468")
    other = CardIdentity(card.my_number, "大空 翔太", card.birth_date, card.sex, card.address)
    with pytest.raises(JukinetError) as e:
        jukinet.fetch_move_out_certificate(other)
    assert not isinstance(e.value, NotFound)
    # Notation (full-width space) is not a difference.
    same = CardIdentity(card.my_number, "大空\u3000翔", card.birth_date, card.sex, card.address)
    assert jukinet.fetch_move_out_certificate(same).head_name == "大空 翔"


def test_a_special_move_in_from_the_simulated_certificate_passes_the_checks() -> None:
    """The 特例転入 of the demo family: the draft the counter builds from the fetched
    certificate passes every rule of §22 and §24の2."""
    jukinet = SimulatedJukinet.demo(TODAY)
    c = jukinet.fetch_move_out_certificate(read_card("movein_card.json", "2468"))
    d = D.move_in(special=True)
    movers = tuple(
        D.Mover(
            key=f"new-{i + 1}",
            name=p.name,
            name_kana=p.name_kana,
            birth_date=p.birth_date,
            sex=p.sex,
            relationship=p.relationship,
            juminhyo_code=p.juminhyo_code,
            my_number=p.my_number,
            card_continued=p.card_holder,
        )
        for i, p in enumerate(c.persons)
    )
    d = replace(
        d,
        movers=movers,
        moved_on=c.planned_on,
        filer=D.Filer(kind=D.FilerKind.SELF, name=c.persons[0].name),
        move_out_certificate=c,
        old_address=D.Address(text=c.address, katagaki=c.katagaki),
        households=(
            D.HouseholdPlan(
                household_id=None,
                roles=tuple(D.Role(key=m.key, relationship=m.relationship) for m in movers),
                at_new_address=True,
            ),
        ),
    )
    assert check(d, CheckContext(TODAY, D.REGISTER, D.TOWNS)) == ()


def test_the_line_down() -> None:
    jukinet = SimulatedJukinet.demo(TODAY)
    jukinet.available = False
    with pytest.raises(JukinetUnavailable):
        jukinet.fetch_move_out_certificate(read_card("movein_card.json", "2468"))
    with pytest.raises(JukinetUnavailable):
        jukinet.send_move_out_certificate(demo_certificates(TODAY)[0], None)


def test_what_kitami_sends_is_recorded() -> None:
    jukinet = SimulatedJukinet()
    c = demo_certificates(TODAY)[1]
    r1 = jukinet.send_move_out_certificate(c, "012114")
    notice = MoveInNotice(
        juminhyo_code=c.persons[0].juminhyo_code,
        name=c.persons[0].name,
        birth_date=c.persons[0].birth_date,
        moved_in_on=TODAY,
        new_address="北海道北見市幸町3丁目4番5号",
        moved_out_municipality_code=c.issuing_municipality_code,
        notification_id="7d3f6c1e-0d5a-4f55-9d0e-5b3f1c2a9e01",
    )
    r2 = jukinet.send_move_in_notice(notice)
    assert r1 != r2
    assert jukinet.sent_move_out == [(c, "012114", r1)]
    assert jukinet.sent_move_in == [(notice, r2)]
    assert "網走" not in repr(notice)  # no personal data in repr


def test_a_card_read_without_the_pin_has_no_number() -> None:
    card = VirtualCard(CardProfile.load(cards_dir() / "movein_card.json"))
    face = MyNumberCard(_InProcess(card)).read_face_info(collation_b=card.profile.collation_b)  # type: ignore[arg-type]
    with pytest.raises(JukinetError):
        CardIdentity.from_card(face)
