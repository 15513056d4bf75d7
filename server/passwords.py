"""The operators' password policy, after NIST SP 800-63B-4 §3.1.1.2 (docs/server.md).

- Length is what counts: at least 15 characters where the password is the only factor (an
  operator's login here: the terminal certificate belongs to the PC, not to the person), 8 at the
  least where a site adds a second factor (`password_min_length`); up to 256 (the guideline asks
  for at least 64). Each Unicode code point counts as one character, after NFKC.
- No composition rules (no "one digit, one capital").
- A deny-list: common passwords from breach corpora (data/common-passwords.txt, see
  data/README.md), the service's and the city's own words, the operator id, repetitions and
  runs ("aaaa…", "1234…").
Checked when a password is set: `operator add`, an administrator's reset, POST /v1/password.
"""

from __future__ import annotations

import functools
import itertools
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from app.sync.protocol import control_character

SINGLE_FACTOR_MIN_LENGTH = 15
ABSOLUTE_MIN_LENGTH = 8
MAX_LENGTH = 256
DENY_LIST = Path(__file__).resolve().parent / "data" / "common-passwords.txt"
# Words of this service and of municipalities in general that guessers try first.
SERVICE_WORDS = ("madoguchi", "窓口", "shiyakusho", "市役所", "juminhyo", "住民票", "password")
_TRAILING = re.compile(r"[\d\W_]+$")


def normalize(password: str) -> str:
    """What is hashed and measured: NFKC (a full-width letter typed through an IME counts as
    the letter), as SP 800-63B recommends."""
    return unicodedata.normalize("NFKC", password)


@functools.cache
def _deny_list() -> frozenset[str]:
    with DENY_LIST.open(encoding="utf-8") as fh:
        return frozenset(line.rstrip("\n").casefold() for line in fh if line.strip())


def _is_run(text: str) -> bool:
    """One or two characters repeated, or one step up or down each time ("abcd…", "9876…")."""
    if len(set(text)) <= 2:
        return True
    steps = {(ord(b) - ord(a)) for a, b in itertools.pairwise(text)}
    if steps <= {1} or steps <= {-1}:
        return True
    if text.isdigit():
        digits = [int(c) for c in text]
        wrapped = {(b - a) % 10 for a, b in itertools.pairwise(digits)}
        return wrapped <= {1} or wrapped <= {9}
    return False


@dataclass(frozen=True)
class PasswordRules:
    min_length: int = SINGLE_FACTOR_MIN_LENGTH
    # The municipality's name and code, and other site words (from the server's configuration).
    context_words: tuple[str, ...] = ()

    def problems(
        self, password: str, operator_id: str = "", previous: str | None = None
    ) -> list[str]:
        """Every rule the password breaks, in Japanese (empty when acceptable)."""
        pw = normalize(password)
        minimum = max(self.min_length, ABSOLUTE_MIN_LENGTH)
        out: list[str] = []
        if len(pw) < minimum:
            out.append(
                f"パスワードは{minimum}文字以上にしてください(長い文にすると覚えやすくなります)。"
            )
        if len(pw) > MAX_LENGTH:
            out.append(f"パスワードは{MAX_LENGTH}文字以内にしてください。")
        if control_character(pw) is not None:
            out.append("パスワードに制御文字は使えません。")
        folded = pw.casefold()
        base = _TRAILING.sub("", folded)
        if folded in _deny_list() or (len(base) >= ABSOLUTE_MIN_LENGTH and base in _deny_list()):
            out.append("よく使われているパスワードのため使えません。")
        elif pw and _is_run(folded):
            out.append("同じ文字の繰り返しや連続した文字(1234…、abcd…)は使えません。")
        if operator_id and len(operator_id) >= 3 and operator_id.casefold() in folded:
            out.append("操作者IDを含めないでください。")
        elif _mostly_context(folded, [*SERVICE_WORDS, *self.context_words]):
            out.append("システム名や市の名前などを除くと短すぎます。")
        if previous is not None and normalize(previous) == pw:
            out.append("今までと同じパスワードは使えません。")
        return out


def _mostly_context(folded: str, words: Iterable[str]) -> bool:
    """A password built around the service's or the city's words: without them (and digits and
    punctuation), fewer than 8 characters are left for a guesser to find."""
    rest = folded
    for word in words:
        w = normalize(word).casefold().strip()
        if w:
            rest = rest.replace(w, "")
    return rest != folded and len(re.sub(r"[\d\W_]+", "", rest)) < ABSOLUTE_MIN_LENGTH
