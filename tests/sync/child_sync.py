"""A terminal process for the SIGKILL tests:
`python -m tests.sync.child_sync pull|push|snapshot-download|snapshot-replace`.

Reads its configuration (JSON, from Rig.child_config) on stdin, runs the engine against the
real cache file and the real server, and prints one line per page applied / batch answered so
that the parent knows when to kill it. At the marker of its mode the child waits for a line on
stdin ("go on"), so the parent's SIGKILL lands exactly there, whatever the machine's load.
"""

from __future__ import annotations

import faulthandler
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

from app.store.db import open_cache
from app.sync.client import SyncClient
from app.sync.engine import SyncEngine
from tests.support.poll import poll_until

PAUSE_AT = {
    "pull": "applying",
    "push": "answered",
    "snapshot-download": "downloading",
    "snapshot-replace": "replacing",
}


def main(mode: str) -> None:
    faulthandler.register(signal.SIGUSR1)  # a stuck child shows its stack on request
    cfg = json.loads(sys.stdin.readline())

    def marker(line: str) -> None:
        print(line, flush=True)
        if line.split()[0] == PAUSE_AT[mode]:
            sys.stdin.readline()  # the parent kills us here, or says go on

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
            marker(f"applying {next_after}")
        print(f"applied {next_after}", flush=True)

    real_push = client.push_events

    def slow_push(events: list[Any]) -> Any:
        print(f"sending {len(events)}", flush=True)  # the parent may kill us inside this
        answer = real_push(events)
        marker(f"answered {len(events)}")  # answered, not yet recorded
        return answer

    real_download = client.download_snapshot

    def slow_download(info: Any, path: Any, progress: Any = None, cancelled: Any = None) -> Any:
        def report(done: int, total: int) -> None:
            # The client's writer thread writes behind the download: the marker waits until
            # some of it is on disk, so the kill always leaves bytes to resume from.
            part = Path(path)
            poll_until(
                lambda: part.exists() and part.stat().st_size > 0,
                timeout=60,
                interval=0.01,
                what="the download's first bytes on disk",
            )
            marker(f"downloading {done}")  # between two chunks

        return real_download(info, path, report, cancelled)

    real_replace = os.replace

    def slow_replace(source: Any, target: Any) -> None:
        # The snapshot holds the terminal's own rows by now; the cache file is not yet replaced.
        marker("replacing")
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
