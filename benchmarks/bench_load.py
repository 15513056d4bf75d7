"""Load: N enrolled terminals pulling and pushing against one server (issue 21 item 12).

    uv run python benchmarks/bench_load.py                           # 100 terminals, both backends
    uv run python benchmarks/bench_load.py --terminals 20 --seconds 30 --backends sqlite

What it does, with the real components on loopback:
1. a synthetic register (--persons, default 50,000) imported into a fresh server data dir
   (SQLite, or a throwaway PostgreSQL cluster), an operator, one enrollment token per terminal;
2. `madoguchi-server serve --workers W` in its own process(es);
3. N terminals enrolled over HTTPS (key, CSR, escrowed DEK: real mTLS) and logged in (real
   sessions, production argon2 cost);
4. baseline: one terminal alone runs the loop below without pauses for --baseline-seconds;
5. load: the N terminals, spread over --clients processes (asyncio, one keep-alive connection
   each), each loop: pull the feed from its cursor (GET /v1/changes, following has_more), push
   5 certificate_issued events (POST /v1/events), sleep a random 0–2 s; for --seconds;
6. exactly-once: every event a terminal sent is `accepted` (or `duplicate` after a retry) and
   the server holds each once (events and certificates tables).

Prints requests/s, p50/p95/p99 per kind, errors, the exactly-once check, and the ratio of the
loaded p95 to the baseline's. Target: 100 terminals, push p95 ≤ 500 ms (2-core machine). The
load generator shares the machine with the server: its CPU time is printed with the figures,
as are the server's and (PostgreSQL) the database's CPU per request. The PostgreSQL cluster is
the tests' throwaway one (fsync and synchronous_commit off): commits wait for no disk here.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import secrets
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

OPERATOR, PASSWORD = "load01", "load-benchmark-passphrase"
KEY_PASSWORD = b"bench-load"
EVENTS_PER_PUSH = 5


@dataclass(frozen=True)
class TerminalSpec:
    terminal_no: str
    cert: str
    key: str
    ca: str
    session: str
    cursor: int


# --- setup ----------------------------------------------------------------------------------


def prepare(
    data_dir: Path, url: str | None, persons: int, terminals: int
) -> tuple[list[str], list[str]]:
    """Register, operator and tokens in a fresh data dir; returns (tokens, some person ids)."""
    from app.synthetic.generator import household_dicts
    from server.embedded import EmbeddedServer

    server = EmbeddedServer(data_dir, database_url=url)
    try:
        jsonl = data_dir / "register.jsonl"
        people: list[str] = []
        with jsonl.open("w", encoding="utf-8") as out:
            for h in household_dicts(persons, 7):
                out.write(json.dumps(h, ensure_ascii=False) + "\n")
                if len(people) < 2000:
                    people += [m["person_id"] for m in h["members"]]
        t = time.perf_counter()
        report = server.import_jsonl(jsonl)
        assert report.ok, report.errors[:3]
        print(f"  import {report.persons:,} persons in {time.perf_counter() - t:.1f}s")
        server.add_operator(OPERATOR, "負荷 試験", ["clerk", "issuer"], "本庁", PASSWORD)
        tokens = [server.make_token() for _ in range(terminals)]
    finally:
        server.close()
    return tokens, people


def serve(data_dir: Path, url: str | None, workers: int) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ}
    if url:
        env["MADOGUCHI_SERVER_DATABASE_URL"] = url
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "server.cli",
            "--data-dir",
            str(data_dir),
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    return proc, f"https://127.0.0.1:{port}"


def enroll_all(base_url: str, ca: Path, tokens: list[str], directory: Path) -> list[TerminalSpec]:
    from app.sync.client import SyncClient, generate_terminal_key, make_csr, store_enrollment
    from app.sync.errors import ServerUnreachable

    specs = []
    deadline = time.monotonic() + 120
    for i, token in enumerate(tokens):
        key = generate_terminal_key()
        while True:
            try:
                with SyncClient(base_url, ca) as anonymous:
                    answer = anonymous.enroll(token, make_csr(key), secrets.token_bytes(32))
                break
            except ServerUnreachable:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)  # the server is still starting
        cert, key_path, ca_path = store_enrollment(
            directory / f"t{i:03d}", key, answer, KEY_PASSWORD
        )
        with SyncClient(base_url, ca_path, cert, key_path, KEY_PASSWORD, timeout=120) as client:
            session = client.login(OPERATOR, PASSWORD).session_token
            cursor = client.changes(0, 1).latest_seq
        specs.append(
            TerminalSpec(
                answer.terminal_no, str(cert), str(key_path), str(ca_path), session, cursor
            )
        )
    return specs


# --- the terminals' loop (client processes) ---------------------------------------------------


async def _terminal(
    base_url: str,
    spec: TerminalSpec,
    people: list[str],
    stop_at: float,
    seed: int,
    out: dict,
    pause: float,
) -> None:
    import httpx

    from app.sync.protocol import SESSION_HEADER

    rnd = random.Random(seed)
    ctx = ssl.create_default_context(cafile=spec.ca)
    ctx.load_cert_chain(spec.cert, spec.key, password=KEY_PASSWORD)
    headers = {SESSION_HEADER: spec.session}
    cursor, n = spec.cursor, 0
    day = datetime.now(UTC).strftime("%Y%m%d")
    async with httpx.AsyncClient(base_url=base_url, verify=ctx, timeout=60) as http:
        await asyncio.sleep(rnd.uniform(0, pause))  # terminals do not start in step
        while time.monotonic() < stop_at:
            try:
                while True:
                    t = time.perf_counter()
                    answer = await http.get(
                        "/v1/changes", params={"after": cursor, "limit": 2000}, headers=headers
                    )
                    out["latency"]["pull"].append(time.perf_counter() - t)
                    if answer.status_code != 200:
                        out["errors"]["pull"] += 1
                        break
                    page = answer.json()
                    cursor = page["next_after"]
                    if not page["has_more"]:
                        break
                batch = []
                for _ in range(EVENTS_PER_PUSH):
                    n += 1
                    batch.append(
                        {
                            "event_id": str(uuid.uuid4()),
                            "type": "certificate_issued",
                            "occurred_at": datetime.now(UTC).isoformat(),
                            "operator_id": OPERATOR,
                            "terminal_no": spec.terminal_no,
                            "payload": {
                                "issuance_no": f"{spec.terminal_no}-{day}-{seed}{n:06d}",
                                "kind": "juminhyo",
                                "person_ids": [rnd.choice(people)],
                                "copies": 1,
                                "fee_yen": 300,
                                "content_digest": secrets.token_hex(32),
                            },
                        }
                    )
                pending = {e["event_id"] for e in batch}
                for _attempt in range(5):  # as the engine: resend what got no answer
                    t = time.perf_counter()
                    try:
                        answer = await http.post(
                            "/v1/events",
                            json={"events": [e for e in batch if e["event_id"] in pending]},
                            headers=headers,
                        )
                    except httpx.HTTPError:
                        out["errors"]["push"] += 1
                        continue
                    out["latency"]["push"].append(time.perf_counter() - t)
                    if answer.status_code != 200:
                        out["errors"]["push"] += 1
                        continue
                    for r in answer.json()["results"]:
                        out["results"][r["event_id"]] = r["status"]
                        pending.discard(r["event_id"])
                    break
                out["sent"] += [e["event_id"] for e in batch]
            except httpx.HTTPError:
                out["errors"]["pull"] += 1
            await asyncio.sleep(rnd.uniform(0, pause))


def client_process(
    base_url: str,
    specs: list[TerminalSpec],
    people: list[str],
    seconds: float,
    seed: int,
    path: str,
    pause: float,
) -> None:
    out: dict[str, Any] = {
        "latency": {"pull": [], "push": []},
        "errors": {"pull": 0, "push": 0},
        "results": {},
        "sent": [],
    }

    async def main() -> None:
        stop_at = time.monotonic() + seconds
        await asyncio.gather(
            *(
                _terminal(base_url, s, people, stop_at, seed * 1000 + i, out, pause)
                for i, s in enumerate(specs)
            )
        )

    cpu = time.process_time()
    asyncio.run(main())
    out["cpu_s"] = time.process_time() - cpu
    Path(path).write_text(json.dumps(out), encoding="utf-8")


def run_load(
    base_url: str,
    specs: list[TerminalSpec],
    people: list[str],
    seconds: float,
    clients: int,
    work: Path,
    tag: str,
    pause: float = 2.0,
) -> dict[str, Any]:
    ctx = multiprocessing.get_context("spawn")
    groups = [specs[i::clients] for i in range(clients)]
    procs = []
    for i, group in enumerate(g for g in groups if g):
        path = work / f"{tag}-{i}.json"
        p = ctx.Process(
            target=client_process,
            args=(base_url, group, people, seconds, i + 1, str(path), pause),
        )
        p.start()
        procs.append((p, path))
    t = time.perf_counter()
    for p, _ in procs:
        p.join()
    wall = time.perf_counter() - t
    merged: dict[str, Any] = {
        "latency": {"pull": [], "push": []},
        "errors": {"pull": 0, "push": 0},
        "results": {},
        "sent": [],
        "cpu_s": 0.0,
        "wall_s": wall,
    }
    for _, path in procs:
        part = json.loads(path.read_text(encoding="utf-8"))
        for kind in ("pull", "push"):
            merged["latency"][kind] += part["latency"][kind]
            merged["errors"][kind] += part["errors"][kind]
        merged["results"].update(part["results"])
        merged["sent"] += part["sent"]
        merged["cpu_s"] += part["cpu_s"]
    return merged


# --- figures --------------------------------------------------------------------------------


def tree_cpu_seconds(root: int) -> float:
    """CPU time (user + system) of a process and all its descendants so far (Linux /proc): the
    server and its workers, or PostgreSQL's postmaster and its backends."""
    ticks = os.sysconf("SC_CLK_TCK")
    children: dict[int, list[int]] = {}
    cpu: dict[int, float] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid = int(stat.parent.name)
        children.setdefault(int(fields[1]), []).append(pid)
        cpu[pid] = (int(fields[11]) + int(fields[12])) / ticks
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        total += cpu.get(pid, 0.0)
        todo += children.get(pid, [])
    return total


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def exactly_once(url: str, result: dict[str, Any]) -> tuple[bool, str]:
    from sqlalchemy import create_engine, func, select

    from server.tables import certificates, events

    sent = result["sent"]
    statuses = [result["results"].get(e) for e in sent]
    unanswered = sum(1 for s in statuses if s is None)
    refused = sum(1 for s in statuses if s not in (None, "accepted", "duplicate"))
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            stored = conn.execute(
                select(func.count()).select_from(events).where(events.c.status == "accepted")
            ).scalar_one()
            distinct = conn.execute(
                select(func.count(func.distinct(events.c.event_id)))
            ).scalar_one()
            certs = conn.execute(select(func.count()).select_from(certificates)).scalar_one()
    finally:
        engine.dispose()
    ok = unanswered == 0 and refused == 0 and stored == distinct == certs == len(set(sent))
    return ok, (
        f"{len(sent):,} sent, {len(set(sent)):,} distinct; server: {stored:,} accepted, "
        f"{certs:,} certificates; {unanswered} unanswered, {refused} refused"
    )


