"""`madoguchi-server audit report` finds the anomalies planted in a generated day of activity."""

from __future__ import annotations

import json
import os
import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import sqlcipher3
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import insert, text

from app.store.audit import AUDIT_TABLE_DDL, AuditAction, AuditChain, signer_for
from app.sync.protocol import Policy
from server.audit_ingest import ingest_audit_batch, stored_entries
from server.audit_report import AnomalyKind, RegisterFacts, analyse, build_report, report_main
from server.db import Database
from server.tables import households, operators, persons

JST = timezone(timedelta(hours=9))
DAY = date(2026, 11, 25)
NORMAL = [f"clerk{i}" for i in range(1, 7)]
SNOOP, PROTECTED_VIEWER, OWN_LOOKUP, BULK, LATE = "snoop", "pviewer", "ownhh", "bulk", "late"
PROTECTED_PERSON, APPROVED_PROTECTED = "P0007-1", "P0008-1"


def _household(i: int, protected: bool = False) -> dict[str, Any]:
    hid = f"H{i:04d}"
    members = []
    for j in range(1, 3):
        members.append(
            {
                "person_id": f"P{i:04d}-{j}",
                "support_measure": {"until": "2027-03-31"} if protected and j == 1 else None,
            }
        )
    return {"household_id": hid, "members": members}


HOUSEHOLDS = [_household(i, protected=i in (7, 8)) for i in range(1, 200)]
OWN_PERSON = "P0150-2"  # the operator "ownhh" lives in H0150


