"""Identifiers with check digits, validated wherever data enters (DESIGN.md §3).

- 個人番号: 行政手続における特定の個人を識別するための番号の利用等に関する法律施行令 第8条,
  総務省令 (平成26年総務省令第85号) 第5条: 11 − (Σ Pn·Qn mod 11), Qn = n+1 (n ≤ 6),
  n−5 (7 ≤ n ≤ 11), 0 when the remainder is ≤ 1.
- 住民票コード: 住民基本台帳法施行規則 第1条, 平成14年総務省告示第436号: the same modulus-11
  rule over the ten digits before the check digit.
- 地方公共団体コード: 全国地方公共団体コード仕様: weights 6,5,4,3,2, 11 − (Σ mod 11), taken mod 10.
"""

from __future__ import annotations

import re

_DIGITS = re.compile(r"[0-9]+")
_POSTAL = re.compile(r"[0-9]{3}-[0-9]{4}")


def _mod11_check_digit(body: str) -> int:
    """Check digit over `body` with weights 2..7, 2..7 from the rightmost digit."""
    total = 0
    for n, ch in enumerate(reversed(body), start=1):
        q = n + 1 if n <= 6 else n - 5
        total += int(ch) * q
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


def is_valid_my_number(s: object) -> bool:
    if not isinstance(s, str) or len(s) != 12 or not _DIGITS.fullmatch(s):
        return False
    return my_number_check_digit(s[:11]) == int(s[11])


def is_valid_juminhyo_code(s: object) -> bool:
    if not isinstance(s, str) or len(s) != 11 or not _DIGITS.fullmatch(s):
        return False
    return juminhyo_code_check_digit(s[:10]) == int(s[10])


def is_valid_local_government_code(s: object) -> bool:
    if not isinstance(s, str) or len(s) != 6 or not _DIGITS.fullmatch(s):
        return False
    return local_government_code_check_digit(s[:5]) == int(s[5])


def is_valid_postal_code(s: object) -> bool:
    """郵便番号 in the interchange format: NNN-NNNN."""
    return isinstance(s, str) and _POSTAL.fullmatch(s) is not None


def mask_my_number(s: str) -> str:
    """What a screen shows before a reveal: only the last four digits."""
    return "●" * 8 + s[-4:] if len(s) == 12 else "●" * 12
