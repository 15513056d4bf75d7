"""A real server, a real terminal and a real cache for the fault tests, with a cutting proxy.

    rig = Rig.start(tmp_path, n_households=200)
    rig.engine.sync_once()
    assert rig.server_digest() == rig.engine.local_digest()

The client talks HTTPS with mTLS to the embedded server through `CuttingProxy` on loopback, so
a test can cut a response, take the line down, or restart / restore the server behind it.
"""

from __future__ import annotations

import json
import random
import shutil
import sqlite3
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.store.db import create_cache, open_cache
from app.sync.client import SyncClient
from app.sync.engine import SyncEngine
from app.sync.protocol import Digest, Event
from app.sync.retry import RetryPolicy
from server.embedded import EmbeddedServer
from tests.support.server import (
    OPERATOR_ID,
    ServerEnv,
    Terminal,
    start_server_env,
    write_jsonl,
)
from tests.sync.data import bumped, households
from tests.sync.proxy import CuttingProxy


def _client(base_url: str, t: Terminal, session_token: str | None) -> SyncClient:
    client = SyncClient(base_url, t.ca_path, t.cert_path, t.key_path, t.key_password, timeout=5.0)
    client.session_token = session_token
    return client


# Fast but real backoff: the waits are short so the suite stays quick.
FAST_RETRY = RetryPolicy(attempts=4, base_seconds=0.05, cap_seconds=0.2)


@dataclass(frozen=True)
class Template:
    """A prepared server data dir (CA, schema, households, operator, enrolled terminal,
    open session), made once per test session: copying it is much cheaper than redoing
    key generation, argon2 hashing and migrations in every test."""

    directory: Path
    terminal: Terminal
    session_token: str
    data: dict[str, dict[str, Any]]

    @classmethod
    def make(cls, directory: Path, n_households: int = 200, members: int = 3) -> Template:
        items = households(n_households, members)
        env = start_server_env(directory, households=items)
        token = env.client.session_token
        assert token
        env.close()
        return cls(directory, env.terminal, token, {h["household_id"]: h for h in items})


