"""The demo's pending 住民異動届: a few 届出 "filed at the counter" of the demo terminal, waiting
for the head office's 審査 (the 届出審査 tab of review01, or `madoguchi-server notification`).

They go through the server's own path for a filed event (server/events.py → notifications.py),
so they are checked and stored exactly as a real filing; drafts are built from households of
the synthetic register (residents only, none under 支援措置).
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import select

from app.domain.certificates import IdentityDocument, Municipality
from app.domain.notifications import (
    Address,
    Filer,
    FilerKind,
    NotificationDraft,
    Procedure,
    Register,
    propose_households,
    touched_person_ids,
)
from app.domain.notifications.drafts import address_of, movers_of
from app.domain.notifications.forms import build_notification_form, form_digest
from app.domain.records import Household, parse_line
from app.sync.notification_protocol import NotificationFiledPayload
from app.sync.protocol import Event, Policy

JST = timezone(timedelta(hours=9))
NEW_ADDRESSES = (
    Address(text="北海道北見市北進町123番地4", katagaki="北進ハイツ202号室"),
    Address(text="北海道北見市幸町3丁目4番5号"),
)


def _plain_households(db: Any, wanted: int, today: Any) -> list[Household]:
    from server.register_crypto import reveal
    from server.tables import households

    out: list[Household] = []
    with db.read() as conn:
        for (data,) in conn.execute(select(households.c.data).order_by(households.c.household_id)):
            h = parse_line(reveal(db.register_cipher, data))  # the 個人番号 are sealed at rest
            residents = [p for p in h.members if p.status == "resident"]
            if (
                len(residents) >= 2
                and len(residents) == len(h.members)
                and not any(p.is_protected_on(today) or p.is_foreign for p in h.members)
                and h.household_id.startswith("H0")
            ):
                out.append(h)
            if len(out) >= wanted:
                break
    return out


def _drafts(households: list[Household], today: Any, office: str) -> list[NotificationDraft]:
    drafts = []
    docs = (IdentityDocument.DRIVERS_LICENSE,)
    for n, h in enumerate(households):
        ids = [p.person_id for p in h.members]
        head = h.head
        filer = Filer(kind=FilerKind.SELF, name=head.name, person_id=head.person_id)
        common: dict[str, Any] = {
            "notification_id": str(uuid.uuid4()),
            "municipality_code": h.municipality_code,
            "office": office,
            "filed_on": today,
            "filer": filer,
            "old_address": address_of(h),
            "source_household_id": h.household_id,
            "identity_documents": docs,
        }
        if n % 3 == 0:  # 転居 of the whole household
            drafts.append(
                NotificationDraft(
                    procedure=Procedure.MOVE_WITHIN,
                    moved_on=today - timedelta(days=3),
                    movers=movers_of(h, ids),
                    households=propose_households(Procedure.MOVE_WITHIN, h, tuple(ids)),
                    new_address=NEW_ADDRESSES[n % len(NEW_ADDRESSES)],
                    **common,
                )
            )
        elif n % 3 == 1:  # 世帯分離 of the youngest
            youngest = max(h.members, key=lambda p: p.birth_date)
            drafts.append(
                NotificationDraft(
                    procedure=Procedure.SEPARATION,
                    moved_on=today - timedelta(days=1),
                    movers=movers_of(h, [youngest.person_id]),
                    households=propose_households(Procedure.SEPARATION, h, (youngest.person_id,)),
                    **{
                        **common,
                        "filer": Filer(
                            kind=FilerKind.SELF, name=youngest.name, person_id=youngest.person_id
                        ),
                    },
                )
            )
        else:  # 転出 to 札幌, ahead of the move
            drafts.append(
                NotificationDraft(
                    procedure=Procedure.MOVE_OUT,
                    moved_on=today + timedelta(days=7),
                    movers=movers_of(h, ids),
                    new_address=Address(text="北海道札幌市中央区北1条西2丁目1番地"),
                    destination_head_name=head.name,
                    **common,
                )
            )
    return drafts


def _with_relied(draft: NotificationDraft, register: Register) -> NotificationDraft:
    from msgspec.structs import replace

    versions = {}
    for pid in touched_person_ids(draft, register):
        p = register.person(pid)
        if p is not None:
            versions[pid] = p.version
    return replace(draft, relied_versions=versions)


def seed_pending(
    server: Any, terminal_no: str, operator_id: str, office: str, count: int = 3
) -> int:
    """File `count` 届出 at the demo terminal's number; returns how many are pending."""
    from server import events

    now = datetime.now(JST)
    today = now.date()
    policy = Policy()
    municipality = Municipality(
        name=server.config.municipality_name or "北見市",
        mayor_title=policy.mayor_title,
        mayor_name=policy.mayor_name,
    )
    households = _plain_households(server.db, count, today)
    filed = 0
    for h, draft in zip(households, _drafts(households, today, office), strict=True):
        register = Register.of([h])
        draft = _with_relied(draft, register)
        payload = NotificationFiledPayload(
            notification_id=draft.notification_id,
            draft=draft,
            form_digest=form_digest(build_notification_form(draft, register, municipality)),
            printed_at=now,
            signature_confirmed_by=operator_id,
        )
        event = Event(
            event_id=draft.notification_id,
            type="notification_filed",
            occurred_at=now,
            operator_id=operator_id,
            terminal_no=terminal_no,
            relied_versions=dict(draft.relied_versions),
            payload=json.loads(payload.model_dump_json()),
        )
        result = events.apply_one(server.db, terminal_no, event)
        filed += result.status in ("accepted", "conflict")
    return filed
