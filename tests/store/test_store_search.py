"""4情報 search: kana/kanji, exact/prefix, variants, IVS, era ranges, 除票, 支援措置, paging."""

from __future__ import annotations

import random
from datetime import date
from typing import Any

import pytest

from app.domain.names import fold
from app.domain.records import parse_person
from app.store import search as search_mod
from app.store.db import Cache
from app.store.search import SearchQuery, address_key, name_keys

from .conftest import household_items
from .households import juminhyo_code, make_households, my_number

_serial = iter(range(900_000, 999_999))


def person(name: str, kana: str, birth: str, sex: str = "male", **extra: Any) -> dict[str, Any]:
    n = next(_serial)
    p = {
        "person_id": f"S{n}", "juminhyo_code": juminhyo_code(n), "my_number": my_number(n),
        "version": 1, "status": "resident", "name": name, "name_kana": kana,
        "birth_date": birth, "sex": sex, "relationship": "世帯主",
    }  # fmt: skip
    p.update(extra)
    return p


def household(hid: str, address: str, members: list[dict], katagaki: str | None = None) -> dict:
    return {
        "household_id": hid, "municipality_code": "012084", "postal_code": "090-0001",
        "address": address, "katagaki": katagaki, "head_person_id": members[0]["person_id"],
        "members": members,
    }  # fmt: skip


@pytest.fixture
def people(cache: Cache) -> dict[str, dict]:
    named = {
        "taro": person("山田 太郎", "ヤマダ タロウ", "1970-05-01"),
        "taro_removed": person(
            "山田 太郎", "ヤマダ タロウ", "1940-02-02", status="removed", removed_on="2019-01-01",
            removal_reason="死亡",
        ),
        "taro_long": person("山田 太郎左衛門", "ヤマダ タロウザエモン", "1955-03-03"),
        "taichi": person("山田 太一", "ヤマダ タイチ", "1989-01-07"),
        "hanako": person("髙橋 花子", "タカハシ ハナコ", "1989-01-08", "female"),
        "ivs": person("葛\U000e0100城 雛乃", "カツラギ ヒナノ", "2001-12-31", "female"),
        "protected": person(
            "佐藤 美咲", "サトウ ミサキ", "1992-07-07", "female",
            support_measure={"until": "2030-03-31", "perpetrator_person_ids": []},
        ),
        "alias": person("金 英子", "キム ヨンジャ", "1980-01-01", "female", alias="金田 英子",
                        alias_kana="カネダ エイコ", nationality="韓国"),
    }  # fmt: skip
    households = [
        household("HS1", "北見市北1条西3丁目1番地", [named["taro"], named["taichi"]]),
        household("HS2", "北見市常盤町2丁目5番地", [named["taro_removed"]]),
        household("HS3", "北見市端野町1番地", [named["taro_long"]], katagaki="コーポ北見101号室"),
        household("HS4", "北見市北1条東1丁目", [named["hanako"], named["ivs"]]),
        household("HS5", "北見市高栄東町1番地", [named["protected"], named["alias"]]),
    ]
    # Filler persons that cannot collide with the named ones (so expectations stay exact).
    taken = ("山田", "髙橋", "高橋", "佐藤", "葛", "金")
    filler = [
        h
        for h in make_households(400, seed=21)
        if not any(m["name"].startswith(taken) for m in h["members"])
        and not h["address"].startswith("北見市北1条")
        and not (h["katagaki"] or "").startswith("コーポ北見")
    ]
    cache.apply_changes(household_items(households + filler), 1)
    return {k: v["person_id"] for k, v in named.items()}  # type: ignore[misc]


@pytest.fixture(params=["address walk", "name keys"])
def plan(request, monkeypatch) -> str:
    """The two plans of "name + address": the persons of the address, or (an address broader
    than ADDRESS_SCAN persons) the name keys with each candidate's household checked."""
    if request.param == "name keys":
        monkeypatch.setattr(search_mod, "ADDRESS_SCAN", 0)
    return request.param


def ids(cache: Cache, **kw: Any) -> list[str]:
    return [h.person_id for h in cache.search(SearchQuery(**kw), limit=500).hits]


def test_exact_before_prefix_and_residents_before_removed(cache: Cache, people) -> None:
    got = ids(cache, name="山田太郎")
    assert got[:3] == [people["taro"], people["taro_removed"], people["taro_long"]]
    # kana, hiragana, half-width, spaces: the same person
    for q in ("ヤマダ タロウ", "やまだたろう", "ﾔﾏﾀﾞ ﾀﾛｳ", "山田　太郎"):
        assert ids(cache, name=q)[:2] == [people["taro"], people["taro_removed"]], q
    page = cache.search(SearchQuery(name="山田太郎"))
    assert page.hits[1].status == "removed" and page.hits[0].status == "resident"


