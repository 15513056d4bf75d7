"""The whole PC/SC path for real: pcscd + vpcd + our virtual card, pyscard, OpenSC's tools."""

from __future__ import annotations

import queue
import shutil
import subprocess
from collections.abc import Callable, Iterator

import pytest
from cryptography import x509

from app.cards.apdu import CardRemoved, PinBlocked, WrongPin
from app.cards.errors import NoCard
from app.cards.monitor import ReaderMonitor
from app.cards.mynumber import AID_JPKI, EF_JPKI_AUTH_CERT, MyNumberCard, PinKind
from app.cards.pcsc import PcscTransport, list_readers, readers_with_card
from app.cards.simulator import ATR, CardProfile, VirtualCard, VpcdCard
from tests.support import require
from tests.support.pcscd import READER_NAMES, Pcscd
from tests.support.poll import poll_until

SLOT0 = READER_NAMES[0]


def wait_for(cond: Callable[[], bool], timeout: float = 10.0) -> None:
    poll_until(cond, timeout=timeout, interval=0.05)


@pytest.fixture
def insert(pcscd: Pcscd) -> Iterator[Callable[..., VpcdCard]]:
    inserted: list[VpcdCard] = []

    def _insert(card: VirtualCard, slot: int = 0, **kw: int) -> VpcdCard:
        vc = VpcdCard(card, port=pcscd.slot_port(slot), **kw)
        vc.insert()
        inserted.append(vc)
        wait_for(lambda: READER_NAMES[slot] in readers_with_card())
        return vc

    yield _insert
    for vc in inserted:
        vc.remove()
    wait_for(lambda: not readers_with_card())


def test_readers_are_the_vpcd_slots(pcscd: Pcscd) -> None:
    assert set(READER_NAMES) <= set(list_readers())
    with pytest.raises(NoCard):
        PcscTransport(SLOT0)


def test_read_card_over_pcsc(
    insert: Callable[..., VpcdCard], card: VirtualCard, profile: CardProfile
) -> None:
    insert(card)
    with PcscTransport() as t:
        assert t.reader == SLOT0
        assert t.atr() == ATR
        mn = MyNumberCard(t)
        info = mn.read_face_info(pin=profile.kenhojo_pin)
        assert info.name == profile.name and info.my_number == profile.my_number
        assert mn.read_auth_certificate().not_after == profile.certificate_expires_on
        assert mn.read_kenmen(profile.collation_b).card_expires_on == profile.card_expires_on


def test_wrong_pin_counts_down_and_blocks_over_pcsc(
    insert: Callable[..., VpcdCard], card: VirtualCard, profile: CardProfile
) -> None:
    insert(card)
    with PcscTransport(SLOT0) as t:
        mn = MyNumberCard(t)
        remaining = []
        for _ in range(2):
            with pytest.raises(WrongPin) as exc:
                mn.read_my_number("0000")
            remaining.append(exc.value.remaining)
        assert remaining == [2, 1]
        assert mn.retries(PinKind.KENHOJO_PIN) == 1
        with pytest.raises(PinBlocked):
            mn.read_my_number("0000")
        with pytest.raises(PinBlocked):
            mn.read_my_number(profile.kenhojo_pin)
        assert mn.retries(PinKind.KENHOJO_PIN) == 0


def test_card_pulled_out_mid_read(
    insert: Callable[..., VpcdCard], card: VirtualCard, profile: CardProfile
) -> None:
    # The card disappears after 6 APDUs: in the middle of reading the 4情報.
    insert(card, remove_after=6)
    with PcscTransport(SLOT0) as t, pytest.raises(CardRemoved) as exc:
        MyNumberCard(t).read_face_info(pin=profile.kenhojo_pin)
    assert "取り外されました" in exc.value.message


def test_monitor_reports_insert_and_remove_and_survives_pcscd_restart(
    pcscd: Pcscd, card: VirtualCard
) -> None:
    events: queue.Queue[tuple[str, str]] = queue.Queue()
    monitor = ReaderMonitor(
        on_insert=lambda r, atr: events.put(("insert", r + ":" + atr.hex())),
        on_remove=lambda r: events.put(("remove", r)),
        on_service=lambda up: events.put(("service", str(up))),
        poll_ms=200,
        retry_s=0.2,
    )
    monitor.start()
    try:
        assert events.get(timeout=60) == ("service", "True")
        vc = VpcdCard(card, port=pcscd.slot_port(1))
        vc.insert()
        assert events.get(timeout=60) == ("insert", READER_NAMES[1] + ":" + ATR.hex())
        vc.remove()
        assert events.get(timeout=60) == ("remove", READER_NAMES[1])

        # The service goes away (Windows stops it with the last reader) and comes back.
        vc.insert()
        assert events.get(timeout=60)[0] == "insert"
        pcscd.stop()
        vc.remove()
        got = [events.get(timeout=60), events.get(timeout=60)]
        assert ("remove", READER_NAMES[1]) in got and ("service", "False") in got
        pcscd.start()
        assert events.get(timeout=60) == ("service", "True")
        assert monitor.contexts_established >= 2
        vc2 = VpcdCard(card, port=pcscd.slot_port(0))
        vc2.insert()
        assert events.get(timeout=60) == ("insert", READER_NAMES[0] + ":" + ATR.hex())
        vc2.remove()
        assert events.get(timeout=60) == ("remove", READER_NAMES[0])
    finally:
        monitor.stop()
        if not pcscd.running:
            pcscd.start()


def _run(*args: str) -> str:
    out = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_opensc_recognises_the_jpki_application(
    insert: Callable[..., VpcdCard], card: VirtualCard
) -> None:
    require(
        shutil.which("pkcs15-tool") is not None and shutil.which("opensc-tool") is not None,
        "OpenSC tools are not installed (Debian: opensc)",
    )
    insert(card)
    readers = _run("opensc-tool", "--list-readers")
    assert SLOT0 in readers
    atr = _run("opensc-tool", "--reader", "0", "--atr")
    assert "3b:e0:00:ff:81:31:fe:45:14" in atr.lower()
    name = _run("opensc-tool", "--reader", "0", "--name")
    assert "jpki" in name.lower()
    certs = _run("pkcs15-tool", "--reader", "0", "--list-certificates")
    assert "User Authentication Certificate" in certs and "000a" in certs.lower()
    pem = _run("pkcs15-tool", "--reader", "0", "--read-certificate", "01")
    cert = x509.load_pem_x509_certificate(pem.encode())
    from cryptography.hazmat.primitives.serialization import Encoding

    assert cert.public_bytes(Encoding.DER) == card.files[(AID_JPKI, EF_JPKI_AUTH_CERT)].data


def test_opensc_sees_our_retry_counters(insert: Callable[..., VpcdCard], card: VirtualCard) -> None:
    require(shutil.which("pkcs15-tool") is not None, "OpenSC is not installed (Debian: opensc)")
    insert(card)
    with PcscTransport(SLOT0) as t, pytest.raises(WrongPin):
        MyNumberCard(t).read_auth_certificate()  # harmless
        mn = MyNumberCard(t)
        mn.channel.select_df(AID_JPKI)
        mn.channel.select_ef(b"\x00\x18")
        mn.channel.verify(b"9999")
    pins = _run("pkcs15-tool", "--reader", "0", "--list-pins")
    block = pins.split("User Authentication PIN", 1)[1].split("PIN [", 1)[0]
    assert "Tries left" in block and ": 2" in block.split("Tries left", 1)[1].splitlines()[0]
