"""app.domain.text.control_character: the first forbidden character, as the character loop it
replaced found it (C0 controls, DEL, lone surrogates; TAB, LF and CR only with layout)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from app.domain.text import control_character


def _reference(text: str, allow_layout: bool) -> str | None:
    for ch in text:
        code = ord(ch)
        if (code < 0x20 and not (allow_layout and ch in "\t\n\r")) or code == 0x7F:
            return ch
        if 0xD800 <= code <= 0xDFFF:
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


_TEXT = st.text(
    alphabet=st.one_of(
        st.characters(min_codepoint=0, max_codepoint=0x80),
        st.characters(min_codepoint=0xD700, max_codepoint=0xE0FF, exclude_categories=()),
        st.characters(),
    )
)


@given(_TEXT, st.booleans())
def test_same_answer_as_the_character_loop(text: str, allow_layout: bool) -> None:
    assert control_character(text, allow_layout=allow_layout) == _reference(text, allow_layout)
