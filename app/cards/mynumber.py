"""The applications of the 個人番号カード (DESIGN.md §7) over a `CardChannel`.

File map (from public implementations; to be re-checked against real cards):

- 券面事項入力補助AP: EF 0011 PIN (4 digits, 3 tries), EF 0015 照合番号B (opens the 4情報
  only), EF 0001 個人番号 (`FF10` TLV, 12 ASCII digits, needs the PIN), EF 0002 基本4情報
  (`FF20` { DF21 offsets, DF22 name, DF23 address, DF24 birth YYYYMMDD, DF25 sex }).
- JPKI AP: EF 000A 利用者証明用電子証明書 (no PIN), EF 000B its CA, EF 0018 its PIN (4 digits,
  3 tries), EF 001B 署名用電子証明書 password (6–16, 5 tries).
- 券面AP (券面事項確認AP): EF 0012 照合番号B, EF 0002 券面事項 (`FF20` { DF21 offsets, DF22 birth,
  DF23 sex, DF25 name image, DF26 address image, DF27 face photo, DF29 card expiry YYYYMMDD }).
  The tags after DF23 follow public parsers of the 券面AP; re-check them on a real card.

Nothing here logs card data: results are dataclasses whose repr() hides personal fields.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from app.cards.apdu import (
    CardChannel,
    MalformedResponse,
    PinBlocked,
    Tlv,
    parse_tlvs,
)
from app.cards.protocol import Transport
from app.domain.cards import CARD_SEX_CODES, CardFaceInfo, check_collation_number_b
from app.domain.identifiers import is_valid_my_number

log = logging.getLogger(__name__)

AID_KENHOJO = bytes.fromhex("D3921000310001010408")  # 券面事項入力補助AP
AID_JPKI = bytes.fromhex("D392F000260100000001")  # 公的個人認証AP
AID_KENMEN = bytes.fromhex("D3921000310001010402")  # 券面事項確認AP
AID_JUKI = bytes.fromhex("D3921000310001010401")  # 住基AP

EF_KENHOJO_MY_NUMBER = b"\x00\x01"
EF_KENHOJO_BASIC4 = b"\x00\x02"
EF_KENHOJO_PIN = b"\x00\x11"
EF_KENHOJO_PIN_B = b"\x00\x15"
EF_JPKI_SIGN_CERT = b"\x00\x01"
EF_JPKI_SIGN_CA = b"\x00\x02"
EF_JPKI_AUTH_CERT = b"\x00\x0a"
EF_JPKI_AUTH_CA = b"\x00\x0b"
EF_JPKI_AUTH_PIN = b"\x00\x18"
EF_JPKI_SIGN_PIN = b"\x00\x1b"
EF_KENMEN_ENTRIES = b"\x00\x02"
EF_KENMEN_PIN_B = b"\x00\x12"

TAG_MY_NUMBER = 0xFF10
TAG_BASIC4 = 0xFF20
TAG_KENMEN = 0xFF20


class PinKind(StrEnum):
    KENHOJO_PIN = "kenhojo_pin"  # 券面事項入力補助用暗証番号
    JPKI_AUTH_PIN = "jpki_auth_pin"  # 利用者証明用電子証明書暗証番号
    JPKI_SIGN_PASSWORD = "jpki_sign_password"  # 署名用電子証明書暗証番号


PIN_LABELS: dict[PinKind, str] = {
    PinKind.KENHOJO_PIN: "券面事項入力補助用暗証番号",
    PinKind.JPKI_AUTH_PIN: "利用者証明用電子証明書暗証番号",
    PinKind.JPKI_SIGN_PASSWORD: "署名用電子証明書暗証番号",
}
PIN_MAX_TRIES: dict[PinKind, int] = {
    PinKind.KENHOJO_PIN: 3,
    PinKind.JPKI_AUTH_PIN: 3,
    PinKind.JPKI_SIGN_PASSWORD: 5,
}
_PIN_LOCATION: dict[PinKind, tuple[bytes, bytes]] = {
    PinKind.KENHOJO_PIN: (AID_KENHOJO, EF_KENHOJO_PIN),
    PinKind.JPKI_AUTH_PIN: (AID_JPKI, EF_JPKI_AUTH_PIN),
    PinKind.JPKI_SIGN_PASSWORD: (AID_JPKI, EF_JPKI_SIGN_PIN),
}


@dataclass(frozen=True, slots=True)
class CertificateSummary:
    """The JPKI user-authentication certificate: no names here, only what the desk shows."""

    der: bytes = field(repr=False)
    serial_number: int
    not_before: date
    not_after: date
    issuer: str


@dataclass(frozen=True, slots=True)
class KenmenData:
    """券面AP: the face photo (as stored: JPEG 2000 on real cards), the card's expiry date."""

    face_photo: bytes = field(repr=False)
    card_expires_on: date | None
    birth_date: date | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class CardReading:
    """What one reading of the card produced; fields not read are None."""

    face: CardFaceInfo | None = None
    auth_certificate: CertificateSummary | None = None
    kenmen: KenmenData | None = None
    retries: dict[PinKind, int] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"CardReading(face={'yes' if self.face else 'no'}, retries={self.retries})"


