"""The APDU stack and the My Number card APs against the in-process virtual card."""

from __future__ import annotations

import datetime as dt
import logging

import pytest

from app.cards import apdu
from app.cards.apdu import (
    CardChannel,
    CardRemoved,
    FileNotFound,
    IncorrectParameters,
    OffsetBeyondEnd,
    PinBlocked,
    SecurityStatusNotSatisfied,
    WrongPin,
)
from app.cards.mynumber import (
    AID_JPKI,
    AID_KENHOJO,
    AID_KENMEN,
    EF_JPKI_AUTH_CERT,
    EF_KENHOJO_BASIC4,
    EF_KENHOJO_MY_NUMBER,
    EF_KENHOJO_PIN,
    MyNumberCard,
    PinKind,
)
from app.cards.simulator import ATR, CardProfile, VirtualCard, make_png
from app.cards.simulator_transport import SimulatorTransport
from app.domain.errors import ValidationError


def _mn(card: VirtualCard, **kw: int) -> MyNumberCard:
    return MyNumberCard(SimulatorTransport(card, **kw))


def test_reads_four_items_and_my_number_with_pin(card: VirtualCard, profile: CardProfile) -> None:
    info = _mn(card).read_face_info(pin=profile.kenhojo_pin)
    assert (info.name, info.address, info.birth_date, info.sex) == (
        profile.name,
        profile.address,
        profile.birth_date,
        profile.sex,
    )
    assert info.my_number == profile.my_number
    assert profile.name not in repr(info)


def test_collation_b_opens_four_items_but_not_my_number(
    card: VirtualCard, profile: CardProfile
) -> None:
    mn = _mn(card)
    info = mn.read_face_info(collation_b=profile.collation_b)
    assert info.name == profile.name and info.my_number is None
    # The 個人番号 EF stays closed under 照合番号B: 6982.
    mn.channel.select_ef(EF_KENHOJO_MY_NUMBER)
    with pytest.raises(SecurityStatusNotSatisfied):
        mn.channel.read_binary(0, 16)


def test_collation_b_is_showa_yymmdd_expiry_year_and_code(profile: CardProfile) -> None:
    # 1985-04-12 is 昭和60年4月12日; the card expires in 2035; code 5678.
    assert profile.collation_b == "600412" + "2035" + "5678"


def test_read_before_verification_is_6982(card: VirtualCard) -> None:
    ch = CardChannel(SimulatorTransport(card))
    ch.select_df(AID_KENHOJO)
    ch.select_ef(EF_KENHOJO_BASIC4)
    with pytest.raises(SecurityStatusNotSatisfied) as exc:
        ch.read_binary(0, 10)
    assert exc.value.sw == 0x6982


def test_wrong_pin_counts_down_then_blocks_and_is_never_called_wrong_after(
    card: VirtualCard, profile: CardProfile
) -> None:
    mn = _mn(card)
    assert mn.retries(PinKind.KENHOJO_PIN) == 3
    with pytest.raises(WrongPin) as e1:
        mn.read_my_number("0000")
    assert e1.value.remaining == 2 and "残り2回" in e1.value.message
    # The empty VERIFY reads the counter without using a try.
    assert mn.retries(PinKind.KENHOJO_PIN) == 2
    assert mn.retries(PinKind.KENHOJO_PIN) == 2
    with pytest.raises(WrongPin) as e2:
        mn.read_my_number("0001")
    assert e2.value.remaining == 1
    with pytest.raises(PinBlocked) as e3:  # 63C0: blocked by this very try
        mn.read_my_number("0002")
    assert not isinstance(e3.value, WrongPin)
    assert "ロック" in e3.value.message and "違います" not in e3.value.message
    assert mn.retries(PinKind.KENHOJO_PIN) == 0
    # Even the right PIN is refused now, as blocked, and no try is spent on it.
    with pytest.raises(PinBlocked):
        mn.read_my_number(profile.kenhojo_pin)
    # The card itself answers 6984 to a VERIFY with data.
    ch = mn.channel
    ch.select_df(AID_KENHOJO)
    ch.select_ef(EF_KENHOJO_PIN)
    with pytest.raises(PinBlocked) as e4:
        ch.verify(profile.kenhojo_pin.encode())
    assert e4.value.sw == 0x6984
    # The other PINs are independent.
    assert mn.retries(PinKind.JPKI_AUTH_PIN) == 3


def test_right_pin_resets_the_counter(card: VirtualCard, profile: CardProfile) -> None:
    mn = _mn(card)
    with pytest.raises(WrongPin):
        mn.read_my_number("9999")
    assert mn.read_my_number(profile.kenhojo_pin) == profile.my_number
    mn.channel.select_df(AID_JPKI)  # another AP: the verification is gone
    assert mn.retries(PinKind.KENHOJO_PIN) == 3


