"""Kitami's 町名一覧 (resources/towns/012084.tsv) and addresses read against it."""

from __future__ import annotations

import pytest

from app.domain.identifiers import is_valid_postal_code
from app.domain.notifications.towns import TownList, fold_address, load
from app.synthetic import data

TOWNS = load()


def test_the_list_is_complete_and_well_formed() -> None:
    assert TOWNS.municipality_code == "012084"
    names = [t.name for t in TOWNS.towns]
    assert len(names) == len(set(names)) >= 150
    for t in TOWNS.towns:
        assert is_valid_postal_code(t.postal_code), t
        assert t.postal_code[:3] in {"090", "091", "093", "099"}, t  # 北見・留辺蘂・常呂・端野
        assert t.kana and all("ァ" <= c <= "ヶ" or c.isdigit() for c in t.kana), t


@pytest.mark.parametrize(
    ("address", "town", "rest"),
    [
        ("北海道北見市北5条東2丁目1番地", "北5条東", "2丁目1番地"),
        ("北海道北見市北五条東2丁目1番地", "北5条東", "2丁目1番地"),  # kanji numerals
        ("北見市北5条東２丁目１番地", "北5条東", "2丁目1番地"),  # without 北海道, 全角
        ("北海道北見市北11条東1丁目3番", "北11条東", "1丁目3番"),  # not 北1条東
        ("北海道北見市端野町2区471番地", "端野町二区", "471番地"),
        ("北海道北見市常呂町常呂20番地1", "常呂町字常呂", "20番地1"),  # KEN_ALL's spelling
        ("北海道北見市緑ケ丘3番地", "緑ヶ丘", "3番地"),
        ("北海道北見市留辺蘂町温根湯温泉100番地", "留辺蘂町温根湯温泉", "100番地"),
    ],
)
def test_match(address: str, town: str, rest: str) -> None:
    m = TOWNS.match(address)
    assert m.ok, m.problems
    assert m.town is not None and m.town.name == town
    assert m.rest == rest


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        (
            "北海道北見市三輪5番地",
            "町名「三輪」は北海道北見市の町名一覧にありません（候補: 中央三輪",
        ),
        ("北海道網走市南6条東1丁目", "住所が「北海道北見市」で始まっていません。"),
        ("北海道北見市北進町2丁目3番地", "北進町には丁目がありません"),
        ("北海道北見市泉町5番地", "泉町の住所には丁目が必要です"),
        ("北海道北見市大通西1丁目", "番地（番・号）がありません。"),
    ],
)
def test_problems(address: str, problem: str) -> None:
    m = TOWNS.match(address)
    assert any(p.startswith(problem) for p in m.problems), m.problems


def test_suggestions_by_reading_and_by_part_of_the_name() -> None:
    assert [t.name for t in TOWNS.suggest("みわ")] == ["中央三輪", "西三輪", "東三輪"]
    assert [t.name for t in TOWNS.suggest("ルベシベチョウアサヒ")][:2] == [
        "留辺蘂町旭1区",
        "留辺蘂町旭3区",
    ]


def test_fold_keeps_what_differs() -> None:
    assert fold_address("北五条東") == fold_address("北5条東")
    assert fold_address("北十一条東") == "北11条東"
    assert fold_address("北5条東") != fold_address("北5条西")


def test_a_malformed_list_is_refused() -> None:
    with pytest.raises(ValueError):
        TownList.parse("町\tチョウ\n", "012084", "北海道北見市")


def test_the_synthetic_municipality_uses_only_listed_towns() -> None:
    """app/synthetic/data.py writes addresses that the town list accepts, with its postal code
    and its 丁目 form."""
    for town, postal, kind, _weight in data.TOWNS:
        listed = TOWNS.town_named(town)
        assert listed is not None, f"{town} is not a town of Kitami"
        assert postal == listed.postal_code, (town, postal, listed.postal_code)
        assert (kind == "chome") == listed.has_chome, (town, kind)
