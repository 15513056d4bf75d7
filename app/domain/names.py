"""Search keys for names (氏名) and kana. A first cut: the domain work deepens the variant table.

`fold(text)` is a stable interface (DESIGN.md §11): two names match exactly when their folds
are equal. Names themselves are never changed; only the keys are folded.
"""

from __future__ import annotations

import unicodedata

_IVS = range(0xE0100, 0xE01F0)
_SMALL = str.maketrans("ァィゥェォッャュョヮヵヶ", "アイウエオツヤユヨワカケ")


def _strip_voicing(ch: str) -> str:
    # 清音化: ガ→カ, パ→ハ — decompose and drop the (han)dakuten.
    decomposed = unicodedata.normalize("NFD", ch)
    return unicodedata.normalize("NFC", decomposed.replace("\u3099", "").replace("\u309a", ""))


def fold(text: str) -> str:
    out: list[str] = []
    for ch in unicodedata.normalize("NFKC", text):
        cp = ord(ch)
        if cp in _IVS or 0xFE00 <= cp <= 0xFE0F or ch.isspace() or ch in "ー-‐・":
            continue
        if 0x3041 <= cp <= 0x3096:  # hiragana → katakana
            ch = chr(cp + 0x60)
        out.append(_strip_voicing(ch))
    return "".join(out).translate(_SMALL)
