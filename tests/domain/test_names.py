"""Name folding: kana rules, widths, IVS, the 異体字 table and its invariants."""

from __future__ import annotations

import sys
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.names import fold, fold_kana, load_variants, split_name
from tests.support import require

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("variant", "standard"),
    [
        ("髙橋", "高橋"),
        ("山﨑", "山崎"),
        ("渡邊", "渡辺"),
        ("渡邉", "渡辺"),
        ("齋藤", "斎藤"),
        ("齊藤", "斎藤"),
        ("澤田", "沢田"),
        ("濱田", "浜田"),
        ("嶋田", "島田"),
        ("德永", "徳永"),
        ("廣瀬", "広瀬"),
        ("櫻井", "桜井"),
        ("國分", "国分"),
        ("\U00020bb7田", "吉田"),  # 𠮷田
        ("神田", "神田"),  # compatibility ideograph U+FA19, through NFKC
        ("葛\U000e0102西", "葛西"),  # IVS removed
        ("辻\U000e0102", "辻"),
        ("渡邊\U000e0108", "渡辺"),
        ("佐々木", "佐佐木"),
        ("野々村", "野野村"),
    ],
)
def test_variants_fold(variant: str, standard: str) -> None:
    assert fold(variant) == fold(standard)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("崎", "埼"),  # distinct characters in Japanese names (Unihan calls them semantic variants)
        ("葉", "叶"),  # 叶 is the Chinese simplification of 葉, a different Japanese character
        ("芸", "藝"),  # 芸 (うん) was a distinct character before it became 藝's 新字体
        ("余", "餘"),
        ("機", "机"),
        ("後", "后"),
    ],
)
def test_distinct_characters_stay_distinct(a: str, b: str) -> None:
    assert fold(a) != fold(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("やまだ たろう", "ヤマダ タロウ"),
        ("ヤマダ　タロウ", "ヤマダタロウ"),
        ("ﾔﾏﾀﾞ ﾀﾛｳ", "ヤマダ タロウ"),
        ("ガ", "カ"),
        ("パ", "ハ"),
        ("ヴ", "ウ"),
        ("ッ", "ツ"),
        ("ャュョ", "ヤユヨ"),
        ("ヶ", "ケ"),
        ("ユーコ", "ユコ"),
        ("ヲ", "オ"),
        ("ジョン・スミス", "ジョンスミス"),
        ("ｊｏｈｎ　ＳＭＩＴＨ", "john smith"),
        ("か\u3099", "カ"),  # combining dakuten
        ("ﾊﾟ", "ハ"),
    ],
)
def test_kana_and_width_rules(a: str, b: str) -> None:
    assert fold(a) == fold(b)
    assert fold_kana(a) == fold_kana(b)


def test_examples_of_keys() -> None:
    assert fold("がっこう") == "カツコウ"
    assert fold("髙橋 一郎") == "高橋一郎"
    assert fold_kana("ﾀｶﾊｼ ｲﾁﾛｳ") == "タカハシイチロウ"


_HIRAGANA = [chr(c) for c in range(0x3041, 0x3097)]
_TEXT = st.text(
    alphabet=st.sampled_from(
        _HIRAGANA
        + [chr(c + 0x60) for c in range(0x3041, 0x3097)]
        + list("高髙崎﨑辺邊邉斎齋齊沢澤 　ーｰabcABCｱｲｳｶﾞﾊﾟ")
        + ["\U000e0100", "\U000e0102", "\ufe00", "\u3099"]
    ),
    max_size=20,
)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=20))
def test_fold_idempotent_any_text(text: str) -> None:
    once = fold(text)
    assert fold(once) == once
    assert fold_kana(fold_kana(text)) == fold_kana(text)


@settings(max_examples=300, deadline=None)
@given(_TEXT)
def test_fold_idempotent_name_like(text: str) -> None:
    assert fold(fold(text)) == fold(text)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(_HIRAGANA), max_size=15))
def test_hiragana_equals_katakana(text: str) -> None:
    katakana = "".join(chr(ord(c) + 0x60) for c in text)
    assert fold(text) == fold(katakana)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=15))
def test_width_insensitive(text: str) -> None:
    fullwidth = "".join(chr(ord(c) + 0xFEE0) for c in text)
    assert fold(text) == fold(fullwidth)


def _to_halfwidth() -> dict[str, str]:
    table: dict[str, str] = {}
    for cp in range(0xFF66, 0xFF9E):
        half = chr(cp)
        table[unicodedata.normalize("NFKC", half)] = half
    for full, half in list(table.items()):
        for mark, half_mark in (("\u3099", "ﾞ"), ("\u309a", "ﾟ")):
            voiced = unicodedata.normalize("NFC", full + mark)
            if len(voiced) == 1:
                table[voiced] = half + half_mark
    return table


_HALF = _to_halfwidth()


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(sorted(_HALF)), max_size=15))
def test_halfwidth_katakana(text: str) -> None:
    half = "".join(_HALF[c] for c in text)
    assert half != text or not text
    assert fold(half) == fold(text)
    assert fold_kana(half) == fold_kana(text)


def test_variant_table_invariants() -> None:
    table = load_variants()
    assert len(table) > 2000
    for variant, target in table.items():
        assert variant != target
        assert target not in table, f"chain {variant}→{target}"
        assert unicodedata.normalize("NFKC", variant) == variant
        assert unicodedata.normalize("NFKC", target) == target
        assert len(variant) == 1 and len(target) == 1


def test_variant_table_is_reproducible() -> None:
    """The committed table is what tools/build_kanji_variants.py builds from the system data."""
    unihan = Path("/usr/share/unicode/Unihan_Variants.txt.bz2")
    ipaex = Path("/usr/share/fonts/opentype/ipaexfont-mincho/ipaexm.ttf")
    require(unihan.exists(), "Debian unicode-data (Unihan_Variants) is not installed")
    require(ipaex.exists(), "Debian fonts-ipaexfont is not installed")
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import build_kanji_variants
    finally:
        sys.path.remove(str(ROOT / "tools"))
    header = (ROOT / "resources" / "kanji_variants.tsv").read_text(encoding="utf-8")
    built_with = header.split("from Unihan ", 1)[1].split(" ", 1)[0]
    if unicodedata.unidata_version != built_with:
        # NFKC and the Unihan data change with Python's Unicode version: rebuild the table with
        # the project's Python (tools/build_kanji_variants.py) and commit it.
        pytest.skip(
            f"table built with Unicode {built_with}, Python has {unicodedata.unidata_version}"
        )
    built = {src: dst for src, (dst, _) in build_kanji_variants.build().items()}
    assert built == load_variants()


@pytest.mark.parametrize(
    ("name", "parts"),
    [
        ("山田 太郎", ("山田", "太郎")),
        ("山田　太郎", ("山田", "太郎")),
        (" 山田  太郎 ", ("山田", "太郎")),
        ("山田", ("山田", "")),
        ("NGUYEN VAN AN", ("NGUYEN", "VAN AN")),
    ],
)
def test_split_name(name: str, parts: tuple[str, str]) -> None:
    assert split_name(name) == parts
