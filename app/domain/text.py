"""Text rules shared by every layer (the wire models, the password policy, the importer)."""

from __future__ import annotations

import re

# C0 controls, DEL, lone surrogates; the second without TAB, LF and CR (layout). A regular
# expression finds the first one at C speed: the character loop it replaces cost the server
# about a third of a millisecond per batch of five events (each string of an event is checked
# at the boundary and again by the wire models; benchmarks/bench_load.py).
_FORBIDDEN = re.compile("[\x00-\x1f\x7f\ud800-\udfff]")
_FORBIDDEN_BUT_LAYOUT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def control_character(text: str, *, allow_layout: bool = False) -> str | None:
    """The first character a stored text may not hold (C0 controls, DEL, lone surrogates), or
    None. PostgreSQL refuses NUL outright; the others have no place in ids or records."""
    found = (_FORBIDDEN_BUT_LAYOUT if allow_layout else _FORBIDDEN).search(text)
    return None if found is None else found.group()
