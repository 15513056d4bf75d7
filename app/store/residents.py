"""Households and persons in the cache: applying the change feed, lookups, anti-entropy.

Every household is stored as its raw interchange JSON (so it round-trips exactly, IVS and key
order included; `household()` parses it), with the columns that search and lookups read
(households, persons) and the folded name keys (search_keys). Two write paths, one result: the
bulk load of an initial sync and the normal path of later pages (docs/store.md, "Writing").

Anti-entropy digest (protocol v1): `buckets[k] = app.sync.protocol.bucket_digest(pairs)` over
the (household_id, version) pairs of the households with `bucket_of(household_id) == k`, where
version is the household's version (the max of its members' 住民票版数, `Household.version`,
as the server stores it). protocol.bucket_digest is the one rule both sides call.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec

from app.domain.addresses import search_key
from app.domain.errors import ValidationError
from app.domain.records import (
    Household,
    Person,
    parse_household,
    parse_line,
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
from .notifications import apply_notification_decision
from .search import person_keys

# persons holds what search, lookups and the feed need; the rest is in households.raw.
_PERSON_COLUMNS = (
    "person_id",
    "household_id",
    "ord",
    "juminhyo_code",
    "my_number_tag",
    "status",
    "name",
    "name_kana",
    "birth_date",
    "sex",
    "relationship",
    "support_until",
    "name_key",
    "kana_key",
    "key_list",
    "address_key",
    "katagaki_key",
)
_INSERT_PERSON = (
    f"INSERT OR REPLACE INTO persons ({', '.join(_PERSON_COLUMNS)})"
    f" VALUES ({', '.join('?' * len(_PERSON_COLUMNS))})"
)
_KEY_COLUMNS = "key, person_id, kind, removed, birth_date, sex, household_id, kana"
_INSERT_KEY = f"INSERT OR REPLACE INTO search_keys ({_KEY_COLUMNS}) VALUES ({', '.join('?' * 8)})"
# The search_keys rows of persons, made in SQL from their key_list ({key: kind});
# PreparedHousehold.key_rows makes the same rows in Python.
_DERIVED_KEYS = (
    "SELECT j.key, p.person_id, j.value, p.status = 'removed', p.birth_date, p.sex,"
    " p.household_id, p.kana_key FROM persons p, json_each(p.key_list) j"
)
_PERSON_SELECT = ", ".join(_PERSON_COLUMNS)
_HOUSEHOLD_COLUMNS = (
    "household_id",
    "version",
    "bucket",
    "municipality_code",
    "postal_code",
    "address",
    "katagaki",
    "head_person_id",
    "address_key",
    "katagaki_key",
    "raw",
)
# All but raw: the text always changes with the version, and is not worth reading to compare.
_HOUSEHOLD_COMPARED = ", ".join(_HOUSEHOLD_COLUMNS[:-1])


def _update_changed(
    conn: Any, table: str, columns: tuple[str, ...], pairs: list[tuple[Any, tuple[Any, ...]]]
) -> None:
    """UPDATE each row's changed columns only. `pairs` are (old row, new row), the first
    column the primary key; columns past the end of the old row are always written.

    SQLite then rewrites only the indexes on those columns, where INSERT OR REPLACE deletes and
    re-inserts the row in every index of the table: at a million persons each entry is a page
    of its own to read, encrypt and write."""
    groups: dict[tuple[int, ...], list[tuple[Any, ...]]] = {}
    for old, new in pairs:
        changed = tuple(i for i in range(1, len(new)) if i >= len(old) or old[i] != new[i])
        if changed:
            groups.setdefault(changed, []).append((*(new[i] for i in changed), new[0]))
    for changed, params in groups.items():
        sets = ", ".join(f"{columns[i]} = ?" for i in changed)
        conn.executemany(f"UPDATE {table} SET {sets} WHERE {columns[0]} = ?", params)


_INSERT_HOUSEHOLD = (
    "INSERT OR REPLACE INTO households (household_id, version, bucket, municipality_code,"
    " postal_code, address, katagaki, head_person_id, address_key, katagaki_key, raw)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def _iso(d: Any) -> str | None:
    return None if d is None else d.isoformat()


def _dumps(obj: Any) -> str:
    """Compact JSON text, non-ASCII as is: json.dumps(obj, ensure_ascii=False,
    separators=(",", ":")) gives the same text, several times slower."""
    return _encode(obj).decode()


_encode = msgspec.json.Encoder().encode


def key_rows(person_row: tuple[Any, ...], keys: dict[str, int]) -> list[tuple[Any, ...]]:
    """The search_keys rows of a persons row and its name keys (key → kind), the same as
    _DERIVED_KEYS makes in SQL."""
    p = person_row
    removed = int(p[5] == "removed")
    return [(key, p[0], kind, removed, p[8], p[9], p[1], p[13]) for key, kind in keys.items()]


# The persons columns that key_rows reads: person_id, household_id, status, birth_date, sex,
# kana_key, key_list. Unchanged, the person's name keys are unchanged.
_KEY_SOURCES = (0, 1, 5, 8, 9, 13, 14)

# The tables whose secondary indexes a bulk load drops and rebuilds (their primary keys stay).
_BULK_TABLES = ("households", "persons", "search_keys")


@dataclass(slots=True)
class PreparedHousehold:
    """The rows of one household, computed without touching the database."""

    household_id: str
    row: tuple[Any, ...]  # households, in _INSERT_HOUSEHOLD order
    person_rows: list[tuple[Any, ...]]  # persons, in _PERSON_COLUMNS order
    person_keys: list[dict[str, int]]  # each person's name keys → kind

    @property
    def person_ids(self) -> list[str]:
        return [r[0] for r in self.person_rows]

    @property
    def key_rows(self) -> list[tuple[Any, ...]]:
        """search_keys rows, the same as _DERIVED_KEYS makes of the persons rows in SQL."""
        return [
            r
            for p, keys in zip(self.person_rows, self.person_keys, strict=True)
            for r in key_rows(p, keys)
        ]


@dataclass(slots=True)
class PreparedChanges:
    """One page of the feed, validated and turned into rows (`Cache.prepare_changes`).

    Preparing is pure computation: apply_changes does it before it takes the cache's lock.
    `ops` keeps the feed's order: ("put", PreparedHousehold), ("delete", household_id) or
    ("item", ChangeItem) for operators, policy and terminal items.
    """

    ops: list[tuple[str, Any]]


class ResidentsMixin(CacheBase):
    _tag_key: bytes
    _bulk: bool

    # -- the change feed ----------------------------------------------------------------------

    def prepare_changes(self, items: list[ChangeItem]) -> PreparedChanges:
        """Validate one page (parse_line) and compute its rows; no database access.

        A malformed item raises ValidationError; nothing is written.
        """
        ops: list[tuple[str, Any]] = []
        for item in items:
            if item.kind != "household":
                ops.append(("item", item))
            elif item.deleted:
                ops.append(("delete", item.key))
            else:
                text = item.data_json()
                if text is None:
                    raise ValidationError("data", f"変更{item.seq}: 世帯のデータがありません。")
                household = parse_line(text)
                if household.household_id != item.key:
                    raise ValidationError("key", f"変更{item.seq}: 世帯IDがキーと一致しません。")
                ops.append(("put", self._prepare_household(household, text.decode())))
        return PreparedChanges(ops)

    def apply_changes(self, items: list[ChangeItem] | PreparedChanges, next_after: int) -> None:
        """Apply one page of the feed and advance the cursor to `next_after`, in ONE transaction.

        `items` is the page, or the page already prepared by `prepare_changes`. Households are
        validated with parse_line; a malformed item raises ValidationError and nothing of
        the page is applied (the cursor stays where it was).
        """
        page = items if isinstance(items, PreparedChanges) else self.prepare_changes(items)
        # The page and the cursor: a page lost in a power cut is fetched again.
        with self.transaction(refetchable=True) as conn:
            current = int(self._meta_get("cursor") or 0)
            if next_after < current:
                raise StoreError(f"同期の位置が戻っています(現在 {current}、受信 {next_after})。")
            if self._bulk:
                # Only the last change of a household in the page counts (each carries the
                # whole state); the feed is compacted, but a page must not depend on it.
                last: dict[str, tuple[int, str, Any]] = {}
                for pos, (kind, op) in enumerate(page.ops):
                    if kind != "item":
                        last[op.household_id if kind == "put" else op] = (pos, kind, op)
                final = sorted(last.values(), key=lambda entry: entry[0])
                self._bulk_write(
                    conn,
                    [op for _pos, kind, op in final if kind == "put"],
                    [op for _pos, kind, op in final if kind == "delete"],
                )
            for kind, op in page.ops:
                if kind == "item":
                    self._apply_control(conn, op)
                elif self._bulk:
                    continue  # written above, all at once
                elif kind == "put":
                    self._put_household(conn, op)
                else:
                    self._delete_household(conn, op)
            conn.execute("UPDATE meta SET v = ? WHERE k = 'cursor'", (str(next_after),))

    def _apply_control(self, conn: Any, item: ChangeItem) -> None:
        if item.kind == "operator":
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
        elif item.kind == "notification":
            apply_notification_decision(conn, item)
        elif item.kind == "terminal":
            # The feed is the same for every terminal and carries each one's item: kept per
            # terminal number, so that another terminal's revocation never reads as ours.
            revoked = bool((item.data or {}).get("revoked", False)) or item.deleted
            conn.execute(
                "INSERT OR REPLACE INTO meta(k, v) VALUES (?, ?)",
                (f"terminal_revoked:{item.key}", "1" if revoked else "0"),
            )

    def _my_number_tag(self, number: str) -> bytes:
        return hmac.digest(self._tag_key, number.encode("ascii"), "sha256")

    # -- the normal path: each household replaces what changed -------------------------------
    #
    # A change to one household must not rewrite more pages than it has to: at a million
    # persons every index entry touched is a different page to encrypt and write. So rows that
    # come out identical are left alone, a household whose indexed columns did not change gets
    # an UPDATE of its version and raw JSON only, and name keys are diffed per person.

    def _delete_persons(self, conn: Any, person_ids: list[str]) -> None:
        """Delete persons and their name keys (found through each person's key_list)."""
        conn.executemany(
            "DELETE FROM search_keys WHERE key = ? AND birth_date = ? AND person_id = ?",
            [
                (key, birth, pid)
                for pid in person_ids
                for birth, keys in conn.execute(
                    "SELECT birth_date, key_list FROM persons WHERE person_id = ?", (pid,)
                )
                for key in json.loads(keys)
            ],
        )
        conn.executemany("DELETE FROM persons WHERE person_id = ?", [(pid,) for pid in person_ids])

    def _delete_household(self, conn: Any, household_id: str) -> None:
        rows = conn.execute(
            "SELECT person_id FROM persons WHERE household_id = ?", (household_id,)
        ).fetchall()
        self._delete_persons(conn, [r[0] for r in rows])
        conn.execute("DELETE FROM households WHERE household_id = ?", (household_id,))

    def _put_household(self, conn: Any, h: PreparedHousehold) -> None:
        # Persons who left this household, and persons who arrive from another one, lose their
        # old rows (the other household's own change follows in the feed).
        # The members before (from the covering index by household: no row read) and after;
        # each row is then read once, through its primary key.
        ids = dict.fromkeys(h.person_ids)
        ids.update(
            dict.fromkeys(
                r[0]
                for r in conn.execute(
                    "SELECT person_id FROM persons WHERE household_id = ?", (h.household_id,)
                )
            )
        )
        marks = ",".join("?" * len(ids))
        old_persons = {
            r[0]: tuple(r)
            for r in conn.execute(
                f"SELECT {_PERSON_SELECT} FROM persons WHERE person_id IN ({marks})", tuple(ids)
            )
        }
        old = conn.execute(
            f"SELECT {_HOUSEHOLD_COMPARED} FROM households WHERE household_id = ?",
            (h.household_id,),
        ).fetchone()
        if old is None:
            conn.execute(_INSERT_HOUSEHOLD, h.row)
        else:
            _update_changed(conn, "households", _HOUSEHOLD_COLUMNS, [(old, h.row)])
        if not old_persons:  # a new household: nothing to compare with
            conn.executemany(_INSERT_PERSON, h.person_rows)
            conn.executemany(_INSERT_KEY, h.key_rows)
            return
        staying = set(h.person_ids)
        gone = [pid for pid in old_persons if pid not in staying]
        if gone:
            self._delete_persons(conn, gone)
        # A person's name keys are made of their persons row (key_rows): the old ones come from
        # the old row, and search_keys is read only where rows are deleted or written.
        deleted: list[tuple[str, str, str]] = []
        written: list[tuple[Any, ...]] = []
        for row, keys in zip(h.person_rows, h.person_keys, strict=True):
            old_row = old_persons.get(row[0])
            if old_row is not None and all(old_row[i] == row[i] for i in _KEY_SOURCES):
                continue  # same name keys (a move, a 記事)
            new_keys = key_rows(row, keys)
            old_keys = set() if old_row is None else set(key_rows(old_row, json.loads(old_row[14])))
            new_pks = {(r[0], r[4], r[1]) for r in new_keys}
            deleted += [(r[0], r[4], r[1]) for r in old_keys if (r[0], r[4], r[1]) not in new_pks]
            written += [r for r in new_keys if r not in old_keys]
        conn.executemany(
            "DELETE FROM search_keys WHERE key = ? AND birth_date = ? AND person_id = ?", deleted
        )
        conn.executemany(_INSERT_KEY, written)
        conn.executemany(_INSERT_PERSON, [r for r in h.person_rows if r[0] not in old_persons])
        _update_changed(
            conn,
            "persons",
            _PERSON_COLUMNS,
            [(old_persons[r[0]], r) for r in h.person_rows if r[0] in old_persons],
        )

    # -- the bulk path of an initial sync ------------------------------------------------------

    def begin_bulk_load(self) -> bool:
        """Switch an empty cache to bulk loading for its initial sync; False if not empty.

        The secondary indexes of households, persons and search_keys are dropped (their SQL is
        kept in meta) and no name keys are written: every page is then appended to two tables
        instead of inserted into a dozen B-trees in random order, which at a million persons
        rewrites most of the file at every commit. `finish_bulk_load` derives the name keys
        from the persons rows (their key_list) and builds the indexes, each in one sorted pass.
        Searching is refused until then. Persisted: an interrupted initial sync resumes in bulk
        mode.
        """
        with self.transaction() as conn:
            if self._bulk:
                return True
            if self.cursor() != 0 or conn.execute("SELECT 1 FROM households LIMIT 1").fetchone():
                return False
            marks = ",".join("?" * len(_BULK_TABLES))
            indexes = conn.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
                f" AND tbl_name IN ({marks}) ORDER BY name",
                _BULK_TABLES,
            ).fetchall()
            for name, _sql in indexes:
                conn.execute(f'DROP INDEX "{name}"')
            conn.execute(
                "INSERT OR REPLACE INTO meta(k, v) VALUES ('bulk_indexes', ?)",
                (_dumps([sql for _name, sql in indexes]),),
            )
            conn.execute("INSERT OR REPLACE INTO meta(k, v) VALUES ('bulk_load', '1')")
        self._bulk = True
        self._bulk_journal()
        return True

    def _bulk_journal(self) -> None:
        """A rollback journal while loading: the pages of a load are new pages, which it
        writes once, where WAL writes them twice (into the log, then into the file). Nobody
        reads the cache during an initial sync; `finish_bulk_load` goes back to WAL."""
        with self._lock:
            self._conn.execute("PRAGMA journal_mode = DELETE")

    def bulk_loading(self) -> bool:
        return self._bulk

    def finish_bulk_load(self) -> None:
        """Write the name keys and rebuild the indexes, in one transaction.

        Run once the initial sync has reached the server's head; interrupted, it rolls back and
        runs again at the end of the next pull.
        """
        with self.transaction() as conn:
            if not self._bulk:
                return
            conn.execute(
                f"INSERT INTO search_keys ({_KEY_COLUMNS}) {_DERIVED_KEYS}"
                " ORDER BY j.key, p.birth_date, p.person_id"
            )
            for sql in json.loads(self._meta_get("bulk_indexes") or "[]"):
                conn.execute(sql)
            conn.execute("DELETE FROM meta WHERE k IN ('bulk_load', 'bulk_indexes')")
            self._bulk = False
        with self._lock:
            self._conn.execute("PRAGMA journal_mode = WAL")
        self.optimize()

    def _bulk_write(self, conn: Any, puts: list[PreparedHousehold], deletes: list[str]) -> None:
        """Write a page in bulk mode: two appends, plus the rare replacement of rows."""
        household_ids = [h.household_id for h in puts] + deletes
        if not household_ids:
            return
        # A household sent again (changed while the initial sync ran) or deleted, and persons
        # who moved: their old persons rows go. Found through the primary keys and the members
        # in the stored raw JSON (there is no other index during the load).
        conn.execute(
            "DELETE FROM persons WHERE person_id IN (SELECT j.value ->> 'person_id'"
            " FROM households h, json_each(h.raw, '$.members') j"
            " WHERE h.household_id IN (SELECT value FROM json_each(?)))",
            (_dumps(household_ids),),
        )
        conn.execute(
            "DELETE FROM persons WHERE person_id IN (SELECT value FROM json_each(?))",
            (_dumps([p for h in puts for p in h.person_ids]),),
        )
        if deletes:
            conn.execute(
                "DELETE FROM households WHERE household_id IN (SELECT value FROM json_each(?))",
                (_dumps(deletes),),
            )
        # A person in two households of one page: the later one wins, as on the normal path.
        conn.executemany(_INSERT_HOUSEHOLD, [h.row for h in puts])
        conn.executemany(_INSERT_PERSON, [r for h in puts for r in h.person_rows])

    # -- rows ---------------------------------------------------------------------------------

    def _prepare_household(self, h: Household, raw: str) -> PreparedHousehold:
        # The stored address keys (v12): 「3丁目6番19号」 and 「3-6-19」 fold alike.
        akey = search_key(h.address)
        kkey = search_key(h.katagaki) if h.katagaki else None
        row = (
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
        )
        person_rows = []
        all_keys = []
        for ord_, p in enumerate(h.members):
            name_key, kana, keys = person_keys(p)
            person_rows.append(
                self._person_row(h.household_id, ord_, p, (name_key, kana, keys), (akey, kkey))
            )
            all_keys.append(keys)
        return PreparedHousehold(h.household_id, row, person_rows, all_keys)

    def _person_row(
        self,
        household_id: str,
        ord_: int,
        p: Person,
        keys: tuple[str, str, dict[str, int]],
        address_keys: tuple[str, str | None],
    ) -> tuple[Any, ...]:
        """A persons row; `keys` as person_keys gives them, `address_keys` the household's
        (住所, 方書)."""
        name_key, kana_key, key_list = keys
        return (
            p.person_id,
            household_id,
            ord_,
            p.juminhyo_code,
            None if p.my_number is None else self._my_number_tag(p.my_number),
            p.status,
            p.name,
            p.name_kana,
            p.birth_date.isoformat(),
            p.sex,
            p.relationship,
            _iso(p.support_measure.until) if p.support_measure else None,
            name_key,
            kana_key,
            _dumps(key_list),
            *address_keys,
        )

    # -- cursor, freshness, policy, operators -------------------------------------------------

    def cursor(self) -> int:
        return int(self._meta_get("cursor") or 0)

    def reset_cursor(self, seq: int) -> None:
        """Move the cursor to `seq`, backwards too (a server restored from an older backup):
        apply_changes refuses that, as a guard against replayed pages."""
        with self.transaction() as conn:
            conn.execute("UPDATE meta SET v = ? WHERE k = 'cursor'", (str(seq),))

    def mark_pull_complete(self, at: datetime) -> None:
        """Record the time of the last pull that reached the server's latest seq (tz-aware)."""
        if at.tzinfo is None:
            raise ValueError("mark_pull_complete needs a timezone-aware datetime")
        # Like the pages it ends: lost in a power cut, the cache only looks older than it is
        # until the next pull. The checkpoint after the round syncs the log, off the lock.
        self._meta_set("last_complete_pull", at.isoformat(), refetchable=True)

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

    def terminal_revoked(self, terminal_no: str) -> bool:
        """Whether the feed has revoked terminal `terminal_no` (this terminal's own number)."""
        return self._meta_get(f"terminal_revoked:{terminal_no}") == "1"

    # -- lookups ------------------------------------------------------------------------------

    def _household_raw(self, household_id: str) -> str:
        row = self._query_one("SELECT raw FROM households WHERE household_id = ?", (household_id,))
        if row is None:
            raise NotFound(f"世帯が端末にありません(世帯ID {household_id})。")
        return str(row[0])

    def household_data(self, household_id: str) -> dict[str, Any]:
        """The household exactly as it arrived (interchange-format dict)."""
        data: dict[str, Any] = json.loads(self._household_raw(household_id))
        return data

    def household(self, household_id: str) -> Household:
        return parse_line(self._household_raw(household_id))

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
        return [parse_line(r[0]) for r in rows]

    def replace_bucket(self, k: int, households: Iterable[dict[str, Any] | Household]) -> None:
        """Make bucket k hold exactly `households` (the server's BucketRecords), atomically."""
        from app.domain.records import household_to_dict

        puts: list[PreparedHousehold] = []
        for item in households:
            data = household_to_dict(item) if isinstance(item, Household) else item
            h = parse_household(data)
            if bucket_of(h.household_id) != k:
                raise ValidationError(
                    "bucket", f"世帯[{h.household_id}]はバケット{k}に属しません。"
                )
            puts.append(self._prepare_household(h, _dumps(data)))
        keep = {h.household_id for h in puts}
        # Lost in a power cut, the bucket differs again at the next digest.
        with self.transaction(refetchable=True) as conn:
            deletes = [
                household_id
                for (household_id,) in conn.execute(
                    "SELECT household_id FROM households WHERE bucket = ?", (k,)
                ).fetchall()
                if household_id not in keep
            ]
            if self._bulk:
                self._bulk_write(conn, puts, deletes)
                return
            for prepared in puts:
                self._put_household(conn, prepared)
            for household_id in deletes:
                self._delete_household(conn, household_id)
