"""How the time limits of 住基法 §22–§25 are counted: 民法§140 (初日不算入), 地方自治法§4の2④
(a last day on which the office is closed moves to the next open day), and the closed days
themselves (休日条例: 土日, 祝日法の休日, 12月29日〜1月3日). Rows written from the articles and
from the published calendars (内閣府「国民の祝日」), not from the code."""

from __future__ import annotations

from datetime import date

import pytest

from app.domain.notifications.deadlines import (
    filing_deadline,
    is_office_closed,
    national_holidays,
    special_move_in_limit,
)

# (day, name) as 内閣府 publishes them.
HOLIDAYS_2026 = [
    (date(2026, 1, 1), "元日"),
    (date(2026, 1, 12), "成人の日"),  # 1月の第2月曜日 (祝日法§2)
    (date(2026, 2, 11), "建国記念の日"),
    (date(2026, 2, 23), "天皇誕生日"),
    (date(2026, 3, 20), "春分の日"),
    (date(2026, 4, 29), "昭和の日"),
    (date(2026, 5, 3), "憲法記念日"),
    (date(2026, 5, 4), "みどりの日"),
    (date(2026, 5, 5), "こどもの日"),
    (date(2026, 5, 6), "振替休日"),  # 5/3 is a Sunday: the nearest day that is no 祝日 (§3②)
    (date(2026, 7, 20), "海の日"),
    (date(2026, 8, 11), "山の日"),
    (date(2026, 9, 21), "敬老の日"),
    (date(2026, 9, 22), "国民の休日"),  # between two 祝日 (§3③)
    (date(2026, 9, 23), "秋分の日"),
    (date(2026, 10, 12), "スポーツの日"),
    (date(2026, 11, 3), "文化の日"),
    (date(2026, 11, 23), "勤労感謝の日"),
]


def test_2026_holidays_are_the_published_ones() -> None:
    assert sorted(national_holidays(2026).items()) == HOLIDAYS_2026


@pytest.mark.parametrize(
    ("day", "name"),
    [
        (date(2019, 4, 30), "国民の休日"),  # between 昭和の日 and 即位の日
        (date(2019, 5, 1), "即位の日"),  # 平成三十年法律第九十九号
        (date(2019, 5, 2), "国民の休日"),
        (date(2019, 5, 6), "振替休日"),
        (date(2019, 10, 22), "即位礼正殿の儀"),
        (date(2020, 7, 24), "スポーツの日"),  # 東京オリンピック特措法 (2020)
        (date(2021, 8, 8), "山の日"),
        (date(2021, 8, 9), "振替休日"),
        (date(2015, 9, 22), "国民の休日"),
        (date(2018, 12, 24), "振替休日"),  # 天皇誕生日 12/23 (平成) on a Sunday
    ],
)
def test_holidays_of_other_years(day: date, name: str) -> None:
    assert national_holidays(day.year)[day] == name


def test_no_emperors_birthday_in_2019() -> None:
    assert not [n for n in national_holidays(2019).values() if n == "天皇誕生日"]


@pytest.mark.parametrize(
    ("day", "closed"),
    [
        (date(2026, 4, 20), False),  # Monday
        (date(2026, 4, 18), True),  # Saturday
        (date(2026, 4, 19), True),  # Sunday
        (date(2026, 4, 29), True),  # 昭和の日
        (date(2026, 12, 28), False),  # 仕事納め
        (date(2026, 12, 29), True),  # 年末年始 (休日条例)
        (date(2027, 1, 3), True),
        (date(2027, 1, 4), False),
    ],
)
def test_office_closed_days(day: date, closed: bool) -> None:
    assert is_office_closed(day) is closed


@pytest.mark.parametrize(
    ("moved", "last", "why"),
    [
        # 民法§140: the day of the move is not counted; 14 days end on the 15th.
        (date(2026, 4, 1), date(2026, 4, 15), "民法140条: 初日不算入"),
        # 4/11 + 14 = 4/25 (Saturday) → Monday 4/27 (地方自治法§4の2④).
        (date(2026, 4, 11), date(2026, 4, 27), "土日"),
        # 4/21 + 14 = 5/5 (こどもの日), 5/6 振替休日 → 5/7.
        (date(2026, 4, 21), date(2026, 5, 7), "祝日と振替休日"),
        # 12/17 + 14 = 12/31 → 年末年始 (12/29–1/3), 1/2–1/3 weekend → 2027-01-04.
        (date(2026, 12, 17), date(2027, 1, 4), "年末年始"),
        # 9/7 + 14 = 9/21 敬老の日, 9/22 国民の休日, 9/23 秋分の日 → 9/24.
        (date(2026, 9, 7), date(2026, 9, 24), "シルバーウィーク"),
    ],
)
def test_filing_deadline(moved: date, last: date, why: str) -> None:
    assert filing_deadline(moved) == last, why


@pytest.mark.parametrize(
    ("planned", "moved", "last"),
    [
        # 転出予定日 3/1 + 30 = 3/31 comes before the 14 days of a move on 3/25 (4/8).
        (date(2026, 3, 1), date(2026, 3, 25), date(2026, 3, 31)),
        # A move soon after the planned day: the 14 days of §22 end first (4/5 + 14 = 4/19,
        # a Sunday → 4/20).
        (date(2026, 4, 1), date(2026, 4, 5), date(2026, 4, 20)),
    ],
)
def test_special_move_in_limit(planned: date, moved: date, last: date) -> None:
    assert special_move_in_limit(planned, moved) == last


def test_years_outside_the_table_are_refused() -> None:
    with pytest.raises(ValueError):
        national_holidays(1980)
