"""Reader monitor: card inserted / removed callbacks, surviving the PC/SC service going away.

On Windows the smart-card service stops when the last reader is unplugged and starts again with
the next one; pcscd on Linux can be restarted. Every PC/SC context dies with the service, so the
monitor does not treat SCARD_E_NO_SERVICE / SCARD_E_SERVICE_STOPPED as fatal: it drops the
context, reports the cards that went with it as removed, and establishes a new one when the
service is back.

Callbacks run on the monitor's thread; a GUI must hop to its own thread (a queued signal).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from app.cards.pcsc import SERVICE_GONE, smartcard, u32

log = logging.getLogger(__name__)

PNP_NOTIFICATION = "\\\\?PnP?\\Notification"
SCARD_E_TIMEOUT = 0x8010000A
SCARD_E_NO_READERS_AVAILABLE = 0x8010002E
SCARD_E_CANCELLED = 0x80100002


class ReaderMonitor:
    """Watch every reader; call `on_insert(reader, atr)` and `on_remove(reader)` on changes.

    `on_service(available: bool)` tells whether the PC/SC service is reachable.
    """

    def __init__(
        self,
        on_insert: Callable[[str, bytes], None],
        on_remove: Callable[[str], None],
        *,
        on_service: Callable[[bool], None] | None = None,
        poll_ms: int = 250,
        retry_s: float = 0.5,
    ) -> None:
        self._on_insert = on_insert
        self._on_remove = on_remove
        self._on_service = on_service
        self._poll_ms = poll_ms
        self._retry_s = retry_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._present: dict[str, bool] = {}
        self.contexts_established = 0  # how many times a context was (re-)established
        self.service_available = False

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="card-monitor", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def present(self) -> dict[str, bool]:
        return dict(self._present)

    # ------------------------------------------------------------------------------------

    def _safe(self, fn: Callable[..., None], *args: Any) -> None:
        try:
            fn(*args)
        except Exception:  # a callback bug must not kill the monitor
            log.exception("card monitor callback failed")

    def _set_service(self, available: bool) -> None:
        if available != self.service_available:
            self.service_available = available
            if self._on_service is not None:
                self._safe(self._on_service, available)

    def _lost_all(self) -> None:
        for reader, present in list(self._present.items()):
            if present:
                self._safe(self._on_remove, reader)
        self._present.clear()

    def _run(self) -> None:
        scard = smartcard()
        while not self._stop.is_set():
            hr, ctx = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
            if hr != scard.SCARD_S_SUCCESS:
                self._set_service(False)
                self._stop.wait(self._retry_s)
                continue
            self.contexts_established += 1
            self._set_service(True)
            try:
                self._watch(scard, ctx)
            finally:
                scard.SCardReleaseContext(ctx)
            self._lost_all()
            if not self._stop.is_set():
                self._set_service(False)
                self._stop.wait(self._retry_s)

    def _watch(self, scard: Any, ctx: Any) -> None:
        """Returns when the context is dead (service gone) or the monitor is stopped."""
        known: dict[str, int] = {}  # reader → last event state
        while not self._stop.is_set():
            hr, readers = scard.SCardListReaders(ctx, [])
            code = u32(hr)
            if hr != scard.SCARD_S_SUCCESS:
                if code in SERVICE_GONE:
                    return
                readers = []  # SCARD_E_NO_READERS_AVAILABLE and friends
            for gone in set(known) - set(readers):
                known.pop(gone)
                if self._present.pop(gone, False):
                    self._safe(self._on_remove, gone)
            states = [(r, known.get(r, scard.SCARD_STATE_UNAWARE)) for r in readers]
            # The PnP pseudo reader wakes us when a reader appears or disappears.
            states.append((PNP_NOTIFICATION, known.get(PNP_NOTIFICATION, 0)))
            hr, new_states = scard.SCardGetStatusChange(ctx, self._poll_ms, states)
            code = u32(hr)
            if hr == scard.SCARD_S_SUCCESS:
                self._apply(scard, new_states, known)
            elif code in SERVICE_GONE:
                return
            elif code in (SCARD_E_TIMEOUT, SCARD_E_CANCELLED, SCARD_E_NO_READERS_AVAILABLE):
                continue
            else:
                log.warning("SCardGetStatusChange failed: %08X", code)
                self._stop.wait(self._retry_s)

    def _apply(self, scard: Any, new_states: list[Any], known: dict[str, int]) -> None:
        for reader, state, atr in new_states:
            # Keep the event state minus CHANGED so the next call waits for a real change.
            known[reader] = state & ~scard.SCARD_STATE_CHANGED
            if reader == PNP_NOTIFICATION:
                continue
            present = bool(state & scard.SCARD_STATE_PRESENT) and not bool(
                state & scard.SCARD_STATE_MUTE
            )
            was = self._present.get(reader, False)
            if present and not was:
                self._present[reader] = True
                self._safe(self._on_insert, reader, bytes(atr))
            elif not present and was:
                self._present[reader] = False
                self._safe(self._on_remove, reader)
            else:
                self._present[reader] = present