def _digits(data: bytes, what: str) -> str:
    try:
        s = data.decode("ascii")
    except UnicodeDecodeError as exc:
        raise MalformedResponse(what) from exc
    if not s.isdigit():
        raise MalformedResponse(what)
    return s


def _yyyymmdd(data: bytes, what: str) -> date:
    s = _digits(data, what)
    if len(s) != 8:
        raise MalformedResponse(what)
    try:
        return date(int(s[:4]), int(s[4:6]), int(s[6:]))
    except ValueError as exc:
        raise MalformedResponse(what) from exc


def _children(tlv: Tlv, expected_tag: int, what: str) -> dict[int, bytes]:
    if tlv.tag != expected_tag:
        raise MalformedResponse(what)
    out: dict[int, bytes] = {}
    for child in parse_tlvs(tlv.value, allow_padding=True):
        out.setdefault(child.tag, child.value)
    return out


def parse_my_number(tlv: Tlv) -> str:
    if tlv.tag != TAG_MY_NUMBER:
        raise MalformedResponse("個人番号のタグ")
    number = _digits(tlv.value, "個人番号")
    if not is_valid_my_number(number):
        # The number itself is never put into the message.
        raise MalformedResponse("個人番号の桁数または検査用数字")
    return number


def parse_basic4(tlv: Tlv) -> CardFaceInfo:
    items = _children(tlv, TAG_BASIC4, "基本4情報のタグ")
    try:
        name = items[0xDF22].decode("utf-8")
        address = items[0xDF23].decode("utf-8")
        birth = _yyyymmdd(items[0xDF24], "生年月日")
        sex_code = items[0xDF25].decode("ascii")
    except KeyError as exc:
        raise MalformedResponse("基本4情報の項目が不足") from exc
    except UnicodeDecodeError as exc:
        raise MalformedResponse("基本4情報の文字コード") from exc
    if sex_code not in CARD_SEX_CODES:
        raise MalformedResponse("性別")
    if not name or not address:
        raise MalformedResponse("氏名・住所が空")
    return CardFaceInfo(name, address, birth, CARD_SEX_CODES[sex_code])


def parse_kenmen(tlv: Tlv) -> KenmenData:
    items = _children(tlv, TAG_KENMEN, "券面事項のタグ")
    if 0xDF27 not in items:
        raise MalformedResponse("顔写真がありません")
    expiry = _yyyymmdd(items[0xDF29], "有効期限") if 0xDF29 in items else None
    birth = _yyyymmdd(items[0xDF22], "生年月日") if 0xDF22 in items else None
    return KenmenData(items[0xDF27], expiry, birth)


def summarize_certificate(der: bytes) -> CertificateSummary:
    from cryptography import x509

    try:
        cert = x509.load_der_x509_certificate(der)
    except ValueError as exc:
        raise MalformedResponse("電子証明書") from exc
    return CertificateSummary(
        der=der,
        serial_number=cert.serial_number,
        not_before=cert.not_valid_before_utc.date(),
        not_after=cert.not_valid_after_utc.date(),
        issuer=cert.issuer.rfc4514_string(),
    )


