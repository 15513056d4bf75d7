"""Operations on the server's state: init, operators, tokens, terminals, sessions, policy.

Used by the HTTP API, the admin CLI and server.embedded; no HTTP here. Every change of an
operator, the policy or a terminal rides the feed in the same transaction.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from sqlalchemy import Connection, func, insert, select, update

from app.domain.passwords import PasswordRules
from app.domain.roles import Role
from app.domain.text import control_character
from app.sync.protocol import (
    EnrollRequest,
    EnrollResponse,
    OperatorProfile,
    Policy,
)
from server import ca as ca_mod
from server import register_crypto, security
from server.config import ServerConfig
from server.db import Database
from server.errors import AdminError, ApiError
from server.feed import append_change, dumps
from server.tables import (
    enrollment_tokens,
    feed_counter,
    operators,
    policy,
    reconciliation,
    sessions,
    terminals,
)

KNOWN_ROLES = tuple(r.value for r in Role)  # app.domain.roles: the one table

log = logging.getLogger(__name__)


def now() -> datetime:
    return datetime.now(UTC)


def aware(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything we store is UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def private_dir(path: Path) -> None:
    """A directory only the server's account may enter (0700, also when it existed)."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)


def private_file(path: Path) -> None:
    """Create `path` empty with mode 0600 unless it exists; an existing one is made 0600.

    An existing file is never opened: closing a descriptor of a SQLite database drops every
    POSIX lock this process holds on it, and the process's open connections then no longer
    count as readers (another process took its WAL for the last one and removed it)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        os.chmod(path, 0o600)
    else:
        os.close(fd)


def init_server(config: ServerConfig) -> Database:
    """Create data dir, CA, master key and schema; seed the policy; open the register's key.
    Idempotent. The data dir is 0700 and the SQLite file 0600 (SQLite gives its -wal and -shm
    files the database file's mode)."""
    private_dir(config.data_dir)
    security.configure_hasher(config.password_time_cost, config.password_memory_kib)
    ca_mod.create_ca(config)
    if config.database_url is None:
        private_file(config.data_dir / "server.db")
        for suffix in ("-wal", "-shm"):
            side = config.data_dir / f"server.db{suffix}"
            if side.exists():
                os.chmod(side, 0o600)
    db = Database(config.db_url)
    db.migrate()
    with db.write() as conn:
        if conn.execute(select(policy.c.id)).first() is None:
            _store_policy(conn, Policy(), version=1)
        db.register_cipher = register_crypto.attach(conn, load_master_key(config))
    return db


def password_rules(config: ServerConfig) -> PasswordRules:
    return PasswordRules(
        min_length=config.password_min_length,
        context_words=(config.municipality_name, config.municipality_code, "kitami"),
    )


def _store_policy(conn: Connection, value: Policy, version: int) -> None:
    data = value.model_dump(mode="json")
    if version == 1:
        conn.execute(insert(policy).values(id=1, version=1, data=dumps(data)))
    else:
        conn.execute(
            update(policy).where(policy.c.id == 1).values(version=version, data=dumps(data))
        )
    append_change(conn, "policy", "policy", version, data)


def get_policy(conn: Connection) -> Policy:
    row = conn.execute(select(policy.c.data)).first()
    return Policy() if row is None else Policy.model_validate_json(row[0])


def set_policy(db: Database, value: Policy) -> None:
    with db.write() as conn:
        current = conn.execute(select(policy.c.version)).scalar_one_or_none() or 0
        _store_policy(conn, value, current + 1)


# --- operators --------------------------------------------------------------------------------


def profile(row: Any) -> OperatorProfile:
    return OperatorProfile(
        operator_id=row.operator_id,
        display_name=row.display_name,
        roles=tuple(r for r in row.roles.split(",") if r),
        branch=row.branch,
        active=bool(row.active),
    )


def _publish_operator(conn: Connection, operator_id: str) -> None:
    row = conn.execute(select(operators).where(operators.c.operator_id == operator_id)).one()
    append_change(conn, "operator", operator_id, row.version, profile(row).model_dump(mode="json"))


def _check_roles(roles: list[str] | tuple[str, ...]) -> str:
    bad = [r for r in roles if r not in KNOWN_ROLES]
    if bad or not roles:
        raise AdminError(
            f"役割が正しくありません: {', '.join(bad) or '(なし)'}"
            f"(使える役割: {', '.join(KNOWN_ROLES)})"
        )
    return ",".join(dict.fromkeys(roles))


def _check_password(
    rules: PasswordRules, password: str, operator_id: str, previous: str | None = None
) -> None:
    problems = rules.problems(password, operator_id, previous)
    if problems:
        raise AdminError("パスワードを受け付けられません: " + " ".join(problems))


def add_operator(
    db: Database,
    operator_id: str,
    display_name: str,
    roles: list[str] | tuple[str, ...],
    branch: str,
    password: str,
    person_id: str | None = None,
    *,
    rules: PasswordRules | None = None,
    must_change: bool = False,
) -> OperatorProfile:
    if not operator_id or len(operator_id) > 64 or control_character(operator_id) is not None:
        raise AdminError("職員IDは1〜64文字です(制御文字は使えません)。")
    if len(display_name) > 200 or len(branch) > 100:
        raise AdminError("氏名は200文字以内、所属は100文字以内にしてください。")
    role_text = _check_roles(roles)
    _check_password(rules or PasswordRules(), password, operator_id)
    with db.write() as conn:
        exists = conn.execute(
            select(operators.c.operator_id).where(operators.c.operator_id == operator_id)
        ).first()
        if exists:
            raise AdminError(f"職員 {operator_id} はすでに登録されています。")
        conn.execute(
            insert(operators).values(
                operator_id=operator_id,
                display_name=display_name,
                password_hash=security.hash_password(password),
                roles=role_text,
                branch=branch,
                failed_attempts=0,
                locked=False,
                active=True,
                version=1,
                created_at=now(),
                person_id=person_id,
                must_change_password=must_change,
            )
        )
        _publish_operator(conn, operator_id)
        row = conn.execute(select(operators).where(operators.c.operator_id == operator_id)).one()
        return profile(row)


def update_operator(
    db: Database,
    operator_id: str,
    *,
    roles: list[str] | tuple[str, ...] | None = None,
    active: bool | None = None,
    unlock: bool = False,
    password: str | None = None,
    rules: PasswordRules | None = None,
) -> OperatorProfile:
    """An administrator's change. A new password is a reset: the operator must choose their
    own at the next login (must_change_password), and their open sessions end."""
    values: dict[str, Any] = {"version": operators.c.version + 1}
    if roles is not None:
        values["roles"] = _check_roles(roles)
    if active is not None:
        values["active"] = active
    if unlock:
        values.update(locked=False, failed_attempts=0)
    if password is not None:
        _check_password(rules or PasswordRules(), password, operator_id)
        values["password_hash"] = security.hash_password(password)
        values["must_change_password"] = True
    with db.write() as conn:
        done = conn.execute(
            update(operators).where(operators.c.operator_id == operator_id).values(**values)
        ).rowcount
        if not done:
            raise AdminError(f"職員 {operator_id} は登録されていません。")
        if active is False or password is not None:
            conn.execute(sessions.delete().where(sessions.c.operator_id == operator_id))
        _publish_operator(conn, operator_id)
        row = conn.execute(select(operators).where(operators.c.operator_id == operator_id)).one()
        return profile(row)


def list_operators(db: Database) -> list[dict[str, Any]]:
    with db.read() as conn:
        rows = conn.execute(
            select(
                operators.c.operator_id,
                operators.c.roles,
                operators.c.branch,
                operators.c.active,
                operators.c.locked,
            ).order_by(operators.c.operator_id)
        )
        return [dict(r._mapping) for r in rows]


def operator_exists(conn: Connection, operator_id: str) -> bool:
    return (
        conn.execute(
            select(operators.c.operator_id).where(operators.c.operator_id == operator_id)
        ).first()
        is not None
    )


# --- enrollment and terminals -----------------------------------------------------------------


def make_token(db: Database, config: ServerConfig) -> str:
    token = security.new_token()
    with db.write() as conn:
        conn.execute(
            insert(enrollment_tokens).values(
                token_hash=security.token_hash(token),
                created_at=now(),
                expires_at=now() + timedelta(hours=config.token_hours),
            )
        )
    return token


def _next_terminal_no(conn: Connection) -> str:
    # Take the feed counter's row lock (a no-op update): parallel enrollments queue here
    # instead of computing the same number.
    conn.execute(update(feed_counter).where(feed_counter.c.id == 1).values(seq=feed_counter.c.seq))
    count = conn.execute(select(func.count()).select_from(terminals)).scalar_one()
    return f"{int(count) + 1:04d}"


def enroll(
    db: Database,
    config: ServerConfig,
    ca: ca_mod.CA,
    master_key: bytes,
    req: EnrollRequest,
    *,
    cert_days: int | None = None,
    not_before: datetime | None = None,
) -> EnrollResponse:
    invalid_token = ApiError(
        401,
        "token_invalid",
        "登録用トークンが無効です(使用済み・期限切れ・誤り)。管理者に新しいトークンを依頼してください。",
    )

    def usable(row: Any) -> bool:
        return row is not None and row.used_at is None and aware(row.expires_at) >= now()

    # The token first: without one, nothing of the request is even parsed.
    with db.read() as conn:
        row = conn.execute(
            select(enrollment_tokens).where(
                enrollment_tokens.c.token_hash == security.token_hash(req.token)
            )
        ).first()
    if not usable(row):
        # One message for unknown, used and expired: a guesser learns nothing.
        raise invalid_token
    try:
        csr = x509.load_pem_x509_csr(req.csr_pem.encode("utf-8"))
    except ValueError:
        raise ApiError(400, "bad_csr", "証明書署名要求(CSR)を読み取れません。") from None
    if not csr.is_signature_valid:
        raise ApiError(400, "bad_csr", "証明書署名要求(CSR)の署名が正しくありません。")
    try:
        dek = base64.b64decode(req.escrowed_dek_b64, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(400, "bad_dek", "預託する鍵(DEK)がbase64ではありません。") from None
    if len(dek) != 32:
        raise ApiError(400, "bad_dek", "預託する鍵(DEK)は256ビットでなければなりません。")
    with db.write() as conn:
        row = conn.execute(
            select(enrollment_tokens).where(
                enrollment_tokens.c.token_hash == security.token_hash(req.token)
            )
        ).first()
        if row is None or not usable(row):  # used meanwhile by a parallel request
            raise invalid_token
        terminal_no = _next_terminal_no(conn)
        cert = ca_mod.sign_terminal_csr(
            ca, csr, terminal_no, cert_days or config.terminal_cert_days, not_before=not_before
        )
        claimed = conn.execute(
            update(enrollment_tokens)
            .where(
                enrollment_tokens.c.token_hash == row.token_hash,
                enrollment_tokens.c.used_at.is_(None),
            )
            .values(used_at=now(), terminal_no=terminal_no)
        ).rowcount
        if claimed != 1:
            raise invalid_token
        conn.execute(
            insert(terminals).values(
                terminal_no=terminal_no,
                hostname=req.hostname[:255],
                cert_serial=format(cert.serial_number, "x"),
                fingerprint=ca_mod.fingerprint(cert),
                not_after=cert.not_valid_after_utc,
                revoked=False,
                certificate_pem=cert.public_bytes(Encoding.PEM).decode(),
                escrowed_dek=security.seal_dek(master_key, terminal_no, dek),
                enrolled_at=now(),
            )
        )
    return EnrollResponse(
        terminal_no=terminal_no,
        certificate_pem=cert.public_bytes(Encoding.PEM).decode(),
        ca_chain_pem=ca.cert_pem,
        municipality_code=config.municipality_code,
        municipality_name=config.municipality_name,
    )


def revoke_terminal(db: Database, terminal_no: str) -> None:
    with db.write() as conn:
        done = conn.execute(
            update(terminals)
            .where(terminals.c.terminal_no == terminal_no)
            .values(revoked=True, revoked_at=now())
        ).rowcount
        if not done:
            raise AdminError(f"端末 {terminal_no} は登録されていません。")
        conn.execute(sessions.delete().where(sessions.c.terminal_no == terminal_no))
        append_change(conn, "terminal", terminal_no, 1, {"revoked": True})


def list_terminals(db: Database) -> list[dict[str, Any]]:
    with db.read() as conn:
        rows = conn.execute(
            select(
                terminals.c.terminal_no,
                terminals.c.hostname,
                terminals.c.revoked,
                terminals.c.not_after,
            ).order_by(terminals.c.terminal_no)
        )
        return [dict(r._mapping) for r in rows]


# --- reconciliation ---------------------------------------------------------------------------


def list_reconciliation(db: Database, *, include_closed: bool = False) -> list[dict[str, Any]]:
    with db.read() as conn:
        q = select(reconciliation).order_by(reconciliation.c.id)
        if not include_closed:
            q = q.where(reconciliation.c.status == "open")
        return [dict(r._mapping) for r in conn.execute(q)]


def resolve_reconciliation(db: Database, item_id: int, note: str = "") -> None:
    with db.write() as conn:
        done = conn.execute(
            update(reconciliation)
            .where(reconciliation.c.id == item_id, reconciliation.c.status != "resolved")
            .values(status="resolved", resolved_at=now(), resolution=note)
        ).rowcount
    if not done:
        raise AdminError(f"照合待ち {item_id} は見つからないか、解決済みです。")


def load_master_key(config: ServerConfig) -> bytes:
    key = config.master_key_path.read_bytes()
    if len(key) != 32:
        raise AdminError("マスター鍵ファイルが壊れています。")
    return key
