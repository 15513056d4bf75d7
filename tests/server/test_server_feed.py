"""The change feed and the import: versions bumped by the server, compaction, gzip, limits."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import httpx
import pytest

from app.domain.records import parse_line
from app.sync.errors import ServerRejected
from app.sync.protocol import MAX_PAGE_LIMIT, SESSION_HEADER, ChangesPage, Policy
from server.importer import import_lines
from tests.support.server import ServerEnv, make_household, write_jsonl


def _drain(env: ServerEnv, after: int, limit: int = 500) -> tuple[list, int]:
    items = []
    while True:
        page = env.client.changes(after, limit)
        items += page.items
        after = page.next_after
        if not page.has_more:
            return items, after


def test_reimport_bumps_changed_persons_only_and_feeds_the_household(
    sync_server_any: ServerEnv, tmp_path: Path
) -> None:
    env = sync_server_any
    _, cursor = _drain(env, 0)
    changed = make_household(3)
    changed["members"][1]["name"] = "見本 次郎"  # one member renamed
    moved = make_household(4)
    moved["address"] = "北見市常盤町1丁目1番地"  # the whole household moved
    same = make_household(5)
    report = env.server.import_jsonl(write_jsonl(tmp_path / "u.jsonl", [changed, moved, same]))
    assert (report.updated, report.unchanged, report.inserted) == (2, 1, 0)

    items, cursor2 = _drain(env, cursor)
    by_key = {i.key: i for i in items if i.kind == "household"}
    assert set(by_key) == {"H00000003", "H00000004"}
    h3 = parse_line(by_key["H00000003"].data_json())
    assert [m.version for m in h3.members] == [1, 2]
    assert by_key["H00000003"].version == 2
    h4 = parse_line(by_key["H00000004"].data_json())
    assert [m.version for m in h4.members] == [2, 2]
    assert cursor2 > cursor

    # Importing the same file again changes nothing and feeds nothing.
    again = env.server.import_jsonl(write_jsonl(tmp_path / "u2.jsonl", [changed, moved]))
    assert again.unchanged == 2
    assert _drain(env, cursor2)[0] == []


def test_initial_sync_sees_each_record_once_after_updates(
    sync_server: ServerEnv, tmp_path: Path
) -> None:
    h = make_household(7)
    for n in range(3):
        h = copy.deepcopy(h)
        h["members"][0]["name"] = f"試験 {n}郎"
        sync_server.server.import_jsonl(write_jsonl(tmp_path / f"{n}.jsonl", [h]))
    items, _ = _drain(sync_server, 0, limit=3)
    keys = [i.key for i in items if i.kind == "household"]
    assert len(keys) == len(set(keys)) == 20
    h7 = next(i for i in items if i.key == "H00000007")
    assert parse_line(h7.data_json()).members[0].version == 4
    seqs = [i.seq for i in items]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)


def test_import_reports_every_bad_line_by_number_and_imports_nothing(
    sync_server: ServerEnv,
) -> None:
    bad_digit = make_household(90)
    bad_digit["members"][0]["juminhyo_code"] = "12345678901"
    lines = [
        json.dumps(make_household(88), ensure_ascii=False),
        "{not json",
        json.dumps(bad_digit, ensure_ascii=False),
        json.dumps({"household_id": "X"}),
        json.dumps(make_household(89), ensure_ascii=False),
    ]
    report = import_lines(sync_server.server.db, enumerate(lines, start=1))
    assert report.inserted == 0 and report.read == 5 and not report.ok
    assert [n for n, _ in report.errors] == [2, 3, 4]
    assert "何も取り込んでいません" in report.summary()
    keys = {i.key for i in sync_server.client.changes(0, 5000).items}
    assert "H00000088" not in keys and "H00000089" not in keys
    assert "住民票コード" in report.errors[1][1]
    my_number = bad_digit["members"][0]["my_number"]
    assert all(my_number not in msg for _, msg in report.errors)


def test_operator_policy_and_terminal_changes_ride_the_feed(
    sync_server: ServerEnv, tmp_path: Path
) -> None:
    _, cursor = _drain(sync_server, 0)
    server = sync_server.server
    server.add_operator("sup01", "監督 者", ["supervisor"], "端野支所", "supervising-password-123")
    server.update_operator("sup01", roles=["supervisor", "auditor"])
    server.set_policy(Policy(fee_yen=350))
    other = sync_server.enroll_another(tmp_path / "other")
    server.revoke_terminal(other.terminal_no)
    items, _ = _drain(sync_server, cursor)
    kinds = [(i.kind, i.key) for i in items]
    assert kinds == [("operator", "sup01"), ("policy", "policy"), ("terminal", other.terminal_no)]
    op = items[0]
    assert op.version == 2 and op.data["roles"] == ["supervisor", "auditor"]
    assert "password" not in json.dumps(op.data)
    assert Policy.model_validate(items[1].data).fee_yen == 350
    assert items[2].data == {"revoked": True}


def test_feed_is_gzip_compressed_and_limits_are_enforced(sync_server: ServerEnv) -> None:
    env = sync_server
    with httpx.Client(verify=_ctx(env)) as raw:
        answer = raw.get(
            f"{env.server.base_url}/v1/changes",
            params={"after": 0, "limit": 50},
            headers={SESSION_HEADER: env.client.session_token or "", "Accept-Encoding": "gzip"},
        )
    assert answer.status_code == 200
    assert answer.headers["content-encoding"] == "gzip"
    page = ChangesPage.model_validate_json(answer.content)
    assert len(page.items) == 22 and not page.has_more  # 20 households, operator, policy
    with pytest.raises(ServerRejected) as info:
        env.client.changes(0, MAX_PAGE_LIMIT + 1)
    assert info.value.status == 422 and info.value.code == "invalid_request"
    with pytest.raises(ServerRejected):
        env.client.changes(-1)


def _ctx(env: ServerEnv):  # type: ignore[no-untyped-def]
    import ssl

    ctx = ssl.create_default_context(cafile=str(env.terminal.ca_path))
    ctx.load_cert_chain(
        str(env.terminal.cert_path), str(env.terminal.key_path), password=env.terminal.key_password
    )
    return ctx


def test_page_boundaries_and_cursor_past_the_end(sync_server: ServerEnv) -> None:
    first = sync_server.client.changes(0, 5)
    assert len(first.items) == 5 and first.has_more and first.next_after == first.items[-1].seq
    end = sync_server.client.changes(first.latest_seq, 5)
    assert end.items == [] and not end.has_more and end.next_after == first.latest_seq
    beyond = sync_server.client.changes(first.latest_seq + 100, 5)
    assert beyond.items == [] and not beyond.has_more


def test_digest_follows_changes(sync_server: ServerEnv, tmp_path: Path) -> None:
    from app.sync.protocol import bucket_of

    before = sync_server.client.digest()
    assert sync_server.client.digest() == before  # served from the cache, same answer
    changed = make_household(6)
    changed["members"][0]["name"] = "見本 六郎"
    sync_server.server.import_jsonl(write_jsonl(tmp_path / "d.jsonl", [changed]))
    after = sync_server.client.digest()
    moved = [
        i for i, (a, b) in enumerate(zip(before.buckets, after.buckets, strict=True)) if a != b
    ]
    assert moved == [bucket_of("H00000006")]


def test_a_page_streams_in_bounded_chunks(
    sync_server: ServerEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    from server import feed

    monkeypatch.setattr(feed, "CHUNK_CHARS", 2048)
    chunks = list(feed.stream_page(sync_server.server.db, 0, 1000))
    assert len(chunks) > 5
    assert max(len(c) for c in chunks) < 2048 + 4096  # one record past the threshold at most
    page = ChangesPage.model_validate_json(b"".join(chunks))
    assert len(page.items) == 22 and not page.has_more
