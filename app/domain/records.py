"""The resident record (住民票) and the household (世帯): the interchange format of DESIGN.md §3.

One household per JSON object (one per line in JSONL files). Parsing is strict: unknown keys,
missing keys and values of the wrong shape are errors that name the field in Japanese, so that a
bad import line is reported instead of silently losing an item of a 住民票.

Names are kept exactly as given (IVS included); only search keys are folded elsewhere.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any, Literal, overload

import msgspec
from msgspec.structs import fields

from app.domain.errors import ValidationError
from app.domain.identifiers import (
    is_valid_juminhyo_code,
    is_valid_local_government_code,
    is_valid_my_number,
    is_valid_postal_code,
    is_valid_residence_card_number,
)

Sex = Literal["male", "female"]
Status = Literal["resident", "removed"]

SEXES: tuple[str, ...] = ("male", "female")
STATUSES: tuple[str, ...] = ("resident", "removed")
# 住民基本台帳法 第30条の45 の表の上欄: the kinds of foreign residents who get a 住民票.
ARTICLE_30_45_KINDS: tuple[str, ...] = (
    "中長期在留者",
    "特別永住者",
    "一時庇護許可者",
    "仮滞在許可者",
    "出生による経過滞在者",
    "国籍喪失による経過滞在者",
)

# Japanese labels used in error messages; every key of the format has one.
FIELD_LABELS: dict[str, str] = {
    "household_id": "世帯ID",
    "municipality_code": "地方公共団体コード",
    "postal_code": "郵便番号",
    "address": "住所",
    "katagaki": "方書",
    "head_person_id": "世帯主ID",
    "members": "世帯員",
    "person_id": "個人ID",
    "juminhyo_code": "住民票コード",
    "my_number": "個人番号",
    "version": "住民票版数",
    "status": "状態",
    "name": "氏名",
    "name_kana": "氏名(フリガナ)",
    "former_name": "旧氏",
    "alias": "通称",
    "alias_kana": "通称(フリガナ)",
    "birth_date": "生年月日",
    "sex": "性別",
    "relationship": "続柄",
    "honseki": "本籍",
    "hittosha": "筆頭者",
    "became_resident_on": "住民となった年月日",
    "became_resident_reported_on": "住民となった届出日",
    "address_set_on": "住所を定めた年月日",
    "address_set_reported_on": "住所を定めた届出日",
    "previous_address": "転入前住所",
    "removed_on": "消除年月日",
    "removal_reason": "消除事由",
    "moved_out_to": "転出先",
    "nationality": "国籍・地域",
    "residence_status": "在留資格",
    "period_of_stay": "在留期間",
    "period_of_stay_until": "在留期間の満了日",
    "residence_card_number": "在留カード等の番号",
    "article_30_45": "法第30条の45に規定する区分",
    "support_measure": "支援措置",
    "history": "記事",
    "until": "支援措置の期限",
    "perpetrators": "加害者(登録外)",
    "date": "記事の日付",
    "kind": "記事の種別",
    "note": "記事の内容",
    "reported_on": "届出年月日",
    "removal_reported_on": "住民でなくなった届出年月日",
    "previous_head_name": "転入前世帯主",
    "moved_out_head_name": "転出先世帯主",
}


# The record types are frozen msgspec Structs: plain immutable values, like frozen dataclasses,
# which msgspec also decodes from JSON in C (`parse_line`, the initial sync's hot path). They
# hold only strings, numbers, dates and tuples of records, so they cannot form reference
# cycles: gc=False keeps the garbage collector from walking a million of them (its pauses
# stall the GUI during an initial sync).
class _Record(msgspec.Struct, frozen=True, forbid_unknown_fields=True, gc=False):
    pass


class PerpetratorRecord(_Record, frozen=True):
    """A 加害者 named in a 支援措置 who is not (or not only) in this register: 氏名・生年月日,
    against which a requester entered by hand is matched."""

    name: str
    birth_date: date | None = None


class SupportMeasure(_Record, frozen=True):
    """支援措置 (DV, stalking, child abuse): certificates about this person need approval."""

    until: date
    # person_ids of the registered 加害者 (perpetrators), whose requests are refused.
    perpetrator_person_ids: tuple[str, ...] = ()
    # 加害者 known by 氏名・生年月日 only (registered elsewhere).
    perpetrators: tuple[PerpetratorRecord, ...] = ()

    def active_on(self, day: date) -> bool:
        return day <= self.until


Day = date  # the type, for the record whose first field is called `date`


class HistoryEntry(_Record, frozen=True):
    """One 記事 line of the 住民票 (転入, 転居, 出生, 氏名変更 ...): the 異動年月日, the
    異動事由 and, for a change by 届出, its 届出年月日 (別添1; a later key, see LATER_KEYS)."""

    date: date
    kind: str
    note: str = ""
    reported_on: Day | None = None  # (`date` is the field above inside this class)


class Person(_Record, frozen=True):
    person_id: str
    juminhyo_code: str
    my_number: str | None
    version: int
    status: Status
    name: str
    name_kana: str
    birth_date: date
    sex: Sex
    relationship: str
    former_name: str | None = None
    alias: str | None = None
    alias_kana: str | None = None
    honseki: str | None = None
    hittosha: str | None = None
    became_resident_on: date | None = None
    became_resident_reported_on: date | None = None
    address_set_on: date | None = None
    address_set_reported_on: date | None = None
    previous_address: str | None = None
    removed_on: date | None = None
    removal_reason: str | None = None
    moved_out_to: str | None = None
    nationality: str | None = None
    residence_status: str | None = None
    period_of_stay: str | None = None  # 在留期間 (上陸期間, 仮滞在期間) as on the card
    period_of_stay_until: date | None = None
    residence_card_number: str | None = None
    article_30_45: str | None = None
    support_measure: SupportMeasure | None = None
    history: tuple[HistoryEntry, ...] = ()
    # Later keys (issue 20, items of 別添1 written by a confirmed 住民異動届; see LATER_KEYS):
    removal_reported_on: date | None = None  # 住民でなくなった届出年月日 (転出届の日)
    previous_head_name: str | None = None  # 転入前世帯主 (from the 転出証明書)
    moved_out_head_name: str | None = None  # 転出先世帯主

    @property
    def is_foreign(self) -> bool:
        return self.nationality is not None

    @property
    def is_removed(self) -> bool:
        return self.status == "removed"

    def is_protected_on(self, day: date) -> bool:
        return self.support_measure is not None and self.support_measure.active_on(day)


class Household(_Record, frozen=True):
    household_id: str
    municipality_code: str
    postal_code: str
    address: str
    katagaki: str | None
    head_person_id: str
    members: tuple[Person, ...] = ()

    @property
    def version(self) -> int:
        """The household changes whenever one of its members does."""
        return max((m.version for m in self.members), default=0)

    def member(self, person_id: str) -> Person:
        for m in self.members:
            if m.person_id == person_id:
                return m
        raise KeyError(person_id)

    @property
    def head(self) -> Person:
        return self.member(self.head_person_id)


# ---------------------------------------------------------------------------------------------
# Parsing


# The optional items of a person, in the order the store lays out its columns.
PERSON_OPTIONAL_TEXT: tuple[str, ...] = (
    "former_name",
    "alias",
    "alias_kana",
    "honseki",
    "hittosha",
    "previous_address",
    "removal_reason",
    "moved_out_to",
    "nationality",
    "residence_status",
    "period_of_stay",
    "residence_card_number",
    "article_30_45",
    "previous_head_name",
    "moved_out_head_name",
)
PERSON_OPTIONAL_DATES: tuple[str, ...] = (
    "became_resident_on",
    "became_resident_reported_on",
    "address_set_on",
    "address_set_reported_on",
    "removed_on",
    "period_of_stay_until",
    "removal_reported_on",
)
_DATE_FIELDS_PERSON = {"birth_date", *PERSON_OPTIONAL_DATES}
_OPTIONAL_STR_PERSON = set(PERSON_OPTIONAL_TEXT)
_REQUIRED_PERSON = {
    "person_id",
    "juminhyo_code",
    "my_number",
    "version",
    "status",
    "name",
    "name_kana",
    "birth_date",
    "sex",
    "relationship",
}
_PERSON_KEYS = {f.name for f in fields(Person)}
_HOUSEHOLD_KEYS = {f.name for f in fields(Household)}
_SUPPORT_KEYS = {"until", "perpetrator_person_ids", "perpetrators"}
_PERPETRATOR_KEYS = {"name", "birth_date"}
_HISTORY_KEYS = {"date", "kind", "note", "reported_on"}
# Keys added to the format after its first version (issue 20): written only when they hold a
# value, so a record without them keeps its bytes (and a terminal of an older program, whose
# parser refuses unknown keys, still reads every record no 届出 has touched).
LATER_PERSON_KEYS: tuple[str, ...] = (
    "removal_reported_on",
    "previous_head_name",
    "moved_out_head_name",
)
LATER_HISTORY_KEYS: tuple[str, ...] = ("reported_on",)


def _label(key: str) -> str:
    return f"{FIELD_LABELS.get(key, key)}({key})"


def _check_keys(obj: Any, allowed: set[str], required: set[str], where: str) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise ValidationError(where, f"{where}がJSONのオブジェクトではありません。")
    keys = obj.keys()
    if keys <= allowed and required <= keys:  # the common case, without building lists
        return obj
    unknown = sorted(set(obj) - allowed)
    if unknown:
        raise ValidationError(where, f"{where}に未知の項目があります: {', '.join(unknown)}")
    missing = sorted(required - set(obj))
    if missing:
        names = "、".join(_label(k) for k in missing)
        raise ValidationError(where, f"{where}に必須の項目がありません: {names}")
    return obj


@overload
def _str(obj: dict[str, Any], key: str, where: str, *, optional: Literal[False] = False) -> str: ...
@overload
def _str(obj: dict[str, Any], key: str, where: str, *, optional: bool) -> str | None: ...
def _str(obj: dict[str, Any], key: str, where: str, *, optional: bool = False) -> str | None:
    value = obj.get(key)
    if value is None:
        if optional:
            return None
        raise ValidationError(key, f"{where}: {_label(key)}が空です。")
    if not isinstance(value, str):
        raise ValidationError(key, f"{where}: {_label(key)}は文字列でなければなりません。")
    if not optional and not value.strip():
        raise ValidationError(key, f"{where}: {_label(key)}が空です。")
    return value


@overload
def _date(obj: dict[str, Any], key: str, where: str, *, optional: Literal[False]) -> date: ...
@overload
def _date(obj: dict[str, Any], key: str, where: str, *, optional: bool = True) -> date | None: ...
def _date(obj: dict[str, Any], key: str, where: str, *, optional: bool = True) -> date | None:
    value = obj.get(key)
    if value is None:
        if optional:
            return None
        raise ValidationError(key, f"{where}: {_label(key)}が空です。")
    if not isinstance(value, str):
        raise ValidationError(
            key, f"{where}: {_label(key)}は日付(YYYY-MM-DD)でなければなりません。"
        )
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValidationError(
            key, f"{where}: {_label(key)}「{value}」は正しい日付(YYYY-MM-DD)ではありません。"
        ) from None


def parse_person(obj: Any, where: str = "世帯員") -> Person:
    obj = _check_keys(obj, _PERSON_KEYS, _REQUIRED_PERSON, where)
    person_id = _str(obj, "person_id", where)
    where = f"{where}[{person_id}]"

    juminhyo_code = _str(obj, "juminhyo_code", where)
    if not is_valid_juminhyo_code(juminhyo_code):
        raise ValidationError(
            "juminhyo_code",
            f"{where}: 住民票コードが正しくありません(11桁・検査数字)。",
        )
    my_number = _str(obj, "my_number", where, optional=True)
    if my_number is not None and not is_valid_my_number(my_number):
        # The number itself is never echoed: it is 特定個人情報.
        raise ValidationError("my_number", f"{where}: 個人番号が正しくありません(12桁・検査数字)。")

    version = obj["version"]
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ValidationError("version", f"{where}: 住民票版数は1以上の整数でなければなりません。")
    status = obj["status"]
    if status not in STATUSES:
        raise ValidationError("status", f"{where}: 状態は resident か removed です(「{status}」)。")
    sex = obj["sex"]
    if sex not in SEXES:
        raise ValidationError("sex", f"{where}: 性別は male か female です(「{sex}」)。")

    # Hot path of imports and initial sync: inline checks; the helpers build the messages.
    kwargs: dict[str, Any] = {}
    get = obj.get
    for key in _DATE_FIELDS_PERSON:
        value = get(key)
        if value is None:
            if key == "birth_date":
                _date(obj, key, where, optional=False)  # raises: 生年月日が空です
            kwargs[key] = None
            continue
        try:
            kwargs[key] = date.fromisoformat(value)
        except (TypeError, ValueError):
            _date(obj, key, where)  # raises with the field's label
            raise  # pragma: no cover - _date always raises here
    for key in _OPTIONAL_STR_PERSON:
        value = get(key)
        if value is not None and not isinstance(value, str):
            _str(obj, key, where, optional=True)  # raises: 文字列でなければなりません
        kwargs[key] = value

    name_kana = _str(obj, "name_kana", where)
    support = obj.get("support_measure")
    support_measure = None
    if support is not None:
        support = _check_keys(support, _SUPPORT_KEYS, {"until"}, f"{where}の支援措置")
        ids = support.get("perpetrator_person_ids", [])
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise ValidationError("support_measure", f"{where}: 加害者IDは文字列のリストです。")
        others_raw = support.get("perpetrators", [])
        if not isinstance(others_raw, list):
            raise ValidationError("support_measure", f"{where}: 加害者(登録外)はリストです。")
        others = []
        for other in others_raw:
            other = _check_keys(other, _PERPETRATOR_KEYS, {"name"}, f"{where}の加害者")
            others.append(
                PerpetratorRecord(
                    name=_str(other, "name", where),
                    birth_date=_date(other, "birth_date", where),
                )
            )
        support_measure = SupportMeasure(
            until=_date(support, "until", where, optional=False),
            perpetrator_person_ids=tuple(ids),
            perpetrators=tuple(others),
        )
    history_raw = obj.get("history", [])
    if not isinstance(history_raw, list):
        raise ValidationError("history", f"{where}: 記事はリストでなければなりません。")
    history = []
    for item in history_raw:
        item = _check_keys(item, _HISTORY_KEYS, {"date", "kind"}, f"{where}の記事")
        history.append(
            HistoryEntry(
                date=_date(item, "date", where, optional=False),
                kind=_str(item, "kind", where),
                note=_str(item, "note", where, optional=True) or "",
                reported_on=_date(item, "reported_on", where),
            )
        )

    card = kwargs["residence_card_number"]
    if card is not None and not is_valid_residence_card_number(card):
        raise ValidationError(
            "residence_card_number",
            f"{where}: 在留カード等の番号「{card}」が正しくありません(例: AB12345678CD)。",
        )
    kind = kwargs["article_30_45"]
    if kind is not None and kind not in ARTICLE_30_45_KINDS:
        raise ValidationError(
            "article_30_45",
            f"{where}: 法第30条の45に規定する区分「{kind}」は次のいずれかです: "
            + "、".join(ARTICLE_30_45_KINDS),
        )
    if status == "removed" and kwargs["removed_on"] is None:
        raise ValidationError("removed_on", f"{where}: 除票には消除年月日が必要です。")
    if status == "resident" and kwargs["removed_on"] is not None:
        raise ValidationError(
            "removed_on", f"{where}: 消除年月日のある者は状態を removed(除票)にしてください。"
        )

    return Person(
        person_id=person_id,
        juminhyo_code=juminhyo_code,
        my_number=my_number,
        version=version,
        status=status,
        name=_str(obj, "name", where),
        name_kana=name_kana,
        sex=sex,
        relationship=_str(obj, "relationship", where),
        support_measure=support_measure,
        history=tuple(history),
        **kwargs,
    )


def parse_household(obj: Any) -> Household:
    obj = _check_keys(obj, _HOUSEHOLD_KEYS, _HOUSEHOLD_KEYS - {"katagaki"}, "世帯")
    household_id = _str(obj, "household_id", "世帯")
    where = f"世帯[{household_id}]"
    code = _str(obj, "municipality_code", where)
    if not is_valid_local_government_code(code):
        raise ValidationError(
            "municipality_code",
            f"{where}: 地方公共団体コード「{code}」が正しくありません(6桁・検査数字)。",
        )
    postal = _str(obj, "postal_code", where)
    if not is_valid_postal_code(postal):
        raise ValidationError(
            "postal_code", f"{where}: 郵便番号「{postal}」が正しくありません(例: 090-0024)。"
        )
    members_raw = obj["members"]
    if not isinstance(members_raw, list) or not members_raw:
        raise ValidationError("members", f"{where}: 世帯員が1人もいません。")
    members = tuple(parse_person(m, f"{where}の世帯員") for m in members_raw)
    ids = [m.person_id for m in members]
    if len(set(ids)) != len(ids):
        raise ValidationError("members", f"{where}: 同じ個人IDの世帯員が重複しています。")
    head = _str(obj, "head_person_id", where)
    if head not in ids:
        raise ValidationError("head_person_id", f"{where}: 世帯主IDが世帯員の中にありません。")
    return Household(
        household_id=household_id,
        municipality_code=code,
        postal_code=postal,
        address=_str(obj, "address", where),
        katagaki=_str(obj, "katagaki", where, optional=True),
        head_person_id=head,
        members=members,
    )


def parse_line(line: str | bytes) -> Household:
    """One JSONL line → Household; JSON syntax errors become ValidationError too.

    Every well-formed line takes the fast path (msgspec decodes it into the Structs in C, then
    `_follows_rules` checks what types cannot say); a line it refuses is parsed again by
    parse_household, which accepts the same records and names the fault in Japanese. Only
    that one parser defines the format: the fast path is an accelerator that accepts a subset
    of what parse_household accepts, with the same result (tests/domain/test_records_fast.py).
    """
    try:
        household = _DECODER.decode(line)
    # UnicodeEncodeError: a str with lone surrogates; UnicodeDecodeError: bytes not UTF-8
    # (json.loads below names the line's fault).
    except (msgspec.DecodeError, UnicodeError):
        pass
    else:
        if _follows_rules(household):
            return household
    try:
        obj = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        where = f"、{exc.colno}文字目" if isinstance(exc, json.JSONDecodeError) else ""
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else "UTF-8ではありません"
        raise ValidationError("json", f"JSONとして読めません({reason}{where})。") from None
    return parse_household(obj)


_DECODER = msgspec.json.Decoder(Household)


def _blank(value: str) -> bool:
    return not value.strip()


def _person_follows_rules(p: Person) -> bool:
    """parse_person's checks beyond the types, as one yes/no (the messages are its job)."""
    if (
        _blank(p.person_id)
        or _blank(p.name)
        or _blank(p.name_kana)
        or _blank(p.relationship)
        or p.version < 1
        or not is_valid_juminhyo_code(p.juminhyo_code)
        or (p.my_number is not None and not is_valid_my_number(p.my_number))
        or (p.status == "removed") != (p.removed_on is not None)
        or (p.article_30_45 is not None and p.article_30_45 not in ARTICLE_30_45_KINDS)
    ):
        return False
    if p.residence_card_number is not None and not is_valid_residence_card_number(
        p.residence_card_number
    ):
        return False
    sm = p.support_measure
    if sm is not None and any(_blank(x.name) for x in sm.perpetrators):
        return False
    return not any(_blank(h.kind) for h in p.history)


