"""Use cases of the 個人番号カード desk: read the card, match it with the register, record events.

Dependencies come in as constructor arguments so that the composition root (cli) wires the store,
the outbox and the audit chain; nothing here imports app.store:

- `open_transport()` → a Transport to the card (PC/SC reader or the simulator), closed after use;
- `lookup(my_number, face)` → candidate (Person, Household) pairs from the register;
- `audit(action, details)` → an audit entry (ids only, never names or numbers), optional;
- the returned protocol `Event` ("card_event") is for the caller to put into the outbox.

Permissions are checked here, whatever the UI shows: CARD_READ to read and match, CARD_DESK to
record 交付, 一時停止, 一時停止解除, 廃止, 回収, 返納.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal, Protocol

from app.auth.permissions import Permission, require_permission
from app.cards.apdu import PinBlocked
from app.cards.mynumber import PIN_LABELS, PIN_MAX_TRIES, CardReading, MyNumberCard, PinKind
from app.cards.protocol import Transport
from app.domain.cards import (
    ACTION_LABELS,
    CardAction,
    CardFaceInfo,
    CardState,
    ExpiryStatus,
    FieldDifference,
    IdentityChecklist,
    check_issue_checklist,
    compare,
    expiry_status,
    transition,
)
from app.domain.errors import DomainError
from app.domain.protected_address import ADDRESS_WITHHELD, is_withheld
from app.domain.records import Household, Person
from app.sync.protocol import CardEventPayload, Event, new_event

ReadMethod = Literal["status", "pin", "collation_b"]


class RegisterLookup(Protocol):
    def __call__(
        self, my_number: str | None, face: CardFaceInfo
    ) -> Sequence[tuple[Person, Household]]: ...


@dataclass(frozen=True, slots=True)
class DeskContext:
    operator_id: str
    roles: tuple[str, ...]
    terminal_no: str


@dataclass(frozen=True, slots=True)
class DeskReading:
    method: ReadMethod
    reading: CardReading
    expiries: tuple[ExpiryStatus, ...] = ()

    @property
    def face(self) -> CardFaceInfo | None:
        return self.reading.face

    @property
    def retries(self) -> dict[PinKind, int]:
        return self.reading.retries

    def retry_lines(self) -> list[str]:
        """Japanese lines for the clerk, e.g. "券面事項入力補助用暗証番号: 残り3回"."""
        out = []
        for kind, left in self.reading.retries.items():
            state = "ロック中" if left == 0 else f"残り{left}回"
            out.append(f"{PIN_LABELS[kind]}: {state}")
        return out


@dataclass(frozen=True, slots=True)
class MatchResult:
    person: Person | None
    household: Household | None
    differences: tuple[FieldDifference, ...] = ()
    candidates: int = 0
    message: str = ""

    @property
    def found(self) -> bool:
        return self.person is not None

    @property
    def identical(self) -> bool:
        return self.person is not None and not self.differences

    def __repr__(self) -> str:
        pid = self.person.person_id if self.person else None
        return f"MatchResult(person_id={pid!r}, differences={len(self.differences)})"


@dataclass(frozen=True, slots=True)
class RecordedCardEvent:
    person_id: str
    action: CardAction
    previous_state: CardState
    new_state: CardState
    event: Event = field(repr=False)


class NoFaceInfo(DomainError):
    def __init__(self) -> None:
        super().__init__("カードの4情報が読み取られていません。先にカードを読み取ってください。")


def _now() -> datetime:
    return datetime.now(UTC)


class CardDeskService:
    def __init__(
        self,
        context: DeskContext,
        open_transport: Callable[[], Transport],
        lookup: RegisterLookup,
        *,
        audit: Callable[[str, dict[str, object]], None] | None = None,
        clock: Callable[[], datetime] = _now,
        new_event_id: Callable[[], str] = lambda: str(uuid.uuid4()),
        screen: Callable[[Household], Household] | None = None,
    ) -> None:
        self.context = context
        self._open = open_transport
        self._lookup = lookup
        self._audit = audit
        # The session's screen_household: the match is made on the register's copy, the
        # result carries the screen's (a protected address withheld).
        self._screen = screen
        self._clock = clock
        self._new_id = new_event_id

    # -- reading ---------------------------------------------------------------------------

    def _with_card(self, fn: Callable[[MyNumberCard], DeskReading]) -> DeskReading:
        transport = self._open()
        try:
            return fn(MyNumberCard(transport))
        finally:
            transport.close()

    def _expiries(self, reading: CardReading) -> tuple[ExpiryStatus, ...]:
        today = self._clock().date()
        out = []
        if reading.kenmen is not None and reading.kenmen.card_expires_on is not None:
            out.append(expiry_status("カード", reading.kenmen.card_expires_on, today))
        if reading.auth_certificate is not None:
            out.append(
                expiry_status("利用者証明用電子証明書", reading.auth_certificate.not_after, today)
            )
        return tuple(out)

    def _note(self, action: str, details: dict[str, object]) -> None:
        if self._audit is not None:
            self._audit(action, details)

    def status(self) -> DeskReading:
        """Retry counts and the certificate's expiry: no PIN, nothing personal."""
        require_permission(self.context.roles, Permission.CARD_READ)

        def run(card: MyNumberCard) -> DeskReading:
            reading = CardReading(
                retries=card.all_retries(), auth_certificate=card.read_auth_certificate()
            )
            return DeskReading("status", reading, self._expiries(reading))

        return self._with_card(run)

    def read_with_pin(self, pin: str) -> DeskReading:
        """The resident typed the 券面事項入力補助用暗証番号: 4情報 and 個人番号."""
        require_permission(self.context.roles, Permission.CARD_READ)

        def run(card: MyNumberCard) -> DeskReading:
            retries = card.all_retries()
            if retries[PinKind.KENHOJO_PIN] == 0:
                raise PinBlocked(0x6984, PIN_LABELS[PinKind.KENHOJO_PIN])
            try:
                face = card.read_face_info(pin=pin)
            except DomainError:
                self._note("card_read_failed", {"method": "pin"})
                raise
            # A successful VERIFY resets the counter.
            retries[PinKind.KENHOJO_PIN] = PIN_MAX_TRIES[PinKind.KENHOJO_PIN]
            reading = CardReading(
                face=face, auth_certificate=card.read_auth_certificate(), retries=retries
            )
            self._note("card_read", {"method": "pin"})
            return DeskReading("pin", reading, self._expiries(reading))

        return self._with_card(run)

    def read_with_collation_b(self, collation_b: str) -> DeskReading:
        """Staff typed 照合番号B from the card's face: 4情報, face photo, card expiry."""
        require_permission(self.context.roles, Permission.CARD_READ)

        def run(card: MyNumberCard) -> DeskReading:
            retries = card.all_retries()
            try:
                face = card.read_face_info(collation_b=collation_b)
                kenmen = card.read_kenmen(collation_b)
            except DomainError:
                self._note("card_read_failed", {"method": "collation_b"})
                raise
            reading = CardReading(
                face=face,
                kenmen=kenmen,
                retries=retries,
                auth_certificate=card.read_auth_certificate(),
            )
            self._note("card_read", {"method": "collation_b"})
            return DeskReading("collation_b", reading, self._expiries(reading))

        return self._with_card(run)

    # -- matching --------------------------------------------------------------------------

    def match(self, reading: DeskReading) -> MatchResult:
        require_permission(self.context.roles, Permission.CARD_READ)
        face = reading.face
        if face is None:
            raise NoFaceInfo()
        candidates = list(self._lookup(face.my_number, face))
        if not candidates:
            return MatchResult(
                None, None, (), 0, "住民票に一致する住民が見つかりません。4情報で検索してください。"
            )
        # The candidate with the fewest differences (a 個人番号 match comes first).
        scored = sorted(candidates, key=lambda ph: len(compare(face, ph[0], ph[1])))
        person, household = scored[0]
        diffs = tuple(compare(face, person, household))
        self._note(
            "card_match", {"person_id": person.person_id, "differences": [d.field for d in diffs]}
        )
        message = (
            "カードと住民票は一致しています。"
            if not diffs
            else (
                "カードと住民票で異なる項目があります: "
                + "、".join(sorted({_FIELD_JA[d.field] for d in diffs}))
                + "。"
            )
        )
        if self._screen is not None:
            person, household, diffs = _screened(self._screen(household), person, diffs)
        return MatchResult(person, household, diffs, len(candidates), message)

    # -- desk events -----------------------------------------------------------------------

    def record(
        self,
        action: CardAction,
        person: Person,
        current_state: CardState,
        *,
        checklist: IdentityChecklist | None = None,
        reason: str = "",
    ) -> RecordedCardEvent:
        """Check the transition and return the "card_event" for the outbox."""
        require_permission(self.context.roles, Permission.CARD_DESK)
        new_state = transition(current_state, action)
        if action is CardAction.ISSUE:
            check_issue_checklist(checklist)
        if action in (CardAction.SUSPEND, CardAction.REVOKE) and not reason.strip():
            raise DomainError(f"「{ACTION_LABELS[action]}」には理由の入力が必要です。")
        details: dict[str, object] = {
            "from_state": current_state.value,
            "to_state": new_state.value,
            "reason": reason.strip(),
        }
        if checklist is not None:
            details["checklist"] = checklist.to_payload()
        event = new_event(
            CardEventPayload(action=action.value, person_id=person.person_id, details=details),
            event_id=self._new_id(),
            occurred_at=self._clock(),
            operator_id=self.context.operator_id,
            terminal_no=self.context.terminal_no,
            relied_versions={person.person_id: person.version},
        )
        self._note(
            "card_event",
            {"event_id": event.event_id, "action": action.value, "person_id": person.person_id},
        )
        return RecordedCardEvent(person.person_id, action, current_state, new_state, event)


def _screened(
    shown: Household, person: Person, diffs: tuple[FieldDifference, ...]
) -> tuple[Person, Household, tuple[FieldDifference, ...]]:
    """The match as the screen may hold it: the register's address withheld in the
    comparison too when the household's is."""
    if is_withheld(shown.address):
        diffs = tuple(
            dataclasses.replace(d, register_value=ADDRESS_WITHHELD) if d.field == "address" else d
            for d in diffs
        )
    return shown.member(person.person_id), shown, diffs


_FIELD_JA = {
    "name": "氏名",
    "address": "住所",
    "birth_date": "生年月日",
    "sex": "性別",
    "my_number": "個人番号",
}
