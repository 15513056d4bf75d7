"""Write a small terminal cache as this release makes it, for tests/store/test_store_old_files.py.

    uv run python tools/make_cache_fixture.py        # → tests/fixtures/caches/v<N>.db + .json

Run it once per release whose schema changed (never rewrite an existing file): every later
migration is then tested on a real file of each older release. The cache holds a few
households from the feed, an operator and the policy, a certificate issued with its outbox
event, a card desk event, a filed 住民異動届 (since v10), and the audit chain; the JSON beside
it holds the key (a fixed test key, nothing real) and the facts the test checks after
migrating.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ed25519

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.store.audit import AuditAction, AuditChain, signer_for  # noqa: E402
from app.store.db import Cache, create_cache  # noqa: E402
from app.store.migrations import LATEST_VERSION  # noqa: E402
from app.sync.protocol import (  # noqa: E402
    CardEventPayload,
    CertificateIssuedPayload,
    ChangeItem,
    new_event,
)
from app.synthetic.generator import household_dicts  # noqa: E402

OUT = ROOT / "tests" / "fixtures" / "caches"
# Test keys, fixed so that the file can be opened by the test; they protect nothing real.
DEK = bytes(range(32))
AUDIT_KEY_SEED = bytes(range(32, 64))
TERMINAL = "0001"
AT = datetime(2026, 11, 26, 0, 30, tzinfo=UTC)


def main() -> int:
    target = OUT / f"v{LATEST_VERSION}.db"
    if target.exists():
        print(f"{target} exists: a release's file is never rewritten", file=sys.stderr)
        return 1
    OUT.mkdir(parents=True, exist_ok=True)
    households = list(household_dicts(20, seed=18))
    items = [
        ChangeItem(
            seq=i + 1,
            kind="household",
            key=h["household_id"],
            version=max(m["version"] for m in h["members"]),
            data=h,
        )
        for i, h in enumerate(households)
    ]
    n = len(items)
    operator = {
        "operator_id": "op1",
        "display_name": "窓口 一郎",
        "roles": ["issuer"],
        "branch": "端野",
    }
    items += [
        ChangeItem(seq=n + 1, kind="operator", key="op1", version=1, data=operator),
        ChangeItem(seq=n + 2, kind="policy", key="policy", version=1, data={"fee_yen": 350}),
    ]
    cache = create_cache(target, DEK)
    cache.apply_changes(items, n + 2)
    cache.mark_pull_complete(AT)
    chain = AuditChain(
        cache, TERMINAL, signer_for(ed25519.Ed25519PrivateKey.from_private_bytes(AUDIT_KEY_SEED))
    )
    person = households[0]["members"][0]
    with cache.transaction():
        no = cache.next_issuance_no(TERMINAL, AT.date())
        issued = new_event(
            CertificateIssuedPayload(
                issuance_no=no,
                kind="household",
                household_id=households[0]["household_id"],
                person_ids=[person["person_id"]],
                copies=1,
                fee_yen=350,
                requester_kind="self",
                content_digest="0" * 64,
            ),
            event_id="00000000-0000-4000-8000-000000000001",
            occurred_at=AT,
            operator_id="op1",
            terminal_no=TERMINAL,
            relied_versions={person["person_id"]: person["version"]},
        )
        cache.record_issuance(
            issuance_no=no,
            terminal_no=TERMINAL,
            issued_at=AT,
            operator_id="op1",
            kind="household",
            household_id=households[0]["household_id"],
            person_ids=[person["person_id"]],
            copies=1,
            fee_yen=350,
            requester_kind="self",
            id_document="drivers_license",
            content_digest="0" * 64,
            event_factory=lambda _no: issued,
        )
        chain.append("op1", AuditAction.ISSUE_CERTIFICATE, [no, person["person_id"]], at=AT)
    card = new_event(
        CardEventPayload(action="交付", person_id=person["person_id"], details={"reason": ""}),
        event_id="00000000-0000-4000-8000-000000000002",
        occurred_at=AT,
        operator_id="op1",
        terminal_no=TERMINAL,
    )
    cache.outbox_add(card)
    filed = _notification(cache, households[0])
    chain.append("op1", AuditAction.SEARCH, [person["person_id"]], at=AT)
    cache.close()
    facts = {
        "schema_version": LATEST_VERSION,
        "dek": DEK.hex(),
        "audit_key_seed": AUDIT_KEY_SEED.hex(),
        "terminal_no": TERMINAL,
        "cursor": n + 2,
        "households": len(households),
        "persons": sum(len(h["members"]) for h in households),
        "household": households[0],
        "issuance_no": no,
        "outbox": [issued.event_id, card.event_id, filed],
        "notifications": [filed],
        "audit_entries": 2,
        "fee_yen": 350,
    }
    target.with_suffix(".json").write_text(
        json.dumps(facts, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
    )
    print(f"{target} ({target.stat().st_size:,} bytes)")
    return 0


def _notification(cache: Cache, household: dict[str, Any]) -> str:
    """A 転居 of the household filed at this terminal (cache v10): its row and its event."""
    from datetime import timedelta

    from app.domain.certificates import IdentityDocument
    from app.domain.notifications import (
        Address,
        Filer,
        FilerKind,
        NotificationDraft,
        Procedure,
        propose_households,
    )
    from app.domain.notifications.drafts import address_of, movers_of
    from app.domain.records import parse_household
    from app.sync.notification_protocol import NotificationFiledPayload

    h = parse_household(household)
    ids = [p.person_id for p in h.members if p.status == "resident"]
    draft = NotificationDraft(
        notification_id="00000000-0000-4000-8000-000000000003",
        procedure=Procedure.MOVE_WITHIN,
        municipality_code=h.municipality_code,
        office="端野",
        filed_on=AT.date(),
        moved_on=AT.date() - timedelta(days=2),
        filer=Filer(kind=FilerKind.SELF, name=h.head.name, person_id=h.head_person_id),
        movers=movers_of(h, ids),
        households=propose_households(Procedure.MOVE_WITHIN, h, tuple(ids)),
        old_address=address_of(h),
        new_address=Address(text="北海道北見市北進町123番地4"),
        source_household_id=h.household_id,
        relied_versions={p.person_id: p.version for p in h.members if p.status == "resident"},
        identity_documents=(IdentityDocument.DRIVERS_LICENSE,),
    )
    payload = NotificationFiledPayload(
        notification_id=draft.notification_id,
        draft=draft,
        form_digest="0" * 64,
        printed_at=AT,
        signature_confirmed_by="op1",
    )
    event = new_event(
        payload,
        event_id=draft.notification_id,
        occurred_at=AT,
        operator_id="op1",
        terminal_no=TERMINAL,
        relied_versions=dict(draft.relied_versions),
    )
    cache.record_notification(
        draft=draft, form_digest="0" * 64, filed_at=AT, operator_id="op1", event=event
    )
    return draft.notification_id


if __name__ == "__main__":
    raise SystemExit(main())
