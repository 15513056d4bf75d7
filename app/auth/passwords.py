"""Password policy for operators (DESIGN.md §8: user ID + password).

Checked when a password is set or changed; login never tells which rule a wrong password broke.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from app.auth.errors import WeakPassword


def _classes(password: str) -> int:
    kinds = set()
    for ch in password:
        if ch.isascii() and ch.islower():
            kinds.add("lower")
        elif ch.isascii() and ch.isupper():
            kinds.add("upper")
        elif ch.isdigit():
            kinds.add("digit")
        else:
            kinds.add("other")
    return len(kinds)


@dataclass(frozen=True)
class PasswordPolicy:
    min_length: int = 10
    max_length: int = 128
    # Shorter passwords need this many of: lower case, upper case, digits, other characters.
    min_classes: int = 3
    # A long passphrase needs no mix of classes.
    passphrase_length: int = 16

    def problems(
        self, password: str, operator_id: str = "", previous: str | None = None
    ) -> list[str]:
        """Every rule the password breaks, in Japanese (empty when acceptable)."""
        pw = unicodedata.normalize("NFKC", password)
        out: list[str] = []
        if len(pw) < self.min_length:
            out.append(f"{self.min_length}文字以上にしてください。")
        if len(pw) > self.max_length:
            out.append(f"{self.max_length}文字以内にしてください。")
        if len(pw) < self.passphrase_length and _classes(pw) < self.min_classes:
            out.append(
                f"英大文字・英小文字・数字・記号のうち{self.min_classes}種類以上を含めてください"
                f"({self.passphrase_length}文字以上なら不要です)。"
            )
        if pw and len(set(pw)) <= 2:
            out.append("同じ文字の繰り返しは使えません。")
        if operator_id and operator_id.casefold() in pw.casefold():
            out.append("職員IDを含めないでください。")
        if previous is not None and unicodedata.normalize("NFKC", previous) == pw:
            out.append("今までと同じパスワードは使えません。")
        if pw != pw.strip():
            out.append("前後に空白を入れないでください。")
        return out

    def check(self, password: str, operator_id: str = "", previous: str | None = None) -> None:
        problems = self.problems(password, operator_id, previous)
        if problems:
            raise WeakPassword(problems)
