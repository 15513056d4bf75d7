"""和暦 (Japanese era calendar): formatting and the entry forms counter staff type.

Stable interface (DESIGN.md §11): `format_date(date) -> str` ("令和元年5月1日") and
`parse(text) -> date`. Era boundaries are the first and last day of each era as proclaimed
(元号を改める政令). Before 明治6年 Japan used the lunisolar calendar; like every resident system
we map 明治 years onto the Gregorian calendar (明治N年 = 1867 + N) and start at the 改元 day,
1868-10-23 (明治元年9月8日 旧暦).

Accepted by `parse` (after NFKC, so 全角 digits and letters work):
- 「昭和45年3月12日」, 「令和元年5月1日」, 「昭和45.3.12」 (era name, 元年 allowed);
- "S45.3.12", "S45/3/12", "S45-3-12", "R元.5.1" (M/T/S/H/R, either case);
- "S450312" (letter + YYMMDD) and "3450312" (era digit 1 明治 … 5 令和 + YYMMDD);
- Gregorian "1970-03-12", "1970/3/12", "1970.3.12" and "19700312", because staff type both.
A date outside its era is an error that names the right era: 平成31年5月1日 is 令和元年5月1日.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date

from app.domain.errors import ValidationError


@dataclass(frozen=True, slots=True)
class Era:
    name: str  # 明治
    letter: str  # M
    digit: int  # 1 (the era digit of 7-digit quick entry and of many legacy files)
    start: date
    end: date | None  # None: the current era

    def contains(self, day: date) -> bool:
        return self.start <= day and (self.end is None or day <= self.end)

    @property
    def last_day(self) -> date:
        return self.end or date.max


ERAS: tuple[Era, ...] = (
    Era("明治", "M", 1, date(1868, 10, 23), date(1912, 7, 29)),
    Era("大正", "T", 2, date(1912, 7, 30), date(1926, 12, 24)),
    Era("昭和", "S", 3, date(1926, 12, 25), date(1989, 1, 7)),
    Era("平成", "H", 4, date(1989, 1, 8), date(2019, 4, 30)),
    Era("令和", "R", 5, date(2019, 5, 1), None),
)
FIRST_DAY = ERAS[0].start

_BY_NAME = {e.name: e for e in ERAS}
_BY_LETTER = {e.letter: e for e in ERAS}
_BY_DIGIT = {str(e.digit): e for e in ERAS}


def age_on(birth: date, day: date) -> int:
    """Full years of age on `day` (the birthday counts: what a counter screen shows)."""
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def era_of(day: date) -> Era:
    """The era a Gregorian date falls in; ValidationError before 明治 (1868-10-23)."""
    for era in reversed(ERAS):
        if day >= era.start:
            return era
    raise ValidationError("date", f"{day.isoformat()}は明治より前の日付で、和暦に変換できません。")


def era_year(day: date) -> tuple[Era, int]:
    era = era_of(day)
    return era, day.year - era.start.year + 1


def _year_text(n: int) -> str:
    return "元" if n == 1 else str(n)


def format_date(day: date) -> str:
    """「令和元年5月1日」: era name, 元年 for the first year, no zero padding."""
    era, year = era_year(day)
    return f"{era.name}{_year_text(year)}年{day.month}月{day.day}日"


def format_western(day: date) -> str:
    """「2030年4月12日」: the 西暦 form, as the card's face writes its 有効期限."""
    return f"{day.year}年{day.month}月{day.day}日"


def format_short(day: date) -> str:
    """ "R1.5.1": the quick-entry form, era letter and dotted numbers."""
    era, year = era_year(day)
    return f"{era.letter}{year}.{day.month}.{day.day}"


def format_yymmdd(day: date) -> str:
    """ "450312": 2-digit era year, month, day (the birth-date part of the card's 照合番号B)."""
    _, year = era_year(day)
    return f"{year:02d}{day.month:02d}{day.day:02d}"


def format_code7(day: date) -> str:
    """ "3450312": era digit + YYMMDD, the 7-digit form of legacy resident files."""
    era, _ = era_year(day)
    return f"{era.digit}{format_yymmdd(day)}"


# ---------------------------------------------------------------------------------------------
# Parsing

