"""app.domain.text.control_character: the first forbidden character, as the character loop it
replaced found it (C0 and C1 controls, DEL, bidi marks and overrides, lone surrogates; TAB, LF
and CR only with layout)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from app.domain.text import control_character


def _reference(text: str, allow_layout: bool) -> str | None:
    for ch in text:
        code = ord(ch)
        if (code < 0x20 and not (allow_layout and ch in "\t\n\r")) or code == 0x7F:
            return ch
        if 0x80 <= code <= 0x9F or 0xD800 <= code <= 0xDFFF:
            return ch
        if code in (0x200E, 0x200F) or 0x202A <= code <= 0x202E or 0x2066 <= code <= 0x2069:
            return ch
    return None


def test_known_cases() -> None:
    assert control_character("0001-20261207-000001") is None
    assert control_character("北見市北1条西1丁目 𠮷\U000e0100") is None
    assert control_character("a\x00b") == "\x00"
    assert control_character("理由\x7f") == "\x7f"
    assert control_character("x\ud800") == "\ud800"
    assert control_character("行1\n行2") == "\n"
    assert control_character("行1\r\n行2\t", allow_layout=True) is None
    assert control_character("a\tb\x01", allow_layout=True) == "\x01"
    assert control_character("\x1f\x00") == "\x1f"  # the first one
    # A name that reads 「山田 太郎」 on screen but is stored reversed, a C1 line break.
    assert control_character("山田 \u202e郎太") == "\u202e"
    assert control_character("北見\u2066市\u2069") == "\u2066"
    assert control_character("行1\x85行2", allow_layout=True) == "\x85"
    # What names need stays: ZWJ, variation selectors, IVS.
    assert control_character("葛\U000e0100 辻\ufe00 a\u200db") is None


_TEXT = st.text(
    alphabet=st.one_of(
        st.characters(min_codepoint=0, max_codepoint=0xA0),
        st.characters(min_codepoint=0x2000, max_codepoint=0x2070),
        st.characters(min_codepoint=0xD700, max_codepoint=0xE0FF, exclude_categories=()),
        st.characters(),
    )
)


@given(_TEXT, st.booleans())
def test_same_answer_as_the_character_loop(text: str, allow_layout: bool) -> None:
    assert control_character(text, allow_layout=allow_layout) == _reference(text, allow_layout)
