"""Households and persons in the cache: applying the change feed, lookups, anti-entropy.

Every household is stored twice: its raw interchange JSON (so it round-trips exactly, IVS and
key order included) and one column per field (households, persons) plus search keys.

Anti-entropy digest (protocol v1): `buckets[k] = app.sync.protocol.bucket_digest(pairs)` over
the (household_id, version) pairs of the households with `bucket_of(household_id) == k`, where
version is the household's version (the max of its members' 住民票版数, `Household.version`,
as the server stores it). protocol.bucket_digest is the one rule both sides call.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from app.domain.errors import ValidationError
from app.domain.records import (
    PERSON_OPTIONAL_DATES,
    PERSON_OPTIONAL_TEXT,
    Household,
    Person,
    parse_household,
)
from app.sync.protocol import (
    DIGEST_BUCKETS,
    ChangeItem,
    Digest,
    OperatorProfile,
    Policy,
    bucket_digest,
    bucket_of,
)

from .base import CacheBase
from .errors import NotFound, StoreError
from .search import address_key, person_keys

# The person's optional items, in column order (the record format owns the list).
_PERSON_TEXT = PERSON_OPTIONAL_TEXT
_PERSON_DATES = PERSON_OPTIONAL_DATES
_PERSON_COLUMNS = (
    "person_id",
    "household_id",
    "ord",
    "juminhyo_code",
    "my_number",
    "my_number_tag",
    "version",
    "status",
    "name",
    "name_kana",
    "birth_date",
    "sex",
    "relationship",
    *_PERSON_TEXT,
    *_PERSON_DATES,
    "support_until",
    "support_measure",
    "history",
    "name_key",
    "kana_key",
)
_INSERT_PERSON = (
    f"INSERT OR REPLACE INTO persons ({', '.join(_PERSON_COLUMNS)})"
    f" VALUES ({', '.join('?' * len(_PERSON_COLUMNS))})"
)
_INSERT_KEY = (
    "INSERT OR REPLACE INTO search_keys (key, person_id, kind, removed, birth_date, sex,"
    " household_id, kana, address_key, katagaki_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def _iso(d: Any) -> str | None:
    return None if d is None else d.isoformat()


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


class ResidentsMixin(CacheBase):
    _tag_key: bytes

    # -- the change feed ----------------------------------------------------------------------

    def apply_changes(self, items: list[ChangeItem], next_after: int) -> None:
        """Apply one page of the feed and advance the cursor to `next_after`, in ONE transaction.

        Households are validated with parse_household; a malformed item raises ValidationError
        and nothing of the page is applied (the cursor stays where it was).
        """
        with self.transaction() as conn:
            current = int(self._meta_get("cursor") or 0)
            if next_after < current:
                raise StoreError(f"同期の位置が戻っています(現在 {current}、受信 {next_after})。")
            for item in items:
                self._apply_item(conn, item)
            conn.execute("UPDATE meta SET v = ? WHERE k = 'cursor'", (str(next_after),))

    def _apply_item(self, conn: Any, item: ChangeItem) -> None:
        if item.kind == "household":
            if item.deleted:
                self._delete_household(conn, item.key)
                return
            if item.data is None:
                raise ValidationError("data", f"変更{item.seq}: 世帯のデータがありません。")
            household = parse_household(item.data)
            if household.household_id != item.key:
                raise ValidationError("key", f"変更{item.seq}: 世帯IDがキーと一致しません。")
            self._put_household(conn, household, _dumps(item.data))
        elif item.kind == "operator":
            if item.deleted:
                conn.execute("DELETE FROM operators WHERE operator_id = ?", (item.key,))
                return
            profile = OperatorProfile.model_validate(item.data)
            conn.execute(
                "INSERT OR REPLACE INTO operators(operator_id, version, data) VALUES (?, ?, ?)",
                (profile.operator_id, item.version, profile.model_dump_json()),
            )
        elif item.kind == "policy":
            if item.deleted:
                conn.execute("DELETE FROM meta WHERE k = 'policy'")
                return
            policy = Policy.model_validate(item.data)
            conn.execute(
                "INSERT OR REPLACE INTO meta(k, v) VALUES ('policy', ?)",
                (policy.model_dump_json(),),
            )
        elif item.kind == "terminal":
            revoked = bool((item.data or {}).get("revoked", False)) or item.deleted
            conn.execute(
                "INSERT OR REPLACE INTO meta(k, v) VALUES ('terminal_revoked', ?)",
                ("1" if revoked else "0",),
            )

    def _my_number_tag(self, number: str) -> bytes:
        return hmac.new(self._tag_key, number.encode("ascii"), hashlib.sha256).digest()

    def _delete_household(self, conn: Any, household_id: str) -> None:
        conn.execute(
            "DELETE FROM search_keys WHERE person_id IN"
            " (SELECT person_id FROM persons WHERE household_id = ?)",
            (household_id,),
        )
        conn.execute("DELETE FROM persons WHERE household_id = ?", (household_id,))
        conn.execute("DELETE FROM households WHERE household_id = ?", (household_id,))

    def _put_household(self, conn: Any, h: Household, raw: str) -> None:
        # Persons who left this household, and persons who arrive from another one, lose their
        # old rows (the other household's own change follows in the feed).
        new_ids = [m.person_id for m in h.members]
        marks = ",".join("?" * len(new_ids))
        existing = conn.execute(
            "SELECT person_id FROM persons WHERE household_id = ?"
            f" UNION SELECT person_id FROM persons WHERE person_id IN ({marks})",
            (h.household_id, *new_ids),
        ).fetchall()
        if existing:  # nothing to delete on an initial sync: skip the statements
            conn.executemany("DELETE FROM search_keys WHERE person_id = ?", existing)
            conn.executemany("DELETE FROM persons WHERE person_id = ?", existing)
        akey = address_key(h.address)
        kkey = address_key(h.katagaki) if h.katagaki else None
        conn.execute(
            "INSERT OR REPLACE INTO households (household_id, version, bucket, municipality_code,"
            " postal_code, address, katagaki, head_person_id, address_key, katagaki_key, raw)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                h.household_id,
                h.version,
                bucket_of(h.household_id),
                h.municipality_code,
                h.postal_code,
                h.address,
                h.katagaki,
                h.head_person_id,
                akey,
                kkey,
                raw,
            ),
        )
        person_rows = []
        key_rows = []
        for ord_, p in enumerate(h.members):
            name_key, kana, keys = person_keys(p)
            person_rows.append(self._person_row(h.household_id, ord_, p, name_key, kana))
            removed = 1 if p.is_removed else 0
            birth = p.birth_date.isoformat()
            for key, kind in keys.items():
                key_rows.append(
                    (key, p.person_id, kind, removed, birth, p.sex, h.household_id, kana,
                     akey, kkey)
                )  # fmt: skip
        conn.executemany(_INSERT_PERSON, person_rows)
        conn.executemany(_INSERT_KEY, key_rows)

    def _person_row(
        self, household_id: str, ord_: int, p: Person, name_key: str, kana_key: str
    ) -> tuple[Any, ...]:
        support = None
        if p.support_measure is not None:
            support = _dumps(
                {
                    "until": p.support_measure.until.isoformat(),
                    "perpetrator_person_ids": list(p.support_measure.perpetrator_person_ids),
                }
            )
        history = _dumps(
            [{"date": e.date.isoformat(), "kind": e.kind, "note": e.note} for e in p.history]
        )
        return (
            p.person_id,
            household_id,
            ord_,
            p.juminhyo_code,
            p.my_number,
            None if p.my_number is None else self._my_number_tag(p.my_number),
            p.version,
            p.status,
            p.name,
            p.name_kana,
            p.birth_date.isoformat(),
            p.sex,
            p.relationship,
            *(getattr(p, f) for f in _PERSON_TEXT),
            *(_iso(getattr(p, f)) for f in _PERSON_DATES),
            _iso(p.support_measure.until) if p.support_measure else None,
            support,
            history,
            name_key,
            kana_key,
        )

    # -- cursor, freshness, policy, operators -------------------------------------------------

    def cursor(self) -> int:
        return int(self._meta_get("cursor") or 0)

    def mark_pull_complete(self, at: datetime) -> None:
        """Record the time of the last pull that reached the server's latest seq (tz-aware)."""
        if at.tzinfo is None:
            raise ValueError("mark_pull_complete needs a timezone-aware datetime")
        self._meta_set("last_complete_pull", at.isoformat())

    def last_complete_pull(self) -> datetime | None:
        value = self._meta_get("last_complete_pull")
        return None if value is None else datetime.fromisoformat(value)

    def policy(self) -> Policy:
        """The municipality's policy from the feed; the defaults until one arrives."""
        value = self._meta_get("policy")
        return Policy() if value is None else Policy.model_validate_json(value)

    def operator(self, operator_id: str) -> OperatorProfile | None:
        row = self._query_one("SELECT data FROM operators WHERE operator_id = ?", (operator_id,))
        return None if row is None else OperatorProfile.model_validate_json(row[0])

    def operators(self) -> list[OperatorProfile]:
        rows = self._query("SELECT data FROM operators ORDER BY operator_id")
        return [OperatorProfile.model_validate_json(r[0]) for r in rows]

    def terminal_revoked(self) -> bool:
        return self._meta_get("terminal_revoked") == "1"

    # -- lookups ------------------------------------------------------------------------------

    def household_data(self, household_id: str) -> dict[str, Any]:
        """The household exactly as it arrived (interchange-format dict)."""
        row = self._query_one("SELECT raw FROM households WHERE household_id = ?", (household_id,))
        if row is None:
            raise NotFound(f"世帯が端末にありません(世帯ID {household_id})。")
        return json.loads(row[0])

    def household(self, household_id: str) -> Household:
        return parse_household(self.household_data(household_id))

    def person(self, person_id: str) -> tuple[Person, str]:
        """(the person, their household_id)."""
        h = self.household_of_person(person_id)
        return h.member(person_id), h.household_id

    def household_of_person(self, person_id: str) -> Household:
        row = self._query_one("SELECT household_id FROM persons WHERE person_id = ?", (person_id,))
        if row is None:
            raise NotFound(f"住民が端末にありません(個人ID {person_id})。")
        return self.household(row[0])

    def find_by_juminhyo_code(self, code: str) -> tuple[Person, str] | None:
        row = self._query_one("SELECT person_id FROM persons WHERE juminhyo_code = ?", (code,))
        return None if row is None else self.person(row[0])

    def find_by_my_number(self, number: str) -> tuple[Person, str] | None:
        """Lookup through the keyed-hash index (the number itself is never an index key)."""
        row = self._query_one(
            "SELECT person_id FROM persons WHERE my_number_tag = ?", (self._my_number_tag(number),)
        )
        return None if row is None else self.person(row[0])

    def counts(self) -> dict[str, int]:
        """{"households": n, "persons": n, "removed": n} (for status displays, benchmarks)."""
        h = self._query_one("SELECT count(*) FROM households")[0]
        p, r = self._query_one("SELECT count(*), coalesce(sum(status = 'removed'), 0) FROM persons")
        return {"households": h, "persons": p, "removed": r}

    # -- anti-entropy -------------------------------------------------------------------------

    def bucket_digest(self) -> Digest:
        """Digest per the rule in this module's docstring (protocol.bucket_digest per bucket)."""
        pairs: list[list[tuple[str, int]]] = [[] for _ in range(DIGEST_BUCKETS)]
        for household_id, version, bucket in self._query(
            "SELECT household_id, version, bucket FROM households"
        ):
            pairs[bucket].append((household_id, version))
        return Digest(bucket_count=DIGEST_BUCKETS, buckets=[bucket_digest(p) for p in pairs])

    def households_in_bucket(self, k: int) -> list[Household]:
        rows = self._query(
            "SELECT raw FROM households WHERE bucket = ? ORDER BY household_id", (k,)
        )
        return [parse_household(json.loads(r[0])) for r in rows]

    def replace_bucket(self, k: int, households: Iterable[dict[str, Any] | Household]) -> None:
        """Make bucket k hold exactly `households` (the server's BucketRecords), atomically."""
        from app.domain.records import household_to_dict

        with self.transaction() as conn:
            keep: set[str] = set()
            for item in households:
                data = household_to_dict(item) if isinstance(item, Household) else item
                h = parse_household(data)
                if bucket_of(h.household_id) != k:
                    raise ValidationError(
                        "bucket", f"世帯[{h.household_id}]はバケット{k}に属しません。"
                    )
                keep.add(h.household_id)
                self._put_household(conn, h, _dumps(data))
            for (household_id,) in conn.execute(
                "SELECT household_id FROM households WHERE bucket = ?", (k,)
            ).fetchall():
                if household_id not in keep:
                    self._delete_household(conn, household_id)
