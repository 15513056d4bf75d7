"""Issue 21 item 9: EVERY model a terminal parses from the server tolerates a field a newer
server adds, at any depth; what the server parses from terminals stays strict.

tests/sync/test_sync_protocol_evolution.py runs a whole sync against a server that adds a field
to every answer; this test walks the models themselves, so an answer model added later (or a
strict model nested in one) cannot slip past it.
"""

from __future__ import annotations

import typing
from typing import Any

import pytest
from pydantic import BaseModel

from app.sync import notification_protocol, protocol

# What the terminal parses from the server's answers (SyncClient._parse and the feed's data).
ANSWER_MODELS: list[type[BaseModel]] = [
    protocol.EnrollResponse,
    protocol.SessionResponse,
    protocol.ChangesPage,
    protocol.EventsResponse,
    protocol.Digest,
    protocol.BucketRecords,
    protocol.SnapshotInfo,
    protocol.CertificateInfo,
    protocol.ServerInfo,
    protocol.SealBundle,
    protocol.ErrorBody,
    protocol.AuditHeadAnswer,
    protocol.Policy,
    protocol.OperatorProfile,
    notification_protocol.NotificationList,
    notification_protocol.NotificationDetail,
    notification_protocol.NotificationDecision,
]
# What the server parses from terminals: unknown keys stay errors.
REQUEST_MODELS: list[type[BaseModel]] = [
    protocol.EnrollRequest,
    protocol.SessionRequest,
    protocol.ChangePasswordRequest,
    protocol.Event,
    protocol.EventsBatch,
    protocol.AuditHead,
    protocol.CertificateIssuedPayload,
    protocol.ApprovalToken,
    notification_protocol.NotificationFiledPayload,
]


def _nested(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    out: list[type[BaseModel]] = []
    for arg in typing.get_args(annotation):
        out += _nested(arg)
    return out


def _reachable(model: type[BaseModel]) -> set[type[BaseModel]]:
    seen: set[type[BaseModel]] = set()
    todo = [model]
    while todo:
        m = todo.pop()
        if m in seen:
            continue
        seen.add(m)
        for field in m.model_fields.values():
            todo += _nested(field.annotation)
    return seen


def test_every_answer_model_is_known_here() -> None:
    """A new _Answer subclass must be listed above (and so be checked)."""
    answers = {
        c
        for module in (protocol, notification_protocol)
        for c in vars(module).values()
        if isinstance(c, type) and issubclass(c, protocol._Answer) and c is not protocol._Answer
    }
    reachable = set().union(*(_reachable(m) for m in ANSWER_MODELS))
    assert answers <= reachable, sorted(c.__name__ for c in answers - reachable)


@pytest.mark.parametrize("model", ANSWER_MODELS, ids=lambda m: m.__name__)
def test_answers_ignore_unknown_fields_at_every_depth(model: type[BaseModel]) -> None:
    strict = [m.__name__ for m in _reachable(model) if m.model_config.get("extra") == "forbid"]
    assert strict == [], f"{model.__name__} reaches strict models: {strict}"


@pytest.mark.parametrize("model", REQUEST_MODELS, ids=lambda m: m.__name__)
def test_requests_refuse_unknown_fields(model: type[BaseModel]) -> None:
    assert model.model_config.get("extra") == "forbid"