_NUM = r"(元|\d{1,2})"
_SEP = r"\s*[./\-年]\s*"
_ERA_NAME = "|".join(_BY_NAME)
_RE_NAMED = re.compile(rf"({_ERA_NAME})\s*{_NUM}{_SEP}(\d{{1,2}})\s*[./\-月]\s*(\d{{1,2}})\s*日?")
_RE_LETTER = re.compile(rf"([MTSHR])\s*{_NUM}\s*[./\-]\s*(\d{{1,2}})\s*[./\-]\s*(\d{{1,2}})")
_RE_LETTER6 = re.compile(r"([MTSHR])(\d{2})(\d{2})(\d{2})")
_RE_DIGIT7 = re.compile(r"([1-5])(\d{2})(\d{2})(\d{2})")
_RE_ISO = re.compile(r"(\d{4})\s*[./\-年]\s*(\d{1,2})\s*[./\-月]\s*(\d{1,2})\s*日?")
_RE_YMD8 = re.compile(r"(\d{4})(\d{2})(\d{2})")


def _normalise(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip().upper()


def _invalid(text: str, why: str, field: str) -> ValidationError:
    return ValidationError(field, f"「{text}」は日付として読めません({why})。")


def _from_era(era: Era, year_s: str, month: int, day_n: int, text: str, field: str) -> date:
    year = 1 if year_s == "元" else int(year_s)
    if year < 1:
        raise _invalid(text, "年は1以上です", field)
    try:
        result = date(era.start.year + year - 1, month, day_n)
    except ValueError:
        raise _invalid(text, "その年月日は存在しません", field) from None
    if not era.contains(result):
        if result < FIRST_DAY:
            raise _invalid(text, "明治より前の日付です", field)
        right = format_date(result)
        raise ValidationError(field, f"「{text}」は{era.name}の期間外です(正しくは{right})。")
    return result


def parse(text: str, *, field: str = "date") -> date:
    """和暦 (or Gregorian) text → date. ValidationError (a ValueError) names `field`."""
    if not isinstance(text, str) or not text.strip():
        raise ValidationError(field, "日付が入力されていません。")
    s = _normalise(text)
    if m := _RE_NAMED.fullmatch(s):
        return _from_era(_BY_NAME[m[1]], m[2], int(m[3]), int(m[4]), text, field)
    if m := _RE_LETTER.fullmatch(s):
        return _from_era(_BY_LETTER[m[1]], m[2], int(m[3]), int(m[4]), text, field)
    if m := _RE_LETTER6.fullmatch(s):
        return _from_era(_BY_LETTER[m[1]], m[2], int(m[3]), int(m[4]), text, field)
    if m := _RE_DIGIT7.fullmatch(s):
        return _from_era(_BY_DIGIT[m[1]], m[2], int(m[3]), int(m[4]), text, field)
    if (m := _RE_ISO.fullmatch(s)) or (m := _RE_YMD8.fullmatch(s)):
        try:
            return date(int(m[1]), int(m[2]), int(m[3]))
        except ValueError:
            raise _invalid(text, "その年月日は存在しません", field) from None
    raise _invalid(text, "例: 昭和45年3月12日、S45.3.12、S450312、3450312", field)


def era_year_range(text: str, *, field: str = "date") -> tuple[date, date]:
    """First and last day for a year- or era-only search: "S45" → 1970-01-01..1970-12-31,
    "昭和" → 1926-12-25..1989-01-07, "平成31年" → 2019-01-01..2019-04-30, "1970" → the year.
    The range is clipped to the era; the current era ends at date.max."""
    s = _normalise(text).removesuffix("年")
    era: Era | None = None
    rest = s
    for key, table in ((s[:2], _BY_NAME), (s[:1], _BY_LETTER)):
        if key in table:
            era = table[key]
            rest = s[len(key) :].strip()
            break
    if era is None:
        if re.fullmatch(r"\d{4}", s):
            y = int(s)
            if y < FIRST_DAY.year or y > 9999:
                raise _invalid(text, "範囲外の年です", field)
            return max(date(y, 1, 1), FIRST_DAY), date(y, 12, 31)
        raise _invalid(text, "例: S45、昭和45年、昭和、1970", field)
    if not rest:
        return era.start, era.last_day
    if not re.fullmatch(r"元|\d{1,2}", rest):
        raise _invalid(text, "例: S45、昭和45年、昭和、1970", field)
    year = 1 if rest == "元" else int(rest)
    gregorian = era.start.year + year - 1
    first = max(date(gregorian, 1, 1), era.start)
    last = min(date(gregorian, 12, 31), era.last_day)
    if year < 1 or first > last:
        raise ValidationError(field, f"「{text}」は{era.name}の期間外です。")
    return first, last