def _follows_rules(h: Household) -> bool:
    """parse_household's checks beyond the types, as one yes/no."""
    if (
        _blank(h.household_id)
        or _blank(h.address)
        or _blank(h.head_person_id)
        or not h.members
        or not is_valid_local_government_code(h.municipality_code)
        or not is_valid_postal_code(h.postal_code)
    ):
        return False
    ids = [m.person_id for m in h.members]
    return (
        len(set(ids)) == len(ids)
        and h.head_person_id in ids
        and all(_person_follows_rules(m) for m in h.members)
    )


# ---------------------------------------------------------------------------------------------
# Emitting


_PERSON_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Person))


def _iso(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def _history_to_dict(h: HistoryEntry) -> dict[str, Any]:
    d: dict[str, Any] = {"date": h.date.isoformat(), "kind": h.kind, "note": h.note}
    if h.reported_on is not None:  # a later key: only when set
        d["reported_on"] = h.reported_on.isoformat()
    return d


def person_to_dict(p: Person) -> dict[str, Any]:
    """Person → interchange dict, keys in DESIGN.md order (the generator's hot path); the
    later keys (LATER_PERSON_KEYS) follow, each only when it holds a value."""
    sm = p.support_measure
    d: dict[str, Any] = {
        "person_id": p.person_id,
        "juminhyo_code": p.juminhyo_code,
        "my_number": p.my_number,
        "version": p.version,
        "status": p.status,
        "name": p.name,
        "name_kana": p.name_kana,
        "birth_date": p.birth_date.isoformat(),
        "sex": p.sex,
        "relationship": p.relationship,
        "former_name": p.former_name,
        "alias": p.alias,
        "alias_kana": p.alias_kana,
        "honseki": p.honseki,
        "hittosha": p.hittosha,
        "became_resident_on": _iso(p.became_resident_on),
        "became_resident_reported_on": _iso(p.became_resident_reported_on),
        "address_set_on": _iso(p.address_set_on),
        "address_set_reported_on": _iso(p.address_set_reported_on),
        "previous_address": p.previous_address,
        "removed_on": _iso(p.removed_on),
        "removal_reason": p.removal_reason,
        "moved_out_to": p.moved_out_to,
        "nationality": p.nationality,
        "residence_status": p.residence_status,
        "period_of_stay": p.period_of_stay,
        "period_of_stay_until": _iso(p.period_of_stay_until),
        "residence_card_number": p.residence_card_number,
        "article_30_45": p.article_30_45,
        "support_measure": None
        if sm is None
        else {
            "until": sm.until.isoformat(),
            "perpetrator_person_ids": list(sm.perpetrator_person_ids),
            **(
                {
                    "perpetrators": [
                        {"name": x.name, "birth_date": _iso(x.birth_date)} for x in sm.perpetrators
                    ]
                }
                if sm.perpetrators
                else {}
            ),
        },
        "history": [_history_to_dict(h) for h in p.history],
    }
    if p.removal_reported_on is not None:
        d["removal_reported_on"] = p.removal_reported_on.isoformat()
    if p.previous_head_name is not None:
        d["previous_head_name"] = p.previous_head_name
    if p.moved_out_head_name is not None:
        d["moved_out_head_name"] = p.moved_out_head_name
    return d


def household_to_dict(h: Household) -> dict[str, Any]:
    return {
        "household_id": h.household_id,
        "municipality_code": h.municipality_code,
        "postal_code": h.postal_code,
        "address": h.address,
        "katagaki": h.katagaki,
        "head_person_id": h.head_person_id,
        "members": [person_to_dict(m) for m in h.members],
    }


def dump_line(h: Household) -> str:
    """Household → one JSONL line (UTF-8 text, no trailing newline, IVS kept as is)."""
    return json.dumps(household_to_dict(h), ensure_ascii=False, separators=(",", ":"))
