"""Operators' sessions: login, the password change, and who a request is (terminal + session).

POST /v1/sessions and POST /v1/password, and the look-up every other call makes
(`session_caller`): the terminal by its certificate's fingerprint and the operator of a live
session it opened, in one query. No HTTP here (server/app.py maps the errors).
"""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update

from app.domain.roles import Permission, permissions_of
from app.sync.protocol import ChangePasswordRequest, SessionRequest, SessionResponse
from server import security
from server.admin import aware, get_policy, now, password_rules, profile
from server.config import ServerConfig
from server.db import Database
from server.errors import ApiError
from server.tables import login_events, operators, sessions, terminals

log = logging.getLogger(__name__)


def _login_event(conn: Connection, operator_id: str, terminal_no: str | None, kind: str) -> None:
    """A failed login or a lockout, for the audit report (issue 21; ids only)."""
    conn.execute(
        insert(login_events).values(
            at=now(), operator_id=operator_id[:64], terminal_no=terminal_no, kind=kind
        )
    )


def _check_password_of(
    db: Database, config: ServerConfig, row: Any, password: str, terminal_no: str | None = None
) -> None:
    """argon2id check of an operator's password; a wrong one counts (committed before the
    answer, in SQL so that parallel attempts all count) and the fifth locks the operator. Every
    refusal is a login_events row (the lock itself one more, 'locked')."""
    if row.locked or not row.active:
        with db.write() as conn:
            _login_event(conn, row.operator_id, terminal_no, "failed")
    if row.locked:
        raise ApiError(
            403,
            "operator_locked",
            "この職員IDはパスワードの誤りが続いたためロックされています。管理者に連絡してください。",
        )
    if not row.active:
        raise ApiError(403, "operator_inactive", "この職員IDは利用停止されています。")
    if security.verify_password(row.password_hash, password):
        return
    with db.write() as conn:
        conn.execute(
            update(operators)
            .where(operators.c.operator_id == row.operator_id)
            .values(failed_attempts=operators.c.failed_attempts + 1)
        )
        conn.execute(
            update(operators)
            .where(
                operators.c.operator_id == row.operator_id,
                operators.c.failed_attempts >= config.lockout_threshold,
            )
            .values(locked=True)
        )
        locked = conn.execute(
            select(operators.c.locked).where(operators.c.operator_id == row.operator_id)
        ).scalar_one()
        _login_event(conn, row.operator_id, terminal_no, "failed")
        if locked:
            _login_event(conn, row.operator_id, terminal_no, "locked")
    if locked:
        raise ApiError(
            403,
            "operator_locked",
            "パスワードの誤りが続いたため、この職員IDをロックしました。管理者に連絡してください。",
        )
    raise ApiError(401, "invalid_credentials", "職員IDまたはパスワードが違います。")


def _open_session(
    conn: Connection,
    config: ServerConfig,
    master_key: bytes,
    terminal_no: str,
    operator_id: str,
    must_change: bool,
) -> SessionResponse:
    row = conn.execute(select(operators).where(operators.c.operator_id == operator_id)).one()
    if row.failed_attempts:
        conn.execute(
            update(operators)
            .where(operators.c.operator_id == operator_id)
            .values(failed_attempts=0)
        )
    sealed = conn.execute(
        select(terminals.c.escrowed_dek).where(terminals.c.terminal_no == terminal_no)
    ).scalar_one()
    # Expired sessions are swept here, at the rate logins happen.
    conn.execute(sessions.delete().where(sessions.c.expires_at < now()))
    token = security.new_token()
    conn.execute(
        insert(sessions).values(
            token_hash=security.token_hash(token),
            operator_id=operator_id,
            terminal_no=terminal_no,
            created_at=now(),
            expires_at=now() + timedelta(hours=config.session_hours),
        )
    )
    # No DEK until the operator has replaced a password an administrator set: the terminal's
    # cache opens only for someone who has proved they chose their own.
    dek = b"" if must_change else security.open_dek(master_key, terminal_no, sealed)
    return SessionResponse(
        session_token=token,
        operator=profile(row),
        dek_b64=base64.b64encode(dek).decode(),
        policy=get_policy(conn),
        server_time=now(),
        must_change_password=must_change,
    )


def login(
    db: Database, config: ServerConfig, master_key: bytes, terminal_no: str, req: SessionRequest
) -> SessionResponse:
    with db.read() as conn:
        row = conn.execute(
            select(operators).where(operators.c.operator_id == req.operator_id)
        ).first()
    if row is None:
        security.hash_password(req.password)  # same cost as a real check: no timing oracle
        with db.write() as conn:
            _login_event(conn, req.operator_id, terminal_no, "failed")
        raise ApiError(401, "invalid_credentials", "職員IDまたはパスワードが違います。")
    _check_password_of(db, config, row, req.password, terminal_no)
    with db.write() as conn:
        return _open_session(
            conn, config, master_key, terminal_no, row.operator_id, bool(row.must_change_password)
        )


