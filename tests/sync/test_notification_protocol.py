"""The filing payload of a 住民異動届: the domain's draft inside a typed model, strict both ways."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from app.domain.certificates import DEMO_MUNICIPALITY
from app.domain.notifications.forms import build_notification_form, form_digest
from app.sync.notification_protocol import (
    NotificationDecision,
    NotificationFiledPayload,
    ReturnRequest,
)
from app.sync.protocol import Event
from tests.domain.notifications import data as D


def payload(draft=None) -> NotificationFiledPayload:
    d = draft or D.move_within_part()
    form = build_notification_form(d, D.REGISTER, DEMO_MUNICIPALITY)
    return NotificationFiledPayload(
        notification_id=d.notification_id,
        draft=d,
        form_digest=form_digest(form),
        printed_at=datetime(2026, 4, 20, 10, 15, tzinfo=UTC),
        signature_confirmed_by="op-clerk",
    )


@pytest.mark.parametrize("name", sorted(D.VALID))
def test_round_trip_through_json(name: str) -> None:
    p = payload(D.VALID[name]())
    wire = p.model_dump_json()
    back = NotificationFiledPayload.model_validate_json(wire)
    assert back == p and back.draft == p.draft
    obj = json.loads(wire)
    assert obj["draft"]["procedure"] == p.draft.procedure.value
    # As the payload of an outbox event (Event.payload is a dict on the wire).
    event = Event(
        event_id=p.notification_id,
        type="certificate_issued",  # the second pass adds "notification_filed"
        occurred_at=datetime(2026, 4, 20, 10, 16, tzinfo=UTC),
        operator_id="op-clerk",
        terminal_no="T01",
        relied_versions=p.draft.relied_versions,
        payload=p.model_dump(mode="json"),
    )
    assert NotificationFiledPayload.model_validate(event.payload) == p


def test_malformed_payloads_are_refused() -> None:
    obj = json.loads(payload().model_dump_json())
    bad = json.loads(json.dumps(obj))
    bad["draft"]["movers"][0]["juminhyo_code"] = "12345678901"
    with pytest.raises(ValidationError, match="住民票コード"):
        NotificationFiledPayload.model_validate(bad)
    bad = json.loads(json.dumps(obj))
    bad["notification_id"] = "00000000-0000-0000-0000-000000000000"
    with pytest.raises(ValidationError, match="differs"):
        NotificationFiledPayload.model_validate(bad)
    bad = json.loads(json.dumps(obj))
    bad["form_digest"] = "abc"
    with pytest.raises(ValidationError):
        NotificationFiledPayload.model_validate(bad)
    bad = json.loads(json.dumps(obj))
    bad["extra"] = 1
    with pytest.raises(ValidationError):
        NotificationFiledPayload.model_validate(bad)


def test_decisions_and_requests() -> None:
    d = NotificationDecision(
        notification_id=D.move_in().notification_id,
        state="returned",
        terminal_no="T01",
        reason="転出証明書の写しでは受理できません。原本をお持ちください。",
    )
    assert NotificationDecision.model_validate_json(d.model_dump_json()) == d
    with pytest.raises(ValidationError):
        ReturnRequest(reason="")


def test_the_json_schema_names_the_draft() -> None:
    schema = NotificationFiledPayload.model_json_schema()
    assert schema["properties"]["draft"]["type"] == "object"
