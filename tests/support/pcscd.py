"""pcscd with the vpcd driver, started in the foreground by the test session.

pcscd reads its reader configuration only at start. We give it a private copy of Debian's
vsmartcard-vpcd entry (/etc/reader.conf.d/vpcd) with a free TCP port, so that a developer's
`madoguchi card simulate` on the default port 35963 does not get in the way; the readers keep
their names "Virtual PCD 00 00" (port P) and "Virtual PCD 00 01" (port P+1).

The client socket of pcscd is fixed (/run/pcscd/pcscd.comm), so only one pcscd can run on the
machine: a file lock serialises test sessions, and a pcscd that we did not start is an error.
This works as root without systemd (pcscd -f needs neither).

Use in a conftest:  from tests.support.pcscd import pcscd  # noqa: F401  (the fixture)
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import require
from tests.support.poll import poll_until

DEBIAN_VPCD_CONF = Path("/etc/reader.conf.d/vpcd")
RUN_DIR = Path("/run/pcscd")
LOCK_FILE = Path(tempfile.gettempdir()) / "madoguchi-pcscd.lock"
READER_NAMES = ("Virtual PCD 00 00", "Virtual PCD 00 01")


def _pcscd_binary() -> str | None:
    return shutil.which("pcscd") or next(
        (p for p in ("/usr/sbin/pcscd", "/sbin/pcscd") if os.path.exists(p)), None
    )


def _port_pair_free(port: int) -> bool:
    for p in (port, port + 1):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("0.0.0.0", p))
            except OSError:
                return False
    return True


def _free_port_pair() -> int:
    rng = random.Random()
    for _ in range(200):
        port = rng.randrange(40000, 60000, 2)
        if _port_pair_free(port):
            return port
    raise RuntimeError("no free port pair for vpcd")


def _foreign_pcscd_running() -> bool:
    pid_file = RUN_DIR / "pcscd.pid"
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _list_readers() -> list[str]:
    from app.cards.pcsc import list_readers

    return list_readers()


class Pcscd:
    """A pcscd process we own. `stop()`/`start()` restart it (the reader-monitor test)."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.conf_dir = workdir / "reader.conf.d"
        self.conf_dir.mkdir(parents=True, exist_ok=True)
        self.port = _free_port_pair()
        text = DEBIAN_VPCD_CONF.read_text()
        text = re.sub(r"(?m)^(DEVICENAME\s+\S+?):0x[0-9A-Fa-f]+", rf"\1:0x{self.port:04X}", text)
        text = re.sub(r"(?m)^CHANNELID\s+\S+", f"CHANNELID    0x{self.port:04X}", text)
        (self.conf_dir / "vpcd").write_text(text)
        self.log_path = workdir / "pcscd.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.readers = READER_NAMES

    def slot_port(self, slot: int) -> int:
        return self.port + slot

    def start(self, timeout: float = 60.0) -> None:
        binary = _pcscd_binary()
        assert binary is not None
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [binary, "--foreground", "--config", str(self.conf_dir), "--info"],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        log.close()
        proc = self.proc

        def readers_up() -> bool:
            if proc.poll() is not None:
                raise RuntimeError(f"pcscd exited ({proc.returncode}); see {self.log_path}")
            return set(READER_NAMES) <= set(_list_readers())

        try:
            poll_until(readers_up, timeout=timeout)
        except AssertionError:
            raise RuntimeError(f"pcscd readers did not appear; see {self.log_path}") from None

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None
        # pcscd removes its socket on exit; wait so that a restart does not race with it.
        with contextlib.suppress(AssertionError):  # a leftover socket: the restart says so
            poll_until(lambda: not (RUN_DIR / "pcscd.comm").exists(), timeout=5, interval=0.05)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


def _components_missing() -> str | None:
    if _pcscd_binary() is None:
        return "pcscd is not installed (Debian: pcscd)"
    if not DEBIAN_VPCD_CONF.exists():
        return "vpcd is not configured (Debian: vsmartcard-vpcd, /etc/reader.conf.d/vpcd)"
    try:
        import smartcard.scard  # noqa: F401
    except ImportError:
        return "pyscard is not installed (uv sync --extra pcsc)"
    return None


@contextlib.contextmanager
def _session_lock(timeout: float = 3600.0) -> Iterator[None]:
    # Another test session (a parallel run on a shared machine) holds pcscd for its whole run:
    # minutes, more under load. The deadline only bounds a hung session.
    with LOCK_FILE.open("a") as fh:

        def take() -> bool:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True

        poll_until(
            take,
            timeout=timeout,
            interval=0.5,
            what="the pcscd lock (held by another test session)",
            retry_on=(BlockingIOError,),
        )
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@pytest.fixture(scope="session")
def pcscd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pcscd]:
    missing = _components_missing()
    require(missing is None, missing or "")
    with _session_lock():
        require(
            not _foreign_pcscd_running(),
            "a pcscd not started by the tests is running (stop it: only one can run)",
        )
        # A pcscd killed earlier leaves its socket behind, and a new one then refuses to start.
        for stale in (RUN_DIR / "pcscd.comm", RUN_DIR / "pcscd.pid"):
            stale.unlink(missing_ok=True)
        service = Pcscd(tmp_path_factory.mktemp("pcscd"))
        service.start()
        try:
            yield service
        finally:
            service.stop()
