"""`madoguchi-server import FILE.jsonl`: stream households in, validate every line, keep going.

New households enter with the versions they carry. A household that is already known is
compared with what the server holds: a changed person gets version = old + 1 (or the file's,
if higher); a change of the household's own fields (address ...) bumps every member, since
every member's 住民票 shows it. Unchanged households produce no feed item.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import Connection, delete, insert, select, update

from app.domain.errors import ValidationError
from app.domain.records import household_to_dict, parse_line
from app.sync.protocol import bucket_of
from server.db import Database, next_seqs
from server.feed import dumps
from server.tables import changes, households, persons

BATCH = 1000


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
        return (
            f"読込 {self.read} 世帯: 新規 {self.inserted}、更新 {self.updated}、"
            f"変更なし {self.unchanged}、エラー {len(self.errors)} 行(住民 {self.persons} 人)"
        )


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


def _lines(fh: TextIO) -> Iterator[tuple[int, str]]:
    for number, line in enumerate(fh, start=1):
        if line.strip():
            yield number, line


def import_lines(db: Database, lines: Iterable[tuple[int, str]]) -> ImportReport:
    report = ImportReport()
    batch: list[tuple[int, dict[str, Any]]] = []
    for number, line in lines:
        report.read += 1
        try:
            household = parse_line(line)
        except ValidationError as exc:
            report.errors.append((number, exc.message))
            continue
        batch.append((number, household_to_dict(household)))
        if len(batch) >= BATCH:
            _apply(db, batch, report)
            batch = []
    if batch:
        _apply(db, batch, report)
    return report


def import_file(db: Database, path: Path) -> ImportReport:
    with path.open(encoding="utf-8") as fh:
        return import_lines(db, _lines(fh))


def _apply(db: Database, batch: list[tuple[int, dict[str, Any]]], report: ImportReport) -> None:
    # The last line wins when a file names the same household twice.
    latest: dict[str, tuple[int, dict[str, Any]]] = {}
    for number, data in batch:
        latest[data["household_id"]] = (number, data)
    with db.write() as conn:
        ids = list(latest)
        existing = {
            r.household_id: json.loads(r.data)
            for r in conn.execute(
                select(households.c.household_id, households.c.data).where(
                    households.c.household_id.in_(ids)
                )
            )
        }
        new_rows: list[dict[str, Any]] = []
        updated_rows: list[dict[str, Any]] = []
        for household_id, (_number, data) in latest.items():
            old = existing.get(household_id)
            if old is None:
                new_rows.append(data)
            else:
                merged = _merge(old, data)
                if merged is None:
                    report.unchanged += 1
                else:
                    updated_rows.append(merged)
        todo = new_rows + updated_rows
        if not todo:
            return
        first = next_seqs(conn, len(todo))
        _write(conn, new_rows, updated_rows, first)
        report.inserted += len(new_rows)
        report.updated += len(updated_rows)
        report.persons += sum(len(d["members"]) for d in todo)


def _write(
    conn: Connection, new_rows: list[dict[str, Any]], updated_rows: list[dict[str, Any]], first: int
) -> None:
    from datetime import UTC, datetime

    at = datetime.now(UTC)
    hh_insert: list[dict[str, Any]] = []
    change_rows: list[dict[str, Any]] = []
    person_rows: list[dict[str, Any]] = []
    seq = first
    for index, data in enumerate(new_rows + updated_rows):
        is_update = index >= len(new_rows)
        version = max(m["version"] for m in data["members"])
        text = dumps(data)
        row = {
            "household_id": data["household_id"],
            "version": version,
            "bucket": bucket_of(data["household_id"]),
            "seq": seq,
            "data": text,
        }
        if is_update:
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
            hh_insert.append(row)
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
        for m in data["members"]:
            person_rows.append(
                {
                    "person_id": m["person_id"],
                    "household_id": data["household_id"],
                    "version": m["version"],
                    "status": m["status"],
                }
            )
        seq += 1
    if hh_insert:
        conn.execute(insert(households), hh_insert)
    conn.execute(insert(changes), change_rows)
    # Persons: replace the rows of everyone named (a person may have moved between households).
    person_ids = [p["person_id"] for p in person_rows]
    for i in range(0, len(person_ids), 500):
        conn.execute(delete(persons).where(persons.c.person_id.in_(person_ids[i : i + 500])))
    conn.execute(insert(persons), person_rows)