def test_prefix_given_name_alias(cache: Cache, people) -> None:
    got = ids(cache, name="山田 太")
    assert set(got) >= {people["taro"], people["taichi"], people["taro_long"]}
    assert people["hanako"] not in got
    assert people["taichi"] in ids(cache, name="たいち")  # given name alone
    assert people["alias"] in ids(cache, name="金田")  # 通称
    assert people["alias"] in ids(cache, name="カネダ エイコ")


def test_variants_and_ivs(cache: Cache, people) -> None:
    assert people["hanako"] in ids(cache, name="高橋花子")
    assert people["hanako"] in ids(cache, name="髙橋")
    hits = cache.search(SearchQuery(name="葛城雛乃")).hits
    assert [h.person_id for h in hits] == [people["ivs"]]
    assert hits[0].name == "葛\U000e0100城 雛乃"  # stored exactly, IVS kept


def test_birth_date_exact_and_era_range(cache: Cache, people) -> None:
    assert ids(cache, name="やまだ", birth_date=date(1989, 1, 7)) == [people["taichi"]]
    # 昭和64年 = 1989-01-01 .. 1989-01-07; 平成元年 starts 1989-01-08
    showa64 = ids(cache, birth_range=(date(1989, 1, 1), date(1989, 1, 7)))
    assert people["taichi"] in showa64 and people["hanako"] not in showa64
    heisei1 = ids(cache, name="たかはし", birth_range=(date(1989, 1, 8), date(1989, 12, 31)))
    assert heisei1 == [people["hanako"]]


def test_sex_address_katagaki(cache: Cache, people, plan: str) -> None:
    assert ids(cache, name="山田", sex="female") == []
    got = ids(cache, name="山田", address="北見市北1条")
    assert set(got) == {people["taro"], people["taichi"]}
    # full-width digits in the query fold to the same key
    wide = ids(cache, name="山田", address="北見市北１条西")
    assert set(wide) == {people["taro"], people["taichi"]}
    assert ids(cache, address="コーポ北見") == [people["taro_long"]]
    assert ids(cache, name="やまだ", address="コーポ北見") == [people["taro_long"]]
    assert people["hanako"] in ids(cache, address="北見市北1条東1丁目")
    # ranked as without an address: exact before prefix, residents before 除票
    got = ids(cache, name="山田太郎", address="北見市")
    assert got[:3] == [people["taro"], people["taro_removed"], people["taro_long"]]
    assert ids(cache, name="山田太郎", address="北見市", include_removed=False)[:2] == [
        people["taro"],
        people["taro_long"],
    ]
    assert ids(cache, name="たいち", address="北見市北1条") == [people["taichi"]]  # given name
    assert ids(cache, name="カネダ", address="北見市高栄") == [people["alias"]]  # 通称
    assert ids(cache, name="山田", address="北見市", sex="female") == []
    assert ids(cache, name="やまだ", birth_date=date(1989, 1, 7), address="北見市北") == [
        people["taichi"]
    ]


def test_name_and_address_plans_and_bounds(cache: Cache, people, monkeypatch) -> None:
    """The cheaper plan runs: a rare name checks its few keys' households, a common name walks
    a small address. A common name with a broad address checks the first NAME_CHECKS keys of
    each part and says so (total None) instead of giving a wrong count."""
    statements: list[str] = []
    cache.connection.set_trace_callback(statements.append)
    assert ids(cache, name="たいち", address="北見市") == [people["taichi"]]
    assert not any("persons_address" in s and "json_each" in s for s in statements)
    statements.clear()
    monkeypatch.setattr(search_mod, "WALK_PER_CHECK", 10_000)  # walking is now the cheaper
    assert ids(cache, name="たいち", address="北見市") == [people["taichi"]]
    assert any("persons_address" in s and "json_each" in s for s in statements)
    cache.connection.set_trace_callback(None)

    monkeypatch.setattr(search_mod, "ADDRESS_SCAN", 0)
    page = cache.search(SearchQuery(name="やまだ", address="北見市"), limit=100)
    assert page.total == 4
    monkeypatch.setattr(search_mod, "NAME_CHECKS", 1)
    page = cache.search(SearchQuery(name="やまだ", address="北見市"), limit=100)
    assert page.total is None
    assert page.hits and all(h.name.startswith("山田") for h in page.hits)


