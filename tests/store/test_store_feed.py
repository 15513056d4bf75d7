"""Applying the change feed: households, operators, policy, terminal, cursor, digest."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import pytest

from app.domain.errors import ValidationError
from app.domain.records import household_to_dict
from app.store.db import Cache
from app.store.errors import NotFound, StoreError
from app.store.search import SearchQuery
from app.sync.protocol import DIGEST_BUCKETS, ChangeItem, Policy, bucket_digest, bucket_of

from .conftest import household_items
from .households import make_households


def test_household_round_trips_exactly(cache: Cache) -> None:
    households = list(make_households(60, seed=5))
    cache.apply_changes(household_items(households), 42)
    assert cache.cursor() == 42
    for h in households:
        assert cache.household_data(h["household_id"]) == h
        parsed = cache.household(h["household_id"])
        # Every field survives, IVS included (names are never normalised).
        assert household_to_dict(parsed)["members"][0]["name"] == h["members"][0]["name"]
        for m in h["members"]:
            person, hid = cache.person(m["person_id"])
            assert hid == h["household_id"]
            assert person.name == m["name"]
            assert cache.find_by_juminhyo_code(m["juminhyo_code"])[0].person_id == m["person_id"]
            if m["my_number"]:
                assert cache.find_by_my_number(m["my_number"])[0].person_id == m["person_id"]
    assert cache.counts()["persons"] == 60
    assert cache.find_by_juminhyo_code("00000000000") is None
    with pytest.raises(NotFound):
        cache.household("nope")


def test_every_item_comes_back_as_it_arrived(cache: Cache) -> None:
    """The optional items (本籍, 在留資格, 支援措置 ...) are kept, exactly, in the raw JSON."""
    h = next(make_households(3, seed=2))
    m = h["members"][0]
    m.update(
        former_name="旧姓", alias="通称名", alias_kana="ツウショウメイ", honseki="北見市本籍1番",
        hittosha="山田 一郎", previous_address="網走市南1条", nationality="韓国",
        residence_status="永住者", period_of_stay_until="2030-01-01",
        residence_card_number="AB12345678CD", article_30_45="中長期在留者",
        support_measure={"until": "2099-01-01", "perpetrator_person_ids": ["P9"]},
    )  # fmt: skip
    cache.apply_changes(household_items([h]), 1)
    assert cache.household_data(h["household_id"]) == h
    person, household_id = cache.person(m["person_id"])
    assert household_id == h["household_id"]
    assert (person.honseki, person.nationality, person.period_of_stay_until.isoformat()) == (
        "北見市本籍1番",
        "韓国",
        "2030-01-01",
    )
    assert person.support_measure is not None
    assert person.support_measure.perpetrator_person_ids == ("P9",)
    assert person.history[0].kind == "出生"
    # Search marks the person as protected (support_until is a column of its own).
    hit = cache.search(SearchQuery(juminhyo_code=m["juminhyo_code"])).hits[0]
    assert hit.protected


def test_bad_item_rolls_back_the_whole_page(cache: Cache) -> None:
    households = list(make_households(30, seed=7))
    bad = copy.deepcopy(households[5])
    bad["members"][0]["juminhyo_code"] = "12345678901"  # wrong check digit
    items = household_items([*households[:5], bad])
    with pytest.raises(ValidationError):
        cache.apply_changes(items, 6)
    assert cache.cursor() == 0
    assert cache.counts()["households"] == 0
    cache.apply_changes([], 5)  # an empty page still advances the cursor
    assert cache.cursor() == 5
    with pytest.raises(StoreError):  # the cursor never goes back
        cache.apply_changes([], 4)


def test_update_move_and_delete(cache: Cache) -> None:
    a, b = [h for h in make_households(40, seed=9) if len(h["members"]) > 1][:2]
    cache.apply_changes(household_items([a, b]), 2)
    mover = a["members"][-1]
    a2 = copy.deepcopy(a)
    a2["members"] = a2["members"][:-1]
    b2 = copy.deepcopy(b)
    moved = copy.deepcopy(mover)
    moved["version"] += 1
    moved["relationship"] = "同居人"
    b2["members"].append(moved)
    # The new household arrives first: the person's old row must not linger or collide.
    cache.apply_changes(household_items([b2, a2], first_seq=3), 4)
    assert cache.person(mover["person_id"])[1] == b["household_id"]
    assert cache.person(mover["person_id"])[0].relationship == "同居人"
    assert len(cache.household(a["household_id"]).members) == len(a["members"]) - 1
    cache.apply_changes(
        [ChangeItem(seq=5, kind="household", key=b["household_id"], version=9, deleted=True)], 5
    )
    with pytest.raises(NotFound):
        cache.household(b["household_id"])
    with pytest.raises(NotFound):
        cache.person(b["members"][0]["person_id"])
    n = cache.connection.execute(
        "SELECT count(*) FROM search_keys WHERE household_id = ?", (b["household_id"],)
    ).fetchone()[0]
    assert n == 0


def test_moves_renames_and_notes_reach_search(cache: Cache) -> None:
    """Each row a change touches is updated in place (only its changed columns): search by
    name + address, address alone and name sees a move, a change of name and a 方書."""
    h = next(h for h in make_households(40, seed=3) if len(h["members"]) > 1)
    cache.apply_changes(household_items([h]), 1)
    head = h["members"][0]
    family = head["name_kana"].split(" ")[0]
    old_address = h["address"]

    def found(**kw) -> set[str]:
        return {x.person_id for x in cache.search(SearchQuery(**kw), limit=500).hits}

    members = {m["person_id"] for m in h["members"]}
    assert head["person_id"] in found(name=family, address=old_address)
    moved = copy.deepcopy(h)
    moved["address"], moved["katagaki"] = "北見市留辺蘂町旭1番地", "ハイツ旭202"
    for m in moved["members"]:
        m["version"] += 1
    cache.apply_changes(household_items([moved], first_seq=2), 2)
    assert head["person_id"] in found(name=family, address="北見市留辺蘂町旭")
    assert head["person_id"] in found(name=family, address="ハイツ旭")
    assert found(name=family, address=old_address) & members == set()
    assert found(address="北見市留辺蘂町旭") == members == found(address="ハイツ旭202")

    renamed = copy.deepcopy(moved)
    renamed["members"][0].update(
        name="改姓 一郎", name_kana="カイセイ イチロウ", version=head["version"] + 2
    )
    cache.apply_changes(household_items([renamed], first_seq=3), 3)
    assert found(name="かいせい", address="北見市留辺蘂町") == {head["person_id"]}
    assert head["person_id"] not in found(name=family, address="北見市留辺蘂町")
    assert head["person_id"] not in found(name=head["name"])
    assert found(name="改姓一郎") == {head["person_id"]}
    assert cache.household(h["household_id"]).katagaki == "ハイツ旭202"


def test_operator_policy_terminal(cache: Cache) -> None:
    assert cache.policy() == Policy()
    profile = {
        "operator_id": "op1", "display_name": "窓口 一郎", "roles": ["clerk"], "branch": "端野",
    }  # fmt: skip
    items = [
        ChangeItem(seq=1, kind="operator", key="op1", version=1, data=profile),
        ChangeItem(seq=2, kind="policy", key="policy", version=1,
                   data={"max_staleness_hours": 12, "fee_yen": 350}),
        ChangeItem(seq=3, kind="terminal", key="0001", version=1, data={"revoked": False}),
    ]  # fmt: skip
    cache.apply_changes(items, 3)
    assert cache.operator("op1").branch == "端野"
    assert cache.operator("op2") is None
    assert cache.policy().max_staleness_hours == 12 and cache.policy().fee_yen == 350
    assert not cache.terminal_revoked("0001")
    cache.apply_changes(
        [
            ChangeItem(seq=4, kind="operator", key="op1", version=2, deleted=True),
            ChangeItem(seq=5, kind="terminal", key="0001", version=2, data={"revoked": True}),
            # Every terminal's item reaches every terminal: a later one for another terminal
            # does not undo (or stand for) terminal 0001's.
            ChangeItem(seq=6, kind="terminal", key="0002", version=1, data={"revoked": False}),
        ],
        6,
    )
    assert cache.operator("op1") is None
    assert cache.terminal_revoked("0001")
    assert not cache.terminal_revoked("0002")


def test_pull_complete_time(cache: Cache) -> None:
    assert cache.last_complete_pull() is None
    at = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)
    cache.mark_pull_complete(at)
    assert cache.last_complete_pull() == at
    with pytest.raises(ValueError):
        cache.mark_pull_complete(datetime(2026, 1, 1))


def _expected_digest(households: list[dict]) -> list[str]:
    """Independent of the store: the protocol's rule over the interchange data."""
    pairs: list[list[tuple[str, int]]] = [[] for _ in range(DIGEST_BUCKETS)]
    for h in households:
        v = max(m["version"] for m in h["members"])
        pairs[bucket_of(h["household_id"])].append((h["household_id"], v))
    return [bucket_digest(p) for p in pairs]


def test_digest_and_bucket_repair(cache: Cache) -> None:
    households = list(make_households(400, seed=4))
    cache.apply_changes(household_items(households), len(households))
    digest = cache.bucket_digest()
    assert digest.bucket_count == DIGEST_BUCKETS
    assert digest.buckets == _expected_digest(households)
    k = bucket_of(households[0]["household_id"])
    in_k = [h for h in households if bucket_of(h["household_id"]) == k]
    assert [h.household_id for h in cache.households_in_bucket(k)] == sorted(
        h["household_id"] for h in in_k
    )
    # The server's bucket: one household changed, one gone, one new.
    server = copy.deepcopy(in_k)
    server[0]["members"][0]["version"] += 5
    gone = server.pop() if len(server) > 1 else None
    cache.replace_bucket(k, server)
    assert cache.household_data(server[0]["household_id"]) == server[0]
    if gone is not None:
        with pytest.raises(NotFound):
            cache.household(gone["household_id"])
    expected = [h for h in households if bucket_of(h["household_id"]) != k] + server
    assert cache.bucket_digest().buckets == _expected_digest(expected)
    other = next(h for h in households if bucket_of(h["household_id"]) != k)
    with pytest.raises(ValidationError):
        cache.replace_bucket(k, [other])
