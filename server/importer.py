"""`madoguchi-server import FILE.jsonl`: all or nothing, streamed, every refused line named.

1. Staging (no lock on the register): the file is read line by line in binary (a line over
   MAX_LINE_BYTES is refused without being held in memory), each line validated
   (`app.domain.records.parse_line`: format, check digits, dates, codes; then the server's own
   limits: ids that fit the database, bounded texts, no control characters, no future birth
   date) and kept in a private SQLite staging file, where duplicates within the file (household,
   person, 個人番号, 住民票コード) are found against the lines before.
2. If no line was refused: ONE write transaction checks the file against the register (a person
   who belongs to another household the file does not carry, a person who would disappear, a
   個人番号 held by another person) and writes it; any finding rolls it all back.

So a file with one bad line imports nothing, and the report lists every refused line by number.

Rules (docs/server.md): a person moves between households only when the file carries both
households' new states; a person never disappears from the register (a 転出 or 死亡 stays in
the household as removed); a household or person appears once per file.

Versions: new households enter with the versions they carry. A household already known is
compared with what the server holds: a changed person gets version = old + 1 (or the file's, if
higher); a change of the household's own fields (address ...) bumps every member, since every
member's 住民票 shows it. Unchanged households produce no feed item.
"""

from __future__ import annotations

import json
import os
import sqlite3
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from app.domain.errors import ValidationError
from app.domain.records import household_to_dict, parse_line
from app.sync.protocol import bucket_of
from server.db import Database, next_seqs
from server.feed import dumps
from server.import_rules import MAX_LINE_BYTES, line_problem, read_lines
from server.register_crypto import RegisterCipher
from server.tables import changes, households, persons

BATCH = 1000
_JST = timezone(timedelta(hours=9))


@dataclass
class ImportReport:
    read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    persons: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def __str__(self) -> str:
        return self.summary()  # counts only: the error texts stay out of f-strings and logs

    def summary(self) -> str:
        if self.errors:
            lines = len({n for n, _ in self.errors})
            return (
                f"読込 {self.read} 世帯: エラー {lines} 行のため、何も取り込んでいません"
                "(ファイルを直して、もう一度すべてを取り込んでください)。"
            )
        return (
            f"読込 {self.read} 世帯: 新規 {self.inserted}、更新 {self.updated}、"
            f"変更なし {self.unchanged}、エラー 0 行(住民 {self.persons} 人)"
        )


class _Refused(Exception):
    """The register checks found problems: the transaction is rolled back."""


def import_file(db: Database, path: Path, work_dir: Path | None = None) -> ImportReport:
    with path.open("rb") as fh:
        return import_lines(db, read_lines(fh), work_dir=work_dir)


# --- staging ---------------------------------------------------------------------------------