def test_removed_protected_and_code(cache: Cache, people) -> None:
    assert people["taro_removed"] not in ids(cache, name="山田太郎", include_removed=False)
    hit = cache.search(SearchQuery(name="さとうみさき"), today=date(2026, 1, 1)).hits[0]
    assert hit.person_id == people["protected"] and hit.protected
    later = cache.search(SearchQuery(name="さとうみさき"), today=date(2031, 1, 1)).hits[0]
    assert not later.protected
    assert not cache.search(SearchQuery(name="山田太郎")).hits[0].protected
    code = cache.person(people["ivs"])[0].juminhyo_code
    assert ids(cache, juminhyo_code=code) == [people["ivs"]]
    assert ids(cache, name="葛城", juminhyo_code=code) == [people["ivs"]]
    assert ids(cache, name="山田", juminhyo_code=code) == []


def test_empty_query_paging_and_cap(cache: Cache, people, monkeypatch) -> None:
    assert cache.search(SearchQuery()).hits == []
    assert cache.search(SearchQuery(name="  ")).total == 0
    full = cache.search(SearchQuery(address="北見市"), limit=500)
    assert full.total == len(full.hits) == cache.counts()["persons"]
    pages = [cache.search(SearchQuery(address="北見市"), limit=50, offset=o).hits
             for o in range(0, full.total, 50)]  # fmt: skip
    assert [h.person_id for p in pages for h in p] == [h.person_id for h in full.hits]
    # ranking of a non-name query: residents first
    statuses = [h.status for h in full.hits]
    assert statuses == sorted(statuses, key=lambda s: s != "resident")
    monkeypatch.setattr(search_mod, "CANDIDATE_CAP", 5)
    capped = cache.search(SearchQuery(address="北見市"))
    assert capped.total is None and 0 < len(capped.hits) <= 6  # ranked among the first 6
    # exact matches are never crowded out by the cap
    assert ids(cache, name="山田太郎")[:2] == [people["taro"], people["taro_removed"]]


def test_prefix_scan_bound(cache: Cache, people, monkeypatch) -> None:
    monkeypatch.setattr(search_mod, "PREFIX_SCAN", 1)
    page = cache.search(SearchQuery(name="やまだ"), limit=100)
    assert page.total is None  # more prefix entries than scanned: the total is unknown
    # the family name matches exactly (family key), so every 山田 is still found
    assert {people["taro"], people["taichi"], people["taro_long"]} <= {
        h.person_id for h in page.hits
    }
    page = cache.search(SearchQuery(name="山田太郎"))
    assert [h.person_id for h in page.hits][:2] == [people["taro"], people["taro_removed"]]


def test_matches_brute_force(cache: Cache, people, plan: str) -> None:
    """Random combined queries against a brute-force filter over the same persons."""
    rows = cache.connection.execute(
        "SELECT p.person_id, h.raw FROM persons p JOIN households h USING (household_id)"
    ).fetchall()
    import json

    everyone = []
    for pid, raw in rows:
        h = json.loads(raw)
        m = next(m for m in h["members"] if m["person_id"] == pid)
        everyone.append((parse_person(m), h))
    rng = random.Random(5)
    for _ in range(60):
        p, h = rng.choice(everyone)
        q = SearchQuery(
            name=rng.choice([None, p.name[: rng.randint(1, 3)], p.name_kana[:3]]),
            birth_range=rng.choice([None, (date(p.birth_date.year, 1, 1),
                                           date(p.birth_date.year, 12, 31))]),
            sex=rng.choice([None, p.sex]),
            address=rng.choice([None, h["address"][:7]]),
            include_removed=rng.random() < 0.7,
        )  # fmt: skip
        if q.is_empty():
            continue
        expected = set()
        for o, oh in everyone:
            keys = name_keys(o)
            if q.name and fold(q.name) and not any(k.startswith(fold(q.name)) for k in keys):
                continue
            if q.birth_range and not q.birth_range[0] <= o.birth_date <= q.birth_range[1]:
                continue
            if q.sex and o.sex != q.sex:
                continue
            akey = address_key(q.address or "")
            if akey and not (
                address_key(oh["address"]).startswith(akey)
                or address_key(oh["katagaki"] or "").startswith(akey)
            ):
                continue
            if not q.include_removed and o.is_removed:
                continue
            expected.add(o.person_id)
        page = cache.search(q, limit=500)
        assert page.total == len(expected)
        assert {x.person_id for x in page.hits} == expected
        assert p.person_id in expected or (not q.include_removed and p.is_removed)


