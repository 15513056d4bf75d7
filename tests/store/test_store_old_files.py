"""Cache files written by earlier releases (tests/fixtures/caches, made by
tools/make_cache_fixture.py) open with their key and migrate to the current schema with nothing
lost: the register, the search, the outbox, the issuance, the audit chain and its signatures."""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from app.domain.addresses import search_key
from app.store.audit import AuditChain
from app.store.db import open_cache
from app.store.migrations import LATEST_VERSION
from app.store.search import SearchQuery

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "caches"
FILES = sorted(FIXTURES.glob("v*.db"), key=lambda p: int(p.stem[1:]))


def test_there_is_a_file_of_the_current_schema() -> None:
    # The files of the earlier releases test a new migration; a release that changes the schema
    # adds its own file (tools/make_cache_fixture.py) for the migrations after it.
    assert FILES and int(FILES[-1].stem[1:]) == LATEST_VERSION, (
        "the schema changed: run tools/make_cache_fixture.py to add this release's file"
    )


@pytest.mark.parametrize("fixture", FILES, ids=[p.stem for p in FILES])
def test_an_old_file_opens_and_migrates(fixture: Path, tmp_path: Path) -> None:
    facts: dict[str, Any] = json.loads(fixture.with_suffix(".json").read_text("utf-8"))
    path = tmp_path / "cache.db"
    shutil.copyfile(fixture, path)  # the committed file itself is never changed
    with open_cache(path, bytes.fromhex(facts["dek"])) as cache:
        assert cache.schema_version() == LATEST_VERSION
        assert cache.cursor() == facts["cursor"]
        counts = cache.counts()
        assert counts["households"] == facts["households"]
        assert counts["persons"] == facts["persons"]
        household = facts["household"]
        assert cache.household_data(household["household_id"]) == household
        person = household["members"][0]
        hits = cache.search(SearchQuery(name=person["name"]), today=date(2026, 11, 26)).hits
        assert person["person_id"] in {h.person_id for h in hits}
        # v12: the address keys recomputed by search_key: the 街区 typed with dashes is found
        # (「北5条東6丁目11番5号」 as 「北5条東6-11-5」).
        dashed = search_key(household["address"]).removeprefix("北海道北見市")
        assert "-" in dashed and "丁目" not in dashed and "番" not in dashed
        hits = cache.search(SearchQuery(address=dashed), today=date(2026, 11, 26)).hits
        assert person["person_id"] in {h.person_id for h in hits}
        assert cache.operator("op1") is not None and cache.policy().fee_yen == facts["fee_yen"]
        assert [e.event_id for e in cache.outbox_pending(10)] == facts["outbox"]
        # v10: the 住民異動届 filed at the terminal (none in the files of earlier releases).
        filed = [n.notification_id for n in cache.notifications_filed()]
        assert filed == facts.get("notifications", [])
        issuance = cache.issuance(facts["issuance_no"])
        assert issuance.person_ids == (person["person_id"],) and not issuance.voided
        key = ed25519.Ed25519PrivateKey.from_private_bytes(bytes.fromhex(facts["audit_key_seed"]))
        chain = AuditChain(cache, facts["terminal_no"], lambda data: key.sign(data))
        assert len(chain.entries()) == facts["audit_entries"]
        assert chain.verify(key.public_key()) == []
        # And the migrated file goes on working: the next number follows the old one.
        assert cache.next_issuance_no(facts["terminal_no"], date(2026, 11, 26)).endswith("-0002")
