"""PC/SC through pyscard's low-level `smartcard.scard` API: real readers, or pcscd + vpcd + our
virtual card. pyscard is an optional extra on Linux, so it is imported lazily: importing this
module never needs it.
"""

from __future__ import annotations

import logging
from typing import Any

from app.cards.errors import CardRemoved, NoCard, NoReader, TransportError

log = logging.getLogger(__name__)


def smartcard() -> Any:
    """pyscard's `smartcard.scard` module; TransportError when it is not installed."""
    try:
        import smartcard.scard as scard
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise TransportError(
            "PC/SC(pyscard)が利用できません。カードリーダーのドライバとpyscardを確認してください。"
        ) from exc
    return scard


# PC/SC error codes that mean "the service went away" (Windows stops it with the last reader).
SERVICE_GONE = {
    0x8010001D,  # SCARD_E_NO_SERVICE
    0x8010001E,  # SCARD_E_SERVICE_STOPPED
    0x80100003,  # SCARD_E_INVALID_HANDLE (context of a dead service)
    0x80100017,  # SCARD_E_READER_UNAVAILABLE
}
CARD_GONE = {
    0x80100069,  # SCARD_W_REMOVED_CARD
    0x8010000C,  # SCARD_E_NO_SMARTCARD
    0x80100068,  # SCARD_W_RESET_CARD
    0x80100067,  # SCARD_W_UNPOWERED_CARD
    0x80100066,  # SCARD_W_UNRESPONSIVE_CARD
}
NO_READERS = 0x8010002E  # SCARD_E_NO_READERS_AVAILABLE


def u32(code: int) -> int:
    """A PC/SC return code as the unsigned 32-bit value the constants above use."""
    return code & 0xFFFFFFFF


def list_readers() -> list[str]:
    """Names of the PC/SC readers; [] when there are none or the service is not running."""
    scard = smartcard()
    hr, ctx = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    if hr != scard.SCARD_S_SUCCESS:
        return []
    try:
        hr, readers = scard.SCardListReaders(ctx, [])
        if hr != scard.SCARD_S_SUCCESS:
            return []
        return list(readers)
    finally:
        scard.SCardReleaseContext(ctx)


def readers_with_card() -> list[str]:
    """Readers that currently hold a card."""
    scard = smartcard()
    hr, ctx = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    if hr != scard.SCARD_S_SUCCESS:
        return []
    try:
        hr, readers = scard.SCardListReaders(ctx, [])
        if hr != scard.SCARD_S_SUCCESS or not readers:
            return []
        states = [(r, scard.SCARD_STATE_UNAWARE) for r in readers]
        hr, states = scard.SCardGetStatusChange(ctx, 0, states)
        if hr != scard.SCARD_S_SUCCESS:
            return []
        return [r for r, st, _atr in states if st & scard.SCARD_STATE_PRESENT]
    finally:
        scard.SCardReleaseContext(ctx)


class PcscTransport:
    """A card in a PC/SC reader, through pyscard's low-level `smartcard.scard` API.

    `reader=None` picks the first reader with a card in it.
    """

    def __init__(self, reader: str | None = None) -> None:
        scard = smartcard()
        self._scard = scard
        hr, ctx = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
        if hr != scard.SCARD_S_SUCCESS:
            raise NoReader("PC/SCサービスに接続できません。カードリーダーを接続してください。")
        self._ctx = ctx
        self._card: Any = None
        try:
            if reader is None:
                candidates = readers_with_card()
                if not candidates:
                    if not list_readers():
                        raise NoReader()
                    raise NoCard()
                reader = candidates[0]
            self.reader = reader
            hr, card, protocol = scard.SCardConnect(
                ctx,
                reader,
                scard.SCARD_SHARE_SHARED,
                scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1,
            )
            if hr != scard.SCARD_S_SUCCESS:
                code = u32(hr)
                if code in CARD_GONE:
                    raise NoCard()
                if code in (0x80100009, NO_READERS) or code in SERVICE_GONE:  # unknown reader
                    raise NoReader(f"カードリーダー「{reader}」が見つかりません。")
                raise TransportError(f"カードに接続できません(PC/SC {code:08X})。")
            self._card = card
            self._protocol = protocol
        except BaseException:
            scard.SCardReleaseContext(ctx)
            raise

    def transmit(self, apdu: bytes) -> bytes:
        if self._card is None:
            raise CardRemoved()
        scard = self._scard
        hr, response = scard.SCardTransmit(self._card, self._protocol, list(apdu))
        if hr != scard.SCARD_S_SUCCESS:
            code = u32(hr)
            # SCARD_E_NOT_TRANSACTED and friends: if the card is gone, say so plainly.
            if code in CARD_GONE or code in SERVICE_GONE or self._card_gone(wait_s=0.5):
                raise CardRemoved()
            raise TransportError(f"カードとの通信に失敗しました(PC/SC {code:08X})。")
        if len(response) < 2:
            # A card always answers at least SW1 SW2. pcscd + vpcd hand back an empty answer
            # when the card vanished during the exchange: see whether it is still there.
            if self._card_gone():
                raise CardRemoved()
            raise TransportError("カードから応答がありません。カードを置き直してください。")
        return bytes(response)

    def _card_gone(self, wait_s: float = 1.5) -> bool:
        import time

        scard = self._scard
        deadline = time.monotonic() + wait_s
        while True:
            # SCardGetStatusChange (not SCardStatus: its state values differ between
            # pcsc-lite bitmasks and Windows enums).
            hr, states = scard.SCardGetStatusChange(
                self._ctx, 0, [(self.reader, scard.SCARD_STATE_UNAWARE)]
            )
            if hr != scard.SCARD_S_SUCCESS or not states[0][1] & scard.SCARD_STATE_PRESENT:
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)

    def atr(self) -> bytes:
        scard = self._scard
        hr, _reader, _state, _proto, atr = scard.SCardStatus(self._card)
        if hr != scard.SCARD_S_SUCCESS:
            raise CardRemoved()
        return bytes(atr)

    def close(self) -> None:
        scard = self._scard
        if self._card is not None:
            scard.SCardDisconnect(self._card, scard.SCARD_LEAVE_CARD)
            self._card = None
        if self._ctx is not None:
            scard.SCardReleaseContext(self._ctx)
            self._ctx = None

    def __enter__(self) -> PcscTransport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
