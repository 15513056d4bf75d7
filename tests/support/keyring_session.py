"""A private D-Bus session with gnome-keyring, so `keyring` uses the real Secret Service.

    from tests.support.keyring_session import secret_service  # noqa: F401  (the fixture)

    def test_x(secret_service): ...   # keyring.get_keyring() is the SecretService backend

The fixture (session scope) starts `dbus-daemon --session --nofork`, then
`gnome-keyring-daemon --unlock --foreground --components=secrets` with a password on stdin,
both as children that die with the test process (PR_SET_PDEATHSIG), in a temporary
HOME / XDG dirs (never the developer's own keyring), points DBUS_SESSION_BUS_ADDRESS at it and
installs keyring's SecretService backend. Everything is stopped (by pid) and restored after.
Missing binaries or a daemon that does not come up → tests.support.require (skip; fail in CI).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support import require
from tests.support.poll import poll_until

_ENV_KEYS = ("DBUS_SESSION_BUS_ADDRESS", "HOME", "XDG_DATA_HOME", "XDG_RUNTIME_DIR",
             "XDG_CONFIG_HOME", "GNOME_KEYRING_CONTROL")  # fmt: skip


def _die_with_parent() -> None:
    # Linux: the daemons get SIGTERM when the test process dies, even by SIGKILL, so a killed
    # test run leaves no D-Bus or keyring daemon behind.
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


@pytest.fixture(scope="session")
def secret_service() -> Iterator[Any]:
    import keyring

    dbus = shutil.which("dbus-daemon")
    gkd = shutil.which("gnome-keyring-daemon")
    require(dbus is not None and gkd is not None, "dbus-daemon / gnome-keyring-daemon missing")
    saved = {k: os.environ.get(k) for k in _ENV_KEYS}
    saved_backend = keyring.get_keyring()
    root = tempfile.mkdtemp(prefix="madoguchi-keyring-")
    procs: list[subprocess.Popen[str]] = []
    try:
        env = dict(os.environ)
        for sub in ("home", "data", "config", "run"):
            os.makedirs(os.path.join(root, sub), mode=0o700)
        env.update(
            HOME=os.path.join(root, "home"),
            XDG_DATA_HOME=os.path.join(root, "data"),
            XDG_CONFIG_HOME=os.path.join(root, "config"),
            XDG_RUNTIME_DIR=os.path.join(root, "run"),
        )
        # Both daemons stay in the foreground as our children (no --fork / --daemonize).
        bus = subprocess.Popen(
            [dbus, "--session", "--nofork", "--print-address=1"],
            env=env, stdout=subprocess.PIPE, text=True, preexec_fn=_die_with_parent,
        )  # fmt: skip
        procs.append(bus)
        assert bus.stdout is not None
        address = bus.stdout.readline().strip()
        require(bool(address), "dbus-daemon did not print its address")
        env["DBUS_SESSION_BUS_ADDRESS"] = address
        keyd = subprocess.Popen(
            [gkd, "--unlock", "--foreground", "--components=secrets"],
            env=env, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
            preexec_fn=_die_with_parent,
        )  # fmt: skip
        procs.append(keyd)
        assert keyd.stdin is not None
        keyd.stdin.write("madoguchi-test\n")
        keyd.stdin.close()  # end of the password; the Secret Service is reached over D-Bus
        for k in _ENV_KEYS:
            if k in env:
                os.environ[k] = env[k]

        from keyring.backends import SecretService

        backend = SecretService.Keyring()

        # The daemon needs a moment to own org.freedesktop.secrets and create the collection.
        def probe() -> bool:
            backend.set_password("madoguchi-probe", "probe", "ok")
            if backend.get_password("madoguchi-probe", "probe") != "ok":
                return False
            backend.delete_password("madoguchi-probe", "probe")
            return True

        try:
            poll_until(probe, timeout=15, interval=0.2, retry_on=(Exception,))
        except AssertionError as exc:
            cause = type(exc.__cause__).__name__ if exc.__cause__ else "timeout"
            require(False, f"Secret Service did not come up: {cause}")
        keyring.set_keyring(backend)
        yield backend
    finally:
        keyring.set_keyring(saved_backend)
        for proc in reversed(procs):
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        shutil.rmtree(root, ignore_errors=True)
