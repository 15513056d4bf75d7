"""Filed 住民異動届 at the server (issue 20): pending until the head office confirms or returns
them; two 届出 on the same person, or one on a version the register moved past, wait as a
visible conflict; confirmation writes new versions of persons and households onto the feed with
the 異動履歴. On SQLite and PostgreSQL, over the real HTTPS server, and with the admin CLI."""

from __future__ import annotations

import threading
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from msgspec.structs import replace
from sqlalchemy import select

from app.domain.notifications import NotificationDraft, Procedure, draft_to_dict
from app.domain.records import household_to_dict, parse_line
from app.sync.errors import ServerRejected
from app.sync.notification_protocol import (
    NotificationDecision,
    NotificationDetail,
    NotificationFiledPayload,
    NotificationList,
)
from app.sync.protocol import Event, EventResult
from server import events, notifications
from server.cli import main as server_main
from server.tables import change_history, jukinet_messages, notification_steps
from tests.domain.notifications import data as D
from tests.support.server import ServerEnv, start_server_env, write_jsonl

JST = timezone(timedelta(hours=9))
FILED_AT = datetime(2026, 4, 20, 10, 0, tzinfo=JST)  # the drafts' 届出日 (D.TODAY)
REVIEWER, REVIEWER_PASSWORD = "review01", "review-pass-correct"
DIGEST = "ab" * 32


def _households() -> list[dict[str, Any]]:
    return [household_to_dict(h) for h in D.REGISTER.households.values()]


def _start(tmp_path: Path, database_url: str | None = None) -> ServerEnv:
    env = start_server_env(
        tmp_path, database_url=database_url, households=_households(), roles=("clerk",)
    )
    env.server.add_operator(REVIEWER, "審査 一子", ["review"], "本庁 市民課", REVIEWER_PASSWORD)
    return env


@pytest.fixture(params=["sqlite", "postgres"])
def env(request: pytest.FixtureRequest, tmp_path: Path):
    url = None
    if request.param == "postgres":
        url = request.getfixturevalue("postgres_cluster").create_database()
    e = _start(tmp_path, url)
    try:
        yield e
    finally:
        e.close()


@pytest.fixture
def sqlite_env(tmp_path: Path):
    e = _start(tmp_path)
    try:
        yield e
    finally:
        e.close()


def fresh(draft: NotificationDraft) -> NotificationDraft:
    return replace(draft, notification_id=str(uuid.uuid4()))


def filed(env: ServerEnv, draft: NotificationDraft, **payload: Any) -> Event:
    p = NotificationFiledPayload(
        notification_id=draft.notification_id,
        draft=draft,
        form_digest=DIGEST,
        printed_at=FILED_AT,
        signature_confirmed_by=env.operator_id,
        **payload,
    )
    return Event(
        event_id=draft.notification_id,
        type="notification_filed",
        occurred_at=FILED_AT,
        operator_id=env.operator_id,
        terminal_no=env.terminal.terminal_no,
        relied_versions=dict(draft.relied_versions),
        payload=p.model_dump(mode="json"),
    )


def push(env: ServerEnv, draft: NotificationDraft) -> EventResult:
    [result] = env.client.push_events([filed(env, draft)]).results
    return result


def cli(env: ServerEnv, *args: str) -> int:
    return server_main(["--data-dir", str(env.server.config.data_dir), "notification", *args])


def state(env: ServerEnv, notification_id: str) -> str:
    return notifications.show(env.server.db, notification_id).summary.state


def household(env: ServerEnv, household_id: str):
    page = env.client.changes(0, limit=5000)
    items = [i for i in page.items if i.kind == "household" and i.key == household_id]
    assert items, household_id
    text = items[-1].data_json()
    assert text is not None
    return parse_line(text)


def decisions(env: ServerEnv) -> dict[str, NotificationDecision]:
    page = env.client.changes(0, limit=5000)
    return {
        i.key: NotificationDecision.model_validate(i.data)
        for i in page.items
        if i.kind == "notification"
    }


