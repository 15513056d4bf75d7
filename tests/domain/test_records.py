"""The interchange format: strict parsing with Japanese errors naming the field, exact emission."""

from __future__ import annotations

import json
from copy import deepcopy
from datetime import date
from typing import Any

import pytest
from msgspec.structs import replace

from app.domain.errors import ValidationError
from app.domain.records import (
    FIELD_LABELS,
    LATER_PERSON_KEYS,
    HistoryEntry,
    Household,
    Person,
    SupportMeasure,
    dump_line,
    household_to_dict,
    parse_household,
    parse_line,
    person_to_dict,
)

# DESIGN.md §3, in order, plus the documented extensions support_measure.perpetrator_person_ids,
# support_measure.perpetrators and period_of_stay (在留期間, docs/record-format.md).
PERSON_KEYS = [
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
    "former_name",
    "alias",
    "alias_kana",
    "honseki",
    "hittosha",
    "became_resident_on",
    "became_resident_reported_on",
    "address_set_on",
    "address_set_reported_on",
    "previous_address",
    "removed_on",
    "removal_reason",
    "moved_out_to",
    "nationality",
    "residence_status",
    "period_of_stay",
    "period_of_stay_until",
    "residence_card_number",
    "article_30_45",
    "support_measure",
    "history",
]
HOUSEHOLD_KEYS = [
    "household_id",
    "municipality_code",
    "postal_code",
    "address",
    "katagaki",
    "head_person_id",
    "members",
]


def full_household() -> dict[str, Any]:
    return {
        "household_id": "H1",
        "municipality_code": "012084",
        "postal_code": "090-0024",
        "address": "北海道北見市北2条東3丁目4番5号",
        "katagaki": "コーポ北光 203号室",
        "head_person_id": "P1",
        "members": [
            {
                "person_id": "P1",
                "juminhyo_code": "12345678903",
                "my_number": "983205673214",
                "version": 3,
                "status": "resident",
                "name": "葛\U000e0102西 太郎",
                "name_kana": "カサイ タロウ",
                "birth_date": "1970-03-12",
                "sex": "male",
                "relationship": "世帯主",
                "former_name": None,
                "alias": None,
                "alias_kana": None,
                "honseki": "北海道北見市北2条東3丁目4番地",
                "hittosha": "葛\U000e0102西 太郎",
                "became_resident_on": "1970-03-12",
                "became_resident_reported_on": "1970-03-15",
                "address_set_on": "2001-04-01",
                "address_set_reported_on": "2001-04-02",
                "previous_address": None,
                "removed_on": None,
                "removal_reason": None,
                "moved_out_to": None,
                "nationality": None,
                "residence_status": None,
                "period_of_stay": None,
                "period_of_stay_until": None,
                "residence_card_number": None,
                "article_30_45": None,
                "support_measure": {"until": "2027-03-31", "perpetrator_person_ids": ["P9"]},
                "history": [
                    {"date": "1970-03-12", "kind": "出生", "note": ""},
                    {"date": "2001-04-01", "kind": "転居", "note": "北見市内"},
                ],
            },
            {
                "person_id": "P2",
                "juminhyo_code": "00000000000",
                "my_number": None,
                "version": 1,
                "status": "removed",
                "name": "NGUYEN THI LAN",
                "name_kana": "グエン ティラン",
                "birth_date": "1995-07-01",
                "sex": "female",
                "relationship": "妻",
                "alias": "葛西 蘭",
                "alias_kana": "カサイ ラン",
                "nationality": "ベトナム",
                "residence_status": "日本人の配偶者等",
                "period_of_stay": "3年",
                "period_of_stay_until": "2027-07-01",
                "residence_card_number": "AB12345678CD",
                "article_30_45": "中長期在留者",
                "removed_on": "2025-01-10",
                "removal_reason": "転出",
                "moved_out_to": "東京都千代田区霞が関2丁目1番2号",
            },
        ],
    }


