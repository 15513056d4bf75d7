"""A private D-Bus session with gnome-keyring, so `keyring` uses the real Secret Service.

    from tests.support.keyring_session import secret_service  # noqa: F401  (the fixture)

    def test_x(secret_service): ...   # keyring.get_keyring() is the SecretService backend

The fixture (session scope) starts `dbus-daemon --session --fork`, then
`gnome-keyring-daemon --unlock --components=secrets` with a password on stdin, in a temporary
HOME / XDG dirs (never the developer's own keyring), points DBUS_SESSION_BUS_ADDRESS at it and
installs keyring's SecretService backend. Everything is stopped (by pid) and restored after.
Missing binaries or a daemon that does not come up → tests.support.require (skip; fail in CI).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support import require

_ENV_KEYS = ("DBUS_SESSION_BUS_ADDRESS", "HOME", "XDG_DATA_HOME", "XDG_RUNTIME_DIR",
             "XDG_CONFIG_HOME", "GNOME_KEYRING_CONTROL")  # fmt: skip


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)


@pytest.fixture(scope="session")
def secret_service() -> Iterator[Any]:
    import keyring

    dbus = shutil.which("dbus-daemon")
    gkd = shutil.which("gnome-keyring-daemon")
    require(dbus is not None and gkd is not None, "dbus-daemon / gnome-keyring-daemon missing")
    saved = {k: os.environ.get(k) for k in _ENV_KEYS}
    saved_backend = keyring.get_keyring()
    root = tempfile.mkdtemp(prefix="madoguchi-keyring-")
    pids: list[int] = []
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
        out = subprocess.run(
            [dbus, "--session", "--fork", "--print-address=1", "--print-pid=1"],
            env=env, capture_output=True, text=True, timeout=20, check=False,
        )  # fmt: skip
        lines = out.stdout.split()
        require(out.returncode == 0 and len(lines) >= 2, f"dbus-daemon failed: {out.stderr}")
        address, pid = lines[0], int(lines[1])
        pids.append(pid)
        env["DBUS_SESSION_BUS_ADDRESS"] = address
        gk = subprocess.run(
            [gkd, "--unlock", "--components=secrets", "--daemonize"],
            input="madoguchi-test\n", env=env, capture_output=True, text=True, timeout=20,
            check=False,
        )  # fmt: skip
        require(gk.returncode == 0, f"gnome-keyring-daemon failed: {gk.stderr}")
        for line in gk.stdout.splitlines():
            key, _, value = line.partition("=")
            if key == "GNOME_KEYRING_PID" and value.isdigit():
                pids.append(int(value))
            elif key == "GNOME_KEYRING_CONTROL":
                env["GNOME_KEYRING_CONTROL"] = value
        for k in _ENV_KEYS:
            if k in env:
                os.environ[k] = env[k]

        from keyring.backends import SecretService

        backend = SecretService.Keyring()
        # The daemon needs a moment to own org.freedesktop.secrets and create the collection.
        deadline = time.monotonic() + 15
        while True:
            try:
                backend.set_password("madoguchi-probe", "probe", "ok")
                if backend.get_password("madoguchi-probe", "probe") == "ok":
                    backend.delete_password("madoguchi-probe", "probe")
                    break
            except Exception as exc:
                if time.monotonic() > deadline:
                    require(False, f"Secret Service did not come up: {type(exc).__name__}")
                time.sleep(0.2)
        keyring.set_keyring(backend)
        yield backend
    finally:
        keyring.set_keyring(saved_backend)
        for pid in reversed(pids):
            _kill(pid)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        shutil.rmtree(root, ignore_errors=True)
