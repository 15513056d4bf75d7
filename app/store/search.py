"""4情報 search over the cache: folded name keys, birth date, sex, address, 住民票コード.

Search keys (stored when a household is applied, see residents.py), one row per distinct key
of a person in `search_keys`, primary key (key, birth_date, person_id), carrying sex, 除票 flag,
household and kana so that filtering never leaves the table:
- names through `app.domain.names.fold` (the stable interface; it folds kana, 異体字, IVS):
  the full name, the kana, the family name alone and its kana, the given name alone and its
  kana, 通称 and its kana, 旧氏 + given name. A query matches a key exactly or as a prefix
  ("山田" matches the family key exactly, and 山田太郎 etc. as prefixes; "タロウ" finds the
  given name);
- addresses folded by `app.domain.addresses.search_key` (NFKC, no spaces, the 街区 either way:
  「3丁目6番19号」 and 「3-6-19」 alike; schema v12 recomputed the stored keys), matched as a
  prefix on the 住所 or on the 方書.

Ranking: exact name matches before prefix matches, residents before 除票, then by kana.

Bounded work at 1,000,000 persons (budget p95 ≤ 20 ms):
- exact matches are found through the primary key (key = ?, birth date as its second column,
  so "family name + birth date / year" is an index range, not a scan);
- prefix matches come from at most PREFIX_SCAN index entries past the exact key;
- at most CANDIDATE_CAP candidates are ranked. When a bound was reached, `SearchPage.total`
  is None ("many more: add a condition") and the hits are the best of the candidates read;
- "name + address" (v7) runs the cheaper of two plans: walk the persons of the address (住所
  or 方書 prefix) in the covering index persons_address, whose entries carry each person's
  key list, matched in place; or check the household of each name key. A common name walks
  an address of up to ADDRESS_SCAN persons; with a broader address the first NAME_CHECKS keys
  of each part are checked (total None). A move rewrites one persons_address entry per member
  where v5's (key, address) index had every name key of the household to move;
- an address alone walks persons_address too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any, NamedTuple

import msgspec

from app.domain.addresses import address_key, search_key
from app.domain.names import fold
from app.domain.records import Person

from .base import CacheBase
from .errors import StoreError

CANDIDATE_CAP = 500
PREFIX_SCAN = 4000
# "Name + address": the persons of an address walked at most, the name keys checked against
# their household at most (each part), and what one check costs in persons walked.
ADDRESS_SCAN = 20_000
NAME_CHECKS = 500
WALK_PER_CHECK = 3
MAX_LIMIT = 500
_HI = "\U0010ffff"  # above every character: `key < prefix + _HI` closes a prefix range

# Kinds of name keys; a lower kind wins when one person has the same key twice.
(KIND_NAME, KIND_KANA, KIND_FAMILY, KIND_FAMILY_KANA, KIND_GIVEN, KIND_GIVEN_KANA, KIND_ALIAS,
 KIND_ALIAS_KANA, KIND_FORMER) = range(9)  # fmt: skip


class AddressKeys(NamedTuple):
    """What an address query matches: the start of the 住所 key, or of the 方書 key."""

    address: str
    katagaki: str


_PREFECTURE = re.compile(r"(北海道|東京都|京都府|大阪府|[^都道府県]{2,3}県)")
_COUNTY = re.compile(r"[^郡]{1,6}郡")
_MUNICIPALITY = re.compile(r"[^市区町村]{1,6}?[市区町村]")


def address_keys(query: str, register_address: str | None) -> AddressKeys:
    """The keys of an address query. Every 住所 of the register starts with the same 都道府県
    and 市区町村 ("北海道北見市", "北海道常呂郡置戸町"); a clerk types "北見市北4条",
    "置戸町字境野" or "北4条". The part left out is taken from `register_address` (any
    address key of the register) and put in front. The 方書 key is the query as typed."""
    key = search_key(query)
    pref = _PREFECTURE.match(register_address or "")
    if not register_address or not pref or _PREFECTURE.match(key):
        return AddressKeys(key, key)
    county = _COUNTY.match(register_address, pref.end())
    city = _MUNICIPALITY.match(register_address, county.end() if county else pref.end())
    if not city:
        return AddressKeys(key, key)
    # Where the typed text may start: at the 都道府県, the 郡, the 市区町村.
    starts = [0, pref.end(), *([county.end()] if county else [])]
    for start in starts:
        rest = register_address[start : city.end()]
        if key.startswith(rest) or rest.startswith(key):
            return AddressKeys(register_address[:start] + key, key)
    return AddressKeys(register_address[: city.end()] + key, key)


def _split(name: str) -> tuple[str | None, str | None]:
    parts = name.replace("\u3000", " ").strip().split(" ", 1)
    if len(parts) != 2:
        return None, None
    return parts[0].strip() or None, parts[1].strip() or None


def name_keys(p: Person) -> dict[str, int]:
    """Folded key → kind for one person (distinct keys only, empty keys dropped)."""
    return person_keys(p)[2]


def person_keys(p: Person) -> tuple[str, str, dict[str, int]]:
    """(fold(name), fold(name_kana), all name keys): each fold computed once (bulk loads)."""
    name_key, kana_key = fold(p.name), fold(p.name_kana)
    family, given = _split(p.name)
    family_kana, given_kana = _split(p.name_kana)
    candidates: list[tuple[str | None, int]] = [
        (family, KIND_FAMILY),
        (family_kana, KIND_FAMILY_KANA),
        (given, KIND_GIVEN),
        (given_kana, KIND_GIVEN_KANA),
        (p.alias, KIND_ALIAS),
        (p.alias_kana, KIND_ALIAS_KANA),
    ]
    if p.former_name:
        candidates.append((p.former_name + (given or ""), KIND_FORMER))
    out: dict[str, int] = {}
    if name_key:
        out[name_key] = KIND_NAME
    if kana_key and kana_key not in out:
        out[kana_key] = KIND_KANA
    for text, kind in candidates:
        if not text:
            continue
        key = fold(text)
        if key and key not in out:  # kinds are visited in increasing order
            out[key] = kind
    return name_key, kana_key, out


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """Any combination of the 4情報 and 住民票コード; None means "any".

    name: kanji or kana, full or the beginning (folded; exact matches rank first).
    birth_range: inclusive (first day, last day), for a year or an era given alone.
    address: the beginning of the 住所, or of the 方書.
    """

    name: str | None = None
    birth_date: date | None = None
    birth_range: tuple[date, date] | None = None
    sex: str | None = None
    address: str | None = None
    juminhyo_code: str | None = None
    include_removed: bool = True

    def is_empty(self) -> bool:
        return not any(
            (
                self.name and fold(self.name),
                self.birth_date,
                self.birth_range,
                self.sex,
                self.address and address_key(self.address),
                self.juminhyo_code,
            )
        )


@dataclass(frozen=True, slots=True)
class SearchHit:
    person_id: str
    household_id: str
    name: str
    name_kana: str
    birth_date: date
    sex: str
    address: str
    katagaki: str | None
    status: str
    protected: bool  # 支援措置 active on the day of the search
    relationship: str
    # Set by the session (app.services): the address is withheld on screen (支援措置, also at
    # the protected address); `address` then holds app.domain.protected_address's placeholder.
    address_withheld: bool = False


@dataclass(frozen=True, slots=True)
class SearchPage:
    hits: list[SearchHit]
    total: int | None  # None: a bound was reached, there may be many more (narrow the query)


class SearchMixin(CacheBase):
    _bulk: bool

    def search(
        self, q: SearchQuery, limit: int = 50, offset: int = 0, today: date | None = None
    ) -> SearchPage:
        """Ranked, paged 4情報 search. An empty query returns an empty page."""
        if q.is_empty():
            return SearchPage([], 0)
        if self._bulk or self._meta_get("cursor") in (None, "0"):
            # Bulk mode: the name keys and the indexes are written at the end of the initial
            # sync. Cursor 0: nothing of the register yet (the snapshot may be downloading);
            # an empty answer would read as "not registered".
            raise StoreError("初回同期の途中です。同期が終わるまで検索できません。")
        limit = max(0, min(limit, MAX_LIMIT))
        offset = max(0, offset)
        cap = CANDIDATE_CAP
        with self._lock:
            cand_sql, params, truncated = self._candidates(q)
            # One pass over at most cap + 1 candidates (some plans are joins: never run twice),
            # then one entry per person with its best rank, ranked in Python.
            rows = self._conn.execute(f"{cand_sql} LIMIT {cap + 1}", params).fetchall()
            best: dict[str, tuple[int, int, str, str]] = {}
            for r, removed, kana, person_id in rows:
                cand = (r, removed, kana, person_id)
                old = best.get(person_id)
                if old is None or cand < old:
                    best[person_id] = cand
            ranked = sorted(best.values())[offset : offset + limit]
            hits = self._hits([c[3] for c in ranked], today or date.today())
        candidates, persons = len(rows), len(best)
        total = None if truncated or candidates > cap else persons
        return SearchPage(hits, total)

    # -- candidates: SQL yielding (rank, removed, kana, person_id), its parameters, and whether
    # -- a scan bound was reached ---------------------------------------------------------------

    def _candidates(self, q: SearchQuery) -> tuple[str, list[Any], bool]:
        folded = fold(q.name) if q.name else ""
        akey = self._address_keys(q.address)
        if folded and not q.juminhyo_code:
            return self._by_name(q, folded, akey)
        return self._by_person(q, folded, akey)

    def _address_keys(self, query: str | None) -> AddressKeys | None:
        if not query or not search_key(query):
            return None
        register = self._conn.execute(
            "SELECT address_key FROM persons INDEXED BY persons_address"
            " WHERE address_key > '' ORDER BY address_key LIMIT 1"
        ).fetchone()
        return address_keys(query, register[0] if register else None)

    @staticmethod
    def _walk_address(
        select: str, where: str, akey: AddressKeys, before: list[Any], after: list[Any]
    ) -> tuple[str, list[Any]]:
        """`select` over the persons of the address in their covering indexes: the 住所 range
        of persons_address, then the 方書 range of persons_katagaki. `where` (" AND …") and
        its parameters `after` follow each range; `before` are the parameters of `select`."""
        part = (
            f"{select} FROM persons p INDEXED BY {{index}}"
            f" WHERE {{column}} >= ? AND {{column}} < ?{where}"
        )
        sql = (
            part.format(index="persons_address", column="p.address_key")
            + " UNION ALL "
            + part.format(index="persons_katagaki", column="p.katagaki_key")
        )
        params = [
            *(*before, akey.address, akey.address + _HI, *after),
            *(*before, akey.katagaki, akey.katagaki + _HI, *after),
        ]
        return sql, params

    def _bounded_count(self, sql: str, params: list[Any], bound: int) -> int:
        return int(
            self._conn.execute(
                f"SELECT count(*) FROM ({sql} LIMIT {bound + 1})", params
            ).fetchone()[0]
        )

    def _filters(
        self, q: SearchQuery, alias: str, akey: AddressKeys | None, *, address: bool = True
    ) -> tuple[list[str], list[Any]]:
        where: list[str] = []
        params: list[Any] = []
        if q.birth_date is not None:
            where.append(f"{alias}.birth_date = ?")
            params.append(q.birth_date.isoformat())
        if q.birth_range is not None:
            where.append(f"{alias}.birth_date BETWEEN ? AND ?")
            params += [q.birth_range[0].isoformat(), q.birth_range[1].isoformat()]
        if q.sex:
            where.append(f"{alias}.sex = ?")
            params.append(q.sex)
        if akey and address:
            # A correlated primary-key lookup per candidate.
            where.append(
                f"EXISTS (SELECT 1 FROM households h WHERE h.household_id = {alias}.household_id"
                " AND ((h.address_key >= ? AND h.address_key < ?)"
                " OR (h.katagaki_key >= ? AND h.katagaki_key < ?)))"
            )
            params += [akey.address, akey.address + _HI, akey.katagaki, akey.katagaki + _HI]
        return where, params

    def _by_name(
        self, q: SearchQuery, folded: str, akey: AddressKeys | None
    ) -> tuple[str, list[Any], bool]:
        hi = folded + _HI
        prefix_range = "key > ? AND key < ?"
        exact_from = "search_keys s WHERE s.key = ?"
        if not akey:
            # Prefix matches: only the first PREFIX_SCAN index entries after the exact key.
            prefix_scan = PREFIX_SCAN
            truncated = (
                self._bounded_count(
                    f"SELECT 1 FROM search_keys WHERE {prefix_range}", [folded, hi], prefix_scan
                )
                > prefix_scan
            )
        else:
            # Two plans: walk the persons of the address, or check the household of each name
            # key (one lookup costs about WALK_PER_CHECK persons walked): the cheaper one runs.
            # A name of more than NAME_CHECKS keys with an address of more than ADDRESS_SCAN
            # persons gets the first NAME_CHECKS keys of each part checked, and total None.
            prefix_scan = min(PREFIX_SCAN, NAME_CHECKS)
            exact = self._bounded_count(
                "SELECT 1 FROM search_keys WHERE key = ?", [folded], NAME_CHECKS
            )
            prefixes = self._bounded_count(
                f"SELECT 1 FROM search_keys WHERE {prefix_range}", [folded, hi], prefix_scan
            )
            names = exact + prefixes
            walk = (
                ADDRESS_SCAN if names > NAME_CHECKS else min(ADDRESS_SCAN, WALK_PER_CHECK * names)
            )
            in_address = self._bounded_count(
                *self._walk_address("SELECT 1", "", akey, [], []), walk
            )
            if in_address <= walk:
                return self._by_address_and_name(q, folded, akey)
            truncated = exact > NAME_CHECKS or prefixes > prefix_scan
            exact_from = f"(SELECT * FROM search_keys WHERE key = ? LIMIT {NAME_CHECKS}) s WHERE 1"
        where, params = self._filters(q, "s", akey)
        if not q.include_removed:
            where.append("s.removed = 0")
        rest = "".join(" AND " + w for w in where)
        select = "SELECT {rank}, s.removed, s.kana, s.person_id FROM "
        prefix_from = (
            f"(SELECT * FROM search_keys WHERE {prefix_range} LIMIT {prefix_scan}) s WHERE 1"
        )
        # Exact matches come first in the UNION ALL: the candidate cap never cuts them off.
        sql = (
            select.format(rank=0) + exact_from + rest
            + " UNION ALL " + select.format(rank=1) + prefix_from + rest
        )  # fmt: skip
        return sql, [folded, *params, folded, hi, *params], truncated

    def _by_address_and_name(
        self, q: SearchQuery, folded: str, akey: AddressKeys
    ) -> tuple[str, list[Any], bool]:
        """The persons of the address (住所, then 方書) in their covering index, each one's key
        list matched in place: a JSON-text test first (`"key` opens every key of key_list, as
        `_dumps` writes it), then json_each for the few that pass and for the rank."""
        where, params = self._filters(q, "p", akey, address=False)
        if not q.include_removed:
            where.append("p.status = 'resident'")
        quoted = msgspec.json.encode(folded).decode()  # "key" as key_list spells it
        opening = quoted[:-1]
        match = (
            "CASE WHEN instr(p.key_list, ?) THEN EXISTS (SELECT 1 FROM json_each(p.key_list) k"
            " WHERE k.key >= ? AND k.key < ?) ELSE 0 END"
        )
        rank = (
            "CASE WHEN EXISTS (SELECT 1 FROM json_each(p.key_list) k WHERE k.key = ?)"
            " THEN 0 ELSE 1 END"
        )
        sql, params = self._walk_address(
            f"SELECT {rank}, p.status <> 'resident', p.kana_key, p.person_id",
            f" AND {match}" + "".join(" AND " + w for w in where),
            akey,
            [folded],
            [opening, folded, folded + _HI, *params],
        )
        return sql, params, False

    def _by_person(
        self, q: SearchQuery, folded: str, akey: AddressKeys | None
    ) -> tuple[str, list[Any], bool]:
        # With a name, _candidates comes here only with a 住民票コード: one person.
        drive_by_address = bool(akey) and not (
            folded or q.juminhyo_code or q.birth_date or q.birth_range
        )
        where, params = self._filters(q, "p", akey, address=not drive_by_address)
        if q.juminhyo_code:
            where.insert(0, "p.juminhyo_code = ?")
            params.insert(0, q.juminhyo_code)
        if not q.include_removed:
            where.append("p.status = 'resident'")
        if folded:  # with a 住民票コード: one person, whose own key list is checked
            where.append(
                "EXISTS (SELECT 1 FROM json_each(p.key_list) k WHERE k.key >= ? AND k.key < ?)"
            )
            params += [folded, folded + _HI]
            rank = (
                "CASE WHEN EXISTS (SELECT 1 FROM json_each(p.key_list) k WHERE k.key = ?)"
                " THEN 0 ELSE 1 END"
            )
            rank_params: list[Any] = [folded]
        else:
            rank, rank_params = "0", []
        if drive_by_address and akey is not None:
            # The persons of the address (住所, then 方書), in their covering indexes.
            sql, params = self._walk_address(
                "SELECT 0, p.status <> 'resident', p.kana_key, p.person_id",
                "".join(" AND " + w for w in where),
                akey,
                [],
                params,
            )
            return sql, params, False
        sql = (
            f"SELECT {rank}, p.status <> 'resident', p.kana_key, p.person_id FROM persons p WHERE "
            + (" AND ".join(where) or "1")
        )
        return sql, [*rank_params, *params], False

    def _hits(self, person_ids: list[str], today: date) -> list[SearchHit]:
        if not person_ids:
            return []
        marks = ",".join("?" * len(person_ids))
        rows = self._conn.execute(
            "SELECT p.person_id, p.household_id, p.name, p.name_kana, p.birth_date, p.sex,"
            " h.address, h.katagaki, p.status, p.support_until, p.relationship"
            " FROM persons p JOIN households h ON h.household_id = p.household_id"
            f" WHERE p.person_id IN ({marks})",
            person_ids,
        ).fetchall()
        by_id = {r[0]: r for r in rows}
        today_s = today.isoformat()
        hits = []
        for pid in person_ids:
            r = by_id.get(pid)
            if r is None:
                continue
            hits.append(
                SearchHit(
                    person_id=r[0],
                    household_id=r[1],
                    name=r[2],
                    name_kana=r[3],
                    birth_date=date.fromisoformat(r[4]),
                    sex=r[5],
                    address=r[6],
                    katagaki=r[7],
                    status=r[8],
                    protected=r[9] is not None and r[9] >= today_s,
                    relationship=r[10],
                )
            )
        return hits
