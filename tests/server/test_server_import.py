"""Issue 21 item 4: the import is all or nothing, streamed, and names every refused line.

Each case imports a file into a running server (SQLite and PostgreSQL where the transaction
matters) and checks both the report (line numbers, Japanese reasons) and that the register did
not move: the feed, the persons index and a second, corrected import.
"""

from __future__ import annotations

import copy
import io
import json
import sys
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from server.cli import main as server_main
from server.importer import import_file
from server.tables import households, persons
from tests.support.server import ServerEnv, make_household, make_person, write_jsonl

Household = dict[str, Any]


def _register(env: ServerEnv) -> tuple[int, int, dict[str, str]]:
    with env.server.db.read() as conn:
        count = conn.execute(select(func.count()).select_from(households)).scalar_one()
        latest = conn.execute(select(func.max(households.c.seq))).scalar_one()
        where = dict(conn.execute(select(persons.c.person_id, persons.c.household_id)).all())
    return count, latest, where


def _import(env: ServerEnv, path: Path, rows: list[Household]) -> Any:
    return import_file(env.server.db, write_jsonl(path, rows), work_dir=env.server.config.data_dir)


def _assert_nothing_imported(env: ServerEnv, before: tuple[int, int, dict[str, str]]) -> None:
    assert _register(env) == before
    assert not list(env.server.config.data_dir.glob("import-*.db"))  # staging file removed


def _with(h: Household, **person: Any) -> Household:
    h = copy.deepcopy(h)
    h["members"][0].update(person)
    return h


def _numbered(n: int) -> str:
    return make_person(n)["my_number"]


