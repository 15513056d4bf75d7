"""Issue 21 items 5 and 10: values no column can hold are refused at the boundary, never a 500.

Each bad event goes in a batch with a good one: the bad one comes back `rejected` with a
Japanese reason, the good one is accepted, the answer is 200 — on SQLite and PostgreSQL. Bodies
are sent raw: the client's own models would refuse to build these events.
"""

from __future__ import annotations

import json
import ssl
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from app.sync.protocol import SESSION_HEADER
from tests.support.server import ServerEnv

PASSWORD = "staple-horse-lantern-42"


def _http(env: ServerEnv, token: str | None = None) -> httpx.Client:
    ctx = ssl.create_default_context(cafile=str(env.terminal.ca_path))
    ctx.load_cert_chain(
        str(env.terminal.cert_path), str(env.terminal.key_path), password=env.terminal.key_password
    )
    return httpx.Client(
        verify=ctx,
        base_url=env.server.base_url,
        headers={SESSION_HEADER: token or env.client.session_token or ""},
    )


def _event(env: ServerEnv, type_: str, payload: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "type": type_,
        "occurred_at": datetime.now(UTC).isoformat(),
        "operator_id": env.operator_id,
        "terminal_no": env.terminal.terminal_no,
        "payload": payload,
        **fields,
    }


def _issued(env: ServerEnv, n: int, **payload: Any) -> dict[str, Any]:
    body = {
        "issuance_no": f"{env.terminal.terminal_no}-20261203-{n}",
        "kind": "juminhyo",
        "person_ids": ["P00000010"],
        "copies": 1,
        "fee_yen": 300,
        "content_digest": "cd" * 32,
    }
    body.update(payload)
    return _event(env, "certificate_issued", body)


def _first(env: ServerEnv) -> str:
    return f"{env.terminal.terminal_no}-20261203-1"


def _audit_entry(**fields: Any) -> dict[str, Any]:
    entry = {
        "entry_id": str(uuid.uuid4()),
        "seq": 1,
        "at": "2026-12-03T09:00:00+09:00",
        "operator_id": "clerk01",
        "action": "search",
        "target_ids": [],
        "reason": None,
        "prev_hash": "0" * 64,
        "hash": "a" * 64,
        "signature": "c2ln",
    }
    entry.update(fields)
    return entry


BAD_EVENTS = {
    # The voids name the batch's good certificate: before the limits, the clerk voided it.
    # (They are sent by a supervisor: anyone else's void is refused for that alone.)
    "NUL in a void reason": lambda env: _event(
        env, "certificate_voided", {"issuance_no": _first(env), "reason": "汚\x00損"}
    ),
    # Read back in the audit report and the 交付履歴 with its end reversed.
    "bidi override in a void reason": lambda env: _event(
        env, "certificate_voided", {"issuance_no": _first(env), "reason": "汚損\u202e品良"}
    ),
    "operator id over 64 characters": lambda env: {
        **_issued(env, 900),
        "operator_id": "o" * 65,
    },
    "fee_yen = 2**31": lambda env: _issued(env, 901, fee_yen=2**31),
    "fee_yen = 2**70": lambda env: _issued(env, 902, fee_yen=2**70),
    "NUL in a card action": lambda env: _event(env, "card_event", {"action": "交\x00付"}),
    "NUL in an issuance number": lambda env: _issued(
        env, 903, issuance_no=f"{env.terminal.terminal_no}-\x00"
    ),
    "reconciliation id past 64 bits": lambda env: _event(
        env, "reconciliation_ack", {"reconciliation_id": 2**70}
    ),
    "audit seq past 64 bits": lambda env: _event(
        env, "audit_batch", {"entries": [_audit_entry(seq=2**70)]}
    ),
    "event id not a UUID": lambda env: {**_issued(env, 904), "event_id": "x" * 36},
    "void reason of 100,000 characters": lambda env: _event(
        env, "certificate_voided", {"issuance_no": _first(env), "reason": "理" * 100_000}
    ),
    "card details of a megabyte": lambda env: _event(
        env, "card_event", {"action": "交付", "details": {"note": "x" * 1_000_000}}
    ),
    "lone surrogate in a kind": lambda env: _issued(env, 905, kind="\ud800"),
}


@pytest.mark.parametrize("case", sorted(BAD_EVENTS))
def test_a_bad_value_rejects_its_event_only(sync_server_any: ServerEnv, case: str) -> None:
    env = sync_server_any
    good = _issued(env, 1)
    bad = BAD_EVENTS[case](env)
    token = None
    if bad["type"] == "certificate_voided":
        # Only a supervisor at the issuing terminal may void (issue 21 item 1): the issuer's
        # void would be refused for its role, and the bad value would go untested.
        env.server.add_operator("super09", "試験 監督", ["issuer", "supervisor"], "本庁", PASSWORD)
        supervisor = env.new_client(login=False)
        supervisor.login("super09", PASSWORD)
        token = supervisor.session_token
        good["operator_id"] = bad["operator_id"] = "super09"
    # json.dumps writes a lone surrogate as \ud800: the JSON text itself stays valid.
    body = json.dumps({"events": [good, bad]}).encode()
    with _http(env, token) as http:
        answer = http.post("/v1/events", content=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == 200, answer.text
    results = answer.json()["results"]
    assert [r["status"] for r in results] == ["accepted", "rejected"], results
    assert any("\u3040" <= ch <= "\u9fff" for ch in results[1]["reason"])
    assert "権限" not in results[1]["reason"], results  # refused for its value, not its sender
    # The batch's good event really was stored, and nothing of the bad one.
    info = env.client.certificate(_first(env))
    assert info.copies == 1 and not info.voided


def test_a_nul_in_a_login_or_a_lookup_is_a_4xx(sync_server_any: ServerEnv) -> None:
    env = sync_server_any
    with _http(env) as http:
        answer = http.post("/v1/sessions", json={"operator_id": "a\x00b", "password": "x"})
        assert answer.status_code == 422 and answer.json()["code"] == "invalid_request"
        answer = http.post("/v1/sessions", json={"operator_id": "o" * 65, "password": "x"})
        assert answer.status_code == 422
        answer = http.get("/v1/certificates/0001-%00")
        assert answer.status_code in (404, 422), answer.text
        answer = http.get("/v1/records", params={"bucket": 2**70})
        assert answer.status_code == 422
        answer = http.get("/v1/changes", params={"after": 2**70})
        assert answer.status_code == 422
