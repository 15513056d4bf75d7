"""The card desk tab: CardDeskService wired to the session (register, outbox, audit) and to a
reader — PC/SC in production, the virtual card in the demo."""

from __future__ import annotations

from typing import Any

from app.cards.simulator import CardProfile, VirtualCard, demo_profile_path
from app.cards.transport import PcscTransport, SimulatorTransport
from app.domain.cards import CardState
from app.services.card_desk import CardDeskService

# One virtual card for the whole demo run, so its retry counters persist between reads.
_demo_card: VirtualCard | None = None


def _demo_transport() -> SimulatorTransport:
    global _demo_card
    if _demo_card is None:
        _demo_card = VirtualCard(CardProfile.load(demo_profile_path()))
    return SimulatorTransport(_demo_card)


class _LiveContext:
    """DeskContext that follows the session: after a takeover at the idle lock, desk events
    are recorded under the operator now at the counter, with that operator's roles."""

    def __init__(self, session: Any) -> None:
        self._session = session

    @property
    def operator_id(self) -> str:
        return self._session.operator.operator_id

    @property
    def roles(self) -> tuple[str, ...]:
        return tuple(self._session.operator.roles)

    @property
    def terminal_no(self) -> str:
        return self._session.terminal_no


def card_desk_widget(session: Any, *, demo: Any = None) -> Any:
    from ui.card_desk import CardDeskWidget

    service = CardDeskService(
        _LiveContext(session),  # type: ignore[arg-type]
        _demo_transport if demo is not None else PcscTransport,
        session.card_lookup,
        audit=session.card_audit,
    )

    def state_of(person_id: str) -> CardState:
        value = session.card_state(person_id)
        return CardState(value) if value else CardState.NOT_ISSUED

    # The outbox event and the card's state are written in the recording's background operation.
    return CardDeskWidget(service, card_state_of=state_of, persist=session.record_card_event)
