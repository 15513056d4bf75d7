"""Identifiers with check digits, validated wherever data enters (DESIGN.md §3).

- 個人番号: 行政手続における特定の個人を識別するための番号の利用等に関する法律施行令 第8条,
  総務省令 (平成26年総務省令第85号) 第5条: 11 − (Σ Pn·Qn mod 11), Qn = n+1 (n ≤ 6),
  n−5 (7 ≤ n ≤ 11), 0 when the remainder is ≤ 1.
- 住民票コード: 住民基本台帳法施行規則 第1条 (無作為に作成された10桁の数字及び1桁の検査数字),
  算式 平成14年総務省告示第436号: 11 − (Σ Pn·Qn mod 11) over the ten digits, Pn counted from
  the lowest digit, Qn = n+1 (n ≤ 6), n−5 (7 ≤ n ≤ 10), 0 when the remainder is ≤ 1 — the rule
  that the 個人番号 ordinance later extended to eleven digits. (The 告示's own text could not be
  retrieved here; secondary sources agree on modulus 11 with weights 2–7 from the right.)
- 地方公共団体コード: 全国地方公共団体コード仕様: weights 6,5,4,3,2, 11 − (Σ mod 11), taken mod 10.
"""

from __future__ import annotations

import operator
import re
from typing import NoReturn, TypeGuard

from app.domain.errors import ValidationError

_DIGITS = re.compile(r"[0-9]+")
_POSTAL = re.compile(r"[0-9]{3}-[0-9]{4}")
# 在留カード / 特別永住者証明書: 2 letters, 8 digits, 2 letters (e.g. AB12345678CD).
_RESIDENCE_CARD = re.compile(r"[A-Z]{2}[0-9]{8}[A-Z]{2}")


# Qn for n = 1.. counted from the rightmost digit: n+1 for n ≤ 6, n−5 for n ≥ 7.
_MOD11_WEIGHTS = (2, 3, 4, 5, 6, 7, 2, 3, 4, 5, 6)


def _mod11_check_digit(body: str) -> int:
    """Check digit over `body` (≤ 11 ASCII digits) with weights 2..7, 2..7 from the rightmost.

    On the bytes, with the '0' offset taken out once: an initial sync checks two numbers per
    person, a million times.
    """
    digits = body.encode("ascii")[::-1]
    total = sum(map(operator.mul, digits, _MOD11_WEIGHTS)) - 48 * sum(_MOD11_WEIGHTS[: len(digits)])
    remainder = total % 11
    return 0 if remainder <= 1 else 11 - remainder


def my_number_check_digit(first_eleven: str) -> int:
    if len(first_eleven) != 11 or not _DIGITS.fullmatch(first_eleven):
        raise ValueError("個人番号の本体は11桁の数字です。")
    return _mod11_check_digit(first_eleven)


def juminhyo_code_check_digit(first_ten: str) -> int:
    if len(first_ten) != 10 or not _DIGITS.fullmatch(first_ten):
        raise ValueError("住民票コードの本体は10桁の数字です。")
    return _mod11_check_digit(first_ten)


def local_government_code_check_digit(first_five: str) -> int:
    if len(first_five) != 5 or not _DIGITS.fullmatch(first_five):
        raise ValueError("地方公共団体コードの本体は5桁の数字です。")
    total = sum(int(ch) * w for ch, w in zip(first_five, (6, 5, 4, 3, 2), strict=True))
    return (11 - total % 11) % 10


def is_valid_my_number(s: object) -> TypeGuard[str]:
    if not isinstance(s, str) or len(s) != 12 or not _DIGITS.fullmatch(s):
        return False
    return my_number_check_digit(s[:11]) == int(s[11])


def is_valid_juminhyo_code(s: object) -> TypeGuard[str]:
    if not isinstance(s, str) or len(s) != 11 or not _DIGITS.fullmatch(s):
        return False
    return juminhyo_code_check_digit(s[:10]) == int(s[10])


def is_valid_local_government_code(s: object) -> TypeGuard[str]:
    if not isinstance(s, str) or len(s) != 6 or not _DIGITS.fullmatch(s):
        return False
    return local_government_code_check_digit(s[:5]) == int(s[5])


def is_valid_postal_code(s: object) -> TypeGuard[str]:
    """郵便番号 in the interchange format: NNN-NNNN."""
    return isinstance(s, str) and _POSTAL.fullmatch(s) is not None


def is_valid_residence_card_number(s: object) -> TypeGuard[str]:
    """在留カード等の番号: two capital letters, eight digits, two capital letters."""
    return isinstance(s, str) and _RESIDENCE_CARD.fullmatch(s) is not None


def with_check_digit(body: str, kind: str) -> str:
    """body + its check digit; kind is "my_number", "juminhyo_code" or "local_government_code"."""
    digit = {
        "my_number": my_number_check_digit,
        "juminhyo_code": juminhyo_code_check_digit,
        "local_government_code": local_government_code_check_digit,
    }[kind](body)
    return f"{body}{digit}"


def _fail(field: str, label: str, rule: str, shown: str | None) -> NoReturn:
    text = f"「{shown}」" if shown is not None else ""
    raise ValidationError(field, f"{label}{text}が正しくありません({rule})。")


def validate_my_number(s: object, field: str = "my_number") -> str:
    # The number itself is never echoed: it is 特定個人情報.
    if is_valid_my_number(s):
        return s
    _fail(field, "個人番号", "12桁の数字・末尾は検査用数字", None)


def validate_juminhyo_code(s: object, field: str = "juminhyo_code") -> str:
    # Never echoed, like the 個人番号: its disclosure is restricted (住基法第30条の43), and these
    # messages reach import reports and consoles.
    if is_valid_juminhyo_code(s):
        return s
    _fail(field, "住民票コード", "11桁の数字・末尾は検査数字", None)


def validate_local_government_code(s: object, field: str = "municipality_code") -> str:
    if is_valid_local_government_code(s):
        return s
    shown = s if isinstance(s, str) else None
    _fail(field, "地方公共団体コード", "6桁の数字・末尾は検査数字", shown)


def validate_postal_code(s: object, field: str = "postal_code") -> str:
    if is_valid_postal_code(s):
        return s
    shown = s if isinstance(s, str) else None
    _fail(field, "郵便番号", "例: 090-0024", shown)


def validate_residence_card_number(s: object, field: str = "residence_card_number") -> str:
    if is_valid_residence_card_number(s):
        return s
    shown = s if isinstance(s, str) else None
    _fail(field, "在留カード等の番号", "英字2桁・数字8桁・英字2桁、例: AB12345678CD", shown)


_FULL_WIDTH_DIGITS = str.maketrans("０１２３４５６７８９", "0123456789")
_SEPARATORS = str.maketrans("", "", " \u3000-‐－ー")


def fold_digits(text: str) -> str:
    """Digits as a clerk may type them: full-width digits to ASCII, spaces and dashes dropped.

    Anything else stays, so a validator still sees the letters someone typed by mistake."""
    return text.translate(_FULL_WIDTH_DIGITS).translate(_SEPARATORS)


def mask_my_number(s: str) -> str:
    """What a screen shows before a reveal: only the last four digits."""
    return "●" * 8 + s[-4:] if len(s) == 12 else "●" * 12
