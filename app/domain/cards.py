"""個人番号カード at the desk: lifecycle, matching with the register, expiry warnings.

Pure domain: no I/O, no card access (app.cards reads the card and hands over `CardFaceInfo`).

Lifecycle (交付, 一時停止, 一時停止解除, 廃止, 回収, 返納):

    未交付 --交付--> 交付済 --一時停止--> 一時停止中 --一時停止解除--> 交付済
    交付済 / 一時停止中 --廃止--> 廃止 --回収--> 回収済
    交付済 / 一時停止中 --返納--> 返納済   (返納 abolishes the card and the office keeps it)

回収済 and 返納済 are final.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Literal

from app.domain.errors import DomainError
from app.domain.records import Household, Person


class CardState(StrEnum):
    NOT_ISSUED = "not_issued"
    ISSUED = "issued"
    SUSPENDED = "suspended"
    REVOKED = "revoked"
    COLLECTED = "collected"
    SURRENDERED = "surrendered"


class CardAction(StrEnum):
    ISSUE = "issue"  # 交付
    SUSPEND = "suspend"  # 一時停止
    RESUME = "resume"  # 一時停止解除
    REVOKE = "revoke"  # 廃止
    COLLECT = "collect"  # 回収
    SURRENDER = "surrender"  # 返納


STATE_LABELS: dict[CardState, str] = {
    CardState.NOT_ISSUED: "未交付",
    CardState.ISSUED: "交付済",
    CardState.SUSPENDED: "一時停止中",
    CardState.REVOKED: "廃止",
    CardState.COLLECTED: "回収済",
    CardState.SURRENDERED: "返納済",
}

ACTION_LABELS: dict[CardAction, str] = {
    CardAction.ISSUE: "交付",
    CardAction.SUSPEND: "一時停止",
    CardAction.RESUME: "一時停止解除",
    CardAction.REVOKE: "廃止",
    CardAction.COLLECT: "回収",
    CardAction.SURRENDER: "返納",
}

# The card desk's notes in the audit trail (the entry's reason), as the audit viewer shows them.
DESK_NOTE_LABELS: dict[str, str] = {
    "card_read": "カード読取",
    "card_read_failed": "カード読取の失敗",
    "card_match": "住民票との照合",
    "card_event": "カードの事務処理",
}

TRANSITIONS: dict[tuple[CardState, CardAction], CardState] = {
    (CardState.NOT_ISSUED, CardAction.ISSUE): CardState.ISSUED,
    (CardState.ISSUED, CardAction.SUSPEND): CardState.SUSPENDED,
    (CardState.SUSPENDED, CardAction.RESUME): CardState.ISSUED,
    (CardState.ISSUED, CardAction.REVOKE): CardState.REVOKED,
    (CardState.SUSPENDED, CardAction.REVOKE): CardState.REVOKED,
    (CardState.REVOKED, CardAction.COLLECT): CardState.COLLECTED,
    (CardState.ISSUED, CardAction.SURRENDER): CardState.SURRENDERED,
    (CardState.SUSPENDED, CardAction.SURRENDER): CardState.SURRENDERED,
}


class InvalidCardTransition(DomainError):
    def __init__(self, state: CardState, action: CardAction) -> None:
        super().__init__(
            f"カードの状態が「{STATE_LABELS[state]}」のため、「{ACTION_LABELS[action]}」は"
            "記録できません。"
        )
        self.state = state
        self.action = action


class IncompleteIdentityCheck(DomainError):
    pass


def allowed_actions(state: CardState) -> list[CardAction]:
    return [a for (s, a) in TRANSITIONS if s == state]


def transition(state: CardState, action: CardAction) -> CardState:
    try:
        return TRANSITIONS[(state, action)]
    except KeyError:
        raise InvalidCardTransition(state, action) from None


@dataclass(frozen=True, slots=True)
class IdentityChecklist:
    """本人確認 at 交付: the face photo compared with the person, documents seen, PIN set."""

    face_photo_matched: bool
    documents: tuple[str, ...]  # e.g. ("通知書", "運転免許証")
    pins_set_by_resident: bool
    note: str = ""

    def to_payload(self) -> dict[str, object]:
        return {
            "face_photo_matched": self.face_photo_matched,
            "documents": list(self.documents),
            "pins_set_by_resident": self.pins_set_by_resident,
        }


def check_issue_checklist(checklist: IdentityChecklist | None) -> None:
    """交付 needs the face photo checked, at least one document and the PINs set."""
    if checklist is None:
        raise IncompleteIdentityCheck("交付には本人確認のチェックリストが必要です。")
    missing = []
    if not checklist.face_photo_matched:
        missing.append("顔写真の照合")
    if not checklist.documents:
        missing.append("本人確認書類")
    if not checklist.pins_set_by_resident:
        missing.append("暗証番号の設定")
    if missing:
        raise IncompleteIdentityCheck("本人確認が完了していません: " + "、".join(missing) + "。")


# --------------------------------------------------------------------------------------------
# Card data and matching

CardSex = Literal["male", "female", "not_applicable"]
CARD_SEX_CODES: dict[str, CardSex] = {"1": "male", "2": "female", "9": "not_applicable"}


@dataclass(frozen=True, slots=True)
class CardFaceInfo:
    """基本4情報 as the card holds them (券面事項入力補助AP), plus the 個人番号 when read."""

    name: str
    address: str
    birth_date: date
    sex: CardSex
    my_number: str | None = None

    def __repr__(self) -> str:  # never let personal data reach a log through repr()
        return "CardFaceInfo(<redacted>)"


DifferenceKind = Literal["mismatch", "needs_endorsement", "notation"]


@dataclass(frozen=True, slots=True)
class FieldDifference:
    field: str  # "name" | "address" | "birth_date" | "sex" | "my_number"
    kind: DifferenceKind
    message: str  # Japanese, for the clerk; contains no personal data
    card_value: str
    register_value: str

    def __repr__(self) -> str:
        return f"FieldDifference(field={self.field!r}, kind={self.kind!r})"


FIELD_NAMES = {
    "name": "氏名",
    "address": "住所",
    "birth_date": "生年月日",
    "sex": "性別",
    "my_number": "個人番号",
}

_SPACES = re.compile(r"[\s\u3000]+")
_VS = re.compile("[\ufe00-\ufe0f\U000e0100-\U000e01ef]")
_DASHES = re.compile("[\u2010-\u2015\u2212\uff0d\u2043\ufe63]")
_BETWEEN_DIGITS = re.compile(r"(?<=\d)(?:丁目|番地の|番地|番の|番|の)(?=\d)")
_TRAILING = re.compile(r"(?<=\d)(?:番地|番|号)$")


def normalize_address(text: str) -> str:
    """Only what must be normalised: widths, spaces, dash forms, 丁目/番地/番/号 vs hyphens."""
    s = unicodedata.normalize("NFKC", text)
    s = _SPACES.sub("", s)
    # "3ー1" written with a prolonged sound mark after a digit is a dash, not katakana.
    s = re.sub(r"(?<=\d)[\u30fc\u2010-\u2015\u2212\uff0d-](?=\d)", "-", s)
    s = _DASHES.sub("-", s)
    s = _BETWEEN_DIGITS.sub("-", s)
    s = _TRAILING.sub("", s)
    s = re.sub(r"(?<=\d)号(?=$|[^\d])", "", s)
    return s


def normalize_name(text: str) -> str:
    """Spaces and variation selectors only: the characters themselves are compared as they are."""
    return _VS.sub("", _SPACES.sub("", text))


def register_address(household: Household) -> str:
    return household.address + (household.katagaki or "")


def compare(card: CardFaceInfo, person: Person, household: Household) -> list[FieldDifference]:
    """Field-by-field differences between the card and the register; [] when they agree."""
    out: list[FieldDifference] = []

    if card.name != person.name:
        if normalize_name(card.name) == normalize_name(person.name):
            out.append(
                FieldDifference(
                    "name",
                    "notation",
                    "氏名の表記(空白・異体字セレクタ)のみ異なります。字形を目視で確認してください。",
                    card.name,
                    person.name,
                )
            )
        else:
            out.append(
                FieldDifference(
                    "name",
                    "needs_endorsement",
                    "氏名が住民票と異なります。氏名変更の場合はカードの追記欄への記載が必要です。",
                    card.name,
                    person.name,
                )
            )

    reg_addr = register_address(household)
    card_n = normalize_address(card.address)
    if card.address != reg_addr and card_n != normalize_address(reg_addr):
        # Tolerate a card address without the 方書 when the rest matches.
        if card_n == normalize_address(household.address):
            out.append(
                FieldDifference(
                    "address",
                    "notation",
                    "カードの住所に方書がありません。必要に応じて追記してください。",
                    card.address,
                    reg_addr,
                )
            )
        elif person.previous_address and card_n == normalize_address(person.previous_address):
            out.append(
                FieldDifference(
                    "address",
                    "needs_endorsement",
                    "カードの住所が転入前(転居前)の住所のままです。住所変更の追記が必要です。",
                    card.address,
                    reg_addr,
                )
            )
        else:
            out.append(
                FieldDifference(
                    "address",
                    "needs_endorsement",
                    "住所が住民票と異なります。住所変更の追記が必要か確認してください。",
                    card.address,
                    reg_addr,
                )
            )

    if card.birth_date != person.birth_date:
        out.append(
            FieldDifference(
                "birth_date",
                "mismatch",
                "生年月日が住民票と一致しません。別人の可能性があります。",
                card.birth_date.isoformat(),
                person.birth_date.isoformat(),
            )
        )

    if card.sex != person.sex:
        out.append(
            FieldDifference(
                "sex",
                "mismatch",
                "性別が住民票と一致しません。",
                card.sex,
                person.sex,
            )
        )

    if card.my_number is not None and card.my_number != person.my_number:
        out.append(
            FieldDifference(
                "my_number",
                "mismatch",
                "個人番号が住民票と一致しません。別人のカードの可能性があります。",
                card.my_number,
                person.my_number or "",
            )
        )
    return out


# --------------------------------------------------------------------------------------------
# Expiry

ExpiryLevel = Literal["valid", "expiring", "expired"]


@dataclass(frozen=True, slots=True)
class ExpiryStatus:
    level: ExpiryLevel
    expires_on: date
    message: str


def add_months(day: date, months: int) -> date:
    y, m = divmod(day.month - 1 + months, 12)
    year, month = day.year + y, m + 1
    import calendar

    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def expiry_status(
    what: str, expires_on: date, today: date, *, warn_months: int = 3
) -> ExpiryStatus:
    """`what` is e.g. "カード" or "利用者証明用電子証明書"."""
    if expires_on < today:
        return ExpiryStatus("expired", expires_on, f"{what}の有効期限が切れています。")
    if expires_on <= add_months(today, warn_months):
        days = (expires_on - today).days
        return ExpiryStatus(
            "expiring",
            expires_on,
            f"{what}の有効期限まで{days}日です。更新の手続きを案内してください。",
        )
    return ExpiryStatus("valid", expires_on, f"{what}は有効です。")


# --------------------------------------------------------------------------------------------
# 照合番号B

# Era starts (the first day of each era); 照合番号B uses the era year, two digits.
_ERAS: tuple[tuple[date, int], ...] = (
    (date(2019, 5, 1), 2018),  # 令和: year = y - 2018
    (date(1989, 1, 8), 1988),  # 平成
    (date(1926, 12, 25), 1925),  # 昭和
    (date(1912, 7, 30), 1911),  # 大正
    (date(1868, 1, 25), 1867),  # 明治
)


def wareki_yymmdd(day: date) -> str:
    for start, offset in _ERAS:
        if day >= start:
            return f"{day.year - offset:02d}{day.month:02d}{day.day:02d}"
    raise ValueError("明治より前の日付は扱えません。")


class InvalidCollationNumber(DomainError):
    pass


def collation_number_b(birth_date: date, card_expiry_year: int, security_code: str) -> str:
    """照合番号B: 和暦 YYMMDD of the birth date + expiry year YYYY + 4-digit security code."""
    if not (len(security_code) == 4 and security_code.isascii() and security_code.isdigit()):
        raise InvalidCollationNumber("セキュリティコードは4桁の数字です。")
    if not 2000 <= card_expiry_year <= 2999:
        raise InvalidCollationNumber("有効期限の年は西暦4桁で入力してください。")
    return wareki_yymmdd(birth_date) + f"{card_expiry_year:04d}" + security_code


def check_collation_number_b(text: str) -> str:
    s = unicodedata.normalize("NFKC", text).strip()
    if not (len(s) == 14 and s.isascii() and s.isdigit()):
        raise InvalidCollationNumber(
            "照合番号Bは14桁の数字です(生年月日の和暦6桁+有効期限の西暦年4桁+セキュリティコード4桁)。"
        )
    return s
