"""Font discovery and the cmap format 14 reader, checked against fontTools."""

from __future__ import annotations

from pathlib import Path

import pytest
from fontTools.ttLib import TTFont

from printing import fonts as F
from printing.fonts import Fonts


def test_cmap14_matches_fonttools(fonts: Fonts) -> None:
    ft = TTFont(str(fonts.path), lazy=True)
    (table,) = [t for t in ft["cmap"].tables if t.format == 14]
    expected: dict[tuple[int, int], int | None] = {}
    for selector, pairs in table.uvsDict.items():
        for base, glyph_name in pairs:
            expected[(base, selector)] = None if glyph_name is None else ft.getGlyphID(glyph_name)
    assert len(expected) > 10_000  # IPAmj明朝 defines the 文字情報基盤 IVD collection
    assert fonts.variants == expected


def test_encode_maps_variants_to_private_codes(fonts: Fonts) -> None:
    encoded = fonts.encode("葛\U000e0102城")
    assert len(encoded) == 2 and encoded[1] == "城"
    code = ord(encoded[0])
    assert 0xF0000 <= code <= 0xFFFFD
    gid = fonts.variants[(0x845B, 0xE0102)]
    assert fonts.font.face.charToGlyph[code] == gid != fonts.font.face.charToGlyph[0x845B]
    # Same sequence, same code; full width like any kanji.
    assert fonts.encode("葛\U000e0102") == encoded[0]
    assert fonts.font.face.charWidths[code] == fonts.font.face.charWidths[0x845B]


def test_font_not_found_names_the_package(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(F.shutil, "which", lambda _name: None)
    monkeypatch.setattr(F, "KNOWN_PATHS", ())
    monkeypatch.delenv(F.ENV_FONT_PATH, raising=False)
    monkeypatch.delenv("LOCALAPPDATA", raising=False)
    with pytest.raises(F.FontNotFound) as info:
        F.find_font_path(tmp_path / "nothing.ttf")
    assert "fonts-ipamj-mincho" in str(info.value) and "IPAmj明朝" in str(info.value)


def test_configured_path_wins(monkeypatch: pytest.MonkeyPatch, fonts: Fonts) -> None:
    monkeypatch.setenv(F.ENV_FONT_PATH, "/nonexistent/ipamjm.ttf")
    assert F.find_font_path(fonts.path) == fonts.path
    monkeypatch.delenv(F.ENV_FONT_PATH)
    monkeypatch.setattr(F, "KNOWN_PATHS", ())
    monkeypatch.delenv("LOCALAPPDATA", raising=False)
    assert F.find_font_path() == fonts.path  # through fc-match

    # fc-match answers with *some* font even when IPAmj is absent: only ipamj* is accepted.
    class Answer:
        stdout = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"

    monkeypatch.setattr(F.subprocess, "run", lambda *a, **k: Answer())
    with pytest.raises(F.FontNotFound):
        F.find_font_path()


def test_the_frozen_programs_own_copy_comes_first(
    monkeypatch: pytest.MonkeyPatch, fonts: Fonts, tmp_path: Path
) -> None:
    """A branch PC has no IPAmj明朝: the installer carries it inside the program folder."""
    bundle = tmp_path / "_internal"
    (bundle / "fonts").mkdir(parents=True)
    (bundle / "fonts" / "ipamjm.ttf").symlink_to(fonts.path)
    monkeypatch.setattr(F.sys, "_MEIPASS", str(bundle), raising=False)
    monkeypatch.setenv(F.ENV_FONT_PATH, str(fonts.path))
    assert F.find_font_path() == bundle / "fonts" / "ipamjm.ttf"
    # An administrator's explicit setting still wins.
    assert F.find_font_path(fonts.path) == fonts.path


def test_preload_in_background(fonts: Fonts) -> None:
    thread = F.preload_in_background()
    thread.join(timeout=30)
    assert not thread.is_alive()
    assert F.get_fonts() is fonts


def test_selector_mapped_by_font_still_resolved(
    fonts: Fonts, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Some fonts map the selectors to an empty glyph; the fast path must not pass them through.
    monkeypatch.setitem(fonts.font.face.charToGlyph, 0xE0102, 1)
    encoded = fonts.encode("葛\U000e0102")
    assert len(encoded) == 1 and ord(encoded) >= 0xF0000