@dataclass
class Rig:
    tmp: Path
    env: ServerEnv
    proxy: CuttingProxy
    client: SyncClient
    cache: Any
    engine: SyncEngine
    data: dict[str, dict[str, Any]]  # household_id → state last imported into the server

    @classmethod
    def start(cls, tmp: Path, template: Template, **engine_kw: Any) -> Rig:
        shutil.copytree(template.directory / "server", tmp / "server")
        server = EmbeddedServer(tmp / "server")
        server.start()
        t = template.terminal
        env = ServerEnv(server, t, _client(server.base_url, t, template.session_token))
        proxy = CuttingProxy(server.port or 0)
        client = _client(proxy.base_url, t, template.session_token)
        cache = create_cache(tmp / "cache.db", t.dek)
        engine_kw.setdefault("retry", FAST_RETRY)
        engine_kw.setdefault("page_limit", 50)
        engine_kw.setdefault("initial_page_limit", 50)
        engine = SyncEngine(cache, client, terminal_no=t.terminal_no, **engine_kw)
        return cls(tmp, env, proxy, client, cache, engine, dict(template.data))

    @classmethod
    def on_env(
        cls, tmp: Path, env: ServerEnv, data: dict[str, dict[str, Any]], **engine_kw: Any
    ) -> Rig:
        """A rig around a server env made elsewhere (e.g. PostgreSQL-backed)."""
        t = env.terminal
        proxy = CuttingProxy(env.server.port or 0)
        client = _client(proxy.base_url, t, env.client.session_token)
        env.client.close()  # its idle connection would hold up the server's shutdown
        cache = create_cache(tmp / "cache.db", t.dek)
        engine_kw.setdefault("retry", FAST_RETRY)
        engine_kw.setdefault("page_limit", 50)
        engine_kw.setdefault("initial_page_limit", 50)
        engine = SyncEngine(cache, client, terminal_no=t.terminal_no, **engine_kw)
        return cls(tmp, env, proxy, client, cache, engine, dict(data))

    def close(self) -> None:
        self.cache.close()
        self.client.close()
        self.proxy.close()
        self.env.close()

    # -- the server side ------------------------------------------------------------------

    @property
    def server(self) -> EmbeddedServer:
        return self.env.server

    @property
    def server_db_path(self) -> Path:
        return self.tmp / "server" / "server.db"

    def server_digest(self) -> Digest:
        # Through the proxy: it follows the server across restarts (port changes).
        return self.client.digest()

    def change_households(self, count: int, seed: int = 0, new: int = 0) -> list[str]:
        """Bump `count` existing households and add `new` ones at the server (an import)."""
        rnd = random.Random(seed)
        ids = rnd.sample(sorted(self.data), count)
        for hid in ids:
            self.data[hid] = bumped(self.data[hid])
        start = 100_000 + seed * 1000
        for h in households(new, 2, start=start):
            self.data[h["household_id"]] = h
            ids.append(h["household_id"])
        path = write_jsonl(self.tmp / f"change-{seed}.jsonl", [self.data[h] for h in ids])
        report = self.server.import_jsonl(path)
        assert report.ok, report.errors
        return ids

    def stop_server(self) -> None:
        # uvicorn waits for open connections on shutdown: close the proxied ones first (the
        # client sees exactly what it sees when a server goes away).
        self.proxy.drop_all()
        self.server.stop()

    def restart_server(self) -> None:
        self.stop_server()
        self.server.start()
        self.proxy.upstream_port = self.server.port or 0

    def backup(self, name: str = "backup.db") -> Path:
        """A consistent copy of the live server database (SQLite's online backup)."""
        target = self.tmp / name
        src = sqlite3.connect(self.server_db_path)
        dst = sqlite3.connect(target)
        with dst:
            src.backup(dst)
        src.close()
        dst.close()
        return target

    def restore(self, backup: Path) -> None:
        """Stop the server, put the backup in place of its database, start it again."""
        self.proxy.drop_all()
        self.env.close()
        for suffix in ("", "-wal", "-shm"):
            Path(str(self.server_db_path) + suffix).unlink(missing_ok=True)
        shutil.copyfile(backup, self.server_db_path)
        server = EmbeddedServer(self.tmp / "server")
        server.start()
        t, token = self.env.terminal, self.client.session_token
        self.env = ServerEnv(server, t, _client(server.base_url, t, token))
        self.proxy.upstream_port = server.port or 0

    def server_events(self) -> tuple[int, int]:
        """(rows, distinct event ids) in the server's events table."""
        con = sqlite3.connect(f"file:{self.server_db_path}?mode=ro", uri=True)
        try:
            return con.execute("SELECT count(*), count(DISTINCT event_id) FROM events").fetchone()
        finally:
            con.close()

    def server_event_ids(self) -> set[str]:
        con = sqlite3.connect(f"file:{self.server_db_path}?mode=ro", uri=True)
        try:
            return {r[0] for r in con.execute("SELECT event_id FROM events")}
        finally:
            con.close()

    # -- the terminal side ----------------------------------------------------------------

    def reopen_cache(self) -> None:
        self.cache.close()
        self.cache = open_cache(self.tmp / "cache.db", self.env.terminal.dek)
        self.engine.cache = self.cache

    def issue_events(self, count: int, day: str = "20261126") -> list[Event]:
        """certificate_issued events for existing persons, queued in the cache's outbox."""
        hids = sorted(self.data)
        events = []
        for i in range(count):
            h = self.data[hids[i % len(hids)]]
            person = h["members"][0]
            e = Event(
                event_id=str(uuid.uuid4()),
                type="certificate_issued",
                occurred_at=datetime.now(UTC),
                operator_id=OPERATOR_ID,
                terminal_no=self.env.terminal.terminal_no,
                relied_versions={person["person_id"]: person["version"]},
                payload={
                    "issuance_no": f"{self.env.terminal.terminal_no}-{day}-{i + 1:04d}",
                    "kind": "juminhyo",
                    "person_ids": [person["person_id"]],
                    "copies": 1,
                    "fee_yen": 300,
                    "content_digest": "0" * 64,
                },
            )
            self.cache.outbox_add(e)
            events.append(e)
        return events

    def child_config(self) -> str:
        t = self.env.terminal
        return json.dumps(
            {
                "cache": str(self.tmp / "cache.db"),
                "dek": t.dek.hex(),
                "base_url": self.proxy.base_url,
                "ca": str(t.ca_path),
                "cert": str(t.cert_path),
                "key": str(t.key_path),
                "key_password": t.key_password.decode(),
                "session": self.client.session_token,
                "terminal_no": t.terminal_no,
            }
        )
