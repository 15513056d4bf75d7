"""The one seam between the card code and a card: `Transport.transmit(bytes) -> bytes`.

Implementations: app.cards.pcsc.PcscTransport (PC/SC through pyscard: real readers, or pcscd +
vpcd + our virtual card) and app.cards.simulator_transport.SimulatorTransport (in process).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class Transport(Protocol):
    def transmit(self, apdu: bytes) -> bytes:
        """Send one command APDU, return the response APDU (data + SW1 SW2)."""
        ...

    def close(self) -> None: ...
