"""Time limits of the 住民異動届: how 14 days are counted, and which days the office is closed.

- 民法第140条 (初日不算入) and 第141条: a period of days counted from an event starts the next
  day; "14日以内" after a move on 4月1日 ends at the close of 4月15日.
- 地方自治法第4条の2第4項: when the last day of a period that a law sets for a 届出 to a
  municipality falls on a day the municipality is closed (its 休日条例 under §4の2①: Sundays,
  Saturdays, national holidays, 12月29日〜1月3日), the next open day is the last day.
- 国民の祝日に関する法律 (祝日法): the national holidays, the 振替休日 (§3②) and the 国民の休日
  between two holidays (§3③), with the one-off changes of 2019–2021 written out.

Pure: no clock; the caller says which day it is.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import cache

# 住民基本台帳法 §22 (転入), §23 (転居), §25 (世帯変更): 14 days after the event.
FILING_PERIOD_DAYS = 14
# 住民基本台帳法 §24の2 and its 政令: the 特例転入 needs the 転入届 within 30 days of the
# 転出の予定年月日 (and within the 14 days of §22). Counted like §22 (初日不算入).
SPECIAL_MOVE_IN_DAYS = 30


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    first = date(year, month, 1)
    offset = (weekday - first.weekday()) % 7
    return first + timedelta(days=offset + 7 * (n - 1))


def _equinox_day(year: int, base: float) -> int:
    # The usual approximation of the 国立天文台's 暦要項, valid 1980–2099.
    return int(base + 0.242194 * (year - 1980) - (year - 1980) // 4)


def _fixed_holidays(year: int) -> dict[date, str]:
    """The 国民の祝日 of §2 of 祝日法 (as in force in `year`), before 振替休日 and 国民の休日."""
    days: dict[date, str] = {date(year, 1, 1): "元日"}
    monday = 0
    days[_nth_weekday(year, 1, monday, 2) if year >= 2000 else date(year, 1, 15)] = "成人の日"
    days[date(year, 2, 11)] = "建国記念の日"
    if 1989 <= year <= 2018:
        days[date(year, 12, 23)] = "天皇誕生日"
    elif year >= 2020:
        days[date(year, 2, 23)] = "天皇誕生日"
    days[date(year, 3, _equinox_day(year, 20.8431))] = "春分の日"
    days[date(year, 4, 29)] = "昭和の日" if year >= 2007 else "みどりの日"
    days[date(year, 5, 3)] = "憲法記念日"
    if year >= 2007:
        days[date(year, 5, 4)] = "みどりの日"
    days[date(year, 5, 5)] = "こどもの日"
    sea = {2020: date(2020, 7, 23), 2021: date(2021, 7, 22)}
    if year in sea:
        days[sea[year]] = "海の日"
    elif year >= 2003:
        days[_nth_weekday(year, 7, monday, 3)] = "海の日"
    elif year >= 1996:
        days[date(year, 7, 20)] = "海の日"
    mountain = {2020: date(2020, 8, 10), 2021: date(2021, 8, 8)}
    if year in mountain:
        days[mountain[year]] = "山の日"
    elif year >= 2016:
        days[date(year, 8, 11)] = "山の日"
    days[_nth_weekday(year, 9, monday, 3) if year >= 2003 else date(year, 9, 15)] = "敬老の日"
    days[date(year, 9, _equinox_day(year, 23.2488))] = "秋分の日"
    sports = {2020: date(2020, 7, 24), 2021: date(2021, 7, 23)}
    if year in sports:
        days[sports[year]] = "スポーツの日"
    elif year >= 2000:
        name = "スポーツの日" if year >= 2020 else "体育の日"
        days[_nth_weekday(year, 10, monday, 2)] = name
    else:
        days[date(year, 10, 10)] = "体育の日"
    days[date(year, 11, 3)] = "文化の日"
    days[date(year, 11, 23)] = "勤労感謝の日"
    if year == 2019:  # 天皇の即位の日及び即位礼正殿の儀の行われる日を休日とする法律
        days[date(2019, 5, 1)] = "即位の日"
        days[date(2019, 10, 22)] = "即位礼正殿の儀"
    return days


@cache
def national_holidays(year: int) -> dict[date, str]:
    """Every 休日 of 祝日法 in `year` (1990–2099): 祝日, 振替休日 (§3②), 国民の休日 (§3③)."""
    if not 1990 <= year <= 2099:
        raise ValueError(f"holidays are computed for 1990–2099, not {year}")
    days = _fixed_holidays(year)
    out = dict(days)
    for day in sorted(days):
        if day.weekday() == 6:  # a 祝日 on a Sunday: the nearest following day that is none
            sub = day + timedelta(days=1)
            if year >= 2007:
                while sub in days:
                    sub += timedelta(days=1)
            out.setdefault(sub, "振替休日")
    for day in sorted(days):
        between = day + timedelta(days=1)
        if (
            between + timedelta(days=1) in days
            and between not in out
            and between.weekday() != 6
            and between.year == year
        ):
            out[between] = "国民の休日"
    return out


def is_office_closed(day: date) -> bool:
    """A day the municipality is closed (休日条例 under 地方自治法§4の2①, the standard form):
    Saturday, Sunday, a 祝日法 holiday, or 12月29日〜1月3日. Kitami's own 条例 is assumed to be
    the standard one (see docs/notifications.md)."""
    if day.weekday() >= 5:
        return True
    if (day.month == 12 and day.day >= 29) or (day.month == 1 and day.day <= 3):
        return True
    return day in national_holidays(day.year)


def last_day_of_period(event: date, days: int) -> date:
    """The last day of "`days`日以内" after `event`, for a 届出 to the municipality.

    民法§140: the event day is not counted; 地方自治法§4の2④: a last day on which the office is
    closed moves to the next open day.
    """
    last = event + timedelta(days=days)
    while is_office_closed(last):
        last += timedelta(days=1)
    return last


def filing_deadline(moved_on: date) -> date:
    """住基法 §22 (転入), §23 (転居), §25 (世帯変更): the last day to file."""
    return last_day_of_period(moved_on, FILING_PERIOD_DAYS)


def special_move_in_limit(planned_move_out_on: date, moved_in_on: date) -> date:
    """住基法 §24の2 and its 政令: the last day on which a 特例転入 (with the card) can be filed:
    the earlier of the 転出予定日 + 30 days and the §22 limit of the move-in day."""
    by_plan = planned_move_out_on + timedelta(days=SPECIAL_MOVE_IN_DAYS)
    return min(by_plan, filing_deadline(moved_in_on))
