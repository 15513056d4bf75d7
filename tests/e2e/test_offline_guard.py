"""Issue 21 item 11 at the login window: the offline failure counter survives a restored
keyslots.json (the real login, the real keyring, the real server stopped for the offline part).
"""

from __future__ import annotations

import pytest

from app.store.errors import SlotDeleted, WrongPassword
from app.store.keys import DeviceSecret
from tests.e2e.conftest import PASSWORDS


def test_restoring_keyslots_json_gives_no_more_guesses(counter) -> None:
    counter.login("issuer01").logout()  # online: the operator's key slot is made
    slots = counter.terminal_dir / "keyslots.json"
    saved = slots.read_bytes()  # what an attacker copies before guessing

    counter.server.stop()
    service = counter.login_service()
    left = []
    for _ in range(4):
        with pytest.raises(WrongPassword) as exc:
            service.login("issuer01", "a-guess-at-the-counter")
        left.append(exc.value.remaining)
    assert left == [4, 3, 2, 1]

    slots.write_bytes(saved)  # the file says "no failures" again
    with pytest.raises(SlotDeleted):
        service.login("issuer01", "a-guess-at-the-counter")  # the fifth guess in all
    slots.write_bytes(saved)  # and once more: the slot stays deleted, right password or not
    with pytest.raises(SlotDeleted):
        service.login("issuer01", PASSWORDS["issuer01"])

    # The count lives beside the device secret, in the OS keyring.
    guard = DeviceSecret(counter.config.install_id).failure_guard().read()
    assert guard is not None and b"deleted" in guard

    # The same login window, the server back: the online login makes a new slot, and every
    # failure of the earlier attempts (kept in memory, the cache was closed) is in the chain.
    counter.server.start()
    session = service.login("issuer01", PASSWORDS["issuer01"])
    try:
        actions = [(e.operator_id, e.action) for e in session.chain.entries()]
        failed, lockout = ("issuer01", "login_failed"), ("issuer01", "lockout")
        assert actions[-9:] == [*[failed] * 5, lockout, failed, lockout, ("issuer01", "login")]
    finally:
        session.logout()
