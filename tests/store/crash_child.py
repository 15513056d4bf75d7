"""Child process of test_store_crash: applies the feed page by page until killed or done.

python -m tests.store.crash_child PATH DEK_HEX PERSONS PAGE
Prints "begin N" before each page (N = page's last seq), "written N" once the page is written
inside its transaction, not yet committed, and "done N" after the commit, flushed. After
"written" it waits for a line on stdin: the parent's SIGKILL lands there, inside the
transaction (a parent that closed stdin lets every page through).
"""

from __future__ import annotations

import sys
from pathlib import Path

from app.store.db import create_cache, open_cache
from tests.store.conftest import household_items
from tests.store.households import make_households


def main() -> None:
    path, dek_hex, persons, page = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    dek = bytes.fromhex(dek_hex)
    items = household_items(list(make_households(persons, seed=77)))
    cache = open_cache(path, dek) if Path(path).exists() else create_cache(path, dek)
    start = cache.cursor()
    for i in range(start, len(items), page):
        chunk = items[i : i + page]
        print(f"begin {chunk[-1].seq}", flush=True)
        with cache.transaction():
            cache.apply_changes(chunk, chunk[-1].seq)  # joins the page's transaction
            print(f"written {chunk[-1].seq}", flush=True)
            sys.stdin.readline()  # the parent kills us here, before the COMMIT
        print(f"done {chunk[-1].seq}", flush=True)
    cache.close()
    print("finished", flush=True)


if __name__ == "__main__":
    main()
