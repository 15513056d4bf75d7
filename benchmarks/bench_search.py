"""Budget (DESIGN.md §10): 4情報 search at 1,000,000 persons, p95 ≤ 20 ms, ratio ≤ 1.3 to the
same schema and queries on plain SQLite, measured in the same run.

    uv run python benchmarks/bench_search.py --sizes 100000 1000000 [--queries 600] [--dir D]

For each size: builds an encrypted cache (app.store) and a plain-SQLite copy of the same schema
through the same code (Cache over sqlite3), both fed through apply_changes in pages of 2,000
households, then runs a fixed, seeded mix of realistic counter queries (below) on each, and
prints p50/p95/p99 per variant, the p95 ratio, the build rate, the database sizes and the
peak memory (ru_maxrss) of the process.

Data: app.synthetic.generate(persons, seed) when it exists, else tests/store/households.py.
"""

from __future__ import annotations

import argparse
import random
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.store.db import Cache, _open_plain_for_benchmark, create_cache
from app.store.keys import generate_dek
from app.store.search import SearchQuery
from app.sync.protocol import ChangeItem

PAGE = 2000


def households(persons: int, seed: int) -> tuple[str, Iterator[dict[str, Any]]]:
    try:
        from app.domain.records import household_to_dict
        from app.synthetic import generate  # type: ignore[attr-defined]

        return "app.synthetic", (household_to_dict(h) for h in generate(persons, seed))
    except ImportError:
        from tests.store.households import make_households

        return "tests/store/households.py", make_households(persons, seed)


def build(cache: Cache, source: Iterator[dict[str, Any]]) -> tuple[int, list[dict[str, Any]]]:
    """Feed everything through apply_changes; keep a sample of persons for the queries."""
    seq = 0
    persons = 0
    page: list[ChangeItem] = []
    sample: list[dict[str, Any]] = []
    rng = random.Random(99)
    for h in source:
        seq += 1
        persons += len(h["members"])
        if rng.random() < 0.01:
            m = rng.choice(h["members"])
            sample.append({"person": m, "address": h["address"], "katagaki": h["katagaki"]})
        page.append(
            ChangeItem(
                seq=seq,
                kind="household",
                key=h["household_id"],
                version=max(m["version"] for m in h["members"]),
                data=h,
            )
        )
        if len(page) == PAGE:
            cache.apply_changes(page, seq)
            page = []
    if page:
        cache.apply_changes(page, seq)
    cache.optimize()
    return persons, sample


def query_mix(sample: list[dict[str, Any]], n: int, seed: int = 7) -> list[SearchQuery]:
    """What clerks type: a name (kanji or kana, full or the family name) usually with the
    birth date or year, sometimes the address; a 住民票コード; a birth date + sex."""
    rng = random.Random(seed)
    out: list[SearchQuery] = []
    makers: list[Callable[[dict[str, Any]], SearchQuery]] = [
        lambda s: SearchQuery(name=s["person"]["name"]),
        lambda s: SearchQuery(name=s["person"]["name_kana"]),
        lambda s: SearchQuery(name=s["person"]["name_kana"].split(" ")[0],
                              birth_date=date.fromisoformat(s["person"]["birth_date"])),
        lambda s: SearchQuery(name=s["person"]["name"][:3]),
        lambda s: SearchQuery(name=s["person"]["name"].split(" ")[0],
                              birth_range=_year(s["person"]["birth_date"]),
                              sex=s["person"]["sex"]),
        lambda s: SearchQuery(name=s["person"]["name_kana"].split(" ")[0],
                              address=s["address"][:10]),
        lambda s: SearchQuery(juminhyo_code=s["person"]["juminhyo_code"]),
        lambda s: SearchQuery(birth_date=date.fromisoformat(s["person"]["birth_date"]),
                              sex=s["person"]["sex"]),
        lambda s: SearchQuery(address=s["address"]),
        lambda s: SearchQuery(name=s["person"]["name"].split(" ")[0]),
    ]  # fmt: skip
    for i in range(n):
        out.append(makers[i % len(makers)](rng.choice(sample)))
    return out


def _year(iso: str) -> tuple[date, date]:
    y = int(iso[:4])
    return date(y, 1, 1), date(y, 12, 31)


def timings(cache: Cache, queries: list[SearchQuery]) -> list[float]:
    for q in queries[:50]:  # warm-up
        cache.search(q)
    out = []
    for q in queries:
        t = time.perf_counter()
        cache.search(q)
        out.append((time.perf_counter() - t) * 1000)
    return out


def pct(values: list[float], p: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(p) - 1]


def db_size(path: Path) -> int:
    return sum(
        Path(str(path) + s).stat().st_size
        for s in ("", "-wal")
        if Path(str(path) + s).exists()
    )


def run(size: int, queries: int, workdir: Path, seed: int) -> dict[str, Any]:
    print(f"\n== {size:,} persons ==", flush=True)
    results: dict[str, Any] = {}
    sample: list[dict[str, Any]] = []
    for variant in ("sqlcipher", "plain"):
        path = workdir / f"{variant}-{size}.db"
        for s in ("", "-wal", "-shm"):
            Path(str(path) + s).unlink(missing_ok=True)
        source_name, source = households(size, seed)
        t = time.perf_counter()
        cache = (
            create_cache(path, generate_dek())
            if variant == "sqlcipher"
            else _open_plain_for_benchmark(path)
        )
        persons, sample = build(cache, source)
        build_s = time.perf_counter() - t
        cache.connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        mix = query_mix(sample, queries)
        times = timings(cache, mix)
        sizes = [len(cache.search(q).hits) for q in mix[:20]]
        cache.close()
        results[variant] = times
        print(
            f"{variant:9s} data={source_name} persons={persons:,} build={build_s:.1f}s "
            f"({persons / build_s:,.0f}/s) size={db_size(path) / 2**20:.0f} MiB  "
            f"p50={pct(times, 50):.2f} p95={pct(times, 95):.2f} p99={pct(times, 99):.2f} "
            f"max={max(times):.2f} ms  (hits of first queries: {sizes[:10]})",
            flush=True,
        )
    ratio = pct(results["sqlcipher"], 95) / pct(results["plain"], 95)
    p95 = pct(results["sqlcipher"], 95)
    print(
        f"p95 sqlcipher/plain ratio = {ratio:.2f} (budget ≤ 1.3); "
        f"p95 = {p95:.2f} ms (budget ≤ 20 ms at 1M) "
        f"peak RSS = {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB",
        flush=True,
    )
    return {"ratio": ratio, "p95": p95}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--queries", type=int, default=600)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--dir", type=Path, default=None, help="work directory (default: a temp dir)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-search-") as tmp:
        workdir = args.dir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        for size in args.sizes:
            run(size, args.queries, workdir, args.seed)


if __name__ == "__main__":
    main()