class _Stage:
    """The file's accepted lines in a private SQLite file (0600, deleted at the end): duplicates
    are found against every earlier line without holding the file in memory."""

    def __init__(self, work_dir: Path | None) -> None:
        fd, name = tempfile.mkstemp(prefix="import-", suffix=".db", dir=work_dir)
        os.close(fd)
        self.path = Path(name)
        self.conn = sqlite3.connect(name, isolation_level=None)
        self.conn.executescript(
            """
            PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;
            CREATE TABLE h (household_id TEXT PRIMARY KEY, line INTEGER NOT NULL,
                            data TEXT NOT NULL) WITHOUT ROWID;
            CREATE TABLE p (person_id TEXT PRIMARY KEY, household_id TEXT NOT NULL,
                            line INTEGER NOT NULL, mac TEXT, jc TEXT NOT NULL) WITHOUT ROWID;
            CREATE INDEX p_mac ON p(mac);
            CREATE INDEX p_jc ON p(jc);
            """
        )

    def close(self) -> None:
        self.conn.close()
        self.path.unlink(missing_ok=True)

    def _lines_of(self, table: str, column: str, values: Iterable[str]) -> dict[str, int]:
        found: dict[str, int] = {}
        values = list(values)
        for i in range(0, len(values), 500):
            chunk = values[i : i + 500]
            marks = ",".join("?" * len(chunk))
            for value, line in self.conn.execute(
                f"SELECT {column}, line FROM {table} WHERE {column} IN ({marks})",
                chunk,
            ):
                found[value] = line
        return found

    def add(
        self,
        batch: list[tuple[int, dict[str, Any], list[tuple[str, str | None, str]]]],
        report: ImportReport,
    ) -> None:
        """batch: (line, household dict, [(person_id, 個人番号 MAC, 住民票コード)])."""
        seen_h = self._lines_of("h", "household_id", (d["household_id"] for _, d, _ in batch))
        people = [p for _, _, ps in batch for p in ps]
        seen_p = self._lines_of("p", "person_id", (p for p, _, _ in people))
        seen_mac = self._lines_of("p", "mac", (m for _, m, _ in people if m))
        seen_jc = self._lines_of("p", "jc", (j for _, _, j in people))
        rows_h, rows_p = [], []
        for number, data, ps in batch:
            problem = self._duplicate(number, data, ps, seen_h, seen_p, seen_mac, seen_jc)
            if problem:
                report.errors.append((number, problem))
                continue
            rows_h.append((data["household_id"], number, dumps(data)))
            rows_p += [(pid, data["household_id"], number, mac, jc) for pid, mac, jc in ps]
        self.conn.execute("BEGIN")
        self.conn.executemany("INSERT INTO h VALUES (?, ?, ?)", rows_h)
        self.conn.executemany("INSERT INTO p VALUES (?, ?, ?, ?, ?)", rows_p)
        self.conn.execute("COMMIT")

    @staticmethod
    def _duplicate(
        number: int,
        data: dict[str, Any],
        ps: list[tuple[str, str | None, str]],
        seen_h: dict[str, int],
        seen_p: dict[str, int],
        seen_mac: dict[str, int],
        seen_jc: dict[str, int],
    ) -> str | None:
        """The first duplicate of an earlier line; the line is remembered when it has none."""
        hid = data["household_id"]
        if hid in seen_h:
            return f"世帯ID {hid} は {seen_h[hid]} 行目にもあります(1つのファイルに1回まで)。"
        for pid, mac, jc in ps:
            if pid in seen_p:
                return (
                    f"個人ID {pid} は {seen_p[pid]} 行目の世帯にもいます"
                    "(1人の住民は1つの世帯にだけ属します)。"
                )
            if mac is not None and mac in seen_mac:
                return f"世帯員[{pid}]の個人番号が {seen_mac[mac]} 行目の住民と同じです。"
            if jc in seen_jc:
                return f"世帯員[{pid}]の住民票コードが {seen_jc[jc]} 行目の住民と同じです。"
        seen_h[hid] = number
        for pid, mac, jc in ps:
            seen_p[pid] = number
            if mac is not None:
                seen_mac[mac] = number
            seen_jc[jc] = number
        return None

    def households(self) -> Iterator[list[tuple[int, dict[str, Any]]]]:
        """The staged households in file order, a batch at a time."""
        last = 0
        while True:
            rows = self.conn.execute(
                "SELECT line, data FROM h WHERE line > ? ORDER BY line LIMIT ?", (last, BATCH)
            ).fetchall()
            if not rows:
                return
            last = rows[-1][0]
            yield [(line, json.loads(data)) for line, data in rows]

    def household_lines(self, ids: Iterable[str]) -> dict[str, int]:
        return self._lines_of("h", "household_id", ids)

    def person_lines(self, ids: Iterable[str]) -> dict[str, int]:
        return self._lines_of("p", "person_id", ids)


# --- the import ------------------------------------------------------------------------------


def import_lines(
    db: Database, lines: Iterable[tuple[int, str | bytes | None]], work_dir: Path | None = None
) -> ImportReport:
    """Import (line number, text) pairs all or nothing; None stands for an over-long line."""
    cipher = db.register_cipher
    if cipher is None:
        raise RuntimeError("the register's key is not open (admin.init_server opens it)")
    report = ImportReport()
    today = datetime.now(_JST).date()
    stage = _Stage(work_dir)
    try:
        pending: list[tuple[int, dict[str, Any], list[tuple[str, str | None, str]]]] = []
        for number, line in lines:
            report.read += 1
            staged = _validate(number, line, today, cipher, report)
            if staged is not None:
                pending.append(staged)
            if len(pending) >= BATCH:
                stage.add(pending, report)
                pending = []
        if pending:
            stage.add(pending, report)
        if not report.errors:
            try:
                _apply(db, stage, cipher, report)
            except _Refused:
                report.inserted = report.updated = report.unchanged = report.persons = 0
    finally:
        stage.close()
    report.errors.sort(key=lambda e: e[0])
    return report