def report(name: str, result: dict[str, Any], seconds: float) -> dict[str, float]:
    pulls, pushes = result["latency"]["pull"], result["latency"]["push"]
    requests = len(pulls) + len(pushes)
    figures = {
        "rps": requests / result["wall_s"],
        "pull_p95": percentile(pulls, 0.95),
        "push_p95": percentile(pushes, 0.95),
    }
    print(
        f"  {name}: {requests:,} requests in {result['wall_s']:.0f}s = "
        f"{figures['rps']:,.0f} req/s; load generator CPU {result['cpu_s']:.0f}s"
    )
    for kind, values in (("pull", pulls), ("push", pushes)):
        print(
            f"    {kind:<5} n={len(values):>6,}  p50 {percentile(values, 0.5) * 1000:7.1f} ms  "
            f"p95 {percentile(values, 0.95) * 1000:7.1f} ms  p99 "
            f"{percentile(values, 0.99) * 1000:7.1f} ms  errors {result['errors'][kind]}"
        )
    return figures


def run_backend(
    backend: str,
    url: str | None,
    args: argparse.Namespace,
    work: Path,
    database_pid: int | None = None,
) -> None:
    data_dir = work / backend
    print(
        f"{backend}: {args.terminals} terminals, {args.workers} server worker(s), "
        f"{args.clients} client process(es), {args.persons:,} persons"
    )
    tokens, people = prepare(data_dir, url, args.persons, args.terminals + 1)
    proc, base_url = serve(data_dir, url, args.workers)
    try:
        t = time.perf_counter()
        specs = enroll_all(base_url, data_dir / "ca" / "ca.pem", tokens, work / f"{backend}-t")
        print(f"  enrolled and logged in {len(specs)} terminals in {time.perf_counter() - t:.0f}s")
        load_before = os.getloadavg()
        # Baseline: the same requests from one terminal, back to back, on an idle server.
        baseline = run_load(
            base_url, specs[:1], people, args.baseline_seconds, 1, work, "base", pause=0.0
        )
        base = report("baseline, 1 terminal", baseline, args.baseline_seconds)
        cpu = tree_cpu_seconds(proc.pid)
        db_cpu = tree_cpu_seconds(database_pid) if database_pid else 0.0
        loaded = run_load(base_url, specs[1:], people, args.seconds, args.clients, work, "load")
        cpu = tree_cpu_seconds(proc.pid) - cpu
        figures = report(f"{len(specs) - 1} terminals", loaded, args.seconds)
        requests = len(loaded["latency"]["pull"]) + len(loaded["latency"]["push"])
        print(
            f"  server CPU during the load: {cpu:.0f}s in {loaded['wall_s']:.0f}s "
            f"({cpu / loaded['wall_s']:.2f} cores), {cpu / requests * 1000:.1f} ms per request"
        )
        if database_pid:
            db_cpu = tree_cpu_seconds(database_pid) - db_cpu
            print(
                f"  PostgreSQL CPU during the load: {db_cpu:.0f}s "
                f"({db_cpu / loaded['wall_s']:.2f} cores), "
                f"{db_cpu / requests * 1000:.1f} ms per request"
            )
        load_after = os.getloadavg()
        merged_sent = baseline["sent"] + loaded["sent"]
        merged = {
            **loaded,
            "sent": merged_sent,
            "results": {**baseline["results"], **loaded["results"]},
        }
        db_url = url or f"sqlite:///{data_dir / 'server.db'}"
        ok, detail = exactly_once(db_url, merged)
        print(f"  exactly once: {'yes' if ok else 'NO'} ({detail})")
        print(
            f"  ratio to baseline p95: push {figures['push_p95'] / base['push_p95']:.1f}, "
            f"pull {figures['pull_p95'] / base['pull_p95']:.1f}; push p95 "
            f"{figures['push_p95'] * 1000:.0f} ms (target ≤ 500 ms)"
        )
        print(
            f"  load average before/after: {load_before[0]:.1f} / {load_after[0]:.1f} "
            f"(the machine is shared: other work counts in it)"
        )
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--terminals", type=int, default=100)
    ap.add_argument("--persons", type=int, default=50_000)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--baseline-seconds", type=float, default=15)
    ap.add_argument("--workers", type=int, default=2, help="server worker processes")
    ap.add_argument("--clients", type=int, default=2, help="load generator processes")
    ap.add_argument("--backends", default="sqlite,postgres")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
        work = Path(tmp)
        for backend in args.backends.split(","):
            if backend == "sqlite":
                run_backend("sqlite", None, args, work)
            elif backend == "postgres":
                from tests.support.postgres import PostgresCluster, _bin_dir

                bin_dir = _bin_dir()
                if bin_dir is None:
                    print("postgres: skipped (no PostgreSQL binaries)")
                    continue
                cluster = PostgresCluster(bin_dir, Path(tempfile.mkdtemp(prefix="bench-pg-")))
                cluster.start()
                try:
                    # The throwaway cluster of the tests: fsync and synchronous_commit off, so
                    # a commit waits for no flush here (a production server keeps both on).
                    postmaster = int((cluster.data / "postmaster.pid").read_text().split()[0])
                    run_backend("postgres", cluster.create_database(), args, work, postmaster)
                finally:
                    cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
