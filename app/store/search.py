"""4情報 search over the cache: folded name keys, birth date, sex, address, 住民票コード.

Search keys (stored when a household is applied, see residents.py):
- names through `app.domain.names.fold` (the stable interface; it folds kana, 異体字, IVS):
  the full name, the kana, the given name alone, 通称 and its kana, 旧氏 + given name; a query
  matches a key exactly or as a prefix ("山田" finds 山田太郎; "タロウ" finds the given name);
- addresses NFKC-normalised without spaces (`address_key`), matched as a prefix on the 住所
  or on the 方書.

Ranking: exact name matches before prefix matches, residents before 除票, then by kana.
A query scans at most `CANDIDATE_CAP` candidates: past that `SearchPage.total` is None
("too many, add a condition") and the hits are the best of the first candidates. This keeps
every query bounded at a million persons (budget: p95 ≤ 20 ms).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date
from typing import Any

from app.domain.names import fold
from app.domain.records import Person

from .base import CacheBase

CANDIDATE_CAP = 2000
MAX_LIMIT = 500
_HI = "\U0010ffff"  # above every character: `key < prefix + _HI` closes a prefix range

# Kinds of name keys; a lower kind wins when one person has the same key twice.
KIND_NAME, KIND_KANA, KIND_GIVEN, KIND_GIVEN_KANA, KIND_ALIAS, KIND_ALIAS_KANA, KIND_FORMER = range(
    7
)
_DASHES = str.maketrans({c: "-" for c in "‐‑‒–—―−－ｰ"})


def address_key(text: str) -> str:
    """Search key of an address or 方書: NFKC (full-width digits), no spaces, one dash."""
    norm = unicodedata.normalize("NFKC", text).translate(_DASHES)
    return "".join(ch for ch in norm if not ch.isspace())


def _given(name: str) -> str | None:
    parts = name.replace("\u3000", " ").split(" ", 1)
    return parts[1].strip() or None if len(parts) == 2 else None


def name_keys(p: Person) -> dict[str, int]:
    """Folded key → kind for one person (distinct keys only, empty keys dropped)."""
    candidates: list[tuple[str | None, int]] = [
        (p.name, KIND_NAME),
        (p.name_kana, KIND_KANA),
        (_given(p.name), KIND_GIVEN),
        (_given(p.name_kana), KIND_GIVEN_KANA),
        (p.alias, KIND_ALIAS),
        (p.alias_kana, KIND_ALIAS_KANA),
    ]
    given = _given(p.name)
    if p.former_name:
        candidates.append((p.former_name + (given or ""), KIND_FORMER))
    out: dict[str, int] = {}
    for text, kind in candidates:
        if not text:
            continue
        key = fold(text)
        if key and (key not in out or kind < out[key]):
            out[key] = kind
    return out


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


@dataclass(frozen=True, slots=True)
class SearchPage:
    hits: list[SearchHit]
    total: int | None  # None: more than CANDIDATE_CAP candidates (narrow the query)


class SearchMixin(CacheBase):
    def search(
        self, q: SearchQuery, limit: int = 50, offset: int = 0, today: date | None = None
    ) -> SearchPage:
        """Ranked, paged 4情報 search. An empty query returns an empty page."""
        if q.is_empty():
            return SearchPage([], 0)
        limit = max(0, min(limit, MAX_LIMIT))
        offset = max(0, offset)
        rows = self._candidates(q)
        total: int | None = len(rows)
        if len(rows) > CANDIDATE_CAP:
            total = None
            rows = rows[:CANDIDATE_CAP]
        rows.sort()
        page_ids = [r[-1] for r in rows[offset : offset + limit]]
        return SearchPage(self._hits(page_ids, today or date.today()), total)

    # -- candidates: (exact_rank, removed, kana, person_id) tuples, unsorted -------------------

    def _candidates(self, q: SearchQuery) -> list[tuple[int, int, str, str]]:
        folded = fold(q.name) if q.name else ""
        if folded:
            return self._by_name(q, folded)
        return self._by_person(q)

    def _filters(self, q: SearchQuery, alias: str) -> tuple[list[str], list[Any]]:
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
        akey = address_key(q.address) if q.address else ""
        if akey:
            # A correlated primary-key lookup per candidate: cheap, and never a scan of all
            # households for a short prefix such as 「北見市」.
            where.append(
                f"EXISTS (SELECT 1 FROM households h WHERE h.household_id = {alias}.household_id"
                " AND ((h.address_key >= ? AND h.address_key < ?)"
                " OR (h.katagaki_key >= ? AND h.katagaki_key < ?)))"
            )
            params += [akey, akey + _HI, akey, akey + _HI]
        return where, params

    def _by_name(self, q: SearchQuery, folded: str) -> list[tuple[int, int, str, str]]:
        where, params = self._filters(q, "s")
        if not q.include_removed:
            where.append("s.removed = 0")
        if q.juminhyo_code:
            where.append("s.person_id IN (SELECT person_id FROM persons WHERE juminhyo_code = ?)")
            params.append(q.juminhyo_code)
        rest = "".join(" AND " + w for w in where)
        select = "SELECT s.removed, s.kana, s.person_id FROM search_keys s WHERE "
        with self._lock:
            # Exact matches are read first, so the candidate cap never cuts them off.
            exact = self._conn.execute(
                select + "s.key = ?" + rest + " LIMIT ?", [folded, *params, CANDIDATE_CAP + 1]
            ).fetchall()
            prefix: list[Any] = []
            if len(exact) <= CANDIDATE_CAP:
                prefix = self._conn.execute(
                    select + "s.key > ? AND s.key < ?" + rest + " LIMIT ?",
                    [folded, folded + _HI, *params, CANDIDATE_CAP + 1 - len(exact)],
                ).fetchall()
        best: dict[str, tuple[int, int, str, str]] = {}
        for rank, rows in ((0, exact), (1, prefix)):
            for removed, kana, person_id in rows:
                cand = (rank, removed, kana, person_id)
                if person_id not in best or cand < best[person_id]:
                    best[person_id] = cand
        return list(best.values())

    def _by_person(self, q: SearchQuery) -> list[tuple[int, int, str, str]]:
        where, params = self._filters(q, "p")
        if q.juminhyo_code:
            where.insert(0, "p.juminhyo_code = ?")
            params.insert(0, q.juminhyo_code)
        if not q.include_removed:
            where.append("p.status = 'resident'")
        from_ = "persons p"
        akey = address_key(q.address) if q.address else ""
        if akey and not (q.juminhyo_code or q.birth_date or q.birth_range):
            # Address is the driver: walk the households of that address, then their members.
            from_ = (
                "(SELECT household_id FROM households WHERE address_key >= ? AND address_key < ?"
                " UNION SELECT household_id FROM households"
                " WHERE katagaki_key >= ? AND katagaki_key < ?) d"
                " CROSS JOIN persons p ON p.household_id = d.household_id"
            )
            params = [akey, akey + _HI, akey, akey + _HI, *params]
        sql = (
            f"SELECT 0, p.status <> 'resident', p.kana_key, p.person_id FROM {from_} WHERE "
            + (" AND ".join(where) or "1")
            + " LIMIT ?"
        )
        return self._query(sql, [*params, CANDIDATE_CAP + 1])

    def _hits(self, person_ids: list[str], today: date) -> list[SearchHit]:
        if not person_ids:
            return []
        marks = ",".join("?" * len(person_ids))
        rows = self._query(
            "SELECT p.person_id, p.household_id, p.name, p.name_kana, p.birth_date, p.sex,"
            " h.address, h.katagaki, p.status, p.support_until, p.relationship"
            " FROM persons p JOIN households h ON h.household_id = p.household_id"
            f" WHERE p.person_id IN ({marks})",
            person_ids,
        )
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
