"""Text rules shared by every layer (the wire models, the password policy, the importer)."""

from __future__ import annotations


def control_character(text: str, *, allow_layout: bool = False) -> str | None:
    """The first character a stored text may not hold (C0 controls, DEL, lone surrogates), or
    None. PostgreSQL refuses NUL outright; the others have no place in ids or records."""
    for ch in text:
        code = ord(ch)
        if (code < 0x20 and not (allow_layout and ch in "\t\n\r")) or code == 0x7F:
            return ch
        if 0xD800 <= code <= 0xDFFF:
            return ch
    return None
