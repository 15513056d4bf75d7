"""The register as a filed 住民異動届 sees it at the server: read (and locked) for a draft,
written back after a confirmation (households and persons rows, one feed item per household),
the ids the head office allocates, the town list (server/notifications.py uses these)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from app.domain.errors import DomainError
from app.domain.notifications import (
    ChangeRecord,
    NotificationDraft,
    Register,
    referenced_person_ids,
    touched_household_ids,
)
from app.domain.notifications.towns import TownList
from app.domain.notifications.towns import load as load_towns
from app.domain.records import Household, household_to_dict, parse_line
from app.sync.protocol import bucket_of
from server.feed import append_change, dumps
from server.register_crypto import cipher_of
from server.tables import households, id_counters, persons

_towns: dict[str, TownList] = {}


def towns_for(municipality_code: str) -> TownList:
    """The 町名一覧 of the municipality (the one shipped: Kitami's)."""
    if municipality_code not in _towns:
        towns = load_towns()
        if towns.municipality_code != municipality_code:
            raise DomainError(
                f"地方公共団体コード {municipality_code} の町名一覧がありません"
                "（この市区町村の届出ではありません）。"
            )
        _towns[municipality_code] = towns
    return _towns[municipality_code]


def read_register(conn: Connection, draft: NotificationDraft, *, lock: bool = False) -> Register:
    """The households the draft touches or names a person of; `lock` takes their persons' and
    households' rows FOR UPDATE (PostgreSQL; SQLite writers are serialised anyway), so that two
    filings or confirmations touching the same persons run one after the other."""
    named = list(referenced_person_ids(draft))
    person_rows = select(persons.c.person_id, persons.c.household_id).where(
        persons.c.person_id.in_(named)
    )
    if lock:
        person_rows = person_rows.with_for_update()
    ids = set(touched_household_ids(draft))
    ids.update(r.household_id for r in conn.execute(person_rows) if named)
    query = select(households.c.household_id, households.c.data).where(
        households.c.household_id.in_(sorted(ids))
    )
    if lock:
        query = query.with_for_update()
    cipher = cipher_of(conn)  # the register's 個人番号 are sealed (server/register_crypto.py)
    found = [parse_line(cipher.reveal_text(r.data)) for r in conn.execute(query)] if ids else []
    if lock and found:
        members = [m.person_id for h in found for m in h.members]
        conn.execute(
            select(persons.c.person_id).where(persons.c.person_id.in_(members)).with_for_update()
        ).all()
    return Register.of(found)


def next_ids(conn: Connection, name: str, prefix: str, count: int, table: Any) -> list[str]:
    """`count` fresh ids from the counter `name` (the row is locked by the update), skipping any
    an import already used."""
    if count == 0:
        return []
    out: list[str] = []
    while len(out) < count:
        done = conn.execute(
            update(id_counters)
            .where(id_counters.c.name == name)
            .values(value=id_counters.c.value + 1)
        ).rowcount
        if not done:
            conn.execute(insert(id_counters).values(name=name, value=1))
        value = conn.execute(
            select(id_counters.c.value).where(id_counters.c.name == name)
        ).scalar_one()
        candidate = f"{prefix}{int(value):07d}"
        key = table.c.person_id if table is persons else table.c.household_id
        if conn.execute(select(key).where(key == candidate)).first() is None:
            out.append(candidate)
    return out


def write_households(
    conn: Connection, written: Sequence[Household], deleted: Sequence[str]
) -> dict[str, int]:
    """New states of households into the register, each with a feed item of its own; the
    households that cease are deleted (a feed item each). Returns household_id → seq."""
    seqs: dict[str, int] = {}
    cipher = cipher_of(conn)
    for h in written:
        data = cipher.seal_household(household_to_dict(h))  # 個人番号 sealed at rest
        text = dumps(data)
        version = h.version
        seq = append_change(conn, "household", h.household_id, version, data)
        seqs[h.household_id] = seq
        done = conn.execute(
            update(households)
            .where(households.c.household_id == h.household_id)
            .values(version=version, seq=seq, data=text)
        ).rowcount
        if not done:
            conn.execute(
                insert(households).values(
                    household_id=h.household_id,
                    version=version,
                    bucket=bucket_of(h.household_id),
                    seq=seq,
                    data=text,
                )
            )
        ids = [m.person_id for m in h.members]
        macs = {cipher.index(m.my_number): m.person_id for m in h.members if m.my_number}
        held = conn.execute(
            select(persons.c.person_id).where(
                persons.c.my_number_mac.in_(list(macs)), persons.c.person_id.notin_(ids)
            )
        ).first()
        if held is not None:
            # The blind index is unique: a number belongs to one person of the register.
            raise DomainError(
                f"届出の個人番号が、登録済みの別の住民(個人ID {held.person_id})と同じです。"
            )
        conn.execute(delete(persons).where(persons.c.person_id.in_(ids)))
        conn.execute(
            insert(persons),
            [
                {
                    "person_id": m.person_id,
                    "household_id": h.household_id,
                    "version": m.version,
                    "status": m.status,
                    "my_number_mac": cipher.index(m.my_number) if m.my_number else None,
                }
                for m in h.members
            ],
        )
    for household_id in deleted:
        seqs[household_id] = append_change(conn, "household", household_id, 0, None, deleted=True)
        conn.execute(delete(households).where(households.c.household_id == household_id))
        conn.execute(delete(persons).where(persons.c.household_id == household_id))
    return seqs


def history_rows(
    changes: Sequence[ChangeRecord], seqs: dict[str, int], at: datetime
) -> list[dict[str, Any]]:
    return [
        {
            "seq": seqs[c.household_id],
            "person_id": c.person_id,
            "household_id": c.household_id,
            "reason": c.reason,
            "changed_on": c.changed_on,
            "reported_on": c.reported_on,
            "kind": c.kind,
            "office": c.office,
            "notification_id": c.notification_id,
            "recorded_at": at,
        }
        for c in changes
    ]