def _validate(
    number: int,
    line: str | bytes | None,
    today: date,
    cipher: RegisterCipher,
    report: ImportReport,
) -> tuple[int, dict[str, Any], list[tuple[str, str | None, str]]] | None:
    if line is None or len(line) > MAX_LINE_BYTES:
        report.errors.append(
            (number, f"行が長すぎます({MAX_LINE_BYTES // (1024 * 1024)} MiB まで)。")
        )
        return None
    try:
        household = parse_line(line)
    except ValidationError as exc:
        report.errors.append((number, exc.message))
        return None
    data = household_to_dict(household)
    problem = line_problem(household, data, today)
    if problem is not None:
        report.errors.append((number, problem))
        return None
    people = [
        (m.person_id, cipher.index(m.my_number) if m.my_number else None, m.juminhyo_code)
        for m in household.members
    ]
    return number, data, people


def _apply(db: Database, stage: _Stage, cipher: RegisterCipher, report: ImportReport) -> None:
    """Check the staged file against the register, then write it; all in one transaction."""
    with db.write() as conn:
        for batch in stage.households():
            report.errors += _register_problems(conn, stage, cipher, batch)
        if report.errors:
            raise _Refused
        # Rows of everyone named and of every household re-imported go first: a 個人番号 may
        # move from one person to another within the file (the blind index is unique).
        for batch in stage.households():
            pids = [m["person_id"] for _, d in batch for m in d["members"]]
            hids = [d["household_id"] for _, d in batch]
            for i in range(0, max(len(pids), len(hids)), 500):
                if pids[i : i + 500]:
                    conn.execute(delete(persons).where(persons.c.person_id.in_(pids[i : i + 500])))
                if hids[i : i + 500]:
                    conn.execute(
                        delete(persons).where(persons.c.household_id.in_(hids[i : i + 500]))
                    )
        for batch in stage.households():
            _write_batch(conn, cipher, [d for _, d in batch], report)


def _register_problems(
    conn: Connection,
    stage: _Stage,
    cipher: RegisterCipher,
    batch: list[tuple[int, dict[str, Any]]],
) -> list[tuple[int, str]]:
    problems: list[tuple[int, str]] = []
    line_of = {d["household_id"]: n for n, d in batch}
    now_in = {d["household_id"]: {m["person_id"] for m in d["members"]} for _, d in batch}
    old = _existing(conn, cipher, list(line_of))
    # A person the register has in a re-imported household, absent from its new state, must be
    # somewhere else in the file.
    dropped = {
        pid: hid
        for hid, before in old.items()
        for pid in {m["person_id"] for m in before["members"]} - now_in[hid]
    }
    elsewhere = stage.person_lines(dropped)
    for pid, hid in sorted(dropped.items()):
        if pid not in elsewhere:
            problems.append(
                (
                    line_of[hid],
                    f"個人ID {pid} が世帯 {hid} からいなくなります。転出・死亡などは状態 removed"
                    "(除票)として世帯に残し、世帯の移動は移動先の世帯と一緒に取り込んでください。",
                )
            )
    # A person the register has in another household moves only if that household's new state
    # is in the file too.
    member_of = {m["person_id"]: (n, d["household_id"]) for n, d in batch for m in d["members"]}
    ids = list(member_of)
    registered: dict[str, str] = {}
    for i in range(0, len(ids), 500):
        for pid, hid in conn.execute(
            select(persons.c.person_id, persons.c.household_id).where(
                persons.c.person_id.in_(ids[i : i + 500])
            )
        ):
            registered[pid] = hid
    moved = {pid: hid for pid, hid in registered.items() if hid != member_of[pid][1]}
    carried = stage.household_lines(set(moved.values()))
    stale = _not_listing(conn, cipher, {p: h for p, h in moved.items() if h not in carried})
    for pid, hid in sorted(moved.items()):
        if hid not in carried and pid not in stale:
            problems.append(
                (
                    member_of[pid][0],
                    f"個人ID {pid} はすでに世帯 {hid} に属しています(世帯を移すときは、"
                    f"移る前の世帯 {hid} の新しい内容も同じファイルに含めてください)。",
                )
            )
    # A 個人番号 of the file held by another person of the register who is not in the file.
    wanted = {
        cipher.index(m["my_number"]): (n, m["person_id"])
        for n, d in batch
        for m in d["members"]
        if m["my_number"]
    }
    mac_list = list(wanted)
    macs: dict[str, str] = {}
    for i in range(0, len(mac_list), 500):
        for pid, mac in conn.execute(
            select(persons.c.person_id, persons.c.my_number_mac).where(
                persons.c.my_number_mac.in_(mac_list[i : i + 500])
            )
        ):
            macs[pid] = mac
    holders = {pid: mac for pid, mac in macs.items() if pid != wanted[mac][1]}
    in_file = stage.person_lines(holders)
    for pid, mac in sorted(holders.items()):
        if pid not in in_file:
            line, who = wanted[mac]
            problems.append(
                (line, f"世帯員[{who}]の個人番号が登録済みの別の住民(個人ID {pid})と同じです。")
            )
    return problems


