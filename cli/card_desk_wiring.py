"""The card desk tab: CardDeskService wired to the session (register, outbox, audit) and to a
reader — PC/SC in production, the virtual card in the demo."""

from __future__ import annotations

from typing import Any

from app.cards.pcsc import PcscTransport
from app.cards.simulator import CardProfile, VirtualCard, demo_profile_path
from app.cards.simulator_transport import SimulatorTransport
from app.domain.cards import CardState
from app.services.card_desk import CardDeskService

# The demo's virtual cards, one object each for the whole run (retry counters persist between
# reads); the one "on the reader" is the resident's (demo_card.json) unless the demo menu puts
# the moving-in family's card there (movein_card.json, for a 特例転入).
_demo_cards: dict[str, VirtualCard] = {}
_demo_on_reader = "demo_card.json"


def present_demo_card(name: str) -> None:
    """The demo menu's 「カードを差し替える」: which shipped virtual card the reader holds."""
    global _demo_on_reader
    _demo_on_reader = name


def _demo_transport() -> SimulatorTransport:
    card = _demo_cards.get(_demo_on_reader)
    if card is None:
        path = demo_profile_path().with_name(_demo_on_reader)
        card = _demo_cards[_demo_on_reader] = VirtualCard(CardProfile.load(path))
    return SimulatorTransport(card)


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
        screen=session.screen_household,
    )

    def state_of(person_id: str) -> CardState:
        value = session.card_state(person_id)
        return CardState(value) if value else CardState.NOT_ISSUED

    from app.auth.permissions import Permission

    reveal = session.reveal_protected_address if session.can(Permission.REVEAL_ADDRESS) else None
    # The outbox event and the card's state are written in the recording's background operation.
    return CardDeskWidget(
        service,
        card_state_of=state_of,
        persist=session.record_card_event,
        reveal_address=reveal,
    )


def requester_card_reader(session: Any, *, demo: Any = None, ask_pin: Any = None) -> Any:
    """For the issuance dialog's requester (ui/requester_panel.py): the card desk's reader
    path. Called on the GUI thread, it asks the resident for the 券面事項入力補助用暗証番号
    (`ask_pin(parent) -> str | None`, the customer's PIN window by default) and returns the work to
    run in the background: read the 4情報, match them with the register, and give the
    requester as registered (or as on the card when not registered here)."""
    from app.domain.certificates import PersonRef

    service = CardDeskService(
        _LiveContext(session),  # type: ignore[arg-type]
        _demo_transport if demo is not None else PcscTransport,
        session.card_lookup,
        audit=session.card_audit,
        screen=session.screen_household,
    )

    def default_ask(parent: Any) -> str | None:
        from ui.card_desk import ask_customer_pin

        return ask_customer_pin(parent)

    def prepare(parent: Any) -> Any:
        pin = (ask_pin or default_ask)(parent)
        if not pin:
            return None

        def work() -> PersonRef:
            reading = service.read_with_pin(pin)
            match = service.match(reading)
            if match.person is not None and match.household is not None:
                h, p = match.household, match.person
                address = h.address + (f"　{h.katagaki}" if h.katagaki else "")
                return PersonRef(p.name, address, p.birth_date, p.person_id)
            face = reading.face
            assert face is not None
            return PersonRef(face.name, face.address, face.birth_date)

        return work

    return prepare


def notification_card_reader(session: Any, *, demo: Any = None, ask_pin: Any = None) -> Any:
    """For the 異動届 tab (ui/notification_tab.py): the card desk's reader path. On the GUI
    thread it asks the resident's PIN; the work (background) reads the 4情報 with the 個人番号
    and matches them with the register: ui.notification_tab.CardRead."""
    from ui.notification_tab import CardRead

    service = CardDeskService(
        _LiveContext(session),  # type: ignore[arg-type]
        _demo_transport if demo is not None else PcscTransport,
        session.card_lookup,
        audit=session.card_audit,
        screen=session.screen_household,
    )

    def default_ask(parent: Any) -> str | None:
        from ui.card_desk import ask_customer_pin

        return ask_customer_pin(parent)

    def prepare(parent: Any) -> Any:
        pin = (ask_pin or default_ask)(parent)
        if not pin:
            return None

        def work() -> CardRead:
            reading = service.read_with_pin(pin)
            assert reading.face is not None
            match = service.match(reading)
            return CardRead(reading.face, match.person, match.household)

        return work

    return prepare