def test_blocked_profile_reports_blocked(profile_dict: dict) -> None:
    profile_dict["retries"] = {"jpki_sign_password": 0}
    mn = _mn(VirtualCard(CardProfile.from_dict(profile_dict)))
    r = mn.all_retries()
    assert r[PinKind.JPKI_SIGN_PASSWORD] == 0 and r[PinKind.KENHOJO_PIN] == 3


def test_pin_format_is_checked_before_the_card_sees_it(card: VirtualCard) -> None:
    mn = _mn(card)
    with pytest.raises(ValidationError):
        mn.read_my_number("12a4")
    assert mn.retries(PinKind.KENHOJO_PIN) == 3


def test_not_found_offset_and_parameter_errors(card: VirtualCard) -> None:
    ch = CardChannel(SimulatorTransport(card))
    with pytest.raises(FileNotFound):
        ch.select_df(bytes.fromhex("A000000003"))
    ch.select_df(AID_JPKI)
    with pytest.raises(FileNotFound):
        ch.select_ef(b"\x12\x34")
    ch.select_ef(EF_JPKI_AUTH_CERT)
    with pytest.raises(OffsetBeyondEnd):
        ch.read_binary(0x7000, 16)
    with pytest.raises(IncorrectParameters):
        raise_for = ch.transmit(apdu.CommandApdu(0x00, 0xA4, 0x07, 0x0C, b"\x00\x0a"))
        apdu.raise_for_status(raise_for)
    resp = ch.transmit(apdu.CommandApdu(0x00, 0xB0, 0x81, 0x00, le=4))
    assert resp.sw == 0x6A86
    assert ch.transmit(apdu.CommandApdu(0x00, 0xCA, 0x00, 0x00, le=4)).sw == 0x6D00


def test_certificate_and_expiry(card: VirtualCard, profile: CardProfile) -> None:
    cert = _mn(card).read_auth_certificate()
    assert cert.not_after == profile.certificate_expires_on
    assert cert.not_before <= dt.date.today()


def test_reads_whole_files_through_short_reads(card: VirtualCard, profile: CardProfile) -> None:
    # A card that answers at most 100 bytes per READ BINARY: the reader must keep going.
    card.max_chunk = 100
    mn = _mn(card)
    cert = mn.read_auth_certificate()
    assert cert.not_after == profile.certificate_expires_on
    mn.channel.select_df(AID_JPKI)
    mn.channel.select_ef(EF_JPKI_AUTH_CERT)
    card.max_chunk = 256
    whole = mn.channel.read_all()
    assert whole == card.files[(AID_JPKI, EF_JPKI_AUTH_CERT)].data
    assert len(whole) > 256


def test_face_photo_and_card_expiry_with_collation_b(
    card: VirtualCard, profile: CardProfile
) -> None:
    k = _mn(card).read_kenmen(profile.collation_b)
    assert k.face_photo == make_png() and k.face_photo.startswith(b"\x89PNG")
    assert k.card_expires_on == profile.card_expires_on


def test_wrong_collation_b_counts_down(card: VirtualCard, profile: CardProfile) -> None:
    with pytest.raises(WrongPin) as exc:
        _mn(card).read_kenmen("00000000000000")
    assert exc.value.remaining == 9
    assert "照合番号B" in exc.value.message
    assert card.remaining(AID_KENMEN, b"\x00\x12") == 9


def test_card_pulled_out_mid_read(card: VirtualCard, profile: CardProfile) -> None:
    # SELECT AP, SELECT EF, empty VERIFY, VERIFY, SELECT EF, then the card goes mid-read.
    with pytest.raises(CardRemoved) as exc:
        _mn(card, remove_after=6).read_face_info(pin=profile.kenhojo_pin)
    assert "取り外されました" in exc.value.message


def test_nothing_personal_is_logged(
    card: VirtualCard, profile: CardProfile, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    mn = _mn(card)
    mn.read_face_info(pin=profile.kenhojo_pin)
    with pytest.raises(WrongPin) as exc:
        mn.read_my_number("0000")
    text = caplog.text + exc.value.message
    for secret in (profile.name, profile.my_number, profile.kenhojo_pin, profile.address):
        assert secret not in text


def test_atr_is_the_my_number_card_atr(card: VirtualCard) -> None:
    assert card.atr == ATR == bytes.fromhex("3BE000FF8131FE4514")


def test_blocked_collation_b_is_reported_blocked(profile_dict: dict) -> None:
    profile_dict["retries"] = {"collation_b": 0}
    p = CardProfile.from_dict(profile_dict)
    with pytest.raises(PinBlocked) as exc:
        _mn(VirtualCard(p)).read_face_info(collation_b=p.collation_b)
    assert "照合番号B" in exc.value.message and "ロック" in exc.value.message
    assert "<redacted>" in repr(p) and p.name not in repr(p)