def _at(hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(DAY.year, DAY.month, DAY.day, hour, minute, second, tzinfo=JST)


class Day:
    """Generates a plausible counter day on two terminals, with planted anomalies."""

    def __init__(self, chains: dict[str, AuditChain], seed: int = 7) -> None:
        self.rng = random.Random(seed)
        self.chains = chains

    def log(
        self,
        terminal: str,
        op: str,
        action: AuditAction,
        targets: list[str],
        at: datetime,
        reason: str | None = None,
    ) -> None:
        self.chains[terminal].append(op, action, targets, reason=reason, at=at)

    def ordinary_case(self, terminal: str, op: str, start: datetime) -> datetime:
        """Search, view the household, sometimes issue and print: 2-6 minutes."""
        hh = self.rng.choice(
            [h for h in HOUSEHOLDS if h["household_id"] not in ("H0007", "H0008", "H0150")]
        )
        person = hh["members"][0]["person_id"]
        t = start
        self.log(terminal, op, AuditAction.SEARCH, [person], t)
        t += timedelta(seconds=self.rng.randint(20, 90))
        self.log(terminal, op, AuditAction.VIEW_HOUSEHOLD, [hh["household_id"]], t)
        if self.rng.random() < 0.5:
            t += timedelta(seconds=self.rng.randint(30, 120))
            self.log(terminal, op, AuditAction.ISSUE_CERTIFICATE, [person], t)
            t += timedelta(seconds=5)
            self.log(terminal, op, AuditAction.PRINT, [person], t)
        return t + timedelta(minutes=self.rng.randint(1, 4))

    def shift(self, terminal: str, op: str, cases: int, start: datetime) -> datetime:
        t = start
        self.log(terminal, op, AuditAction.LOGIN, [], t)
        for _ in range(cases):
            t = self.ordinary_case(terminal, op, t + timedelta(seconds=30))
        if self.rng.random() < 0.5:  # one search that finds nobody: normal, not an anomaly
            self.log(terminal, op, AuditAction.SEARCH, [], t)
            t += timedelta(minutes=2)
        self.log(terminal, op, AuditAction.LOGOUT, [], t)
        return t

    def generate(self) -> None:
        # Ordinary clerks: morning and afternoon shifts split over the two terminals.
        for k, op in enumerate(NORMAL):
            terminal = "T0001" if k % 2 else "T0002"
            self.shift(terminal, op, 20, _at(9 + (k % 3), 0))
        # Planted: searches that lead nowhere (looking people up out of curiosity).
        t = self.shift("T0001", SNOOP, 5, _at(13, 0))
        for n in range(12):
            self.log("T0001", SNOOP, AuditAction.SEARCH, [f"P{n + 20:04d}-1"], t)
            t += timedelta(minutes=self.rng.randint(11, 15))
        # Planted: a 支援措置 person viewed without approval; another with approval (listed).
        t = self.shift("T0002", PROTECTED_VIEWER, 6, _at(9, 30))
        self.log("T0002", PROTECTED_VIEWER, AuditAction.SEARCH, [PROTECTED_PERSON], t)
        self.log(
            "T0002",
            PROTECTED_VIEWER,
            AuditAction.VIEW_HOUSEHOLD,
            ["H0007"],
            t + timedelta(minutes=1),
        )
        t += timedelta(minutes=10)
        self.log(
            "T0002",
            "super1",
            AuditAction.APPROVAL,
            [APPROVED_PROTECTED],
            t,
            reason="本人申請・本人確認済み",
        )
        self.log(
            "T0002",
            PROTECTED_VIEWER,
            AuditAction.VIEW_PERSON,
            [APPROVED_PROTECTED],
            t + timedelta(minutes=1),
        )
        # Planted: the operator looks up their own household.
        t = self.shift("T0001", OWN_LOOKUP, 6, _at(10, 15))
        self.log("T0001", OWN_LOOKUP, AuditAction.SEARCH, [OWN_PERSON], t)
        self.log(
            "T0001", OWN_LOOKUP, AuditAction.VIEW_HOUSEHOLD, ["H0150"], t + timedelta(minutes=1)
        )
        # Planted: unusual volume (a bulk extraction by paging through people).
        t = _at(14, 0)
        for n in range(150):
            hh = HOUSEHOLDS[n % len(HOUSEHOLDS)]
            if hh["household_id"] in ("H0007", "H0008", "H0150"):
                continue
            self.log("T0002", BULK, AuditAction.SEARCH, [hh["members"][0]["person_id"]], t)
            self.log(
                "T0002",
                BULK,
                AuditAction.VIEW_HOUSEHOLD,
                [hh["household_id"]],
                t + timedelta(seconds=5),
            )
            t += timedelta(seconds=12)
        # Planted: activity after office hours.
        t = self.shift("T0001", LATE, 3, _at(16, 50))
        self.ordinary_case("T0001", LATE, _at(19, 40))


@pytest.fixture(scope="module")
def server_with_day(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Database]]:
    base = tmp_path_factory.mktemp("report")
    db = Database(f"sqlite:///{base / 'server.db'}")
    db.migrate()
    with db.write() as conn:
        for h in HOUSEHOLDS:
            conn.execute(
                insert(households).values(
                    household_id=h["household_id"], version=1, bucket=0, seq=0, data=json.dumps(h)
                )
            )
            for m in h["members"]:
                conn.execute(
                    insert(persons).values(
                        person_id=m["person_id"],
                        household_id=h["household_id"],
                        version=1,
                        status="resident",
                    )
                )
    chains = {}
    conns = []
    for t in ("T0001", "T0002"):
        c = sqlcipher3.connect(str(base / f"{t}.db"))
        c.execute(f"PRAGMA key = \"x'{os.urandom(32).hex()}'\"")
        c.execute(AUDIT_TABLE_DDL)
        conns.append(c)
        chains[t] = AuditChain(c, t, signer_for(ec.generate_private_key(ec.SECP256R1())))
    for c in conns:  # one transaction per terminal: the day is generated, not lived
        c.execute("BEGIN IMMEDIATE")
    Day(chains).generate()
    for c in conns:
        c.commit()
    for t, chain in chains.items():
        while (batch := chain.pending_batch(200)) is not None:
            with db.write() as conn:
                assert ingest_audit_batch(conn, t, batch)[0] == "accepted"
            chain.mark_pushed(batch["last_seq"])
    for c in conns:
        c.close()
    yield base, db
    db.dispose()


def _flagged(report: Any, kind: AnomalyKind) -> set[str]:
    return {a.operator_id for a in report.anomalies(kind)}


