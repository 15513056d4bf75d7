"""BER-TLV and response parsing: long-form lengths accepted, malformed data → typed errors."""

from __future__ import annotations

import contextlib
import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.cards.apdu import (
    CardChannel,
    CardError,
    CardStatusError,
    MalformedResponse,
    ResponseApdu,
    Tlv,
    encode_tlv,
    parse_tlv,
    parse_tlvs,
    read_tlv_header,
)
from app.cards.mynumber import (
    MyNumberCard,
    parse_basic4,
    parse_kenmen,
    parse_my_number,
    summarize_certificate,
)

FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def test_long_form_lengths() -> None:
    value = b"x" * 300
    for raw in (
        b"\x04\x82\x01\x2c" + value,
        b"\x04\x83\x00\x01\x2c" + value,
        b"\x04\x84\x00\x00\x01\x2c" + value,
    ):
        tlv, end = parse_tlv(raw)
        assert tlv == Tlv(0x04, value) and end == len(raw)
    assert parse_tlv(b"\xdf\x22\x81\x03abc")[0] == Tlv(0xDF22, b"abc")
    assert encode_tlv(0xFF20, b"a" * 200)[:4] == b"\xff\x20\x81\xc8"


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x04",
        b"\x04\x80abc",
        b"\x04\x85\x00\x00\x00\x00\x01a",
        b"\x04\x82\x01",
        b"\x04\x05abc",
        b"\xdf",
        b"\xdf\xa2\xa2\xa2\xa2\x01a",
        b"\xff\x20\x82\xff\xff",
    ],
)
def test_malformed_tlv(raw: bytes) -> None:
    with pytest.raises(MalformedResponse):
        parse_tlv(raw)


def test_padding_after_the_last_item() -> None:
    assert parse_tlvs(b"\x04\x01a" + b"\xff" * 5, allow_padding=True) == [Tlv(4, b"a")]
    with pytest.raises(MalformedResponse):
        parse_tlvs(b"\x04\x01a\xff\xff")


def test_structured_parsers_reject_wrong_shapes() -> None:
    ok = encode_tlv(
        0xFF20,
        b"".join(
            [
                encode_tlv(0xDF21, b"\x00" * 8),
                encode_tlv(0xDF22, "名前".encode()),
                encode_tlv(0xDF23, "住所".encode()),
                encode_tlv(0xDF24, b"19850412"),
                encode_tlv(0xDF25, b"2"),
            ]
        ),
    )
    assert parse_basic4(parse_tlv(ok)[0]).birth_date == dt.date(1985, 4, 12)
    for bad in (
        ok.replace(b"19850412", b"19851312"),
        ok.replace(b"\xdf\x25\x01\x32", b"\xdf\x25\x01\x35"),
        ok.replace(b"\xdf\x22", b"\xdf\x32"),
        ok.replace("名前".encode(), b"\xff\xfe\xfd\xfc\xfb\xfa"),
    ):
        with pytest.raises(MalformedResponse):
            parse_basic4(parse_tlv(bad)[0])
    with pytest.raises(MalformedResponse):
        parse_my_number(Tlv(0xFF10, b"123456789012"))  # wrong check digit
    with pytest.raises(MalformedResponse):
        parse_my_number(Tlv(0xFF10, b"12345678901X"))
    with pytest.raises(MalformedResponse):
        summarize_certificate(b"\x30\x03\x02\x01\x01")
    with pytest.raises(MalformedResponse):
        ResponseApdu.parse(b"\x90")


@FUZZ
@given(st.binary(max_size=64))
def test_tlv_parser_never_fails_untyped(data: bytes) -> None:
    try:
        tlvs = parse_tlvs(data, allow_padding=True)
    except MalformedResponse:
        return
    for t in tlvs:
        assert isinstance(t.value, bytes)


@FUZZ
@given(st.binary(max_size=80))
def test_structured_parsers_never_fail_untyped(data: bytes) -> None:
    for fn in (parse_basic4, parse_my_number, parse_kenmen):
        for wrapped in (data, encode_tlv(0xFF20, data), encode_tlv(0xFF10, data)):
            with contextlib.suppress(MalformedResponse):
                fn(parse_tlv(wrapped)[0])


@FUZZ
@given(st.binary(max_size=40))
def test_header_length_is_bounded(data: bytes) -> None:
    try:
        _tag, length, vpos = read_tlv_header(data)
    except MalformedResponse:
        return
    assert vpos <= len(data) and length >= 0


class _Scripted:
    """A transport that answers every command with the next scripted response."""

    def __init__(self, answers: list[bytes]) -> None:
        self.answers = list(answers)

    def transmit(self, apdu: bytes) -> bytes:
        return self.answers.pop(0) if self.answers else b"\x6f\x00"

    def close(self) -> None:
        pass


@FUZZ
@given(st.lists(st.binary(max_size=300), min_size=1, max_size=8))
def test_card_reads_with_garbage_answers_fail_typed(answers: list[bytes]) -> None:
    card = MyNumberCard(_Scripted(answers))
    for op in (
        card.read_auth_certificate,
        lambda: card.read_face_info(pin="1234"),
        lambda: card.read_kenmen("12345678901234"),
        card.all_retries,
    ):
        with contextlib.suppress(CardError):
            op()
    ch = CardChannel(_Scripted(answers))
    with contextlib.suppress(CardStatusError, MalformedResponse):
        ch.read_all()


_APDUS = st.one_of(
    st.binary(max_size=270),
    st.builds(
        lambda ins, p1, p2, rest: bytes((0, ins, p1, p2)) + rest,
        st.sampled_from([0xA4, 0x20, 0xB0, 0xCA]),
        st.integers(0, 255),
        st.integers(0, 255),
        st.binary(max_size=20),
    ),
)


@FUZZ
@given(_APDUS)
def test_virtual_card_answers_any_bytes_with_a_status_word(data: bytes) -> None:
    from app.cards.simulator import CardProfile, VirtualCard, demo_profile_path

    card = _CARD.get("card")
    if card is None:
        card = _CARD["card"] = VirtualCard(CardProfile.load(demo_profile_path()))
    resp = card.process(data)
    assert len(resp) >= 2
    assert resp[-2:] != b"\x6f\x00"  # 6F00 would mean the simulator itself failed


_CARD: dict[str, object] = {}
