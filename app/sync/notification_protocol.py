"""Wire models for filing a 住民異動届 (issue 20), shared by the client and the server.

The event "notification_filed" (protocol.EVENT_TYPES) carries NotificationFiledPayload; the head
office's decisions ride the feed as kind "notification" (NotificationDecision); the 審査 role
reads and decides through /v1/notifications (NotificationList, NotificationDetail,
ConfirmRequest, ReturnRequest). The draft travels as the domain's own model
(app.domain.notifications.NotificationDraft): validated by `parse_draft` when it arrives, written
by `draft_to_dict`, so that its shape has one definition, as households travel in the
interchange format of app.domain.records.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Final, Literal

from pydantic import Field, PlainSerializer, PlainValidator, WithJsonSchema, model_validator

from app.domain.errors import ValidationError
from app.domain.notifications import NotificationDraft, Procedure, draft_to_dict, parse_draft
from app.sync.protocol import EVENT_PAYLOADS, WireDatetime, WireText
from app.sync.protocol import WireAnswer as _Answer
from app.sync.protocol import WireModel as _Model

NOTIFICATION_FILED: Final = "notification_filed"
NOTIFICATION_FEED_KIND = "notification"

NotificationState = Literal["pending", "confirmed", "returned", "conflict"]
UUID_LENGTH = 36
SHA256_HEX = r"^[0-9a-f]{64}$"


def _draft(value: Any) -> NotificationDraft:
    if isinstance(value, NotificationDraft):
        return value
    try:
        return parse_draft(value)
    except ValidationError as exc:
        raise ValueError(exc.message) from None


# The draft as a typed field: the domain's model inside, its JSON on the wire.
Draft = Annotated[
    NotificationDraft,
    PlainValidator(_draft),
    PlainSerializer(draft_to_dict, return_type=dict),
    WithJsonSchema(
        {
            "type": "object",
            "description": "NotificationDraft (app.domain.notifications.model), as draft_to_dict",
        }
    ),
]


class FiledFinding(_Model):
    """A warning the clerk acknowledged before filing (late filing, 支援措置 …)."""

    code: str = Field(min_length=1, max_length=64)
    field: str = Field(max_length=128)
    message: str = Field(max_length=1000)  # Japanese, for the head office's review


class NotificationFiledPayload(_Model):
    """Event "notification_filed": a 届出 the resident signed and the clerk filed.

    `Event.relied_versions` repeats `draft.relied_versions` (the server checks both agree);
    `Event.event_id` is the notification_id, so a retried filing is a duplicate.
    """

    notification_id: str = Field(min_length=UUID_LENGTH, max_length=UUID_LENGTH)
    draft: Draft
    form_digest: str = Field(pattern=SHA256_HEX)  # forms.form_digest of the signed 届書
    printed_at: WireDatetime
    signature_confirmed_by: str = Field(min_length=1, max_length=64)  # operator_id
    acknowledged: list[FiledFinding] = Field(default_factory=list, max_length=50)
    # 転出 (not 特例): the number of the 転出証明書 issued with the 届出 ({terminal}-{day}-{seq}).
    move_out_certificate_no: str | None = Field(default=None, min_length=1, max_length=64)

    @model_validator(mode="after")
    def _one_id(self) -> NotificationFiledPayload:
        if self.draft.notification_id != self.notification_id:
            raise ValueError("notification_id differs from the draft's")
        return self


# The event's payload model, beside those of protocol.py (which cannot import this module: it
# imports protocol.py). Whoever handles a notification_filed event has imported this module.
EVENT_PAYLOADS[NOTIFICATION_FILED] = NotificationFiledPayload


class AcknowledgedFinding(_Answer):
    """FiledFinding as the server answers it (NotificationDetail): a newer server may add a
    field (issue 21 item 9), which the strict request model would refuse."""

    code: str
    field: str
    message: str


class NotificationConflict(_Answer):
    kind: Literal["version_moved", "missing", "not_resident", "household_changed", "pending"]
    message: str
    person_id: str | None = None
    household_id: str | None = None
    other_notification_id: str | None = None  # kind "pending": the 届出 that came first


class NotificationSummary(_Answer):
    """One row of the head office's list (GET /v1/notifications, the 審査 tab, the CLI).
    Ids and dates only: the reviewer opens the 届出 to see names."""

    notification_id: str
    procedure: Procedure
    state: NotificationState
    office: str
    terminal_no: str
    operator_id: str
    filed_on: date
    moved_on: date
    filed_at: datetime
    person_ids: list[str]
    household_ids: list[str]
    late: bool = False  # filed past the time limit (過料 notice)


class NotificationDecision(_Answer):
    """The head office's answer, on the feed (kind "notification") for every terminal; the
    filing terminal shows it to the clerk. No names: ids, the state, the reason."""

    notification_id: str
    state: NotificationState
    terminal_no: str
    decided_at: datetime | None = None
    decided_by: str | None = None
    reason: str | None = None  # Japanese: why it was returned
    conflicts: list[NotificationConflict] = Field(default_factory=list)
    household_ids: list[str] = Field(default_factory=list)  # written by the confirmation
    person_ids: dict[str, str] = Field(default_factory=dict)  # draft key → allocated person_id


class NotificationList(_Answer):
    """GET /v1/notifications (審査 role)."""

    items: list[NotificationSummary]


class NotificationStep(_Answer):
    """One step of a 届出 at the server (its own audit: filed, conflict, confirmed, returned)."""

    step: str
    at: datetime
    operator_id: str | None = None
    terminal_no: str | None = None
    detail: str | None = None


class NotificationDetail(_Answer):
    """GET /v1/notifications/{id} (審査 role): the 届出 and the register as it is now, side by
    side; `conflicts` are computed now (the register may have moved since the filing)."""

    summary: NotificationSummary
    draft: Draft
    form_digest: str
    acknowledged: list[AcknowledgedFinding] = Field(default_factory=list)
    move_out_certificate_no: str | None = None
    households: list[dict[str, Any]] = Field(default_factory=list)  # interchange format, now
    conflicts: list[NotificationConflict] = Field(default_factory=list)
    reason: str | None = None
    steps: list[NotificationStep] = Field(default_factory=list)


class ConfirmRequest(_Model):
    """POST /v1/notifications/{id}/confirm (審査 role)."""

    # The reviewer saw the register at these versions; a later change is a conflict.
    relied_versions: dict[str, int] = Field(default_factory=dict)


class ReturnRequest(_Model):
    """POST /v1/notifications/{id}/return (審査 role): back to the filing terminal."""

    reason: Annotated[WireText, Field(min_length=1, max_length=500)]