class MyNumberCard:
    """One session with a 個人番号カード. Methods select the AP they need each time."""

    def __init__(self, transport: Transport) -> None:
        self.channel = CardChannel(transport)

    # -- retry counts ------------------------------------------------------------------

    def retries(self, kind: PinKind) -> int:
        aid, ef = _PIN_LOCATION[kind]
        self.channel.select_df(aid, what="AP")
        self.channel.select_ef(ef)
        left = self.channel.retries()
        # Verified in this session: the successful VERIFY reset the counter to the maximum.
        return PIN_MAX_TRIES[kind] if left is None else left

    def all_retries(self) -> dict[PinKind, int]:
        return {kind: self.retries(kind) for kind in PinKind}

    def _verify(self, kind: PinKind, secret: str) -> None:
        aid, ef = _PIN_LOCATION[kind]
        self._verify_at(aid, ef, secret, PIN_LABELS[kind])

    def _verify_at(self, aid: bytes, ef: bytes, secret: str, label: str) -> None:
        self.channel.select_df(aid, what="AP")
        self.channel.select_ef(ef)
        # Refuse to spend a try on a blocked PIN, and report it as blocked, never "wrong".
        if self.channel.retries() == 0:
            raise PinBlocked(0x6984, label)
        self.channel.verify(secret.encode("ascii"), label=label)

    # -- 券面事項入力補助AP --------------------------------------------------------------------

    def read_face_info(
        self, *, pin: str | None = None, collation_b: str | None = None
    ) -> CardFaceInfo:
        """基本4情報 with the PIN (then also the 個人番号) or with 照合番号B (4情報 only)."""
        if (pin is None) == (collation_b is None):
            raise ValueError("give exactly one of pin / collation_b")
        if pin is not None:
            _check_pin_format(pin)
            self._verify(PinKind.KENHOJO_PIN, pin)
        else:
            b = check_collation_number_b(collation_b or "")
            self._verify_at(AID_KENHOJO, EF_KENHOJO_PIN_B, b, "照合番号B")
        self.channel.select_ef(EF_KENHOJO_BASIC4)
        info = parse_basic4(self.channel.read_tlv_file())
        if pin is not None:
            self.channel.select_ef(EF_KENHOJO_MY_NUMBER)
            number = parse_my_number(self.channel.read_tlv_file())
            info = CardFaceInfo(info.name, info.address, info.birth_date, info.sex, number)
        return info

    def read_my_number(self, pin: str) -> str:
        _check_pin_format(pin)
        self._verify(PinKind.KENHOJO_PIN, pin)
        self.channel.select_ef(EF_KENHOJO_MY_NUMBER)
        return parse_my_number(self.channel.read_tlv_file())

    # -- JPKI ------------------------------------------------------------------------------

    def read_auth_certificate(self) -> CertificateSummary:
        self.channel.select_df(AID_JPKI, what="公的個人認証AP")
        self.channel.select_ef(EF_JPKI_AUTH_CERT)
        tlv = self.channel.read_tlv_file()
        if tlv.tag != 0x30:
            raise MalformedResponse("電子証明書のタグ")
        from app.cards.apdu import encode_tlv

        return summarize_certificate(encode_tlv(0x30, tlv.value))

    # -- 券面AP ------------------------------------------------------------------------------

    def read_kenmen(self, collation_b: str) -> KenmenData:
        b = check_collation_number_b(collation_b)
        self._verify_at(AID_KENMEN, EF_KENMEN_PIN_B, b, "照合番号B")
        self.channel.select_ef(EF_KENMEN_ENTRIES)
        return parse_kenmen(self.channel.read_tlv_file())


def _check_pin_format(pin: str) -> None:
    from app.domain.errors import ValidationError

    if not (len(pin) == 4 and pin.isascii() and pin.isdigit()):
        raise ValidationError("pin", "暗証番号は4桁の数字です。")