def test_parse_full_household() -> None:
    h = parse_household(full_household())
    head = h.head
    assert head.name == "葛\U000e0102西 太郎"  # stored exactly, IVS kept
    assert head.support_measure == SupportMeasure(date(2027, 3, 31), ("P9",))
    assert head.is_protected_on(date(2027, 3, 31)) and not head.is_protected_on(date(2027, 4, 1))
    assert head.history[1] == HistoryEntry(date(2001, 4, 1), "転居", "北見市内")
    wife = h.member("P2")
    assert wife.is_foreign and wife.is_removed and wife.my_number is None
    assert h.version == 3


def test_emit_key_order_and_round_trip() -> None:
    h = parse_household(full_household())
    d = household_to_dict(h)
    assert list(d) == HOUSEHOLD_KEYS
    assert [list(m) for m in d["members"]] == [PERSON_KEYS, PERSON_KEYS]
    assert parse_line(dump_line(h)) == h
    line = dump_line(h)
    assert "\n" not in line and "\U000e0102" in line  # UTF-8 text, IVS not escaped
    assert json.loads(line)["members"][1]["support_measure"] is None


def test_perpetrators_known_by_name_round_trip() -> None:
    """支援措置 may name a 加害者 registered elsewhere by 氏名・生年月日 (docs/certificates.md)."""
    data = mutate(
        ["members", 0, "support_measure", "perpetrators"],
        [{"name": "加害　一郎", "birth_date": "1980-01-02"}],
    )
    h = parse_household(data)
    sm = h.members[0].support_measure
    assert sm is not None and sm.perpetrators[0].name == "加害　一郎"
    assert sm.perpetrators[0].birth_date == date(1980, 1, 2)
    assert parse_line(dump_line(h)) == h == parse_line(json.dumps(data, ensure_ascii=False))
    with pytest.raises(ValidationError):
        parse_household(
            mutate(
                ["members", 0, "support_measure", "perpetrators"], [{"birth_date": "1980-01-02"}]
            )
        )


def test_every_key_has_a_label() -> None:
    for key in [
        *PERSON_KEYS,
        *LATER_PERSON_KEYS,
        *HOUSEHOLD_KEYS,
        "until",
        "date",
        "kind",
        "note",
        "perpetrators",
        "reported_on",
    ]:
        assert key in FIELD_LABELS


def test_person_to_dict_matches_record_fields() -> None:
    from msgspec.structs import fields

    p = Person("P", "12345678903", None, 1, "resident", "名", "メ", date(2000, 1, 1), "male", "子")
    later = set(LATER_PERSON_KEYS)
    assert list(person_to_dict(p)) == [f.name for f in fields(Person) if f.name not in later]
    assert [f.name for f in fields(Person)][-len(later) :] == list(LATER_PERSON_KEYS)


def test_later_keys_are_written_only_when_set() -> None:
    """Keys added by issue 20 (別添1 items a confirmed 届出 writes): a record without them
    keeps its v1 bytes; with them they follow the v1 keys and round-trip."""
    h = parse_household(full_household())
    before = dump_line(h)
    assert "reported_on" not in before.replace("_reported_on", "")
    assert all(k not in before for k in LATER_PERSON_KEYS)
    head = h.head
    moved = replace(
        head,
        removal_reported_on=date(2026, 4, 20),
        previous_head_name="大空 翔",
        moved_out_head_name="札幌 花子",
        history=(*head.history, HistoryEntry(date(2026, 4, 18), "転居", "", date(2026, 4, 20))),
    )
    h2 = replace(h, members=(moved, *h.members[1:]))
    d = household_to_dict(h2)
    assert list(d["members"][0]) == PERSON_KEYS + list(LATER_PERSON_KEYS)
    assert d["members"][0]["history"][-1]["reported_on"] == "2026-04-20"
    assert "reported_on" not in d["members"][0]["history"][0]
    assert parse_line(dump_line(h2)) == h2
    assert parse_household(json.loads(dump_line(h2))) == h2


def mutate(path: list[Any], value: Any, *, delete: bool = False) -> dict[str, Any]:
    data = deepcopy(full_household())
    target: Any = data
    for key in path[:-1]:
        target = target[key]
    if delete:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return data


