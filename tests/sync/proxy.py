"""A small TCP proxy on loopback that can cut connections: the network faults of the tests.

It forwards bytes unchanged (TLS passes through end to end), so the client still talks real
HTTPS with mTLS to the real server. Faults:
- `cut_after(n)`: the next n bytes from the server reach the client, then both sides of that
  connection are closed (a response cut in the middle);
- `hold_after(n)`: the next n bytes from the server reach the client, then nothing more from
  the server reaches any client (the bytes wait) until `release()`; the returned Event is set
  when the hold begins, so a test can act at that point of a download, not at a time;
- `down = True`: new connections are accepted and closed at once, existing ones are dropped
  (the line is down);
- `upstream_port` may change (a restarted server listening elsewhere).
"""

from __future__ import annotations

import contextlib
import socket
import threading


class CuttingProxy:
    def __init__(self, upstream_port: int, host: str = "127.0.0.1") -> None:
        self.host = host
        self.upstream_port = upstream_port
        self._listener = socket.create_server((host, 0))
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._released = threading.Condition(self._lock)
        self._budget: int | None = None  # bytes server→client left before the cut
        self._hold: int | None = None  # bytes server→client left before the hold
        self._holding = False
        self.held = threading.Event()
        self.cuts = 0
        self.down = False
        self._conns: list[socket.socket] = []
        self._closed = False
        self._thread = threading.Thread(target=self._accept, name="cutting-proxy", daemon=True)
        self._thread.start()

    @property
    def base_url(self) -> str:
        return f"https://{self.host}:{self.port}"

    def cut_after(self, nbytes: int) -> None:
        with self._lock:
            self._budget = nbytes

    def hold_after(self, nbytes: int) -> threading.Event:
        with self._lock:
            self._hold, self._holding = nbytes, False
            self.held.clear()
        return self.held

    def release(self) -> None:
        with self._lock:
            self._hold, self._holding = None, False
            self._released.notify_all()

    def drop_all(self) -> None:
        with self._lock:
            conns, self._conns = self._conns, []
        for c in conns:
            with contextlib.suppress(OSError):
                c.shutdown(socket.SHUT_RDWR)
            c.close()
        with self._lock:
            self._released.notify_all()  # held pipes of the dropped connections end

    def close(self) -> None:
        self._closed = True
        with contextlib.suppress(OSError):
            self._listener.close()
        self.drop_all()  # wakes the held pipes too

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self.down:
                client.close()
                continue
            try:
                upstream = socket.create_connection((self.host, self.upstream_port), timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns += [client, upstream]
            threading.Thread(target=self._pipe, args=(client, upstream, False), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, True), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket, to_client: bool) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data or self.down:
                    break
                if to_client:
                    data, rest = self._admit(data)
                    if rest is not None:
                        if data:
                            dst.sendall(data)
                        self.held.set()
                        if not self._wait_release(dst):
                            break
                        data = rest
                    with self._lock:
                        budget = self._budget
                        if budget is not None and len(data) >= budget:
                            self._budget = None
                            self.cuts += 1
                            data, cut = data[:budget], True
                        else:
                            if budget is not None:
                                self._budget = budget - len(data)
                            cut = False
                    if data:
                        dst.sendall(data)
                    if cut:
                        break
                else:
                    dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def _admit(self, data: bytes) -> tuple[bytes, bytes | None]:
        """(what may reach the client now, what must wait for release() or None)."""
        with self._lock:
            if self._hold is None:
                return data, None
            if self._holding:
                return b"", data
            if len(data) < self._hold:
                self._hold -= len(data)
                return data, None
            self._holding = True
            return data[: self._hold], data[self._hold :]

    def _wait_release(self, dst: socket.socket) -> bool:
        """Block while held; False when the connection was dropped (or the proxy closed)."""
        with self._released:
            while self._holding and dst.fileno() != -1 and not self._closed:
                self._released.wait()
            return dst.fileno() != -1 and not self._closed
