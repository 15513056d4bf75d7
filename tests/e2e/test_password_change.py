"""Issue 21 item 6 at the terminal: the forced change after an administrator's reset (the login
answer says so; nothing opens before the change), the operator's own change, and the terminal's
check by the server's rule (app.domain.passwords) before anything is sent.

The real counter: the server over HTTPS, the SQLCipher cache, the keyring, the key slots.
"""

from __future__ import annotations

import pytest

from app.auth.errors import InvalidCredentials, PasswordChangeRequired, WeakPassword
from app.store.errors import NoSlot, SlotDeleted, WrongPassword
from tests.e2e.conftest import PASSWORDS

RESET = "administrator-set-phrase-9"
CHOSEN = "my own counter phrase 2026"


def test_a_reset_password_must_be_changed_before_anything(counter) -> None:
    counter.login("issuer01").logout()  # an offline slot exists for the old password
    counter.server.update_operator("issuer01", password=RESET)
    service = counter.login_service()
    with pytest.raises(PasswordChangeRequired) as asked:
        service.login("issuer01", RESET)
    assert "新しいパスワード" in asked.value.message
    # The terminal's own check (the server's rule): nothing is sent, nothing opens.
    with pytest.raises(WeakPassword) as weak:
        service.login("issuer01", RESET, new_password="password1234567")
    assert "よく使われている" in weak.value.message
    with pytest.raises(WeakPassword):
        service.login("issuer01", RESET, new_password="short")

    session = service.login("issuer01", RESET, new_password=CHOSEN)
    try:
        assert session.sync_once().error is None  # the new session works
        actions = [e.action for e in session.chain.entries()]
        assert actions[-2:] == ["login", "password_change"]
        session.auth.lock()
        with pytest.raises(InvalidCredentials):
            session.auth.unlock(RESET)
        session.auth.unlock(CHOSEN)  # the idle lock takes the new password
    finally:
        session.logout()

    counter.server.stop()  # offline: the slot is the new password's, the old one opens nothing
    with pytest.raises(WrongPassword):
        counter.login_service().login("issuer01", PASSWORDS["issuer01"])
    offline = counter.login_service().login("issuer01", CHOSEN)
    assert not offline.online_at_login
    offline.logout()


def test_a_reset_removes_the_old_offline_slot(counter) -> None:
    counter.login("issuer01").logout()
    counter.server.update_operator("issuer01", password=RESET)
    with pytest.raises(PasswordChangeRequired):
        counter.login_service().login("issuer01", RESET)
    counter.server.stop()
    with pytest.raises((NoSlot, SlotDeleted)):
        counter.login_service().login("issuer01", PASSWORDS["issuer01"])


def test_the_operator_changes_their_own_password(counter) -> None:
    session = counter.login("clerk01")
    old = PASSWORDS["clerk01"]
    try:
        assert session.password_problems("clerk01 password") != []
        assert session.password_problems(CHOSEN, old) == []
        with pytest.raises(WeakPassword):
            session.change_password(old, "12345678901234567")  # refused here, never sent
        with pytest.raises(InvalidCredentials):
            session.change_password("not-the-current-one-at-all", CHOSEN)
        session.change_password(old, CHOSEN)
        assert session.chain.entries()[-1].action == "password_change"
        assert session.sync_once().error is None  # the client keeps the new server session
    finally:
        session.logout()
    # The server takes the new password, not the old one; so does this terminal's slot.
    counter.login_service().login("clerk01", CHOSEN).logout()
    with pytest.raises(InvalidCredentials):
        counter.login_service().login("clerk01", old)
    counter.server.stop()
    offline = counter.login_service().login("clerk01", CHOSEN)
    assert not offline.online_at_login
    offline.logout()
