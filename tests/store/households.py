"""Deterministic test households in the interchange format (until/besides app.synthetic).

`make_households(n_persons, seed)` yields household dicts with valid check digits, a mix of
residents and 除票, a few 支援措置, variant kanji (髙橋, 齋藤, 渡邊) and IVS names.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

from app.domain.identifiers import juminhyo_code_check_digit, my_number_check_digit

FAMILY = [
    ("佐藤", "サトウ"),
    ("鈴木", "スズキ"),
    ("高橋", "タカハシ"),
    ("髙橋", "タカハシ"),
    ("田中", "タナカ"),
    ("伊藤", "イトウ"),
    ("渡辺", "ワタナベ"),
    ("渡邊", "ワタナベ"),
    ("山本", "ヤマモト"),
    ("中村", "ナカムラ"),
    ("小林", "コバヤシ"),
    ("加藤", "カトウ"),
    ("吉田", "ヨシダ"),
    ("山田", "ヤマダ"),
    ("佐々木", "ササキ"),
    ("山口", "ヤマグチ"),
    ("松本", "マツモト"),
    ("井上", "イノウエ"),
    ("木村", "キムラ"),
    ("林", "ハヤシ"),
    ("斎藤", "サイトウ"),
    ("齋藤", "サイトウ"),
    ("清水", "シミズ"),
    ("山崎", "ヤマザキ"),
    ("森", "モリ"),
    ("池田", "イケダ"),
    ("橋本", "ハシモト"),
    ("阿部", "アベ"),
    ("石川", "イシカワ"),
    ("山下", "ヤマシタ"),
    ("中島", "ナカジマ"),
    ("石井", "イシイ"),
    ("小川", "オガワ"),
    ("前田", "マエダ"),
    ("岡田", "オカダ"),
    ("長谷川", "ハセガワ"),
    ("藤田", "フジタ"),
    ("後藤", "ゴトウ"),
    ("近藤", "コンドウ"),
    ("村上", "ムラカミ"),
    ("葛\U000e0100城", "カツラギ"),
    ("辻\U000e0101", "ツジ"),
]
GIVEN_M = [
    ("太郎", "タロウ"),
    ("一郎", "イチロウ"),
    ("健太", "ケンタ"),
    ("翔太", "ショウタ"),
    ("大輔", "ダイスケ"),
    ("誠", "マコト"),
    ("浩", "ヒロシ"),
    ("拓也", "タクヤ"),
    ("蓮", "レン"),
    ("悠真", "ユウマ"),
    ("湊", "ミナト"),
    ("清", "キヨシ"),
]
GIVEN_F = [
    ("花子", "ハナコ"),
    ("洋子", "ヨウコ"),
    ("美咲", "ミサキ"),
    ("陽菜", "ヒナ"),
    ("恵子", "ケイコ"),
    ("由美", "ユミ"),
    ("さくら", "サクラ"),
    ("結衣", "ユイ"),
    ("芽依", "メイ"),
    ("幸子", "サチコ"),
    ("明美", "アケミ"),
    ("葵", "アオイ"),
]
TOWNS = [
    "北見市北1条西",
    "北見市北2条東",
    "北見市南3条西",
    "北見市常盤町",
    "北見市高栄東町",
    "北見市端野町",
    "北見市留辺蘂町",
    "北見市常呂町",
    "北見市美山町",
    "北見市三輪",
]
BUILDINGS = ["コーポ北見", "ハイツ常盤", "メゾン端野", "グランドール北見"]
MUNICIPALITY = "012084"

# Parts of compound names, so that a large register has realistic variety (hundreds of
# thousands of distinct full names) next to the heavy hitters of FAMILY.
_FAMILY_PARTS = [
    ("山", "ヤマ"), ("田", "タ"), ("中", "ナカ"), ("高", "タカ"), ("小", "コ"), ("大", "オオ"),
    ("石", "イシ"), ("松", "マツ"), ("木", "キ"), ("森", "モリ"), ("池", "イケ"), ("岡", "オカ"),
    ("藤", "フジ"), ("長", "ナガ"), ("北", "キタ"), ("西", "ニシ"), ("東", "ヒガシ"),
    ("南", "ミナミ"), ("川", "カワ"), ("村", "ムラ"), ("上", "カミ"), ("下", "シモ"), ("野", "ノ"),
    ("原", "ハラ"), ("島", "シマ"), ("橋", "ハシ"), ("本", "モト"), ("井", "イ"), ("谷", "タニ"),
    ("沢", "サワ"), ("宮", "ミヤ"), ("崎", "サキ"), ("浜", "ハマ"), ("平", "ヒラ"), ("吉", "ヨシ"),
    ("今", "イマ"), ("内", "ウチ"), ("福", "フク"), ("竹", "タケ"), ("坂", "サカ"),
]  # fmt: skip
_GIVEN_HEAD = [
    ("健", "ケン"), ("大", "ダイ"), ("翔", "ショウ"), ("拓", "タク"), ("和", "カズ"),
    ("正", "マサ"), ("浩", "ヒロ"), ("隆", "タカ"), ("直", "ナオ"), ("智", "トモ"), ("美", "ミ"),
    ("真", "マ"), ("由", "ユ"), ("恵", "ケイ"), ("千", "チ"), ("春", "ハル"), ("秋", "アキ"),
    ("夏", "ナツ"), ("陽", "ヨウ"), ("優", "ユウ"), ("光", "ミツ"), ("信", "ノブ"), ("秀", "ヒデ"),
    ("達", "タツ"), ("幸", "ユキ"), ("康", "ヤス"), ("悠", "ユウ"), ("彩", "アヤ"), ("理", "リ"),
    ("紀", "ノリ"),
]  # fmt: skip
_GIVEN_TAIL_M = [
    ("太", "タ"), ("介", "スケ"), ("也", "ヤ"), ("人", "ト"), ("郎", "ロウ"),
    ("樹", "キ"), ("斗", "ト"), ("彦", "ヒコ"), ("男", "オ"), ("雄", "オ"),
]  # fmt: skip
_GIVEN_TAIL_F = [
    ("子", "コ"), ("美", "ミ"), ("香", "カ"), ("奈", "ナ"), ("恵", "エ"),
    ("代", "ヨ"), ("江", "エ"), ("菜", "ナ"), ("乃", "ノ"), ("花", "カ"),
]  # fmt: skip


def _family(rng: random.Random) -> tuple[str, str]:
    if rng.random() < 0.3:
        return rng.choice(FAMILY)
    (a, ka), (b, kb) = rng.choice(_FAMILY_PARTS), rng.choice(_FAMILY_PARTS)
    return a + b, ka + kb


def _given_name(rng: random.Random, sex: str) -> tuple[str, str]:
    if rng.random() < 0.3:
        return rng.choice(GIVEN_M if sex == "male" else GIVEN_F)
    (a, ka) = rng.choice(_GIVEN_HEAD)
    (b, kb) = rng.choice(_GIVEN_TAIL_M if sex == "male" else _GIVEN_TAIL_F)
    return a + b, ka + kb


def juminhyo_code(n: int) -> str:
    body = f"{n:010d}"
    return body + str(juminhyo_code_check_digit(body))


def my_number(n: int) -> str:
    body = f"{n:011d}"
    return body + str(my_number_check_digit(body))


def _person(
    rng: random.Random, serial: int, family: tuple[str, str], relationship: str, birth: date
) -> dict[str, Any]:
    sex = rng.choice(("male", "female"))
    given = _given_name(rng, sex)
    removed = rng.random() < 0.08
    p: dict[str, Any] = {
        "person_id": f"P{serial:08d}",
        "juminhyo_code": juminhyo_code(10_000_000 + serial * 7),
        "my_number": my_number(20_000_000_000 + serial * 13) if rng.random() < 0.9 else None,
        "version": rng.randint(1, 4),
        "status": "removed" if removed else "resident",
        "name": f"{family[0]} {given[0]}",
        "name_kana": f"{family[1]} {given[1]}",
        "birth_date": birth.isoformat(),
        "sex": sex,
        "relationship": relationship,
        "became_resident_on": (birth + timedelta(days=1)).isoformat(),
        "history": [{"date": birth.isoformat(), "kind": "出生", "note": ""}],
    }
    if removed:
        p["removed_on"] = "2020-04-01"
        p["removal_reason"] = rng.choice(("転出", "死亡"))
        if p["removal_reason"] == "転出":
            p["moved_out_to"] = "札幌市中央区北1条西2丁目"
    if rng.random() < 0.003:
        p["support_measure"] = {"until": "2099-03-31", "perpetrator_person_ids": []}
    return p


def make_households(n_persons: int, seed: int = 1) -> Iterator[dict[str, Any]]:
    rng = random.Random(seed)
    serial = 0
    hh = 0
    while serial < n_persons:
        hh += 1
        family = _family(rng)
        size = min(n_persons - serial, rng.choice((1, 1, 2, 2, 3, 4, 5)))
        head_birth = date(1930, 1, 1) + timedelta(days=rng.randint(0, 365 * 75))
        members = []
        for i in range(size):
            serial += 1
            if i == 0:
                rel, birth = "世帯主", head_birth
            elif i == 1:
                rel, birth = "妻", head_birth + timedelta(days=rng.randint(-1500, 1500))
            else:
                rel = "子"
                birth = head_birth + timedelta(days=rng.randint(365 * 20, 365 * 40))
            birth = min(birth, date(2025, 12, 31))
            members.append(_person(rng, serial, family, rel, birth))
        # A removed head still heads the record; keep at least the head resident for realism.
        members[0]["status"] = "resident"
        for k in ("removed_on", "removal_reason", "moved_out_to"):
            members[0].pop(k, None)
        town = rng.choice(TOWNS)
        katagaki = (
            f"{rng.choice(BUILDINGS)}{rng.randint(1, 5)}0{rng.randint(1, 9)}号室"
            if rng.random() < 0.3
            else None
        )
        street = f"{rng.randint(1, 30)}丁目{rng.randint(1, 40)}番地{rng.randint(1, 20)}"
        yield {
            "household_id": f"H{hh:08d}",
            "municipality_code": MUNICIPALITY,
            "postal_code": f"090-{rng.randint(0, 9999):04d}",
            "address": town + street,
            "katagaki": katagaki,
            "head_person_id": members[0]["person_id"],
            "members": members,
        }