# --- filing ---------------------------------------------------------------------------------


def test_a_move_within_is_pending_then_confirmed_into_the_register(
    env: ServerEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    draft = fresh(D.move_within_part())
    result = push(env, draft)
    assert (result.status, result.reason) == ("accepted", None)
    assert push(env, draft).status == "duplicate"  # the retry of a filing delivered once
    [row] = notifications.list_notifications(env.server.db)
    assert (row.notification_id, row.state, row.procedure) == (
        draft.notification_id,
        "pending",
        Procedure.MOVE_WITHIN,
    )
    assert set(row.person_ids) == {"P1", "P2", "P3", "P4"} and not row.late
    assert cli(env, "list") == 0
    listed = capsys.readouterr().out
    assert draft.notification_id in listed and "審査待ち" in listed and "北見" not in listed

    before = env.client.changes(0, limit=5000).latest_seq
    assert cli(env, "confirm", draft.notification_id, "--by", REVIEWER) == 0
    assert "確定しました" in capsys.readouterr().out
    assert state(env, draft.notification_id) == "confirmed"

    # The register: a new household at 北進町 for P1 and P2, H1 keeps the children (一郎 世帯主).
    page = env.client.changes(before)
    changed = {i.key for i in page.items if i.kind == "household"}
    new_id = next(k for k in changed if k.startswith("HN"))
    assert changed == {"H1", new_id}
    moved = household(env, new_id)
    assert moved.address == "北海道北見市北進町123番地4" and moved.head_person_id == "P1"
    p1 = moved.member("P1")
    assert p1.version > D.H1.member("P1").version and p1.address_set_on == draft.moved_on
    assert p1.history[-1].kind == "転居" and p1.history[-1].reported_on == draft.filed_on
    h1 = household(env, "H1")
    assert h1.head_person_id == "P3" and h1.version > D.H1.version
    # The decision rides the feed for every terminal (the filing one shows it).
    decision = decisions(env)[draft.notification_id]
    assert decision.state == "confirmed" and decision.terminal_no == env.terminal.terminal_no
    assert set(decision.household_ids) == {"H1", new_id}
    # The 異動履歴 (別添1) and the server's own record of the steps.
    with env.server.db.read() as conn:
        history = conn.execute(
            select(change_history).where(change_history.c.notification_id == draft.notification_id)
        ).all()
        steps = [
            r.step
            for r in conn.execute(
                select(notification_steps.c.step)
                .where(notification_steps.c.notification_id == draft.notification_id)
                .order_by(notification_steps.c.id)
            )
        ]
    assert {(r.person_id, r.reason, r.changed_on, r.reported_on, r.kind) for r in history} >= {
        ("P1", "転居", draft.moved_on, draft.filed_on, "届出"),
        ("P2", "転居", draft.moved_on, draft.filed_on, "届出"),
    }
    assert steps == ["filed", "confirmed"]
    # Decided once: a second confirmation is refused.
    assert cli(env, "confirm", draft.notification_id, "--by", REVIEWER) == 1


def test_two_notifications_on_the_same_person_wait_as_a_conflict(env: ServerEnv) -> None:
    first = fresh(D.move_within_part())
    second = fresh(D.head_change())  # touches H1 too: P1, P2, P3, P4
    assert push(env, first).status == "accepted"
    result = push(env, second)
    assert result.status == "conflict" and "審査" in (result.reason or "")
    rows = {r.notification_id: r.state for r in notifications.list_notifications(env.server.db)}
    assert rows == {first.notification_id: "pending", second.notification_id: "conflict"}
    detail = notifications.show(env.server.db, second.notification_id)
    assert {c.kind for c in detail.conflicts} == {"pending"}
    assert {c.other_notification_id for c in detail.conflicts} == {first.notification_id}
    # The filing terminal hears of it through the feed.
    assert decisions(env)[second.notification_id].state == "conflict"
    # Never applied on top: the later one is refused while the earlier waits…
    with pytest.raises(notifications.NotificationRefused) as refused:
        notifications.confirm(env.server.db, second.notification_id, decided_by=REVIEWER)
    assert first.notification_id in refused.value.message
    # …and after the earlier is confirmed, the register moved past what it relied on.
    notifications.confirm(env.server.db, first.notification_id, decided_by=REVIEWER)
    with pytest.raises(notifications.NotificationRefused) as refused:
        notifications.confirm(env.server.db, second.notification_id, decided_by=REVIEWER)
    assert {c.kind for c in refused.value.conflicts} >= {"version_moved"}
    assert household(env, "H1").head_person_id == "P3"  # untouched by the refused one
    # The reviewer returns it to the counter with the reason.
    decision = notifications.return_notification(
        env.server.db,
        second.notification_id,
        "先の転居届で世帯が変わりました。",
        decided_by=REVIEWER,
    )
    assert decision.state == "returned" and decision.reason == "先の転居届で世帯が変わりました。"
    assert decisions(env)[second.notification_id].reason == decision.reason


def test_a_notification_on_a_version_the_register_moved_past(
    env: ServerEnv, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    draft = fresh(D.separation())
    changed = household_to_dict(D.H1)
    changed["members"][3]["name"] = "北見　双葉"  # P4's record changes meanwhile (an import)
    env.server.import_jsonl(write_jsonl(tmp_path / "c.jsonl", [changed]))
    result = push(env, draft)
    assert result.status == "conflict"
    detail = notifications.show(env.server.db, draft.notification_id)
    assert any(c.kind == "version_moved" and c.person_id == "P4" for c in detail.conflicts)
    assert cli(env, "show", draft.notification_id) == 0
    shown = capsys.readouterr().out
    assert "競合" in shown and "version_moved" in shown and "北見　双葉" in shown
    assert cli(env, "confirm", draft.notification_id, "--by", REVIEWER) == 3
    assert "確定できません" in capsys.readouterr().err
    # The reviewer has compared and confirms against the versions seen now.
    now = {m["person_id"]: m["version"] for m in household_to_dict(household(env, "H1"))["members"]}
    relied = [f"{pid}={now[pid]}" for pid in ("P1", "P2", "P3", "P4")]
    args = [a for pair in relied for a in ("--relied", pair)]
    assert cli(env, "confirm", draft.notification_id, "--by", REVIEWER, *args) == 0
    h1 = household(env, "H1")
    assert "P3" not in {m.person_id for m in h1.members}
    assert h1.member("P4").name == "北見　双葉"  # the import's change is kept, not overwritten


def test_errors_against_the_register_reject_the_filing(sqlite_env: ServerEnv) -> None:
    env = sqlite_env
    bad = fresh(replace(D.move_within_part(), identity_documents=()))
    result = push(env, bad)
    assert result.status == "rejected" and "本人確認書類" in (result.reason or "")
    assert notifications.list_notifications(env.server.db) == []
    # An operator without the 受付 permission (the 審査 role files nothing).
    reviewer_client = env.new_client(login=False)
    reviewer_client.login(REVIEWER, REVIEWER_PASSWORD)
    draft = fresh(D.move_within_part())
    event = filed(env, draft).model_copy(update={"operator_id": REVIEWER})
    [result] = reviewer_client.push_events([event]).results
    assert result.status == "rejected" and "権限" in (result.reason or "")
    # A payload that is no draft.
    event = filed(env, fresh(D.move_within_part()))
    broken = dict(event.payload)
    broken["draft"] = {**broken["draft"], "movers": []}
    [result] = env.client.push_events([event.model_copy(update={"payload": broken})]).results
    assert result.status == "rejected" and "異動者" in (result.reason or "")


def test_the_review_api_is_for_the_review_role(sqlite_env: ServerEnv) -> None:
    env = sqlite_env
    draft = fresh(D.move_within_whole())
    assert push(env, draft).status == "accepted"
    with pytest.raises(ServerRejected) as denied:
        env.client._request("GET", "/notifications")
    assert denied.value.status == 403
    reviewer = env.new_client(login=False)
    reviewer.login(REVIEWER, REVIEWER_PASSWORD)
    listed = NotificationList.model_validate_json(
        reviewer._request("GET", "/notifications").content
    )
    assert [s.notification_id for s in listed.items] == [draft.notification_id]
    detail = NotificationDetail.model_validate_json(
        reviewer._request("GET", f"/notifications/{draft.notification_id}").content
    )
    assert detail.draft == draft and {h["household_id"] for h in detail.households} == {"H1"}
    answer = reviewer._request(
        "POST", f"/notifications/{draft.notification_id}/confirm", json={"relied_versions": {}}
    )
    decision = NotificationDecision.model_validate_json(answer.content)
    assert decision.state == "confirmed" and decision.decided_by == REVIEWER
    with pytest.raises(ServerRejected) as again:
        reviewer._request(
            "POST", f"/notifications/{draft.notification_id}/return", json={"reason": "誤り"}
        )
    assert again.value.status == 409
    with pytest.raises(ServerRejected) as unknown:
        reviewer._request("GET", f"/notifications/{uuid.uuid4()}")
    assert unknown.value.status == 404


def test_a_special_move_in_creates_the_resident_and_household(env: ServerEnv) -> None:
    draft = fresh(D.special_move_in())
    assert push(env, draft).status == "accepted"
    decision = notifications.confirm(env.server.db, draft.notification_id, decided_by=REVIEWER)
    [new_household] = decision.household_ids
    assert new_household.startswith("HN") and set(decision.person_ids) == {"new-1", "new-2"}
    h = household(env, new_household)
    head = h.member(decision.person_ids["new-1"])
    assert (head.name, head.relationship, head.version) == ("札幌　健一", "世帯主", 1)
    assert head.became_resident_on == draft.moved_on and head.previous_head_name == "札幌　健一"
    assert head.juminhyo_code == draft.movers[0].juminhyo_code
    with env.server.db.read() as conn:
        queued = [r.kind for r in conn.execute(select(jukinet_messages.c.kind))]
    assert queued == ["move_in_notice", "move_in_notice"]  # 転入通知 for the 市町村CS


def test_concurrent_filings_on_one_person_never_both_pend(env: ServerEnv) -> None:
    """Two terminals file for the same household at the same moment: whatever the order, one
    waits as a conflict (the persons' rows are locked while a filing is judged)."""

    def run(d: NotificationDraft, barrier: threading.Barrier, out: list[EventResult]) -> None:
        barrier.wait()
        out.append(events.apply_one(env.server.db, env.terminal.terminal_no, filed(env, d)))

    for _round in range(4):
        drafts = [fresh(D.move_within_part()), fresh(D.head_change())]
        barrier = threading.Barrier(2)
        results: list[EventResult] = []
        threads = [threading.Thread(target=run, args=(d, barrier, results)) for d in drafts]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(r.status for r in results) == ["accepted", "conflict"]
        for d in drafts:
            notifications.return_notification(
                env.server.db, d.notification_id, "試験", decided_by=REVIEWER
            )


def test_the_draft_is_stored_as_filed(sqlite_env: ServerEnv) -> None:
    draft = fresh(D.move_out())
    event = filed(sqlite_env, draft, move_out_certificate_no=f"{sqlite_env.terminal.terminal_no}-1")
    [result] = sqlite_env.client.push_events([event]).results
    assert result.status == "accepted"
    detail = notifications.show(sqlite_env.server.db, draft.notification_id)
    assert draft_to_dict(detail.draft) == draft_to_dict(draft)
    assert detail.move_out_certificate_no == f"{sqlite_env.terminal.terminal_no}-1"
