"""The 住民異動届 as the clerk builds it at the counter: a typed draft, its labels, its JSON.

The draft says who moves (`movers`), from where to where, on which day, who files and with
which documents, and what the households look like afterwards (`households`: every household
the 届出 touches, with everyone in it and their 続柄). The rules (checks.py) read it; the head
office's confirmation (confirm.py) turns it into new versions of the register's records.

The records are frozen msgspec Structs like app.domain.records, so that the event payload is
this model's JSON (`draft_to_dict` / `parse_draft`), one definition for both sides.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Any, Literal

import msgspec

from app.domain.certificates import IDENTITY_LABELS, IdentityDocument
from app.domain.errors import ValidationError
from app.domain.identifiers import (
    is_valid_juminhyo_code,
    is_valid_local_government_code,
    is_valid_my_number,
)
from app.domain.records import Sex


class Procedure(StrEnum):
    MOVE_IN = "move_in"  # 転入届 (住基法§22) with a paper 転出証明書 (§22②, 令§23)
    SPECIAL_MOVE_IN = "special_move_in"  # 特例転入 (§24の2): the card, 転出証明書情報 by 住基ネット
    MOVE_WITHIN = "move_within"  # 転居届 (§23)
    MOVE_OUT = "move_out"  # 転出届 (§24): a 転出証明書 is printed
    SPECIAL_MOVE_OUT = (
        "special_move_out"  # 転出届 of a card holder (§24の2①②): 住基ネット, no paper
    )
    HEAD_CHANGE = "head_change"  # 世帯変更届 (§25): 世帯主変更
    SEPARATION = "separation"  # 世帯変更届 (§25): 世帯分離
    MERGER = "merger"  # 世帯変更届 (§25): 世帯合併


PROCEDURE_LABELS: dict[Procedure, str] = {
    Procedure.MOVE_IN: "転入",
    Procedure.SPECIAL_MOVE_IN: "転入（特例）",
    Procedure.MOVE_WITHIN: "転居",
    Procedure.MOVE_OUT: "転出",
    Procedure.SPECIAL_MOVE_OUT: "転出（特例）",
    Procedure.HEAD_CHANGE: "世帯主変更",
    Procedure.SEPARATION: "世帯分離",
    Procedure.MERGER: "世帯合併",
}

# 異動事由 (別添1 住民基本台帳ファイル 87, 本人確認情報ファイル 21) written on the record.
CHANGE_REASONS: dict[Procedure, str] = {
    Procedure.MOVE_IN: "転入",
    Procedure.SPECIAL_MOVE_IN: "転入",
    Procedure.MOVE_WITHIN: "転居",
    Procedure.MOVE_OUT: "転出",
    Procedure.SPECIAL_MOVE_OUT: "転出",
    Procedure.HEAD_CHANGE: "世帯主変更",
    Procedure.SEPARATION: "世帯分離",
    Procedure.MERGER: "世帯合併",
}

MOVE_IN = frozenset({Procedure.MOVE_IN, Procedure.SPECIAL_MOVE_IN})
MOVE_OUT = frozenset({Procedure.MOVE_OUT, Procedure.SPECIAL_MOVE_OUT})
HOUSEHOLD_CHANGE = frozenset({Procedure.HEAD_CHANGE, Procedure.SEPARATION, Procedure.MERGER})
# Procedures about persons already in this municipality's register.
REGISTERED = frozenset(Procedure) - MOVE_IN

HEAD = "世帯主"  # the 続柄 of the head of a household


class FilerKind(StrEnum):
    SELF = "self"  # 本人
    HEAD = "head"  # 世帯主, for a 世帯員 (§26①)
    MEMBER = "member"  # 同一世帯員 (as the 世帯主's messenger: usual practice)
    PROXY = "proxy"  # 任意代理人: a 委任状 shows the 依頼 (§27③)
    LEGAL = "legal"  # 法定代理人 (親権者・成年後見人): a document shows it (§27③)


FILER_LABELS: dict[FilerKind, str] = {
    FilerKind.SELF: "本人",
    FilerKind.HEAD: "世帯主",
    FilerKind.MEMBER: "世帯員",
    FilerKind.PROXY: "代理人",
    FilerKind.LEGAL: "法定代理人",
}

# Identity documents of the person at the counter (§27②): the same list as for certificates.
DOCUMENT_LABELS = IDENTITY_LABELS


class _Model(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    pass


class Address(_Model, frozen=True):
    text: str  # 都道府県から番地まで (北海道北見市北5条東2丁目1番地)
    katagaki: str | None = None  # 方書
    postal_code: str | None = None

    @property
    def full(self) -> str:
        return self.text + (f"　{self.katagaki}" if self.katagaki else "")


class Filer(_Model, frozen=True):
    """届出人: the person at the counter who signs."""

    kind: FilerKind
    name: str
    person_id: str | None = None  # when registered here
    address: str | None = None  # when not registered here (a 代理人)
    phone: str | None = None
    power_of_attorney: bool = False  # the 委任状 (or the 法定代理人's document) was seen


class Mover(_Model, frozen=True):
    """異動者: a person whose address or household the 届出 changes."""

    key: str  # the person_id of a registered person; "new-1", "new-2" … for one moving in
    name: str
    name_kana: str
    birth_date: date
    sex: Sex
    relationship: str  # 続柄 afterwards (転出: in the household that moves out)
    # 転入 only (from the 転出証明書 or the 転出証明書情報):
    juminhyo_code: str | None = None  # 転入前の住民票コード (§22①六)
    my_number: str | None = None
    honseki: str | None = None
    hittosha: str | None = None
    former_name: str | None = None
    card_continued: bool = False  # 特例転入: the 個人番号カード stays in use (継続利用)

    @property
    def is_new(self) -> bool:
        return self.key.startswith(NEW_KEY_PREFIX)


NEW_KEY_PREFIX = "new-"


class Role(_Model, frozen=True):
    key: str  # a mover's key or the person_id of a registered person who stays
    relationship: str  # 続柄; exactly one 世帯主 per household


class HouseholdPlan(_Model, frozen=True):
    """A household as it is after the change: everyone in it (residents only), with 続柄."""

    household_id: str | None  # an existing household, or None: a new one (id from the head office)
    roles: tuple[Role, ...]
    at_new_address: bool = False  # lives at the draft's new address afterwards

    @property
    def head_keys(self) -> tuple[str, ...]:
        return tuple(r.key for r in self.roles if r.relationship == HEAD)


class MoveOutPerson(_Model, frozen=True):
    """One person of a 転出証明書 (or of the 転出証明書情報 that 住基ネット carries)."""

    name: str
    name_kana: str
    birth_date: date
    sex: Sex
    relationship: str  # 続柄 in the household at the old address
    juminhyo_code: str
    my_number: str | None = None
    honseki: str | None = None
    hittosha: str | None = None
    former_name: str | None = None
    card_holder: bool = False  # holds a 個人番号カード (§24の2: 特例転入 possible)
    address_set_on: date | None = None  # 住所を定めた年月日 at the old address


class MoveOutCertificate(_Model, frozen=True):
    """転出証明書 (令§23, paper) or 転出証明書情報 (§24の2③, through 住基ネット)."""

    source: Literal["paper", "jukinet"]
    issuing_municipality: str  # 北海道札幌市中央区
    issuing_municipality_code: str  # 6 digits with check digit
    address: str  # the address the persons leave (従前の住所)
    head_name: str  # 世帯主 at the old address (転入前世帯主, 別添1 21)
    destination: str  # 転出先 as declared
    planned_on: date  # 転出の予定年月日
    reported_on: date  # 転出届の年月日
    persons: tuple[MoveOutPerson, ...]
    katagaki: str | None = None
    certificate_no: str | None = None  # 証明書番号 of a paper certificate


class NotificationDraft(_Model, frozen=True):
    notification_id: str  # UUID, also the outbox event's idempotency key
    procedure: Procedure
    municipality_code: str  # 地方公共団体コード of the municipality that receives it
    office: str  # 受付支所 (別添1 90)
    filed_on: date  # 届出年月日
    moved_on: date  # 異動年月日 (転出: 転出の予定年月日)
    filer: Filer
    movers: tuple[Mover, ...]
    households: tuple[HouseholdPlan, ...] = ()
    old_address: Address | None = None  # 旧住所 (転入: 従前の住所)
    new_address: Address | None = None  # 新住所 (転出: 転出先)
    source_household_id: str | None = None  # where the movers are registered (not for 転入)
    # person_id → 住民票版数 the terminal read, for every registered person the 届出 touches.
    relied_versions: dict[str, int] = msgspec.field(default_factory=dict)
    identity_documents: tuple[IdentityDocument, ...] = ()
    move_out_certificate: MoveOutCertificate | None = None
    card_presented: bool = False  # 特例: the 個人番号カード was presented and its PIN entered
    destination_head_name: str | None = None  # 転出: 転出先の世帯主 (別添1 26)
    note: str = ""

    @property
    def reason(self) -> str:
        return CHANGE_REASONS[self.procedure]

    def mover(self, key: str) -> Mover:
        for m in self.movers:
            if m.key == key:
                return m
        raise KeyError(key)


# ---------------------------------------------------------------------------------------------
# JSON


def draft_to_dict(draft: NotificationDraft) -> dict[str, Any]:
    """The draft as JSON values (dates ISO, enums as their values, lists), as it travels."""
    return msgspec.json.decode(msgspec.json.encode(draft), type=dict[str, Any])


_DECODER = msgspec.json.Decoder(NotificationDraft)


def parse_draft(obj: Any) -> NotificationDraft:
    """Builtins (or JSON text) → draft; what types cannot say is checked here too.

    Raises ValidationError (Japanese, the offending path named) for anything malformed.
    """
    try:
        raw = obj if isinstance(obj, (bytes, str)) else msgspec.json.encode(obj)
        draft = _DECODER.decode(raw)
    except (msgspec.ValidationError, msgspec.DecodeError, TypeError) as exc:
        raise ValidationError("draft", f"届出データの形式が正しくありません（{exc}）。") from None
    _check_shape(draft)
    return draft


def _check_shape(d: NotificationDraft) -> None:
    def fail(field: str, message: str) -> None:
        raise ValidationError(field, message)

    if not is_valid_local_government_code(d.municipality_code):
        fail("municipality_code", "地方公共団体コードが正しくありません。")
    if not d.movers:
        fail("movers", "異動者がいません。")
    keys = [m.key for m in d.movers]
    if len(set(keys)) != len(keys):
        fail("movers", "同じ異動者が重複しています。")
    for i, m in enumerate(d.movers):
        where = f"movers[{i}]"
        if not m.key.strip() or not m.name.strip() or not m.name_kana.strip():
            fail(where, f"異動者{i + 1}: 氏名・フリガナ・キーは空にできません。")
        if m.juminhyo_code is not None and not is_valid_juminhyo_code(m.juminhyo_code):
            fail(f"{where}.juminhyo_code", f"異動者{i + 1}: 住民票コードが正しくありません。")
        if m.my_number is not None and not is_valid_my_number(m.my_number):
            fail(f"{where}.my_number", f"異動者{i + 1}: 個人番号が正しくありません。")
        if m.is_new != (d.procedure in MOVE_IN):
            fail(f"{where}.key", f"異動者{i + 1}: 転入者だけが新しいキー（new-…）を持ちます。")
    for key, version in d.relied_versions.items():
        if version < 1:
            fail("relied_versions", f"住民票版数が正しくありません（{key}）。")
    c = d.move_out_certificate
    if c is not None:
        if not is_valid_local_government_code(c.issuing_municipality_code):
            fail("move_out_certificate", "転出証明書の地方公共団体コードが正しくありません。")
        for p in c.persons:
            if not is_valid_juminhyo_code(p.juminhyo_code):
                fail("move_out_certificate", "転出証明書の住民票コードが正しくありません。")
            if p.my_number is not None and not is_valid_my_number(p.my_number):
                fail("move_out_certificate", "転出証明書の個人番号が正しくありません。")
