"""tests/support/keyring_session.py: the private Secret Service is ready before the first test
and nothing else can take its place."""

from __future__ import annotations

from pathlib import Path

from tests.support.keyring_session import start_secret_service


def test_nothing_is_activated_and_our_daemon_holds_an_unlocked_default(tmp_path: Path) -> None:
    from jeepney.bus_messages import message_bus
    from jeepney.io.blocking import open_dbus_connection

    session = start_secret_service(tmp_path / "kr")
    try:
        with open_dbus_connection(bus=session.address) as conn:
            # With the distribution's session.conf, org.freedesktop.secrets is activatable: an
            # early call would start a second, password-less gnome-keyring-daemon.
            names = conn.send_and_get_reply(message_bus.ListActivatableNames()).body[0]
            assert "org.freedesktop.secrets" not in names
            owner_pid = conn.send_and_get_reply(
                message_bus.GetConnectionUnixProcessID("org.freedesktop.secrets")
            ).body[0]
        assert owner_pid == session.procs[-1].pid
    finally:
        session.stop()
    assert all(proc.poll() is not None for proc in session.procs)
