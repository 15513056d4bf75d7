"""Feed throughput: persons per second served by GET /v1/changes over HTTPS on loopback.

For SQLite and PostgreSQL (a throwaway cluster, when the binaries are installed):
- import: persons/s of `import_file` (validation included);
- SQL: the raw page query (keyset SELECT of the stored JSON), the baseline;
- page: the server's page generator run in-process (database → JSON bytes), no HTTP;
- HTTPS feed: SyncClient.changes() over mTLS with gzip, parsed into ChangesPage models;
- ratio HTTPS / SQL (what TLS, HTTP, gzip, JSON building and client-side parsing cost).

    uv run python benchmarks/bench_feed.py --persons 100000 [--backends sqlite,postgres]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402

from app.domain.identifiers import (  # noqa: E402
    juminhyo_code_check_digit,
    local_government_code_check_digit,
    my_number_check_digit,
)
from app.sync.client import (  # noqa: E402
    SyncClient,
    generate_terminal_key,
    make_csr,
    store_enrollment,
)
from app.sync.errors import ServerUnreachable  # noqa: E402
from app.sync.protocol import MAX_PAGE_LIMIT  # noqa: E402
from server.embedded import EmbeddedServer  # noqa: E402
from server.feed import stream_page  # noqa: E402
from server.tables import changes  # noqa: E402

MUNICIPALITY = "01208" + str(local_government_code_check_digit("01208"))
KEY_PASSWORD = b"bench"


def write_register(path: Path, persons: int) -> int:
    """Invented households of 1–4 persons (valid check digits), one JSON line each."""
    written, h = 0, 0
    with path.open("w", encoding="utf-8") as out:
        while written < persons:
            size = min(1 + h % 4, persons - written)
            members = []
            for i in range(size):
                n = written + i
                body, mbody = f"{n:010d}", f"7{n:010d}"
                members.append(
                    {
                        "person_id": f"P{n:09d}",
                        "version": 1,
                        "status": "resident",
                        "juminhyo_code": body + str(juminhyo_code_check_digit(body)),
                        "my_number": mbody + str(my_number_check_digit(mbody)),
                        "name": "試験 " + "一二三四"[i] + "郎",
                        "name_kana": "シケン イチロウ",
                        "birth_date": f"{1940 + n % 60}-{1 + n % 12:02d}-{1 + n % 28:02d}",
                        "sex": "male" if n % 2 else "female",
                        "relationship": "世帯主" if i == 0 else "子",
                        "address_set_on": "2001-04-01",
                        "previous_address": "札幌市中央区北1条西2丁目",
                        "history": [{"date": "2001-04-01", "kind": "転入", "note": ""}],
                    }
                )
            out.write(
                json.dumps(
                    {
                        "household_id": f"H{h:09d}",
                        "municipality_code": MUNICIPALITY,
                        "postal_code": "090-0024",
                        "address": f"北見市北{1 + h % 9}条西{1 + h % 7}丁目{h % 50}番地",
                        "katagaki": None,
                        "head_person_id": members[0]["person_id"],
                        "members": members,
                    },
                    ensure_ascii=False,
                )
                + "\n"
            )
            written += size
            h += 1
    return h


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run(backend: str, url: str | None, register: Path, persons: int, work: Path) -> dict:
    data_dir = work / backend
    server = EmbeddedServer(data_dir, database_url=url)
    try:
        t0 = time.perf_counter()
        report = server.import_jsonl(register)
        t_import = time.perf_counter() - t0
        assert report.ok, report.errors[:3]
        server.add_operator("bench", "計測", ["clerk"], "本庁", "bench-passphrase-2026")
        token = server.make_token()

        # Baseline: the raw page query (keyset SELECT of the stored JSON, nothing built).
        t0 = time.perf_counter()
        after = 0
        with server.db.read() as conn:
            while True:
                rows = conn.execute(
                    select(changes.c.seq, changes.c.data)
                    .where(changes.c.seq > after)
                    .order_by(changes.c.seq)
                    .limit(MAX_PAGE_LIMIT)
                ).all()
                if not rows:
                    break
                after = rows[-1][0]
        t_raw = time.perf_counter() - t0

        # The server's page generator in-process (database → JSON bytes), no HTTP.
        t0 = time.perf_counter()
        after, raw_bytes = 0, 0
        while True:
            chunks = list(stream_page(server.db, after, MAX_PAGE_LIMIT))
            raw_bytes += sum(len(c) for c in chunks)
            # Only the tail is read: parsing the page is the client's cost, not the server's.
            tail = chunks[-1][chunks[-1].rfind(b'],"next_after":') + 1 :]
            meta = json.loads(b"{" + tail[1:])
            after = meta["next_after"]
            if not meta["has_more"]:
                break
        t_gen = time.perf_counter() - t0
    finally:
        server.close()

    # The server in its own process, as in production (no GIL shared with the client).
    port = _free_port()
    env = {**os.environ, "MADOGUCHI_SERVER_DATA_DIR": str(data_dir)}
    if url:
        env["MADOGUCHI_SERVER_DATABASE_URL"] = url
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "server.cli",
            "serve",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    try:
        base = f"https://127.0.0.1:{port}"
        key = generate_terminal_key()
        deadline = time.monotonic() + 60
        while True:
            try:
                with SyncClient(base, data_dir / "ca" / "ca.pem") as anon:
                    answer = anon.enroll(token, make_csr(key), secrets.token_bytes(32))
                break
            except ServerUnreachable:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        cert, key_path, ca = store_enrollment(work / f"{backend}-t", key, answer, KEY_PASSWORD)
        with SyncClient(base, ca, cert, key_path, KEY_PASSWORD) as client:
            client.login("bench", "bench-passphrase-2026")
            t0 = time.perf_counter()
            after, seen = 0, 0
            while True:
                page = client.changes(after, MAX_PAGE_LIMIT)
                seen += sum(len(i.data["members"]) for i in page.items if i.kind == "household")
                after = page.next_after
                if not page.has_more:
                    break
            t_https = time.perf_counter() - t0
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert seen == persons, (seen, persons)
    return {
        "backend": backend,
        "import_pps": persons / t_import,
        "raw_pps": persons / t_raw,
        "gen_pps": persons / t_gen,
        "https_pps": persons / t_https,
        "ratio": t_raw / t_https,
        "https_s": t_https,
        "mb": raw_bytes / 1e6,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--persons", type=int, default=100_000)
    p.add_argument("--backends", default="sqlite,postgres")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-feed-") as tmp:
        work = Path(tmp)
        register = work / "register.jsonl"
        households = write_register(register, args.persons)
        print(f"register: {args.persons:,} persons in {households:,} households")
        results = []
        for backend in args.backends.split(","):
            if backend == "sqlite":
                results.append(run("sqlite", None, register, args.persons, work))
            elif backend == "postgres":
                from tests.support.postgres import PostgresCluster, _bin_dir

                bin_dir = _bin_dir()
                if bin_dir is None:
                    print("postgres: skipped (no PostgreSQL binaries)")
                    continue
                cluster = PostgresCluster(bin_dir, Path(tempfile.mkdtemp(prefix="bench-pg-")))
                cluster.start()
                try:
                    url = cluster.create_database()
                    results.append(run("postgres", url, register, args.persons, work))
                finally:
                    cluster.stop()
        print(
            f"{'backend':<10}{'import p/s':>12}{'SQL p/s':>12}{'page p/s':>12}{'HTTPS p/s':>12}"
            f"{'HTTPS/SQL':>11}{'HTTPS s':>9}{'JSON MB':>9}  target ≥ 10,000 p/s"
        )
        for r in results:
            print(
                f"{r['backend']:<10}{r['import_pps']:>12,.0f}{r['raw_pps']:>12,.0f}"
                f"{r['gen_pps']:>12,.0f}"
                f"{r['https_pps']:>12,.0f}{r['ratio']:>11.2f}{r['https_s']:>9.1f}"
                f"{r['mb']:>9.1f}  {'ok' if r['https_pps'] >= 10_000 else 'BELOW'}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
