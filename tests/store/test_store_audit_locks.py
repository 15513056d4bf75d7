"""The audit chain on the store takes the store's transaction before its own lock, as every
caller does (an issuance or a sync round opens the transaction and appends or marks inside it).

Found hanging the e2e run (issue 17): a logout's audit entry took the chain's lock and waited for
the store, while a sync round held the store's transaction and waited in mark_pushed for the
chain's lock. The bounded joins below only bound the wait for a thread; a deadlock never ends.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from app.store.audit import AuditAction, AuditChain, signer_for
from app.store.db import create_cache

BOUND_S = 30


def test_an_entry_and_a_sync_round_do_not_wait_for_each_other(tmp_path: Path, dek: bytes) -> None:
    cache = create_cache(tmp_path / "cache.db", dek)
    chain = AuditChain(cache, "0001", signer_for(ec.generate_private_key(ec.SECP256R1())))
    chain.append("clerk1", AuditAction.LOGIN)
    store_wanted = threading.Event()
    real_transaction = cache.transaction

    def transaction(*args: Any, **kwargs: Any) -> Any:
        if threading.current_thread() is logout:
            store_wanted.set()  # the logout's entry now asks for the store
        return real_transaction(*args, **kwargs)

    cache.transaction = transaction  # type: ignore[method-assign]
    logout = threading.Thread(
        target=lambda: chain.append("clerk1", AuditAction.LOGOUT), daemon=True
    )
    done: list[int] = []

    def sync_round() -> None:
        with real_transaction():  # the round's transaction (queue_audit_batches)
            logout.start()
            store_wanted.wait()
            done.append(chain.mark_pushed(1))

    syncing = threading.Thread(target=sync_round, daemon=True)
    syncing.start()
    syncing.join(BOUND_S)
    assert done == [1], "the sync round waited for the chain's lock held by the logout"
    logout.join(BOUND_S)
    assert not logout.is_alive()
    assert [e.action for e in chain.entries()] == ["login", "logout"]
    cache.close()
