"""和暦: era boundaries, 元年, quick-entry forms, out-of-era errors, round trips."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.errors import ValidationError
from app.domain.wareki import (
    era_of,
    era_year_range,
    format_code7,
    format_date,
    format_short,
    format_yymmdd,
    parse,
)

BOUNDARIES = [
    (date(1868, 10, 23), "明治元年10月23日"),
    (date(1912, 7, 29), "明治45年7月29日"),
    (date(1912, 7, 30), "大正元年7月30日"),
    (date(1926, 12, 24), "大正15年12月24日"),
    (date(1926, 12, 25), "昭和元年12月25日"),
    (date(1989, 1, 7), "昭和64年1月7日"),
    (date(1989, 1, 8), "平成元年1月8日"),
    (date(2019, 4, 30), "平成31年4月30日"),
    (date(2019, 5, 1), "令和元年5月1日"),
    (date(2020, 1, 1), "令和2年1月1日"),
]


@pytest.mark.parametrize(("day", "text"), BOUNDARIES)
def test_boundaries_format_and_parse(day: date, text: str) -> None:
    assert format_date(day) == text
    assert parse(text) == day


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("昭和45年3月12日", date(1970, 3, 12)),
        ("昭和 45 年 3 月 12 日", date(1970, 3, 12)),
        ("昭和45.3.12", date(1970, 3, 12)),
        ("S45.3.12", date(1970, 3, 12)),
        ("s45/3/12", date(1970, 3, 12)),
        ("S45-03-12", date(1970, 3, 12)),
        ("S450312", date(1970, 3, 12)),
        ("3450312", date(1970, 3, 12)),
        ("Ｓ４５．３．１２", date(1970, 3, 12)),
        ("３４５０３１２", date(1970, 3, 12)),
        ("昭和４５年３月１２日", date(1970, 3, 12)),
        ("R1.5.1", date(2019, 5, 1)),
        ("R元.5.1", date(2019, 5, 1)),
        ("R010501", date(2019, 5, 1)),
        ("5010501", date(2019, 5, 1)),
        ("H31.4.30", date(2019, 4, 30)),
        ("H010108", date(1989, 1, 8)),
        ("T1.7.30", date(1912, 7, 30)),
        ("M45.7.29", date(1912, 7, 29)),
        ("1450729", date(1912, 7, 29)),
        ("2150101", date(1926, 1, 1)),
        ("令和元年5月1日", date(2019, 5, 1)),
        ("1970-03-12", date(1970, 3, 12)),
        ("1970/3/12", date(1970, 3, 12)),
        ("19700312", date(1970, 3, 12)),
    ],
)
def test_quick_entry_forms(text: str, expected: date) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("平成31年5月1日", "「平成31年5月1日」は平成の期間外です(正しくは令和元年5月1日)。"),
        ("H31.5.1", "「H31.5.1」は平成の期間外です(正しくは令和元年5月1日)。"),
        ("昭和64年1月8日", "「昭和64年1月8日」は昭和の期間外です(正しくは平成元年1月8日)。"),
        ("大正15年12月25日", "「大正15年12月25日」は大正の期間外です(正しくは昭和元年12月25日)。"),
        ("明治45年7月30日", "「明治45年7月30日」は明治の期間外です(正しくは大正元年7月30日)。"),
        ("令和元年4月30日", "「令和元年4月30日」は令和の期間外です(正しくは平成31年4月30日)。"),
        ("昭和元年12月24日", "「昭和元年12月24日」は昭和の期間外です(正しくは大正15年12月24日)。"),
        ("明治元年1月1日", "「明治元年1月1日」は日付として読めません(明治より前の日付です)。"),
        ("S45.2.30", "「S45.2.30」は日付として読めません(その年月日は存在しません)。"),
        ("S0.1.1", "「S0.1.1」は日付として読めません(年は1以上です)。"),
        (
            "6450312",
            "「6450312」は日付として読めません(例: 昭和45年3月12日、S45.3.12、S450312、3450312)。",
        ),
        ("", "日付が入力されていません。"),
    ],
)
def test_invalid_dates_say_why(text: str, message: str) -> None:
    with pytest.raises(ValidationError) as e:
        parse(text, field="birth_date")
    assert e.value.message == message
    assert e.value.field == "birth_date"
    assert isinstance(e.value, ValueError)


def test_before_meiji_cannot_be_formatted() -> None:
    with pytest.raises(ValidationError):
        format_date(date(1868, 10, 22))
    assert era_of(date(1868, 10, 23)).name == "明治"


@pytest.mark.parametrize(
    ("day", "short", "yymmdd", "code7"),
    [
        (date(1970, 3, 12), "S45.3.12", "450312", "3450312"),
        (date(2019, 5, 1), "R1.5.1", "010501", "5010501"),
        (date(2019, 4, 30), "H31.4.30", "310430", "4310430"),
        (date(1912, 7, 30), "T1.7.30", "010730", "2010730"),
    ],
)
def test_short_forms(day: date, short: str, yymmdd: str, code7: str) -> None:
    assert format_short(day) == short
    assert format_yymmdd(day) == yymmdd
    assert format_code7(day) == code7


_FULLWIDTH = str.maketrans("0123456789.", "０１２３４５６７８９．")


@settings(max_examples=300, deadline=None)
@given(st.dates(min_value=date(1868, 10, 23), max_value=date(2100, 12, 31)))
def test_round_trip(day: date) -> None:
    assert parse(format_date(day)) == day
    assert parse(format_short(day)) == day
    assert parse(format_code7(day)) == day
    assert parse(format_short(day).translate(_FULLWIDTH)) == day
    assert parse(format_date(day).translate(_FULLWIDTH)) == day


@pytest.mark.parametrize(
    ("text", "first", "last"),
    [
        ("S45", date(1970, 1, 1), date(1970, 12, 31)),
        ("昭和45年", date(1970, 1, 1), date(1970, 12, 31)),
        ("昭和", date(1926, 12, 25), date(1989, 1, 7)),
        ("S", date(1926, 12, 25), date(1989, 1, 7)),
        ("平成31年", date(2019, 1, 1), date(2019, 4, 30)),
        ("令和元年", date(2019, 5, 1), date(2019, 12, 31)),
        ("R1", date(2019, 5, 1), date(2019, 12, 31)),
        ("昭和元年", date(1926, 12, 25), date(1926, 12, 31)),
        ("1970", date(1970, 1, 1), date(1970, 12, 31)),
        ("1868", date(1868, 10, 23), date(1868, 12, 31)),
        ("令和", date(2019, 5, 1), date.max),
    ],
)
def test_era_year_range(text: str, first: date, last: date) -> None:
    assert era_year_range(text) == (first, last)


@pytest.mark.parametrize("text", ["平成32年", "S65", "X45", "昭和四十五年", "1800"])
def test_era_year_range_rejects(text: str) -> None:
    with pytest.raises(ValidationError):
        era_year_range(text)


def test_age_on() -> None:
    from app.domain.wareki import age_on

    assert age_on(date(1970, 3, 12), date(2026, 3, 11)) == 55
    assert age_on(date(1970, 3, 12), date(2026, 3, 12)) == 56  # on the birthday
    assert age_on(date(2000, 2, 29), date(2026, 2, 28)) == 25
    assert age_on(date(2000, 2, 29), date(2026, 3, 1)) == 26
