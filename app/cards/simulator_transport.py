"""The virtual card (app.cards.simulator) as a Transport in the same process: unit tests and the
demo without pcscd."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from app.cards.errors import CardRemoved

if TYPE_CHECKING:
    from app.cards.simulator import VirtualCard


class SimulatorTransport:
    """The virtual card in the same process (unit tests, the demo without pcscd).

    `remove()` simulates pulling the card out; `remove_after` does so after that many APDUs,
    to test a card pulled out in the middle of a read.
    """

    def __init__(self, card: VirtualCard, *, remove_after: int | None = None) -> None:
        self.card = card
        self.remove_after = remove_after
        self.count = 0
        self.present = True
        self._lock = threading.Lock()
        card.reset()

    def transmit(self, apdu: bytes) -> bytes:
        with self._lock:
            if self.remove_after is not None and self.count >= self.remove_after:
                self.present = False
            if not self.present:
                raise CardRemoved()
            self.count += 1
            return self.card.process(bytes(apdu))

    def remove(self) -> None:
        self.present = False

    def insert(self) -> None:
        self.card.reset()
        self.present = True
        self.remove_after = None
        self.count = 0

    def close(self) -> None:
        pass