def _existing(
    conn: Connection, cipher: RegisterCipher, household_ids: list[str]
) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for i in range(0, len(household_ids), 500):
        for hid, text in conn.execute(
            select(households.c.household_id, households.c.data).where(
                households.c.household_id.in_(household_ids[i : i + 500])
            )
        ):
            found[hid] = json.loads(cipher.reveal_text(text))
    return found


def _not_listing(conn: Connection, cipher: RegisterCipher, moved: dict[str, str]) -> set[str]:
    """Persons whose row names a household that no longer lists them (left by imports before
    the persons index followed every re-import): no conflict there."""
    old = _existing(conn, cipher, sorted(set(moved.values())))
    return {
        pid
        for pid, hid in moved.items()
        if pid not in {m["person_id"] for m in old.get(hid, {"members": []})["members"]}
    }


def _merge(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any] | None:
    """The new state with server-assigned versions, or None when nothing changed."""
    old_members = {m["person_id"]: m for m in old["members"]}
    household_changed = {k: v for k, v in old.items() if k != "members"} != {
        k: v for k, v in new.items() if k != "members"
    }
    changed_any = household_changed or [m["person_id"] for m in old["members"]] != [
        m["person_id"] for m in new["members"]
    ]
    members = []
    for m in new["members"]:
        before = old_members.get(m["person_id"])
        m = dict(m)
        if before is not None:
            same = {k: v for k, v in before.items() if k != "version"} == {
                k: v for k, v in m.items() if k != "version"
            }
            if same and not household_changed:
                m["version"] = before["version"]
            else:
                m["version"] = max(before["version"] + 1, m["version"])
                changed_any = True
        members.append(m)
    if not changed_any:
        return None
    return {**new, "members": members}


def _write_batch(
    conn: Connection, cipher: RegisterCipher, batch: list[dict[str, Any]], report: ImportReport
) -> None:
    old = _existing(conn, cipher, [d["household_id"] for d in batch])
    new_rows: list[dict[str, Any]] = []
    updated_rows: list[dict[str, Any]] = []
    person_rows: list[dict[str, Any]] = []
    for data in batch:
        before = old.get(data["household_id"])
        state = data if before is None else _merge(before, data)
        if state is None:
            report.unchanged += 1
            state = before  # its persons rows were cleared with the others: written again
        elif before is None:
            new_rows.append(state)
        else:
            updated_rows.append(state)
        assert state is not None
        for m in state["members"]:
            person_rows.append(
                {
                    "person_id": m["person_id"],
                    "household_id": state["household_id"],
                    "version": m["version"],
                    "status": m["status"],
                    "my_number_mac": cipher.index(m["my_number"]) if m["my_number"] else None,
                }
            )
    if person_rows:
        conn.execute(insert(persons), person_rows)
    todo = new_rows + updated_rows
    if not todo:
        return
    seq = next_seqs(conn, len(todo))
    at = datetime.now(UTC)
    hh_insert: list[dict[str, Any]] = []
    change_rows: list[dict[str, Any]] = []
    for index, data in enumerate(todo):
        version = max(m["version"] for m in data["members"])
        text = dumps(cipher.seal_household(data))
        if index >= len(new_rows):
            conn.execute(
                update(households)
                .where(households.c.household_id == data["household_id"])
                .values(version=version, seq=seq, data=text)
            )
            conn.execute(
                delete(changes).where(
                    changes.c.kind == "household", changes.c.key == data["household_id"]
                )
            )
        else:
            hh_insert.append(
                {
                    "household_id": data["household_id"],
                    "version": version,
                    "bucket": bucket_of(data["household_id"]),
                    "seq": seq,
                    "data": text,
                }
            )
        change_rows.append(
            {
                "seq": seq,
                "kind": "household",
                "key": data["household_id"],
                "version": version,
                "deleted": False,
                "data": text,
                "at": at,
            }
        )
        seq += 1
    if hh_insert:
        conn.execute(insert(households), hh_insert)
    conn.execute(insert(changes), change_rows)
    report.inserted += len(new_rows)
    report.updated += len(updated_rows)
    report.persons += sum(len(d["members"]) for d in todo)