CASES = [
    (["unknown"], 1, False, "世帯", "世帯に未知の項目があります: unknown"),
    (
        ["members", 0, "nickname"],
        "x",
        False,
        "世帯[H1]の世帯員",
        "世帯[H1]の世帯員に未知の項目があります: nickname",
    ),
    (
        ["members", 0, "name"],
        None,
        True,
        "世帯[H1]の世帯員",
        "世帯[H1]の世帯員に必須の項目がありません: 氏名(name)",
    ),
    (
        ["municipality_code"],
        "012083",
        False,
        "municipality_code",
        "世帯[H1]: 地方公共団体コード「012083」が正しくありません(6桁・検査数字)。",
    ),
    (
        ["postal_code"],
        "0900024",
        False,
        "postal_code",
        "世帯[H1]: 郵便番号「0900024」が正しくありません(例: 090-0024)。",
    ),
    (
        ["members", 0, "juminhyo_code"],
        "12345678900",
        False,
        "juminhyo_code",
        "世帯[H1]の世帯員[P1]: 住民票コードが正しくありません(11桁・検査数字)。",
    ),
    (
        ["members", 0, "birth_date"],
        "1970-02-30",
        False,
        "birth_date",
        "世帯[H1]の世帯員[P1]: 生年月日(birth_date)「1970-02-30」"
        "は正しい日付(YYYY-MM-DD)ではありません。",
    ),
    (
        ["members", 0, "sex"],
        "男",
        False,
        "sex",
        "世帯[H1]の世帯員[P1]: 性別は male か female です(「男」)。",
    ),
    (
        ["members", 0, "version"],
        0,
        False,
        "version",
        "世帯[H1]の世帯員[P1]: 住民票版数は1以上の整数でなければなりません。",
    ),
    (
        ["members", 0, "status"],
        "dead",
        False,
        "status",
        "世帯[H1]の世帯員[P1]: 状態は resident か removed です(「dead」)。",
    ),
    (
        ["members", 1, "removed_on"],
        None,
        False,
        "removed_on",
        "世帯[H1]の世帯員[P2]: 除票には消除年月日が必要です。",
    ),
    (
        ["members", 1, "residence_card_number"],
        "AB1234",
        False,
        "residence_card_number",
        "世帯[H1]の世帯員[P2]: 在留カード等の番号「AB1234」が正しくありません(例: AB12345678CD)。",
    ),
    (
        ["head_person_id"],
        "P7",
        False,
        "head_person_id",
        "世帯[H1]: 世帯主IDが世帯員の中にありません。",
    ),
    (["members"], [], False, "members", "世帯[H1]: 世帯員が1人もいません。"),
]


@pytest.mark.parametrize(("path", "value", "delete", "field", "message"), CASES)
def test_errors_name_the_field(
    path: list[Any], value: Any, delete: bool, field: str, message: str
) -> None:
    with pytest.raises(ValidationError) as e:
        parse_household(mutate(path, value, delete=delete))
    assert e.value.field == field
    assert e.value.message == message


def test_article_30_45_must_be_a_kind_of_the_law() -> None:
    with pytest.raises(ValidationError) as e:
        parse_household(mutate(["members", 1, "article_30_45"], "留学生"))
    assert e.value.field == "article_30_45"
    assert "「留学生」" in e.value.message and "特別永住者" in e.value.message


def test_resident_with_removal_date_is_an_error() -> None:
    with pytest.raises(ValidationError) as e:
        parse_household(mutate(["members", 0, "removed_on"], "2020-01-01"))
    assert e.value.field == "removed_on"


def test_my_number_error_does_not_echo_the_number() -> None:
    with pytest.raises(ValidationError) as e:
        parse_household(mutate(["members", 0, "my_number"], "983205673210"))
    assert e.value.field == "my_number"
    assert "983205673210" not in e.value.message


def test_json_syntax_error() -> None:
    with pytest.raises(ValidationError) as e:
        parse_line('{"household_id": ')
    assert e.value.field == "json"
    assert e.value.message.startswith("JSONとして読めません(")


def test_household_defaults() -> None:
    h = Household("H", "012084", "090-0024", "住所", None, "P", ())
    assert h.version == 0
