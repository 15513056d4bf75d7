"""A private D-Bus session with gnome-keyring, so `keyring` uses the real Secret Service.

    def test_x(secret_service): ...   # keyring.get_keyring() is the SecretService backend
    (the fixture is imported once, in tests/conftest.py, for the whole run)

`start_secret_service(root)` starts, in a fresh directory used as HOME / XDG dirs:
- a dbus-daemon with our own bus configuration: no service directories, so nothing is ever
  D-Bus-activated. With Debian's session.conf, a call that reaches the bus before our daemon owns
  org.freedesktop.secrets activates `gnome-keyring-daemon --start` with no password; that one
  owns the name for the rest of the run, ours exits ("another secret service is running"), and
  every call fails with "Failed to create the collection: Prompt dismissed" (no prompter);
- gnome-keyring-daemon --unlock (password on stdin) in the foreground, which creates the
  'login' collection and unlocks it;
then waits, by D-Bus calls, until *our* daemon's pid owns org.freedesktop.secrets and the
'default' alias names an unlocked collection, and only then does one store/read/delete round
trip. Both daemons are our children and die with the test process (PR_SET_PDEATHSIG).
Missing binaries → tests.support.require (skip; fail in CI). A daemon that does not come up
fails with its stderr.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.support import require
from tests.support.poll import poll_until

_ENV_KEYS = ("DBUS_SESSION_BUS_ADDRESS", "HOME", "XDG_DATA_HOME", "XDG_RUNTIME_DIR",
             "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "GNOME_KEYRING_CONTROL")  # fmt: skip
_SECRETS = "org.freedesktop.secrets"
_PASSWORD = "madoguchi-test"

_BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:dir={run}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


def _die_with_parent() -> None:
    # Linux: the daemons get SIGTERM when the test process dies, even by SIGKILL, so a killed
    # test run leaves no D-Bus or keyring daemon behind.
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


@dataclass
class SecretServiceSession:
    root: Path
    env: dict[str, str]  # HOME, XDG_*, DBUS_SESSION_BUS_ADDRESS of the private session
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def address(self) -> str:
        return self.env["DBUS_SESSION_BUS_ADDRESS"]

    def stop(self) -> None:
        for proc in reversed(self.procs):
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


def _ready(address: str, keyd: subprocess.Popen[bytes], log: Path) -> bool:
    """True once our daemon owns the Secret Service name and 'default' is unlocked."""
    from jeepney import DBusAddress, Properties, new_method_call
    from jeepney.bus_messages import message_bus
    from jeepney.io.blocking import open_dbus_connection

    if keyd.poll() is not None:
        raise AssertionError(
            f"gnome-keyring-daemon exited ({keyd.returncode}): {log.read_text(errors='replace')}"
        )
    with open_dbus_connection(bus=address) as conn:
        owner = conn.send_and_get_reply(message_bus.NameHasOwner(_SECRETS)).body[0]
        if not owner:
            return False
        pid = conn.send_and_get_reply(message_bus.GetConnectionUnixProcessID(_SECRETS)).body[0]
        if pid != keyd.pid:
            raise AssertionError(f"{_SECRETS} is owned by pid {pid}, not our daemon {keyd.pid}")
        service = DBusAddress(
            "/org/freedesktop/secrets", _SECRETS, "org.freedesktop.Secret.Service"
        )
        reply = conn.send_and_get_reply(new_method_call(service, "ReadAlias", "s", ("default",)))
        path = reply.body[0]
        if path == "/":  # the login collection is not created yet
            return False
        collection = DBusAddress(path, _SECRETS, "org.freedesktop.Secret.Collection")
        locked = conn.send_and_get_reply(Properties(collection).get("Locked")).body[0][1]
        return not locked


def start_secret_service(root: Path, *, timeout: float = 30) -> SecretServiceSession:
    """Start the private bus and the keyring daemon under `root`; return once usable."""
    dbus = shutil.which("dbus-daemon")
    gkd = shutil.which("gnome-keyring-daemon")
    require(dbus is not None and gkd is not None, "dbus-daemon / gnome-keyring-daemon missing")
    assert dbus is not None and gkd is not None
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DBUS_", "GNOME_KEYRING_", "XDG_", "SSH_AUTH_SOCK"))
    }
    for sub in ("home", "data", "config", "cache", "run"):
        (root / sub).mkdir(mode=0o700, parents=True)
    env.update(
        HOME=str(root / "home"),
        XDG_DATA_HOME=str(root / "data"),
        XDG_CONFIG_HOME=str(root / "config"),
        XDG_CACHE_HOME=str(root / "cache"),
        XDG_RUNTIME_DIR=str(root / "run"),
    )
    session = SecretServiceSession(root, env)
    try:
        config = root / "bus.conf"
        config.write_text(_BUS_CONFIG.format(run=root / "run"), encoding="utf-8")
        bus = subprocess.Popen(
            [dbus, f"--config-file={config}", "--nofork", "--print-address=1"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,
        )  # fmt: skip
        session.procs.append(bus)
        assert bus.stdout is not None
        address = bus.stdout.readline().decode().strip()  # printed once it listens
        if not address:
            raise AssertionError(f"dbus-daemon printed no address (exit {bus.poll()})")
        env["DBUS_SESSION_BUS_ADDRESS"] = address
        log = root / "gnome-keyring-daemon.log"
        with open(log, "wb") as err:
            keyd = subprocess.Popen(
                [gkd, "--unlock", "--foreground", "--components=secrets"],
                env=env, stdin=subprocess.PIPE, stdout=err, stderr=err,
                preexec_fn=_die_with_parent,
            )  # fmt: skip
        session.procs.append(keyd)
        assert keyd.stdin is not None
        keyd.stdin.write(_PASSWORD.encode() + b"\n")
        keyd.stdin.close()  # EOF ends the password
        from jeepney.wrappers import DBusErrorResponse

        poll_until(
            lambda: _ready(address, keyd, log),
            timeout=timeout,
            interval=0.05,
            what="gnome-keyring-daemon's unlocked default collection",
            retry_on=(DBusErrorResponse, ConnectionError),
        )
    except BaseException:
        session.stop()
        raise
    return session


@pytest.fixture(scope="session")
def secret_service() -> Iterator[Any]:
    import keyring
    from keyring.backends import SecretService

    saved = {k: os.environ.get(k) for k in _ENV_KEYS}
    saved_backend = keyring.get_keyring()
    root = Path(tempfile.mkdtemp(prefix="madoguchi-keyring-"))
    session: SecretServiceSession | None = None
    try:
        session = start_secret_service(root)
        for k in _ENV_KEYS:
            if k in session.env:
                os.environ[k] = session.env[k]
            else:
                os.environ.pop(k, None)
        backend = SecretService.Keyring()
        # One round trip, no retry: the daemon is ready, so a failure here is a real failure.
        backend.set_password("madoguchi-probe", "probe", "ok")
        assert backend.get_password("madoguchi-probe", "probe") == "ok"
        backend.delete_password("madoguchi-probe", "probe")
        keyring.set_keyring(backend)
        yield backend
    finally:
        keyring.set_keyring(saved_backend)
        if session is not None:
            session.stop()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        shutil.rmtree(root, ignore_errors=True)