def change_password(
    db: Database,
    config: ServerConfig,
    master_key: bytes,
    terminal_no: str,
    operator_id: str,
    req: ChangePasswordRequest,
) -> SessionResponse:
    """POST /v1/password: the old password again (a walk-up at an unlocked counter cannot take
    the account over), the new one checked by the policy. Every session of the operator ends;
    the answer is a new session, as after a login, with the DEK."""
    with db.read() as conn:
        row = conn.execute(select(operators).where(operators.c.operator_id == operator_id)).one()
    _check_password_of(db, config, row, req.old_password, terminal_no)
    problems = password_rules(config).problems(req.new_password, operator_id, req.old_password)
    if problems:
        raise ApiError(422, "weak_password", " ".join(problems))
    new_hash = security.hash_password(req.new_password)
    with db.write() as conn:
        conn.execute(
            update(operators)
            .where(operators.c.operator_id == operator_id)
            .values(password_hash=new_hash, must_change_password=False, failed_attempts=0)
        )
        conn.execute(sessions.delete().where(sessions.c.operator_id == operator_id))
        log.info("operator %s changed their password at terminal %s", operator_id, terminal_no)
        return _open_session(conn, config, master_key, terminal_no, operator_id, False)


@dataclass(frozen=True)
class Caller:
    """The operator of the session a request carries, at the terminal that sends it."""

    operator_id: str
    roles: tuple[str, ...]
    must_change_password: bool
    terminal_no: str = ""

    def may(self, permission: Permission) -> bool:
        return permission in permissions_of(self.roles)


def check_terminal(row: Any) -> Any:
    """The terminal's row; 403 for a certificate that maps to no row, or to a revoked one."""
    if row is None:
        raise ApiError(403, "terminal_unknown", "この端末は登録されていません。")
    if row.revoked:
        raise ApiError(
            403,
            "terminal_revoked",
            "この端末は登録を取り消されています。管理者に連絡してください。",
        )
    return row


_SESSION_INVALID = (
    401,
    "session_invalid",
    "ログインの有効期限が切れたか、ログインしていません。もう一度ログインしてください。",
)
# The terminal by its certificate, and the session (if any) with its operator, in one query.
_CALLER_QUERY = (
    select(
        terminals.c.terminal_no,
        terminals.c.revoked,
        sessions.c.operator_id,
        sessions.c.terminal_no.label("session_terminal"),
        sessions.c.expires_at,
        operators.c.active,
        operators.c.roles,
        operators.c.must_change_password,
    )
    .select_from(terminals)
    .outerjoin(sessions, sessions.c.token_hash == bindparam("token_hash"))
    .outerjoin(operators, operators.c.operator_id == sessions.c.operator_id)
    .where(terminals.c.fingerprint == bindparam("fingerprint"))
)


def caller_in(conn: Connection, token: str | None, fingerprint: str) -> Caller:
    """The terminal of this certificate (403 unknown / revoked) and the operator of a live
    session it opened (401 without a session, or a dead one), in the caller's transaction: the
    hot routes look the caller up on the connection their work then uses (one checkout, one
    transaction per request)."""
    row = conn.execute(
        _CALLER_QUERY,
        # Without a token, the same query finds the terminal alone: a revoked one learns it
        # before "log in".
        {"token_hash": security.token_hash(token) if token else "", "fingerprint": fingerprint},
    ).first()
    row = check_terminal(row)
    if not token:
        raise ApiError(401, "session_required", "ログインしてください。")
    if (
        row.operator_id is None
        or row.session_terminal != row.terminal_no
        or not row.active
        or aware(row.expires_at) < now()
    ):
        raise ApiError(*_SESSION_INVALID)
    return Caller(
        operator_id=str(row.operator_id),
        roles=tuple(r for r in row.roles.split(",") if r),
        must_change_password=bool(row.must_change_password),
        terminal_no=str(row.terminal_no),
    )


def session_caller(db: Database, token: str | None, fingerprint: str) -> Caller:
    """caller_in in a read transaction of its own."""
    with db.read() as conn:
        return caller_in(conn, token, fingerprint)


def operator_in(conn: Connection, token: str | None, fingerprint: str) -> Caller:
    """caller_in for every call but the password change: after an administrator's reset,
    nothing else is allowed until the operator chose a password."""
    return require_own_password(caller_in(conn, token, fingerprint))


def require_own_password(caller: Caller) -> Caller:
    if caller.must_change_password:
        raise ApiError(
            403,
            "password_change_required",
            "管理者がパスワードを再設定しました。新しいパスワードに変更してください。",
        )
    return caller
