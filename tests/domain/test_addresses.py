"""Address search keys: the register's 「N丁目N番N号」 and 「N番地N」 fold like the 「N-N-N」 a
clerk types (table written from how addresses are written, not from the code)."""

from __future__ import annotations

import pytest

from app.domain.addresses import search_key

CASES = [
    # 住居表示: 丁目・番・号
    ("北海道北見市北4条東8丁目23番7号", "北海道北見市北4条東8-23-7"),
    ("北4条東8-23-7", "北4条東8-23-7"),
    ("北４条東８－２３－７", "北4条東8-23-7"),  # full-width, as the IME gives it
    ("北4条東8ー23ー7", "北4条東8-23-7"),  # the long-vowel mark typed for a dash
    ("3丁目6番19号", "3-6-19"),
    ("3-6-19", "3-6-19"),
    # 地番: 番地, 番地の
    ("常呂町字栄浦112番地25", "常呂町字栄浦112-25"),
    ("常呂町字栄浦112番地の25", "常呂町字栄浦112-25"),
    ("栄浦112-25", "栄浦112-25"),
    # kanji numerals before 条・丁目・番
    ("北五条東二丁目1番地", "北5条東2-1-"),
    ("北5条東2-1", "北5条東2-1"),
    ("二十三番", "23-"),
    # what is not a 街区 stays as written
    ("ノースパレス 302号室", "ノースパレス302号室"),
    ("サンライズ幸町", "サンライズ幸町"),
]


@pytest.mark.parametrize(("text", "key"), CASES)
def test_search_key(text: str, key: str) -> None:
    assert search_key(text) == key


def test_what_a_clerk_types_is_a_prefix_of_the_register() -> None:
    register = search_key("北海道北見市北4条東8丁目23番7号")
    for typed in (
        "北海道北見市北4条東8-23",
        "北海道北見市北4条東8丁目",
        "北海道北見市北４条東８－２３－７",
    ):
        assert register.startswith(search_key(typed)), typed
    assert not register.startswith(search_key("北海道北見市北4条東8-24"))
