"""The municipality's 町名一覧 and the reading of an address against it.

An address of the register is "都道府県 + 市町村 + 町名 + 丁目・番地 …" (北海道北見市北5条東2丁目
1番地). `TownList.match` finds the town (the longest name of the list that the address starts
with after the municipality's name) and reports what is wrong in Japanese, tied to the field.

The list is a resource file (resources/towns/<code>.tsv, source noted in its header); `load`
reads it through importlib.resources on first use, as app.domain.names does with its table.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from importlib import resources

TOWNS_PACKAGE = "resources"
KITAMI_CODE = "012084"
KITAMI_NAME = "北海道北見市"

_KANJI_DIGITS = dict(zip("〇一二三四五六七八九", "0123456789", strict=True))
_NUMBER_BEFORE = re.compile(r"([〇一二三四五六七八九十]+)(?=条|区|丁目|線|号線)")
_SPACES = re.compile(r"[\s\u3000]+")
_HIRAGANA_TO_KATAKANA = {cp: cp + 0x60 for cp in range(0x3041, 0x3097)}
_PREFECTURE = re.compile(r"^(北海道|東京都|京都府|大阪府|.{2,3}県)")


def _kanji_number(text: str) -> str:
    """一 → 1, 十一 → 11, 二十 → 20 (numbers up to 99, as addresses use them)."""
    if "十" not in text:
        return "".join(_KANJI_DIGITS[c] for c in text)
    tens, _, ones = text.partition("十")
    value = (int(_KANJI_DIGITS[tens]) if tens else 1) * 10 + (
        int(_KANJI_DIGITS[ones]) if ones else 0
    )
    return str(value)


def fold_address(text: str) -> str:
    """The comparison key of an address: widths (NFKC), spaces, ヶ/ケ, and kanji numerals before
    条・区・丁目 (北五条東 = 北5条東). The address itself is stored as typed."""
    s = unicodedata.normalize("NFKC", text)
    s = _SPACES.sub("", s)
    s = s.replace("ヶ", "ケ").replace("ヵ", "カ").replace("ｹ", "ケ")
    return _NUMBER_BEFORE.sub(lambda m: _kanji_number(m.group(1)), s)


@dataclass(frozen=True, slots=True)
class Town:
    name: str  # as the register writes it
    kana: str
    postal_code: str
    has_chome: bool  # addresses in this town carry 丁目
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AddressMatch:
    """An address read against the town list. `town` is None when no town matched."""

    town: Town | None
    rest: str  # what follows the town name (丁目・番地・号)
    problems: tuple[str, ...]  # Japanese, empty when the address is fine

    @property
    def ok(self) -> bool:
        return self.town is not None and not self.problems


_CHOME = re.compile(r"^\d+丁目")
_BANCHI = re.compile(r"\d+(番地|番|号|-)")


@dataclass(frozen=True)
class TownList:
    municipality_code: str
    municipality_name: str  # 北海道北見市
    towns: tuple[Town, ...]

    def __post_init__(self) -> None:
        keys: dict[str, Town] = {}
        for t in self.towns:
            for spelling in (t.name, *t.aliases):
                keys[fold_address(spelling)] = t
        # Longest first, so that 北1条東 never matches inside 北11条東, 端野町 inside 端野町端野.
        object.__setattr__(self, "_keys", sorted(keys.items(), key=lambda kv: -len(kv[0])))

    @property
    def _spellings(self) -> list[tuple[str, Town]]:
        """(folded spelling, town), longest first (set in __post_init__)."""
        keys: list[tuple[str, Town]] = self.__dict__["_keys"]
        return keys

    @classmethod
    def parse(cls, text: str, municipality_code: str, municipality_name: str) -> TownList:
        towns = []
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip() or line.startswith("#"):
                continue
            cols = line.split("\t")
            if len(cols) not in (4, 5) or cols[3] not in ("0", "1"):
                raise ValueError(f"town list line {n}: expected 4 or 5 tab-separated columns")
            aliases = tuple(a for a in (cols[4].split(",") if len(cols) == 5 else ()) if a)
            towns.append(Town(cols[0], cols[1], cols[2], cols[3] == "1", aliases))
        if not towns:
            raise ValueError("the town list is empty")
        return cls(municipality_code, municipality_name, tuple(towns))

    def in_municipality(self, address: str) -> bool:
        """Whether the address starts with this municipality's name (都道府県 may be left out)."""
        return self._strip_municipality(fold_address(address)) is not None

    def _strip_municipality(self, folded: str) -> str | None:
        full = fold_address(self.municipality_name)
        city = _PREFECTURE.sub("", full)  # 北見市 written without 北海道 is the same place
        for prefix in (full, city):
            if folded.startswith(prefix):
                return folded[len(prefix) :]
        return None

    def town_named(self, name: str) -> Town | None:
        key = fold_address(name)
        for k, t in self._spellings:
            if k == key:
                return t
        return None

    def match(self, address: str) -> AddressMatch:
        folded = fold_address(address)
        rest = self._strip_municipality(folded)
        if rest is None:
            return AddressMatch(
                None, folded, (f"住所が「{self.municipality_name}」で始まっていません。",)
            )
        for key, town in self._spellings:
            if rest.startswith(key):
                return self._check_rest(town, rest[len(key) :])
        found = re.match(r"\D+", rest) or re.match(r".{0,6}", rest)
        head = found.group(0) if found else ""
        hint = self.suggest(head)
        more = f"（候補: {'、'.join(t.name for t in hint)}）" if hint else ""
        return AddressMatch(
            None, rest, (f"町名「{head}」は{self.municipality_name}の町名一覧にありません{more}。",)
        )

    def _check_rest(self, town: Town, rest: str) -> AddressMatch:
        problems = []
        if town.has_chome and not _CHOME.match(rest):
            problems.append(f"{town.name}の住所には丁目が必要です（例: {town.name}2丁目1番地）。")
        if not town.has_chome and _CHOME.match(rest):
            problems.append(f"{town.name}には丁目がありません（番地で入力します）。")
        if not _BANCHI.search(rest):
            problems.append("番地（番・号）がありません。")
        return AddressMatch(town, rest, tuple(problems))

    def suggest(self, partial: str, limit: int = 5) -> tuple[Town, ...]:
        """Towns whose name or reading begins like `partial` (the clerk's completion list)."""
        key = fold_address(partial).translate(_HIRAGANA_TO_KATAKANA)
        if not key:
            return ()

        def spellings(t: Town) -> tuple[str, ...]:
            return (*(fold_address(n) for n in (t.name, *t.aliases)), fold_address(t.kana))

        starts = [t for t in self.towns if any(s.startswith(key[:2]) for s in spellings(t))]
        inside = [t for t in self.towns if t not in starts and any(key in s for s in spellings(t))]
        return tuple((starts + inside)[:limit])


@cache
def load(municipality_code: str = KITAMI_CODE, municipality_name: str = KITAMI_NAME) -> TownList:
    """The shipped town list of a municipality (resources/towns/<code>.tsv)."""
    text = (
        resources.files(TOWNS_PACKAGE)
        .joinpath("towns", f"{municipality_code}.tsv")
        .read_text(encoding="utf-8")
    )
    return TownList.parse(text, municipality_code, municipality_name)
