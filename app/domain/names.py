"""Search keys for names (氏名) and kana (フリガナ).

`fold(text)` is a stable interface (DESIGN.md §11): two names match exactly when their folds are
equal. Names themselves are never changed; only the keys are folded. The fold is:

1. NFKC (全角/半角, 半角カナ → 全角, compatibility ideographs such as 神 → 神);
2. one `str.translate` with a table that
   - turns hiragana into katakana and removes voicing (清音化: ガ→カ, パ→ハ, ヴ→ウ),
   - enlarges small kana (ッ→ツ, ャ→ヤ, ヶ→ケ) and folds the old kana ヰヱヲ into イエオ
     (カヲル and カオル are the same name when spoken),
   - deletes the long-vowel mark ー, spaces of any width, hyphens and the 中点 (・, ゠),
     variation selectors (FE00–FE0F) and ideographic variation selectors (IVS, E0100–E01EF),
   - lower-cases Latin letters (names of foreign residents),
   - folds 異体字 (髙→高, 﨑→崎, 邊/邉→辺, 齋/齊→斎, 澤→沢, …) through the generated table
     resources/kanji_variants.tsv (tools/build_kanji_variants.py explains which relations);
3. 々 written out as the kanji it repeats (佐々木 = 佐佐木).

The variant table is read once, on first use, from the package data (importlib.resources), so
importing this module does no I/O. `fold_kana` is the same fold without the kanji table, for
keys that are kana by construction.
"""

from __future__ import annotations

import unicodedata
from functools import cache, lru_cache
from importlib import resources

VARIANTS_PACKAGE = "resources"
VARIANTS_FILE = "kanji_variants.tsv"

_SMALL = dict(zip("ァィゥェォッャュョヮヵヶㇰ", "アイウエオツヤユヨワカケク", strict=True))
_OLD_KANA = {"ヰ": "イ", "ヱ": "エ", "ヲ": "オ"}
_DELETED = "ー-‐‑‒–—―−・゠=\u3099\u309a\u309b\u309c"


def _kana_key(ch: str) -> str:
    cp = ord(ch)
    if 0x3041 <= cp <= 0x3096 or cp in (0x309D, 0x309E):
        ch = chr(cp + 0x60)  # hiragana → katakana (incl. ゝゞ → ヽヾ)
    decomposed = unicodedata.normalize("NFD", ch).replace("\u3099", "").replace("\u309a", "")
    ch = unicodedata.normalize("NFC", decomposed)
    ch = _SMALL.get(ch, ch)
    return _OLD_KANA.get(ch, ch)


@cache
def _base_table() -> dict[int, str | None]:
    table: dict[int, str | None] = {}
    for cp in (
        *range(0x3041, 0x3097),
        0x309D,
        0x309E,
        *range(0x30A1, 0x30FB),
        0x30FD,
        0x30FE,
        0x31F0,
    ):
        key = _kana_key(chr(cp))
        if key != chr(cp):
            table[cp] = key
    for cp in range(0x10000):
        if chr(cp).isspace():
            table[cp] = None
    for ch in _DELETED:
        table[ord(ch)] = None
    for cp in (*range(0xFE00, 0xFE10), *range(0xE0100, 0xE01F0)):
        table[cp] = None
    for cp in range(ord("A"), ord("Z") + 1):
        table[cp] = chr(cp + 32)
    return table


def load_variants() -> dict[str, str]:
    """variant → target of resources/kanji_variants.tsv (read from the package data)."""
    text = resources.files(VARIANTS_PACKAGE).joinpath(VARIANTS_FILE).read_text(encoding="utf-8")
    out: dict[str, str] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        variant, target, *_ = line.split("\t")
        out[variant] = target
    return out


@cache
def _full_table() -> dict[int, str | None]:
    table = dict(_base_table())
    for variant, target in load_variants().items():
        table[ord(variant)] = target
    return table


def _apply(text: str, table: dict[int, str | None]) -> str:
    out = unicodedata.normalize("NFKC", text).translate(table)
    # A deletion can bring a base and a combining mark together ("e ́" → "é"): normalise again
    # so that the fold is idempotent. Names almost never take this branch.
    for _ in range(3):
        if unicodedata.is_normalized("NFKC", out):
            break
        out = unicodedata.normalize("NFKC", out).translate(table)
    return out


def _expand_repeat(key: str) -> str:
    # 々 repeats the kanji before it: 佐々木 and 佐佐木 are the same name.
    out: list[str] = []
    for ch in key:
        out.append(out[-1] if ch == "々" and out else ch)
    return "".join(out)


@lru_cache(maxsize=1 << 16)
def fold(text: str) -> str:
    """The search key of a name: equal keys ⇔ the same name for search purposes."""
    # Memoised: family names, given names and their readings repeat across a municipality,
    # and an initial sync folds each person's names about eight times.
    key = _apply(text, _full_table())
    return _expand_repeat(key) if "々" in key else key


def fold_kana(text: str) -> str:
    """The search key of a kana reading: `fold` without the kanji table (cheaper, no I/O)."""
    return _apply(text, _base_table())


def split_name(name: str) -> tuple[str, str]:
    """氏 and 名: split at the first space of any width; no space → (name, "")."""
    stripped = name.strip()
    for i, ch in enumerate(stripped):
        if ch.isspace():
            return stripped[:i], stripped[i + 1 :].strip()
    return stripped, ""
