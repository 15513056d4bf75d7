"""POST /v1/events: accepted, duplicate, conflict → reconciliation, rejected; bad input."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.sync.errors import ServerRejected
from app.sync.protocol import MAX_EVENTS_PER_BATCH, SESSION_HEADER, Event
from server import admin
from server.cli import main as server_main
from tests.support.server import ServerEnv, make_household, write_jsonl


def _event(env: ServerEnv, type_: str, payload: dict[str, Any], **kw: Any) -> Event:
    return Event(
        event_id=kw.pop("event_id", str(uuid.uuid4())),
        type=type_,  # type: ignore[arg-type]
        occurred_at=datetime.now(UTC),
        operator_id=kw.pop("operator_id", env.operator_id),
        terminal_no=kw.pop("terminal_no", env.terminal.terminal_no),
        payload=payload,
        **kw,
    )


def _issued(env: ServerEnv, n: int, person: str = "P00000010", **kw: Any) -> Event:
    return _event(
        env,
        "certificate_issued",
        {
            "issuance_no": f"{env.terminal.terminal_no}-20261126-{n}",
            "kind": "juminhyo",
            "person_ids": [person],
            "copies": 1,
            "fee_yen": 300,
            "content_digest": "cd" * 32,
        },
        **kw,
    )


def test_conflict_is_accepted_queued_and_resolved(
    sync_server_any: ServerEnv, tmp_path: Path
) -> None:
    env = sync_server_any
    changed = make_household(1)
    changed["members"][0]["name"] = "見本 改名"
    env.server.import_jsonl(write_jsonl(tmp_path / "c.jsonl", [changed]))  # P00000010 → v2
    event = _issued(env, 1, relied_versions={"P00000010": 1})
    [result] = env.client.push_events([event]).results
    assert result.status == "conflict" and "照合待ち" in (result.reason or "")
    assert env.client.certificate(f"{env.terminal.terminal_no}-20261126-1").copies == 1
    queue = admin.list_reconciliation(env.server.db)
    assert [(q["person_id"], q["relied_version"], q["current_version"]) for q in queue] == [
        ("P00000010", 1, 2)
    ]
    # The admin command lists and resolves it.
    data_dir = str(env.server.config.data_dir)
    assert server_main(["--data-dir", data_dir, "reconcile", "list"]) == 0
    assert (
        server_main(
            [
                "--data-dir",
                data_dir,
                "reconcile",
                "resolve",
                str(queue[0]["id"]),
                "--note",
                "確認済み",
            ]
        )
        == 0
    )
    assert admin.list_reconciliation(env.server.db) == []
    assert server_main(["--data-dir", data_dir, "reconcile", "resolve", "999"]) == 1


def test_rejections_carry_a_japanese_reason_and_write_nothing(sync_server: ServerEnv) -> None:
    env = sync_server
    events = [
        _issued(env, 2, person="P99999999"),  # unknown person
        _event(env, "certificate_issued", {"issuance_no": "x"}),  # malformed payload
        _issued(env, 3, terminal_no="9999"),  # not the calling terminal
        _issued(env, 4, operator_id="ghost"),  # unknown operator
        _event(env, "certificate_voided", {"issuance_no": "0001-20260101-404"}),
        _event(env, "card_event", {"action": "交付", "person_id": "P77777777"}),
        _event(env, "reconciliation_ack", {"reconciliation_id": 12345}),
        _event(env, "audit_batch", {"entries": "not a list"}),
    ]
    results = env.client.push_events(events).results
    assert [r.status for r in results] == ["rejected"] * len(events)
    assert all(r.reason and any("\u3040" <= ch <= "\u9fff" for ch in r.reason) for r in results)
    assert "P99999999" in (results[0].reason or "")
    with pytest.raises(ServerRejected) as info:
        env.client.certificate(f"{env.terminal.terminal_no}-20261126-2")
    assert info.value.status == 404


def test_a_rejected_event_is_judged_again_when_resent(
    sync_server: ServerEnv, tmp_path: Path
) -> None:
    env = sync_server
    event = _issued(env, 5, person="P00009990")
    assert env.client.push_events([event]).results[0].status == "rejected"
    env.server.import_jsonl(write_jsonl(tmp_path / "n.jsonl", [make_household(999)]))
    assert env.client.push_events([event]).results[0].status == "accepted"
    assert env.client.push_events([event]).results[0].status == "duplicate"


def test_each_event_stands_alone_in_a_batch(sync_server: ServerEnv) -> None:
    env = sync_server
    good = _issued(env, 6)
    card = _event(env, "card_event", {"action": "一時停止", "person_id": "P00000020"})
    bad = _issued(env, 7, person="P55555555")
    results = env.client.push_events([good, bad, card]).results
    assert [r.status for r in results] == ["accepted", "rejected", "accepted"]
    # Voiding takes a supervisor (tests/server/test_server_authorization.py).
    env.server.add_operator("sup01", "監督", ["supervisor"], "本庁", "supervisor-passphrase")
    supervisor = env.new_client(login=False)
    supervisor.login("sup01", "supervisor-passphrase")
    void = _event(
        env,
        "certificate_voided",
        {"issuance_no": f"{env.terminal.terminal_no}-20261126-6", "reason": "汚損"},
        operator_id="sup01",
    )
    assert supervisor.push_events([void]).results[0].status == "accepted"
    info = env.client.certificate(f"{env.terminal.terminal_no}-20261126-6")
    assert info.voided
    # Voided once: a second void (a new event) and a void of a number never issued are refused
    # for what they name, by the supervisor who may void.
    for number in ("20261126-6", "20260101-404"):
        unknown = _event(
            env,
            "certificate_voided",
            {"issuance_no": f"{env.terminal.terminal_no}-{number}", "reason": "汚損"},
            operator_id="sup01",
        )
        [refused] = supervisor.push_events([unknown]).results
        assert refused.status == "rejected" and "記録されていないか、取消済み" in (
            refused.reason or ""
        ), refused
    # Same issuance number in a new event: refused, the first record stays.
    again = _issued(env, 6)
    assert env.client.push_events([again]).results[0].status == "rejected"


def test_audit_batch_is_stored(sync_server: ServerEnv) -> None:
    env = sync_server
    [result] = env.client.push_events([_event(env, "audit_batch", {"entries": []})]).results
    assert result.status == "rejected"  # an empty batch says nothing


def _raw(env: ServerEnv, content: bytes, content_type: str = "application/json") -> httpx.Response:
    import ssl

    ctx = ssl.create_default_context(cafile=str(env.terminal.ca_path))
    ctx.load_cert_chain(
        str(env.terminal.cert_path), str(env.terminal.key_path), password=env.terminal.key_password
    )
    with httpx.Client(verify=ctx) as http:
        return http.post(
            f"{env.server.base_url}/v1/events",
            content=content,
            headers={SESSION_HEADER: env.client.session_token or "", "Content-Type": content_type},
        )


def test_bad_input_gets_clear_4xx(sync_server: ServerEnv) -> None:
    env = sync_server
    answer = _raw(env, b'{"events": [')
    assert answer.status_code == 400 and answer.json()["code"] == "malformed_json"
    # An event that can be named is answered on its own; one without an id fails the batch.
    answer = _raw(env, b'{"events": [{"event_id": "x", "type": "teleport"}]}')
    assert answer.status_code == 200
    assert answer.json()["results"][0]["status"] == "rejected"
    answer = _raw(env, b'{"events": [{"type": "teleport"}]}')
    assert answer.status_code == 422 and answer.json()["code"] == "invalid_request"
    too_many = [
        _issued(env, 100 + i).model_dump(mode="json") for i in range(MAX_EVENTS_PER_BATCH + 1)
    ]
    import json

    answer = _raw(env, json.dumps({"events": too_many}).encode())
    assert answer.status_code == 413 and answer.json()["code"] == "batch_too_large"
    huge = b'{"events": [], "x": "' + b"a" * (17 * 1024 * 1024) + b'"}'
    answer = _raw(env, huge)
    assert answer.status_code == 413 and answer.json()["code"] == "body_too_large"
    # Nothing of the oversize batch was written.
    with pytest.raises(ServerRejected):
        env.client.certificate(f"{env.terminal.terminal_no}-20261126-100")


def test_conflict_notice_is_acknowledged_by_event_id(
    sync_server: ServerEnv, tmp_path: Path
) -> None:
    env = sync_server
    changed = make_household(2)
    changed["members"][1]["name"] = "見本 改名"  # P00000021 → v2
    env.server.import_jsonl(write_jsonl(tmp_path / "c.jsonl", [changed]))
    conflicting = _issued(env, 40, person="P00000021", relied_versions={"P00000021": 1})
    assert env.client.push_events([conflicting]).results[0].status == "conflict"
    ack = _event(env, "reconciliation_ack", {"event_id": conflicting.event_id})
    both = _event(
        env, "reconciliation_ack", {"event_id": conflicting.event_id, "reconciliation_id": 1}
    )
    results = env.client.push_events([ack, both]).results
    assert [r.status for r in results] == ["accepted", "rejected"]
    [row] = admin.list_reconciliation(env.server.db, include_closed=True)
    assert row["status"] == "acked"
    # Acknowledged is not resolved: the admin still closes it.
    admin.resolve_reconciliation(env.server.db, row["id"], "確認済み")


def test_certificate_lookup_quotes_odd_numbers(sync_server: ServerEnv) -> None:
    with pytest.raises(ServerRejected) as info:
        sync_server.client.certificate("0001-20261126 1?x#y")
    assert info.value.status == 404 and info.value.code == "certificate_unknown"


def test_chunked_body_without_length_is_refused(sync_server: ServerEnv) -> None:
    import ssl

    env = sync_server
    ctx = ssl.create_default_context(cafile=str(env.terminal.ca_path))
    ctx.load_cert_chain(
        str(env.terminal.cert_path), str(env.terminal.key_path), password=env.terminal.key_password
    )

    def body():  # a generator: httpx sends it chunked, without Content-Length
        yield b'{"events": []}'

    with httpx.Client(verify=ctx) as http:
        answer = http.post(
            f"{env.server.base_url}/v1/events",
            content=body(),
            headers={SESSION_HEADER: env.client.session_token or ""},
        )
    assert answer.status_code == 411 and answer.json()["code"] == "length_required"


def test_certificate_requester_purpose_and_mail_are_stored(sync_server_any: ServerEnv) -> None:
    """Issue 19: the server keeps who asked, why, the article and the delivery; a mailed
    certificate must say where it went (on SQLite and PostgreSQL)."""
    import json

    from sqlalchemy import select

    from server.tables import certificates

    env = sync_server_any
    mailed = _issued(env, 31)
    mailed = mailed.model_copy(
        update={
            "payload": {
                **mailed.payload,
                "requester_kind": "proxy",
                "requester": {
                    "kind": "proxy",
                    "name": "代理　花子",
                    "address": "北海道網走市南六条東一丁目1番地",
                    "birth_date": "1980-05-05",
                    "principal_id": "P00000010",
                    "identity_documents": ["drivers_license"],
                },
                "purpose": {"reason": "児童手当の申請に添付するため", "submit_to": "北見市"},
                "rule": "第12条",
                "delivery": "mail",
                "mail_to": {
                    "postal_code": "090-0024",
                    "address": "北海道北見市北五条東二丁目1番地",
                    "katagaki": None,
                    "addressee": "見本 一郎",
                    "person_id": "P00000010",
                },
            }
        }
    )
    no_address = _issued(env, 32)
    no_address = no_address.model_copy(
        update={"payload": {**no_address.payload, "delivery": "mail"}}
    )
    results = env.client.push_events([mailed, no_address]).results
    assert [r.status for r in results] == ["accepted", "rejected"]
    assert "mail_to" in (results[1].reason or "") or "payload" in (results[1].reason or "")
    info = env.client.certificate(f"{env.terminal.terminal_no}-20261126-31")
    assert info.delivery == "mail"
    with env.server.db.read() as conn:
        row = conn.execute(
            select(certificates).where(
                certificates.c.issuance_no == f"{env.terminal.terminal_no}-20261126-31"
            )
        ).one()
    assert row.delivery == "mail" and row.rule == "第12条"
    assert json.loads(row.requester)["principal_id"] == "P00000010"
    assert json.loads(row.purpose)["reason"] == "児童手当の申請に添付するため"
    assert json.loads(row.mail_to)["address"] == "北海道北見市北五条東二丁目1番地"
    # An older terminal's event (no requester) is a counter issuance.
    [old] = env.client.push_events([_issued(env, 33)]).results
    assert old.status == "accepted"
    assert env.client.certificate(f"{env.terminal.terminal_no}-20261126-33").delivery == "counter"


def test_a_run_of_issuances_is_judged_as_if_one_by_one(
    sync_server_any: ServerEnv, tmp_path: Path
) -> None:
    """The server takes a run of certificate_issued events in a few statements; the answers are
    those of judging them in order: accepted, conflict (queued), unknown person, a number twice,
    an id already accepted."""
    env = sync_server_any
    changed = make_household(3)
    changed["members"][0]["name"] = "見本 改名"  # P00000030 → v2
    env.server.import_jsonl(write_jsonl(tmp_path / "c.jsonl", [changed]))
    earlier = _issued(env, 50)
    assert env.client.push_events([earlier]).results[0].status == "accepted"
    run = [
        _issued(env, 51),
        _issued(env, 52, person="P00000030", relied_versions={"P00000030": 1}),
        _issued(env, 53, person="P00009999"),
        _issued(env, 51),  # the same number as the first of the run
        earlier,
        _issued(env, 54),
    ]
    run.append(run[5])  # the same event twice in one batch
    results = env.client.push_events(run).results
    assert [r.status for r in results] == [
        "accepted",
        "conflict",
        "rejected",
        "rejected",
        "duplicate",
        "accepted",
        "duplicate",
    ]
    assert "照合待ち" in (results[1].reason or "") and "P00009999" in (results[2].reason or "")
    queue = admin.list_reconciliation(env.server.db)
    assert [(q["event_id"], q["person_id"]) for q in queue] == [(run[1].event_id, "P00000030")]
    for n in (51, 52, 54):
        assert env.client.certificate(f"{env.terminal.terminal_no}-20261126-{n}").copies == 1


def test_a_time_with_any_offset_is_kept_as_the_same_instant(sync_server_any: ServerEnv) -> None:
    """A terminal's clock may say 09:00-14:00 (a PC set to another zone): the issuance is that
    instant on both backends. SQLite stores no offset, and it read back 14 hours early."""
    from datetime import timedelta, timezone

    env = sync_server_any
    at = datetime(2026, 11, 26, 9, 0, tzinfo=timezone(timedelta(hours=-14)))
    event = _issued(env, 40).model_copy(update={"occurred_at": at})
    assert env.client.push_events([event]).results[0].status == "accepted"
    info = env.client.certificate(f"{env.terminal.terminal_no}-20261126-40")
    assert info.issued_at == at == datetime(2026, 11, 26, 23, 0, tzinfo=UTC)
