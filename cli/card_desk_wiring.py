"""The card desk tab: CardDeskService wired to the session (register, outbox, audit) and to a
reader — PC/SC in production, the virtual card in the demo."""

from __future__ import annotations

from typing import Any

from app.cards.simulator import CardProfile, VirtualCard, demo_profile_path
from app.cards.transport import PcscTransport, SimulatorTransport
from app.domain.cards import CardState
from app.services.card_desk import CardDeskService, DeskContext

# One virtual card for the whole demo run, so its retry counters persist between reads.
_demo_card: VirtualCard | None = None


def _demo_transport() -> SimulatorTransport:
    global _demo_card
    if _demo_card is None:
        _demo_card = VirtualCard(CardProfile.load(demo_profile_path()))
    return SimulatorTransport(_demo_card)


def card_desk_widget(session: Any, *, demo: Any = None) -> Any:
    from ui.card_desk import CardDeskWidget

    op = session.operator
    service = CardDeskService(
        DeskContext(op.operator_id, tuple(op.roles), session.terminal_no),
        _demo_transport if demo is not None else PcscTransport,
        session.card_lookup,
        audit=session.card_audit,
    )

    def state_of(person_id: str) -> CardState:
        value = session.card_state(person_id)
        return CardState(value) if value else CardState.NOT_ISSUED

    widget = CardDeskWidget(service, card_state_of=state_of)
    widget.event_recorded.connect(session.record_card_event)
    return widget
