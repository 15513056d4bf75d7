"""The operators' password policy, after NIST SP 800-63B-4 §3.1.1.2 (docs/server.md).

The one rule of both sides: the server checks every password it sets (`operator add`, an
administrator's reset, POST /v1/password) and the terminal checks a new one as the clerk types
it (the change dialog), so the clerk reads every problem before anything is sent.

- Length is what counts: at least 15 characters where the password is the only factor (an
  operator's login here: the terminal certificate belongs to the PC, not to the person), 8 at the
  least where a site adds a second factor (`min_length`); up to 256 (the guideline asks for at
  least 64). Each Unicode code point counts as one character, after NFKC.
- No composition rules (no "one digit, one capital").
- A deny-list: common passwords from breach corpora (resources/passwords/common-passwords.txt),
  the service's and the city's own words, the operator id, repetitions and runs ("aaaa…",
  "1234…", "abcabcabc…") and keyboard walks ("qwertyuiop…", "1qaz2wsx…").

Pure apart from reading the deny-list from the package data once.
"""

from __future__ import annotations

import functools
import itertools
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources

from app.domain.errors import DomainError
from app.domain.text import control_character

SINGLE_FACTOR_MIN_LENGTH = 15
ABSOLUTE_MIN_LENGTH = 8
MAX_LENGTH = 256
# The deny-list: package data of `resources` (resources/passwords/README.md says where it
# comes from), read once on first use through importlib.resources, as app.domain.names does.
DENY_LIST_PACKAGE = "resources"
DENY_LIST_FILE = "passwords/common-passwords.txt"
# Words of this service and of municipalities in general that guessers try first.
SERVICE_WORDS = ("madoguchi", "窓口", "shiyakusho", "市役所", "juminhyo", "住民票", "password")
_TRAILING = re.compile(r"[\d\W_]+$")


def normalize(password: str) -> str:
    """What is hashed and measured: NFKC (a full-width letter typed through an IME counts as
    the letter), as SP 800-63B recommends."""
    return unicodedata.normalize("NFKC", password)


@functools.cache
def _deny_list() -> frozenset[str]:
    text = resources.files(DENY_LIST_PACKAGE).joinpath(DENY_LIST_FILE).read_text(encoding="utf-8")
    return frozenset(line.casefold() for line in text.splitlines() if line.strip())


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


def _is_repeated(text: str) -> bool:
    """A short block said three times or more ("abcabcabc…", "123123123…")."""
    for period in range(1, len(text) // 3 + 1):
        if all(text[i] == text[i + period] for i in range(len(text) - period)):
            return True
    return False


# Keyboard walks ("qwertyuiop…", "1qaz2wsx…", "zxcvbnm…"): neighbours on a row or down a
# column of the keyboard, in either direction.
_KEY_LINES = (
    "1234567890",
    "qwertyuiop",
    "asdfghjkl",
    "zxcvbnm",
    *("1qaz", "2wsx", "3edc", "4rfv", "5tgb", "6yhn", "7ujm", "8ik", "9ol", "0p"),
)
_KEY_NEIGHBOURS = frozenset(
    pair for line in _KEY_LINES for a, b in itertools.pairwise(line) for pair in (a + b, b + a)
)


def _is_keyboard_walk(text: str) -> bool:
    """Three pairs in four (or more) of the letters and digits are keyboard neighbours."""
    keys = re.sub(r"[^a-z0-9]", "", text)
    if len(keys) < ABSOLUTE_MIN_LENGTH:
        return False
    pairs = [a + b for a, b in itertools.pairwise(keys)]
    return sum(p in _KEY_NEIGHBOURS for p in pairs) * 4 >= len(pairs) * 3


@dataclass(frozen=True)
class PasswordRules:
    min_length: int = SINGLE_FACTOR_MIN_LENGTH
    # The municipality's name and code, and other site words (the server's configuration; on
    # the terminal, its municipality).
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
        elif pw and (_is_run(folded) or _is_repeated(folded)):
            out.append("同じ文字の繰り返しや連続した文字(1234…、abcd…)は使えません。")
        elif _is_keyboard_walk(folded):
            out.append("キーボードの並び(qwerty…、1qaz…)は使えません。")
        if operator_id and len(operator_id) >= 3 and operator_id.casefold() in folded:
            out.append("職員IDを含めないでください。")
        elif _mostly_context(folded, [*SERVICE_WORDS, *self.context_words]):
            out.append("システム名や市の名前などを除くと短すぎます。")
        if previous is not None and normalize(previous) == pw:
            out.append("今までと同じパスワードは使えません。")
        return out

    def check(self, password: str, operator_id: str = "", previous: str | None = None) -> None:
        """WeakPassword (Japanese problems) unless `password` is acceptable."""
        problems = self.problems(password, operator_id, previous)
        if problems:
            raise WeakPassword(problems)


class WeakPassword(DomainError):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("パスワードが条件を満たしていません: " + " ".join(problems))
        self.problems = problems


def context_words_of(municipality_name: str, municipality_code: str) -> tuple[str, ...]:
    """The site words a guesser tries first: the municipality's name (also without its
    prefecture) and code. The server adds the ones its administrator configures."""
    name = municipality_name.strip()
    short = re.sub(r"^(北海道|東京都|京都府|大阪府|.{2,3}県)", "", name)
    return tuple(
        w for w in dict.fromkeys((name, short, short.removesuffix("市"), municipality_code)) if w
    )


def _mostly_context(folded: str, words: Iterable[str]) -> bool:
    """A password built around the service's or the city's words: without them (and digits and
    punctuation), fewer than 8 characters are left for a guesser to find."""
    rest = folded
    for word in words:
        w = normalize(word).casefold().strip()
        if w:
            rest = rest.replace(w, "")
    return rest != folded and len(re.sub(r"[\d\W_]+", "", rest)) < ABSOLUTE_MIN_LENGTH
