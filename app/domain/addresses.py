"""Address keys (pure): one home for app.store's search and the 支援措置 rules of
app.domain.certificates.

- `address_key(text)`: NFKC (full-width digits), no spaces, one dash: equal keys ⇔ the same
  address text. What the certificate rules compare (支援措置 by address).
- `search_key(text)`: like `address_key`, and the 街区 written either way too, so that what a clerk
  types and what the register writes fold alike:

      search_key("北海道北見市北4条東8丁目23番7号") == "北海道北見市北4条東8-23-7"
      search_key("北4条東8-23-7")                  == "北4条東8-23-7"
      search_key("常呂町字栄浦112番地25")           == "常呂町字栄浦112-25"

  The register writes 住居表示 as 「N丁目N番N号」 and 地番 as 「N番地N」 (or 「N番地のN」); clerks
  type 「N-N-N」; kanji numerals before 条・丁目・番・号 become digits. The store keys the register
  and the query with it (cache schema v12 recomputed the stored keys); the screen's 支援措置
  withholding compares addresses with it too (app.domain.protected_address).
"""

from __future__ import annotations

import re
import unicodedata

_DASHES = str.maketrans({c: "-" for c in "‐‑‒–—―−－ｰ"})


def address_key(text: str) -> str:
    """NFKC (full-width digits), no spaces, one dash: equal keys ⇔ the same address text."""
    norm = unicodedata.normalize("NFKC", text).translate(_DASHES)
    return "".join(ch for ch in norm if not ch.isspace())


_KANJI_DIGITS = {c: i for i, c in enumerate("〇一二三四五六七八九")}
# Kanji numerals (up to 99) directly before a 街区 word: 北五条 → 北5条, 二十三番 → 23番.
_KANJI_NUMBER = re.compile(r"([〇一二三四五六七八九十]+)(?=条|丁目|番|号|線)")
_CHOME = re.compile(r"(\d+)丁目")
_BANCHI = re.compile(r"(\d+)番地の?")
_BAN = re.compile(r"(\d+)番(?!地)")
_GO = re.compile(r"(\d+)号(?!室)")
_NO = re.compile(r"(\d+)の(?=\d)")


def _kanji_number(match: re.Match[str]) -> str:
    text = match.group(1)
    if "十" not in text:
        return "".join(str(_KANJI_DIGITS[c]) for c in text)
    tens, _, ones = text.partition("十")
    if "十" in ones or len(tens) > 1 or len(ones) > 1:
        return text  # not a plain numeral up to 99: leave it as written
    return str((_KANJI_DIGITS[tens] if tens else 1) * 10 + (_KANJI_DIGITS[ones] if ones else 0))


def search_key(text: str) -> str:
    """The search key of an address, 方書 or address query (see the module docstring)."""
    # NFKC first: it turns the long-vowel mark's full-width forms into "ー", folded to "-" next
    # only between digits (ノースパレス keeps its ー).
    norm = unicodedata.normalize("NFKC", text)
    norm = re.sub(r"(?<=\d)[‐‑‒–—―−－ｰー](?=\d)", "-", norm).translate(
        {ord(c): "-" for c in "‐‑‒–—―−－"}
    )
    norm = "".join(ch for ch in norm if not ch.isspace())
    norm = _KANJI_NUMBER.sub(_kanji_number, norm)
    norm = _CHOME.sub(r"\1-", norm)
    norm = _BANCHI.sub(r"\1-", norm)
    norm = _BAN.sub(r"\1-", norm)
    norm = _GO.sub(r"\1", norm)
    norm = _NO.sub(r"\1-", norm)
    # "8丁目23番" ends in a dash; so does a query "8-23-": a prefix either way.
    return re.sub(r"-{2,}", "-", norm)