def test_report_finds_the_planted_anomalies(server_with_day: tuple[Path, Database]) -> None:
    _, db = server_with_day
    with db.write() as conn:
        conn.execute(
            insert(operators).values(
                operator_id="ownhh",
                display_name="職員",
                password_hash="x",
                roles="clerk",
                branch="本庁",
                failed_attempts=0,
                locked=False,
                active=True,
                version=1,
                created_at=_at(8, 0),
                person_id=OWN_PERSON,
            )
        )
    try:
        with db.read() as conn:
            report = build_report(conn, DAY, DAY)
    finally:
        with db.write() as conn:
            conn.execute(text("DELETE FROM operators WHERE operator_id = 'ownhh'"))
    assert report.chain_problems == []
    assert _flagged(report, AnomalyKind.NO_FOLLOW_UP) == {SNOOP}
    assert _flagged(report, AnomalyKind.PROTECTED_VIEW) == {PROTECTED_VIEWER}
    details = [a.detail for a in report.anomalies(AnomalyKind.PROTECTED_VIEW)]
    assert any(PROTECTED_PERSON in d and "承認なし" in d for d in details)
    assert any(APPROVED_PROTECTED in d and "承認あり" in d for d in details)
    assert _flagged(report, AnomalyKind.OWN_HOUSEHOLD) == {OWN_LOOKUP}
    assert _flagged(report, AnomalyKind.HIGH_VOLUME) == {BULK}
    assert _flagged(report, AnomalyKind.OUTSIDE_HOURS) == {LATE}
    for op in NORMAL:
        assert report.operators[op].anomalies == [], op


def test_report_command_output(
    server_with_day: tuple[Path, Database], capsys: pytest.CaptureFixture[str]
) -> None:
    base, _ = server_with_day
    url = f"sqlite:///{base / 'server.db'}"
    argv = [
        "--from",
        DAY.isoformat(),
        "--to",
        DAY.isoformat(),
        "--data-dir",
        str(base),
        "--database-url",
        url,
    ]
    assert report_main(argv) == 1  # anomalies found: non-zero (issue 21)
    out = capsys.readouterr().out
    assert "監査レポート 2026-11-25" in out
    assert "監査ログの連続性: 問題なし" in out
    for label in (
        "閲覧・交付につながらない検索",
        "支援措置対象者の閲覧",
        "操作件数が通常より多い",
        "執務時間外の操作",
    ):
        assert label in out
    # Says what it could not check: operators without a person_id.
    assert "個人IDが登録されていない職員" in out and "snoop" in out
    assert report_main([*argv, "--operator", "clerk1"]) == 0  # nothing to look at
    one = capsys.readouterr().out
    assert "職員 clerk1" in one and "職員 snoop" not in one and "異常なし" in one
    # The next day has nothing.
    nxt = (DAY + timedelta(days=1)).isoformat()
    assert report_main(["--from", nxt, "--to", nxt, "--database-url", url]) == 0
    assert "対象期間の操作記録はありません" in capsys.readouterr().out


def test_report_lists_chain_damage(server_with_day: tuple[Path, Database]) -> None:
    _, db = server_with_day
    with db.write() as conn:
        conn.execute(
            text("UPDATE audit_entries SET reason = 'x' WHERE terminal_no = 'T0002' AND seq = 5")
        )
    try:
        with db.read() as conn:
            report = build_report(conn, DAY, DAY)
        assert [(p.terminal_no, p.seq) for p in report.chain_problems] == [("T0002", 5)]
    finally:
        with db.write() as conn:
            conn.execute(
                text(
                    "UPDATE audit_entries SET reason = NULL WHERE terminal_no = 'T0002' AND seq = 5"
                )
            )


def test_office_hours_come_from_the_policy(server_with_day: tuple[Path, Database]) -> None:
    _, db = server_with_day
    with db.read() as conn:
        entries = stored_entries(conn, operator_id=LATE)
    facts = RegisterFacts()
    wide = analyse(entries, facts, policy=Policy(office_hours=(8, 21)))
    assert wide[LATE].anomalies == []
    narrow = analyse(entries, facts, policy=Policy(office_hours=(8, 17)))
    assert {a.kind for a in narrow[LATE].anomalies} == {AnomalyKind.OUTSIDE_HOURS}
    assert all(a.at is None or a.at.tzinfo is not None for a in narrow[LATE].anomalies)
    assert entries[0].at_datetime.tzinfo == UTC


def test_report_command_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    assert report_main(["--from", "2026-11-25", "--to", "2026-11-25", "--database-url", url]) == 2
    assert "init" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        report_main(["--from", "2026/11/25", "--to", "2026-11-25", "--database-url", url])
    assert report_main(["--from", "2026-11-26", "--to", "2026-11-25", "--database-url", url]) == 2
