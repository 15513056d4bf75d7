"""Text rules shared by every layer (the wire models, the password policy, the importer)."""

from __future__ import annotations

import re

# C0 controls, DEL, C1 controls, the bidirectional marks and overrides (U+200E/F, U+202A-E,
# U+2066-9: a name holding U+202E prints its end reversed on a certificate and on the screen,
# "Trojan Source" for people), lone surrogates; the second without TAB, LF and CR (layout).
# ZWJ, the variation selectors and the IVS selectors of names stay allowed. A regular
# expression finds the first one at C speed: the character loop it replaces cost the server
# about a third of a millisecond per batch of five events (each string of an event is checked
# at the boundary and again by the wire models; benchmarks/bench_load.py).
_INVISIBLE = "\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff"
_FORBIDDEN = re.compile(f"[\x00-\x1f{_INVISIBLE}]")
_FORBIDDEN_BUT_LAYOUT = re.compile(f"[\x00-\x08\x0b\x0c\x0e-\x1f{_INVISIBLE}]")


def control_character(text: str, *, allow_layout: bool = False) -> str | None:
    """The first character a stored text may not hold (C0 and C1 controls, DEL, bidirectional
    marks and overrides, lone surrogates), or None. PostgreSQL refuses NUL outright; the
    others have no place in ids or records."""
    found = (_FORBIDDEN_BUT_LAYOUT if allow_layout else _FORBIDDEN).search(text)
    return None if found is None else found.group()