def test_address_typed_without_prefecture_or_city(tmp_path, dek) -> None:
    """Every 住所 of the register starts with 北海道北見市: a clerk types "北見市北4条" or
    "北4条西", and a 方書 as it is."""
    from app.store.db import create_cache

    cache = create_cache(tmp_path / "pref.db", dek)
    north = person("北野 一郎", "キタノ イチロウ", "1960-04-01")
    tokoro = person("北野 次郎", "キタノ ジロウ", "1962-05-02")
    cache.apply_changes(
        household_items(
            [
                household(
                    "HP1", "北海道北見市北4条西2丁目1番地", [north], katagaki="北光ハイツ3号"
                ),
                household("HP2", "北海道北見市常呂町字常呂100番地", [tokoro]),
            ]
        ),
        2,
    )
    for typed in ("北海道北見市北4条", "北見市北4条", "北4条", "北４条西", "北海道北見市北"):
        assert ids(cache, name="きたの", address=typed) == [north["person_id"]], typed
        assert ids(cache, address=typed) == [north["person_id"]], typed
    assert ids(cache, name="キタノ", address="常呂町") == [tokoro["person_id"]]
    assert ids(cache, address="北光ハイツ") == [north["person_id"]]  # 方書, as typed
    assert set(ids(cache, address="北見市")) == {north["person_id"], tokoro["person_id"]}
    assert set(ids(cache, name="きたの", address="北海道")) == {
        north["person_id"],
        tokoro["person_id"],
    }
    assert ids(cache, address="網走市") == []
    code = cache.person(north["person_id"])[0].juminhyo_code
    assert ids(cache, juminhyo_code=code, address="北4条") == [north["person_id"]]
    assert ids(cache, juminhyo_code=code, address="常呂町") == []
    cache.close()


def test_address_keys_of_other_municipalities() -> None:
    from app.store.search import address_keys

    assert address_keys("中央区1条", "北海道札幌市中央区北1条西1丁目").address == (
        "北海道札幌市中央区1条"
    )
    assert address_keys("置戸町", "北海道常呂郡置戸町字置戸1番地").address == ("北海道常呂郡置戸町")
    assert address_keys("字境野", "北海道常呂郡置戸町字置戸1番地").address == (
        "北海道常呂郡置戸町字境野"
    )
    assert address_keys("東京都千代田区", "北海道北見市北1条").address == "東京都千代田区"
    assert address_keys("北1条", None) == ("北1条", "北1条")
    assert address_keys("北1条", "北見市北1条西") == ("北1条", "北1条")  # no 都道府県: as typed


def test_street_numbers_typed_with_dashes(tmp_path, dek) -> None:
    """番地 as a clerk types it (issue 17): 「3-6-19」 finds 「3丁目6番19号」, 「950-40」 finds
    「950番地40」, in full-width and with kanji numerals too (app.domain.addresses.search_key
    keys the register and the query alike)."""
    from app.store.db import create_cache

    cache = create_cache(tmp_path / "dash.db", dek)
    chome = person("東野 一郎", "ヒガシノ イチロウ", "1960-04-01")
    banchi = person("東野 次郎", "ヒガシノ ジロウ", "1962-05-02")
    other = person("東野 三郎", "ヒガシノ サブロウ", "1964-06-03")
    cache.apply_changes(
        household_items(
            [
                household("HD1", "北海道北見市北5条東6丁目11番5号", [chome]),
                household("HD2", "北海道北見市小泉950番地40", [banchi], katagaki="メゾン306号室"),
                household("HD3", "北海道北見市北5条東6丁目12番1号", [other]),
            ]
        ),
        3,
    )
    for typed in (
        "北5条東6-11-5",
        "北見市北5条東6-11-5",
        "北５条東６－１１－５",
        "北五条東六丁目11-5",
        "北5条東6丁目11番5号",  # as the register writes it: still found
        "北5条東6-11",
    ):
        assert ids(cache, address=typed) == [chome["person_id"]], typed
        assert ids(cache, name="ひがしの", address=typed) == [chome["person_id"]], typed
    assert set(ids(cache, address="北5条東6丁目")) == {chome["person_id"], other["person_id"]}
    assert set(ids(cache, address="北5条東6-")) == {chome["person_id"], other["person_id"]}
    for typed in ("小泉950-40", "小泉950番地40", "小泉950番地の40", "小泉９５０－４０"):
        assert ids(cache, address=typed) == [banchi["person_id"]], typed
    assert ids(cache, address="北5条東6-11-6") == []
    assert ids(cache, address="メゾン306号室") == [banchi["person_id"]]  # 方書 as typed
    cache.close()