# Each case: (the file's households, the line refused, words of the reason). The register
# holds make_households(20): H00000000..H00000019, persons P000000x0 and P000000x1. Three
# good lines go first: the file's line 1 is line 4.
CASES: dict[str, Callable[[], tuple[list[Household], int, list[str]]]] = {
    "duplicate person id within the file": lambda: (
        [
            make_household(100),
            {
                **make_household(101),
                "members": [*make_household(101)["members"][:1], make_household(100)["members"][1]],
            },
        ],
        2,
        ["P00001001", "4 行目"],
    ),
    "person of another registered household": lambda: (
        [
            {
                **make_household(102),
                "members": [*make_household(102)["members"], make_household(3)["members"][1]],
            }
        ],
        1,
        ["P00000031", "H00000003"],
    ),
    "person who would disappear": lambda: (
        [{**make_household(4), "members": make_household(4)["members"][:1]}],
        1,
        ["P00000041", "いなくなります"],
    ),
    "duplicate 個人番号 within the file": lambda: (
        [make_household(103), _with(make_household(104), my_number=_numbered(1030))],
        2,
        ["個人番号", "4 行目"],
    ),
    "個人番号 of another registered person": lambda: (
        [_with(make_household(105), my_number=_numbered(50))],
        1,
        ["個人番号", "P00000050"],
    ),
    "duplicate 住民票コード within the file": lambda: (
        [
            make_household(106),
            _with(make_household(107), juminhyo_code=make_person(1060)["juminhyo_code"]),
        ],
        2,
        ["住民票コード", "4 行目"],
    ),
    "duplicate household within the file": lambda: (
        [make_household(108), make_household(108)],
        2,
        ["H00000108", "4 行目"],
    ),
    "NUL in a name": lambda: ([_with(make_household(109), name="試験\u0000太郎")], 1, ["制御文字"]),
    # Shown as 「試験 太郎」 reversed at its end on the screen and on a certificate.
    "bidi override in a name": lambda: (
        [_with(make_household(147), name="試験 \u202e郎太")],
        1,
        ["文字の向き"],
    ),
    "tab in an address": lambda: (
        [{**make_household(110), "address": "北見市\t北1条"}],
        1,
        ["制御文字", "address"],
    ),
    "name of 100,000 characters": lambda: (
        [_with(make_household(111), name="長" * 100_000)],
        1,
        ["長すぎます", "100文字"],
    ),
    "household id of 65 characters": lambda: (
        [{**make_household(112), "household_id": "H" * 65}],
        1,
        ["長すぎます", "64文字"],
    ),
    "future birth date": lambda: (
        [_with(make_household(113), birth_date=(date.today() + timedelta(days=30)).isoformat())],
        1,
        ["生年月日", "未来"],
    ),
    "wrong check digit of a 個人番号": lambda: (
        [
            _with(
                make_household(114),
                my_number=_numbered(1140)[:-1] + "0"
                if _numbered(1140)[-1] != "0"
                else _numbered(1140)[:-1] + "1",
            )
        ],
        1,
        ["個人番号", "検査数字"],
    ),
    "wrong check digit of a 住民票コード": lambda: (
        [_with(make_household(115), juminhyo_code="12345678901")],
        1,
        ["住民票コード"],
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_refused_line_imports_nothing(
    sync_server_any: ServerEnv, tmp_path: Path, case: str
) -> None:
    env = sync_server_any
    rows, line, words = CASES[case]()
    # Good households before, so that a per-batch import would have written something.
    good = [make_household(200 + i) for i in range(3)]
    before = _register(env)
    report = _import(env, tmp_path / "in.jsonl", [*good, *rows])
    assert not report.ok and report.inserted == 0
    assert [n for n, _ in report.errors] == [line + len(good)], report.errors
    message = report.errors[0][1]
    assert all(w in message for w in words), message
    assert any("\u3040" <= ch <= "\u9fff" for ch in message)
    assert not any(
        m.get("my_number") and m["my_number"] in message for h in rows for m in h["members"]
    )
    _assert_nothing_imported(env, before)


def test_all_or_nothing_past_the_first_batch(sync_server_any: ServerEnv, tmp_path: Path) -> None:
    """1,500 good households then one bad line: the old importer had committed the first 1,000."""
    env = sync_server_any
    rows = [make_household(1000 + i) for i in range(1500)]
    rows.append({**make_household(3000), "postal_code": "123"})
    before = _register(env)
    report = _import(env, tmp_path / "big.jsonl", rows)
    assert [n for n, _ in report.errors] == [1501]
    _assert_nothing_imported(env, before)
    report = _import(env, tmp_path / "big.jsonl", rows[:-1])
    assert report.ok and report.inserted == 1500


def test_every_refused_line_is_reported(sync_server: ServerEnv, tmp_path: Path) -> None:
    rows = [
        make_household(300),
        {**make_household(301), "postal_code": "1"},
        make_household(302),
        _with(make_household(303), name="\u0007"),
        make_household(300),
    ]
    report = _import(sync_server, tmp_path / "in.jsonl", rows)
    assert [n for n, _ in report.errors] == [2, 4, 5]


def test_a_move_is_accepted_when_both_households_are_in_the_file(
    sync_server_any: ServerEnv, tmp_path: Path
) -> None:
    env = sync_server_any
    mover = make_household(5)["members"][1]  # P00000051 of H00000005
    old_home = {**make_household(5), "members": make_household(5)["members"][:1]}
    new_home = {**make_household(6), "members": [*make_household(6)["members"], mover]}
    # The new household first, the old one after: the order in the file does not matter.
    report = _import(env, tmp_path / "move.jsonl", [new_home, old_home])
    assert report.ok and report.updated == 2, report.errors
    assert _register(env)[2]["P00000051"] == "H00000006"
    found = {}
    for item in env.client.changes(0, 5000).items:
        if item.kind == "household":
            for m in json.loads(item.data_json())["members"]:
                found.setdefault(m["person_id"], []).append(item.key)
    assert found["P00000051"] == ["H00000006"]


def test_a_number_may_pass_from_one_person_to_another_within_a_file(
    sync_server_any: ServerEnv, tmp_path: Path
) -> None:
    """A correction: P00000070's number goes to P00000080, who gives theirs to P00000070."""
    env = sync_server_any
    a, b = make_household(7), make_household(8)
    na, nb = a["members"][0]["my_number"], b["members"][0]["my_number"]
    report = _import(env, tmp_path / "swap.jsonl", [_with(a, my_number=nb), _with(b, my_number=na)])
    assert report.ok, report.errors


def test_an_over_long_line_is_refused_without_reading_it_whole(
    sync_server: ServerEnv, tmp_path: Path
) -> None:
    path = tmp_path / "long.jsonl"
    with path.open("w", encoding="utf-8") as fh:
        fh.write(json.dumps(make_household(400), ensure_ascii=False) + "\n")
        fh.write('{"household_id": "H1", "address": "' + "x" * (3 * 1024 * 1024) + '"}\n')
        fh.write(json.dumps(make_household(401), ensure_ascii=False) + "\n")
    before = _register(sync_server)
    report = import_file(sync_server.server.db, path, work_dir=tmp_path)
    assert [(n, "長すぎます" in m and "1 MiB" in m) for n, m in report.errors] == [(2, True)]
    assert report.read == 3
    _assert_nothing_imported(sync_server, before)


def test_cli_import_exits_non_zero_and_imports_nothing(
    sync_server: ServerEnv,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = sync_server
    path = write_jsonl(
        tmp_path / "in.jsonl", [make_household(500), _with(make_household(501), name="x\u0000")]
    )
    before = _register(env)
    data_dir = str(env.server.config.data_dir)
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    assert server_main(["--data-dir", data_dir, "import", str(path)]) == 1
    out = capsys.readouterr()
    assert "in.jsonl:2:" in out.err and "何も取り込んでいません" in out.out
    _assert_nothing_imported(env, before)


def test_a_line_that_is_not_utf8_is_named_not_a_traceback(
    sync_server: ServerEnv, tmp_path: Path
) -> None:
    """A file saved in Shift_JIS (or a stray byte) stopped the import with a UnicodeDecodeError
    traceback, without a line number."""
    path = tmp_path / "sjis.jsonl"
    good = json.dumps(make_household(600), ensure_ascii=False)
    sjis = json.dumps(make_household(601), ensure_ascii=False).encode("shift_jis")
    path.write_bytes(good.encode() + b"\n" + sjis + b"\n" + b'{"household_id": "\xff"}\n')
    before = _register(sync_server)
    report = import_file(sync_server.server.db, path, work_dir=tmp_path)
    assert [n for n, _ in report.errors] == [2, 3]
    assert all("UTF-8" in m for _, m in report.errors), report.errors
    _assert_nothing_imported(sync_server, before)


def test_a_version_past_the_column_is_refused(sync_server_any: ServerEnv, tmp_path: Path) -> None:
    """住民票版数 is a 32-bit column and every event relies on it as a 32-bit value: 2**40 was
    imported (a DataError on PostgreSQL; on SQLite a person no terminal could issue for)."""
    env = sync_server_any
    rows = [make_household(700), _with(make_household(701), version=2**40)]
    before = _register(env)
    report = _import(env, tmp_path / "v.jsonl", rows)
    assert [n for n, _ in report.errors] == [2], report.errors
    assert "版数" in report.errors[0][1]
    _assert_nothing_imported(env, before)
