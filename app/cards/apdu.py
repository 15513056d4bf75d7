"""ISO 7816-4 APDUs, status words as typed errors, BER-TLV, and a card channel (DESIGN.md §7).

Everything here works on bytes through a `Transport` (app.cards.protocol); nothing knows whether
the card is real or simulated. Error messages are Japanese (clerks read them) and never contain
card data: only status words, file ids and retry counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from app.cards.errors import (
    CardError,
    CardRemoved,
    CardStatusError,
    FileNotFound,
    IncorrectParameters,
    MalformedResponse,
    NoCard,
    NoReader,
    OffsetBeyondEnd,
    PinBlocked,
    SecurityStatusNotSatisfied,
    TransportError,
    UnexpectedStatus,
    WrongPin,
)

if TYPE_CHECKING:
    from app.cards.protocol import Transport

# The card errors are app.cards.errors; they are named here too, where the status words are read.
__all__ = [
    "CardError",
    "CardRemoved",
    "CardStatusError",
    "FileNotFound",
    "IncorrectParameters",
    "MalformedResponse",
    "NoCard",
    "NoReader",
    "OffsetBeyondEnd",
    "PinBlocked",
    "SecurityStatusNotSatisfied",
    "TransportError",
    "UnexpectedStatus",
    "WrongPin",
]

# Short APDUs only: the 個人番号カード answers READ BINARY in chunks of at most 256 bytes.
MAX_SHORT_LE = 256
MAX_OFFSET = 0x7FFF  # P1 bit 8 set would mean a short EF identifier, which we never use


# --------------------------------------------------------------------------------------------
# APDUs


@dataclass(frozen=True, slots=True)
class CommandApdu:
    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes = b""
    le: int | None = None  # expected length 1..256, None for no Le

    def to_bytes(self) -> bytes:
        for v in (self.cla, self.ins, self.p1, self.p2):
            if not 0 <= v <= 0xFF:
                raise ValueError("APDU header byte out of range")
        out = bytes((self.cla, self.ins, self.p1, self.p2))
        if self.data:
            if len(self.data) > 255:
                raise ValueError("short APDU data longer than 255 bytes")
            out += bytes((len(self.data),)) + self.data
        if self.le is not None:
            if not 1 <= self.le <= MAX_SHORT_LE:
                raise ValueError("Le out of range")
            out += bytes((self.le % 256,))
        return out


@dataclass(frozen=True, slots=True)
class ResponseApdu:
    data: bytes
    sw1: int
    sw2: int

    @property
    def sw(self) -> int:
        return (self.sw1 << 8) | self.sw2

    @classmethod
    def parse(cls, raw: bytes) -> ResponseApdu:
        if len(raw) < 2:
            raise MalformedResponse("応答が2バイト未満")
        return cls(bytes(raw[:-2]), raw[-2], raw[-1])


def select_df(aid: bytes) -> CommandApdu:
    return CommandApdu(0x00, 0xA4, 0x04, 0x0C, aid)


def select_ef(fid: bytes) -> CommandApdu:
    return CommandApdu(0x00, 0xA4, 0x02, 0x0C, fid)


def verify(secret: bytes | None) -> CommandApdu:
    """VERIFY of the currently selected PIN EF; with no data it only reports the retry count."""
    return CommandApdu(0x00, 0x20, 0x00, 0x80, secret or b"")


def read_binary(offset: int, le: int) -> CommandApdu:
    if not 0 <= offset <= MAX_OFFSET:
        raise ValueError("READ BINARY offset out of range")
    return CommandApdu(0x00, 0xB0, offset >> 8, offset & 0xFF, le=le)


def raise_for_status(resp: ResponseApdu, *, what: str = "", pin_label: str = "暗証番号") -> None:
    """Turn a status word into the typed error; 9000 passes."""
    sw = resp.sw
    if sw == 0x9000:
        return
    if resp.sw1 == 0x63 and resp.sw2 & 0xF0 == 0xC0:
        remaining = resp.sw2 & 0x0F
        if remaining == 0:
            raise PinBlocked(sw, pin_label)
        raise WrongPin(sw, remaining, pin_label)
    if sw in (0x6983, 0x6984):
        raise PinBlocked(sw, pin_label)
    if sw == 0x6982:
        raise SecurityStatusNotSatisfied(sw)
    if sw == 0x6A82:
        raise FileNotFound(sw, what)
    if sw == 0x6B00:
        raise OffsetBeyondEnd(sw)
    if sw in (0x6A86, 0x6B01):
        raise IncorrectParameters(sw)
    raise UnexpectedStatus(sw)


# --------------------------------------------------------------------------------------------
# BER-TLV


@dataclass(frozen=True, slots=True)
class Tlv:
    tag: int
    value: bytes

    @property
    def constructed(self) -> bool:
        first = self.tag
        while first > 0xFF:
            first >>= 8
        return bool(first & 0x20)


def read_tlv_header(data: bytes, offset: int = 0) -> tuple[int, int, int]:
    """Parse one tag and length at `offset` → (tag, length, offset of the value).

    Long-form lengths (81, 82, 83, 84) are accepted; indefinite length (80) and lengths that
    run past the data are rejected by the callers that know the data's end.
    """
    n = len(data)
    if offset >= n:
        raise MalformedResponse("TLVのタグがありません")
    first = data[offset]
    tag = first
    pos = offset + 1
    if first & 0x1F == 0x1F:
        while True:
            if pos >= n:
                raise MalformedResponse("TLVのタグが途中で終わっています")
            b = data[pos]
            tag = (tag << 8) | b
            pos += 1
            if not b & 0x80:
                break
            if pos - offset > 4:
                raise MalformedResponse("TLVのタグが長すぎます")
    if pos >= n:
        raise MalformedResponse("TLVの長さがありません")
    lb = data[pos]
    pos += 1
    if lb < 0x80:
        return tag, lb, pos
    count = lb & 0x7F
    if count == 0:
        raise MalformedResponse("不定長のTLVには対応していません")
    if count > 4:
        raise MalformedResponse("TLVの長さの表現が長すぎます")
    if pos + count > n:
        raise MalformedResponse("TLVの長さが途中で終わっています")
    length = int.from_bytes(data[pos : pos + count], "big")
    return tag, length, pos + count


def parse_tlv(data: bytes, offset: int = 0) -> tuple[Tlv, int]:
    """One TLV at `offset` → (Tlv, offset after it)."""
    tag, length, vpos = read_tlv_header(data, offset)
    end = vpos + length
    if end > len(data):
        raise MalformedResponse("TLVの値がデータの終わりを超えています")
    return Tlv(tag, bytes(data[vpos:end])), end


def parse_tlvs(data: bytes, *, allow_padding: bool = False) -> list[Tlv]:
    """All TLVs of `data`. Cards pad files with FF (or 00): `allow_padding` stops there."""
    out: list[Tlv] = []
    pos = 0
    while pos < len(data):
        if allow_padding and data[pos] in (0x00, 0xFF) and all(b == data[pos] for b in data[pos:]):
            break
        tlv, pos = parse_tlv(data, pos)
        out.append(tlv)
    return out


def encode_tlv(tag: int, value: bytes) -> bytes:
    """BER encoding (used by the simulator and the tests); minimal length form."""
    tag_bytes = tag.to_bytes(max(1, (tag.bit_length() + 7) // 8), "big")
    n = len(value)
    if n < 0x80:
        length = bytes((n,))
    else:
        lb = n.to_bytes((n.bit_length() + 7) // 8, "big")
        length = bytes((0x80 | len(lb),)) + lb
    return tag_bytes + length + value


# --------------------------------------------------------------------------------------------
# Channel


class CardChannel:
    """Commands of DESIGN.md §7 over one transport; one instance per card session."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    def transmit(self, cmd: CommandApdu) -> ResponseApdu:
        return ResponseApdu.parse(self.transport.transmit(cmd.to_bytes()))

    def select_df(self, aid: bytes, *, what: str = "") -> None:
        raise_for_status(self.transmit(select_df(aid)), what=what)

    def select_ef(self, fid: bytes, *, what: str = "") -> None:
        raise_for_status(self.transmit(select_ef(fid)), what=what or fid.hex().upper())

    def verify(self, secret: bytes, *, label: str = "暗証番号") -> None:
        """VERIFY the selected PIN EF. Raises WrongPin(remaining) or PinBlocked."""
        if not secret:
            raise ValueError("empty secret: use retries()")
        raise_for_status(self.transmit(verify(secret)), pin_label=label)

    def retries(self) -> int | None:
        """Tries left of the selected PIN EF without using one (VERIFY with no data).

        63Cx → x; 6983/6984 → 0 (blocked); 9000 → None: the PIN is already verified in this
        session (its counter was reset to the maximum by that verification).
        """
        resp = self.transmit(verify(None))
        if resp.sw1 == 0x63 and resp.sw2 & 0xF0 == 0xC0:
            return resp.sw2 & 0x0F
        if resp.sw in (0x6983, 0x6984):
            return 0
        if resp.sw == 0x9000:
            return None
        raise_for_status(resp)
        raise UnexpectedStatus(resp.sw)  # unreachable: raise_for_status raised

    def read_binary(self, offset: int, le: int) -> bytes:
        resp = self.transmit(read_binary(offset, le))
        raise_for_status(resp)
        if len(resp.data) > le:
            raise MalformedResponse("READ BINARYの応答が要求より長い")
        return resp.data

    def read_all(self, *, limit: int = 1 << 20) -> bytes:
        """The whole selected EF when its length is unknown: chunks until a short read or 6B00."""
        out = bytearray()
        while len(out) < limit:
            if len(out) > MAX_OFFSET:
                break
            try:
                chunk = self.read_binary(len(out), MAX_SHORT_LE)
            except OffsetBeyondEnd:
                if not out:
                    raise
                break
            out += chunk
            if len(chunk) < MAX_SHORT_LE:
                break
        return bytes(out[:limit])

    def read_exact(self, length: int, offset: int = 0) -> bytes:
        """`length` bytes from `offset`, in chunks; a short file is a malformed answer."""
        out = bytearray()
        while len(out) < length:
            pos = offset + len(out)
            if pos > MAX_OFFSET:
                raise MalformedResponse("ファイルが長すぎます")
            want = min(MAX_SHORT_LE, length - len(out))
            try:
                chunk = self.read_binary(pos, want)
            except OffsetBeyondEnd as exc:
                raise MalformedResponse("ファイルが宣言された長さより短い") from exc
            if not chunk:
                raise MalformedResponse("ファイルが宣言された長さより短い")
            out += chunk
        return bytes(out)

    def read_tlv_file(self) -> Tlv:
        """The first BER-TLV of the selected EF, reading only as many bytes as it declares."""
        head = self.read_binary(0, 8)
        tag, length, vpos = read_tlv_header(head)
        total = vpos + length
        data = (
            head[:total]
            if total <= len(head)
            else head + self.read_exact(total - len(head), len(head))
        )
        tlv, _ = parse_tlv(data)
        return Tlv(tag, tlv.value)
