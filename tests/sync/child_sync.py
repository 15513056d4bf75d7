"""A terminal process for the SIGKILL tests:
`python -m tests.sync.child_sync pull|push|snapshot-download|snapshot-replace`.

Reads its configuration (JSON, from Rig.child_config) on stdin, runs the engine against the
real cache file and the real server, and prints one line per page applied / batch answered so
that the parent knows when to kill it. Each step pauses where the parent kills it.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

from app.store.db import open_cache
from app.sync.client import SyncClient
from app.sync.engine import SyncEngine


def main(mode: str) -> None:
    cfg = json.loads(sys.stdin.readline())
    cache = open_cache(cfg["cache"], bytes.fromhex(cfg["dek"]))
    client = SyncClient(
        cfg["base_url"], cfg["ca"], cfg["cert"], cfg["key"], cfg["key_password"].encode()
    )
    client.session_token = cfg["session"]
    client.download_chunk = 16 * 1024  # a snapshot of a few hundred households: many chunks
    engine = SyncEngine(
        cache,
        client,
        terminal_no=cfg["terminal_no"],
        page_limit=20,
        initial_page_limit=20,
        batch_size=10,
    )

    real_apply = cache.apply_changes

    def slow_apply(items: list[Any], next_after: int) -> None:
        # The page is written inside an outer transaction that stays open for a moment after
        # "applying" is printed: the parent's SIGKILL lands before the COMMIT.
        with cache.transaction():
            real_apply(items, next_after)  # joins the outer transaction
            print(f"applying {next_after}", flush=True)
            time.sleep(0.3)
        print(f"applied {next_after}", flush=True)

    real_push = client.push_events

    def slow_push(events: list[Any]) -> Any:
        print(f"sending {len(events)}", flush=True)  # the parent may kill us inside this
        answer = real_push(events)
        print(f"answered {len(events)}", flush=True)
        time.sleep(0.3)  # the parent kills us here: answered, not yet recorded
        return answer

    real_download = client.download_snapshot

    def slow_download(info: Any, path: Any, progress: Any = None, cancelled: Any = None) -> Any:
        def report(done: int, total: int) -> None:
            print(f"downloading {done}", flush=True)
            time.sleep(0.05)  # the parent kills us between two chunks

        return real_download(info, path, report, cancelled)

    real_replace = os.replace

    def slow_replace(source: Any, target: Any) -> None:
        # The snapshot holds the terminal's own rows by now; the cache file is not yet replaced.
        print("replacing", flush=True)
        time.sleep(0.3)
        real_replace(source, target)

    cache.apply_changes = slow_apply  # type: ignore[method-assign]
    client.push_events = slow_push  # type: ignore[method-assign]
    client.download_snapshot = slow_download  # type: ignore[method-assign]
    if mode == "snapshot-replace":
        os.replace = slow_replace
    print("ready", flush=True)
    result = engine.push() if mode == "push" else engine.pull()
    print(f"done {result.error is None}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
