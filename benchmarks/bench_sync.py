"""Sync budgets (DESIGN.md §10): initial sync, delta sync, GUI stall during a full sync.

    uv run python benchmarks/bench_sync.py                 # 1,000,000 persons (long: run once)
    uv run python benchmarks/bench_sync.py --persons 50000 --no-stall

What it does, all on loopback with the real components:
1. generates N synthetic persons (app.synthetic), imports them into an embedded server (SQLite),
   enrolls a terminal (mTLS) and logs in;
   and builds the register's snapshot for initial syncs (`madoguchi-server snapshot`: once,
   nightly in production; timed, but not part of a terminal's sync);
2. baseline: fetches the whole feed page by page over HTTPS without applying it
   (SyncClient.changes_raw: JSON only, no validation, no cache);
3. initial sync: SyncEngine.pull() into a fresh SQLCipher cache — persons/s and the ratio to (2).
   The engine takes the snapshot (the server copies it under the terminal's key, the terminal
   downloads and adopts it), then pulls the feed from the snapshot's seq; `--feed` also times
   the initial sync from the feed alone (the fallback when the server has no snapshot);
4. delta: 1,000 households spread over the register change at the server (moves, changes of
   name, 記事 only, in turn), then one pull — seconds; and the WAL checkpoint that the engine
   runs after the round, on its own connection (searches do not wait for it) — seconds;
5. GUI stall: a second fresh cache synced by the engine in a QThreadPool worker while a 5 ms
   QTimer on the GUI thread records the longest gap between its ticks: through the snapshot,
   and from the feed alone (pages of --page-limit and --gui-page-limit).

Budgets: ≥ 10,000 persons/s initial, delta ≤ 1 s, stall ≤ 50 ms.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.store.db import create_cache  # noqa: E402
from app.sync.client import (  # noqa: E402
    SyncClient,
    generate_terminal_key,
    make_csr,
    store_enrollment,
)
from app.sync.engine import SyncEngine  # noqa: E402
from app.synthetic.generator import household_dicts  # noqa: E402
from server.embedded import EmbeddedServer  # noqa: E402

OPERATOR, PASSWORD = "bench01", "bench-password-123"
KEY_PASSWORD = b"bench-key"


def write_data(path: Path, persons: int, seed: int, keep: int) -> tuple[int, list[dict[str, Any]]]:
    """The municipality as JSONL; returns (households, `keep` households spread over it).

    Spread, not the first ones: neighbours in the file are neighbours in every index, and a
    delta of adjacent households would touch few pages.
    """
    stride = max(1, persons // (3 * keep))
    kept: list[dict[str, Any]] = []
    count = 0
    with path.open("w", encoding="utf-8") as out:
        for h in household_dicts(persons, seed):
            out.write(json.dumps(h, ensure_ascii=False, separators=(",", ":")) + "\n")
            if len(kept) < keep and count % stride == 0:
                kept.append(h)
            count += 1
    return count, kept


def changed(h: dict[str, Any], i: int) -> dict[str, Any]:
    """A change of the kind a register sees every day, in turn: a move within the city (the
    household's address, on every member's row), a change of name (氏名変更: one member's
    name keys change), or a 記事 only (nothing that search sees)."""
    out = json.loads(json.dumps(h))
    kind = ("転居", "氏名変更", "記事")[i % 3]
    if kind == "転居":
        out["address"] = f"北見市北{1 + i % 9}条西{1 + i % 7}丁目{1 + i % 30}番地"
    if kind == "氏名変更":
        m = out["members"][0]
        m["name"], m["name_kana"] = (
            "改名 " + m["name"].split(" ")[-1],
            "カイメイ " + m["name_kana"].split(" ")[-1],
        )
    for m in out["members"]:
        m["version"] += 1
        m["history"] = [*m.get("history", []), {"date": "2026-11-20", "kind": kind, "note": ""}]
    return out


def enroll(base_url: str, data_dir: Path, directory: Path) -> tuple[SyncClient, bytes, str]:
    server = EmbeddedServer(data_dir)  # admin access to the same database, not serving
    token, ca_path = server.make_token(), server.ca_cert_path
    server.close()
    key = generate_terminal_key()
    dek = secrets.token_bytes(32)
    with SyncClient(base_url, ca_path) as anonymous:
        answer = anonymous.enroll(token, make_csr(key), dek, hostname="bench")
    cert, key_path, ca = store_enrollment(directory, key, answer, KEY_PASSWORD)
    client = SyncClient(base_url, ca, cert, key_path, KEY_PASSWORD, timeout=120.0)
    client.login(OPERATOR, PASSWORD)
    return client, dek, answer.terminal_no


def gc_pauses() -> list[float]:
    """Durations of the garbage collections from now on (they hold the GIL)."""
    pauses: list[float] = []
    started = [0.0]

    def callback(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            pauses.append(time.perf_counter() - started[0])

    gc.callbacks.append(callback)
    return pauses


def raw_fetch(client: SyncClient, limit: int) -> tuple[float, int]:
    t0 = time.perf_counter()
    after, items = 0, 0
    while True:
        page = client.changes_raw(after, limit)
        items += len(page["items"])
        after = page["next_after"]
        if not page["has_more"]:
            return time.perf_counter() - t0, items


def stall_probe(engine: SyncEngine, interval_ms: int = 5) -> tuple[float, float, Any]:
    """(longest GUI gap beyond the interval in ms, sync seconds, report) with a Qt timer probe."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QCoreApplication, QRunnable, QThreadPool, QTimer

    app = QCoreApplication.instance() or QCoreApplication([])
    done = threading.Event()
    box: dict[str, Any] = {}

    class Job(QRunnable):
        def run(self) -> None:  # worker thread: never touches Qt objects of the GUI
            t = time.perf_counter()
            box["report"] = engine.sync_once()
            box["seconds"] = time.perf_counter() - t
            done.set()

    gaps: list[float] = []
    last = [time.perf_counter()]

    def tick() -> None:
        now = time.perf_counter()
        gaps.append(now - last[0])
        last[0] = now
        if done.is_set():
            app.quit()

    timer = QTimer()
    timer.setInterval(interval_ms)
    timer.timeout.connect(tick)
    timer.start()
    QThreadPool.globalInstance().start(Job())
    app.exec()
    timer.stop()
    worst = max(gaps[1:], default=0.0) * 1000 - interval_ms
    return max(worst, 0.0), box["seconds"], box["report"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--persons", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--page-limit", type=int, default=2000)
    ap.add_argument("--delta", type=int, default=1000, help="households changed for the delta")
    ap.add_argument("--gui-page-limit", type=int, default=250, help="page size for the GUI run")
    ap.add_argument("--gc-freeze", action="store_true", help="gc.freeze() before the probe")
    ap.add_argument("--no-stall", action="store_true", help="skip the GUI stall probe")
    ap.add_argument("--feed", action="store_true", help="also time the initial sync from the feed")
    ap.add_argument("--data-dir", type=Path, default=None)
    args = ap.parse_args(argv)

    base = args.data_dir or Path(tempfile.mkdtemp(prefix="bench-sync-"))
    base.mkdir(parents=True, exist_ok=True)
    print(f"bench_sync: {args.persons:,} persons, page limit {args.page_limit}, dir {base}")

    t = time.perf_counter()
    n_households, first = write_data(base / "data.jsonl", args.persons, args.seed, args.delta)
    print(f"  generated {n_households:,} households in {time.perf_counter() - t:.1f}s")

    # Prepare the data dir in-process, then serve it from its own process: the server's work
    # must not share this process's GIL (it does not in production, and the GUI stall probe
    # would otherwise measure the server).
    server = EmbeddedServer(base / "server")
    t = time.perf_counter()
    report = server.import_jsonl(base / "data.jsonl")
    print(f"  server import {report.persons:,} persons in {time.perf_counter() - t:.1f}s")
    server.add_operator(OPERATOR, "ベンチ 職員", ["clerk", "issuer"], "本庁", PASSWORD)
    t = time.perf_counter()
    snapshot_seq = server.build_snapshot()
    print(
        f"  server snapshot (once, nightly; not part of a terminal's sync): seq {snapshot_seq:,}"
        f" in {time.perf_counter() - t:.1f}s"
    )
    server.close()
    proc, base_url = serve(base / "server")
    try:
        client, dek, terminal_no = enroll(base_url, base / "server", base / "terminal")

        raw_s, raw_items = raw_fetch(client, args.page_limit)
        raw_rate = args.persons / raw_s
        print(f"  raw page fetch: {raw_items:,} items in {raw_s:.2f}s = {raw_rate:,.0f} persons/s")

        if args.feed:
            feed_cache = create_cache(base / "cache-feed.db", dek)
            feed_engine = SyncEngine(
                feed_cache,
                client,
                terminal_no=terminal_no,
                initial_page_limit=args.page_limit,
                use_snapshot=False,
            )
            t = time.perf_counter()
            pull = feed_engine.pull()
            sync_s = time.perf_counter() - t
            assert pull.complete and pull.error is None, pull.error
            rate = args.persons / sync_s
            print(
                f"  initial sync from the feed alone: {pull.items:,} items in {pull.pages} "
                f"pages, {sync_s:.2f}s = {rate:,.0f} persons/s — ratio to raw fetch "
                f"{rate / raw_rate:.2f}"
            )
            feed_cache.close()

        cache = create_cache(base / "cache.db", dek)
        # Initial pages of --page-limit; the delta uses the engine's default (small) pages.
        engine = SyncEngine(
            cache, client, terminal_no=terminal_no, initial_page_limit=args.page_limit
        )
        steps = timed_snapshot_steps(client, cache)
        t = time.perf_counter()
        pull = engine.pull()
        sync_s = time.perf_counter() - t
        assert pull.complete and pull.error is None, pull.error
        assert pull.snapshot_seq == snapshot_seq, pull.snapshot_seq
        rate = args.persons / sync_s
        size = (base / "cache.db").stat().st_size
        print(
            f"  initial sync: snapshot of {size / 2**20:,.0f} MiB at seq {pull.snapshot_seq:,}, "
            f"then {pull.items:,} items of the feed, {sync_s:.2f}s = {rate:,.0f} persons/s "
            f"(budget ≥ 10,000) — ratio to raw fetch {rate / raw_rate:.2f}\n"
            f"    server's copy under the terminal's key {steps['prepare']:.2f}s, download "
            f"{steps['download']:.2f}s ({size / 2**20 / steps['download']:,.0f} MiB/s), "
            f"adopt {steps['adopt']:.2f}s, the rest (feed, commit) "
            f"{sync_s - sum(steps.values()):.2f}s"
        )

        cache.checkpoint()  # as SyncEngine.sync_once does after each round

        delta_path = base / "delta.jsonl"
        with delta_path.open("w", encoding="utf-8") as out:
            for i, h in enumerate(first):
                out.write(json.dumps(changed(h, i), ensure_ascii=False) + "\n")
        admin_cli(base / "server", "import", str(delta_path))
        t = time.perf_counter()
        delta = engine.pull()
        delta_s = time.perf_counter() - t
        assert delta.complete, delta.error
        t = time.perf_counter()
        frames = cache.checkpoint()
        checkpoint_s = time.perf_counter() - t
        persons = sum(len(h["members"]) for h in first)
        print(
            f"  delta sync: {delta.items:,} changes ({persons:,} persons) in "
            f"{delta_s:.3f}s (budget ≤ 1 s); then the WAL checkpoint, off the cache's lock: "
            f"{checkpoint_s:.3f}s for {frames[0] if frames else 0:,} pages"
        )
        digest_equal = engine.local_digest() == client.digest()
        print(f"  cache digest equals server digest: {digest_equal}")
        cache.close()

        if not args.no_stall:
            if args.gc_freeze:
                gc.freeze()  # what the GUI can do once after start-up
            pauses = gc_pauses()
            runs = [("snapshot", args.page_limit)] + [
                ("feed", limit) for limit in sorted({args.page_limit, args.gui_page_limit})[::-1]
            ]
            for mode, limit in runs:
                pauses.clear()
                cache2 = create_cache(base / f"cache-gui-{mode}-{limit}.db", dek)
                engine2 = SyncEngine(
                    cache2,
                    client,
                    terminal_no=terminal_no,
                    page_limit=limit,
                    initial_page_limit=limit,
                    use_snapshot=mode == "snapshot",
                )
                stall_ms, s2, rep = stall_probe(engine2)
                assert rep.pull is not None and rep.pull.complete, rep.error
                what = "the snapshot" if mode == "snapshot" else f"the feed, pages of {limit}"
                print(
                    f"  GUI stall, full sync in a QThreadPool worker, {what}"
                    f"{' (gc frozen)' if args.gc_freeze else ''}: longest {stall_ms:.1f} ms "
                    f"beyond the 5 ms tick (budget ≤ 50 ms); longest GC pause "
                    f"{max(pauses, default=0) * 1000:.1f} ms; sync {s2:.2f}s"
                )
                cache2.close()
        client.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return 0


def timed_snapshot_steps(client: SyncClient, cache: Any) -> dict[str, float]:
    """Wall time of the snapshot's steps in the next pull (wrapping the three calls)."""
    steps = {"prepare": 0.0, "download": 0.0, "adopt": 0.0}

    def timed(name: str, fn: Any) -> Any:
        def call(*a: Any, **kw: Any) -> Any:
            t = time.perf_counter()
            try:
                return fn(*a, **kw)
            finally:
                steps[name] += time.perf_counter() - t

        return call

    client.prepare_snapshot = timed("prepare", client.prepare_snapshot)  # type: ignore[method-assign]
    client.download_snapshot = timed("download", client.download_snapshot)  # type: ignore[method-assign]
    cache.adopt_snapshot = timed("adopt", cache.adopt_snapshot)
    return steps


def admin_cli(data_dir: Path, *args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "server.cli", "--data-dir", str(data_dir), *args],
        check=True,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )


def serve(data_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
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
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return proc, f"https://127.0.0.1:{port}"
        except OSError:
            if proc.poll() is not None:
                break
            time.sleep(0.1)
    proc.terminate()
    raise SystemExit("server did not start")


if __name__ == "__main__":
    raise SystemExit(main())
