"""The comparison key of an address or 方書 (one home for app.store's search and the 支援措置
rules of app.domain.certificates)."""

from __future__ import annotations

import unicodedata

_DASHES = str.maketrans({c: "-" for c in "‐‑‒–—―−－ｰ"})


def address_key(text: str) -> str:
    """NFKC (full-width digits), no spaces, one dash: equal keys ⇔ the same address text."""
    norm = unicodedata.normalize("NFKC", text).translate(_DASHES)
    return "".join(ch for ch in norm if not ch.isspace())
