"""The FastAPI application of the central sync server (DESIGN.md §5)."""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from fastapi import BackgroundTasks, Depends, FastAPI, Header, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema
from sqlalchemy import Connection, select
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.gzip import GZipMiddleware

from app.domain.audit_chain import verifier_for
from app.sync.notification_protocol import (
    ConfirmRequest,
    NotificationDecision,
    NotificationDetail,
    NotificationList,
    ReturnRequest,
)
from app.sync.protocol import (
    API_PREFIX,
    CLIENT_VERSION_HEADER,
    DEFAULT_PAGE_LIMIT,
    DIGEST_BUCKETS,
    MAX_EVENTS_PER_BATCH,
    MAX_PAGE_LIMIT,
    MIN_CLIENT_VERSION_HEADER,
    SESSION_HEADER,
    UUID_PATTERN,
    AuditHead,
    AuditHeadAnswer,
    BucketRecords,
    CertificateInfo,
    ChangePasswordRequest,
    ChangesPage,
    Digest,
    EnrollRequest,
    EnrollResponse,
    ErrorBody,
    Event,
    EventsResponse,
    SessionRequest,
    SessionResponse,
    SnapshotInfo,
)
from server import admin, audit_heads, auth, events, notification_api, setup_routes, snapshot
from server import ca as ca_mod
from server.audit_ingest import terminal_public_key
from server.client_version import ClientVersionGate
from server.config import ServerConfig
from server.db import Database
from server.errors import ApiError
from server.feed import bucket_households, compute_digest, read_page_in
from server.tables import terminals

log = logging.getLogger(__name__)

_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody} for code in (400, 401, 403, 404, 413, 416, 422, 426)
}


class ServerContext:
    def __init__(self, config: ServerConfig, db: Database) -> None:
        self.config = config
        self.db = db
        self.ca = ca_mod.load_ca(config)
        self.ca_fingerprint = ca_mod.fingerprint(self.ca.cert)
        self.master_key = admin.load_master_key(config)


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse(ErrorBody(code=code, message=message).model_dump(), status_code=status)


# --- who calls -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Certificate:
    fingerprint: str
    not_before: datetime
    not_after: datetime


@functools.lru_cache(maxsize=4096)
def _checked_certificate(pem: str, ca_fingerprint: str, ca_cert: Any) -> _Certificate | None:
    """Parse and verify a client certificate once per process (an ECDSA verification per
    request was a measurable share of a request's CPU); None when our CA did not issue it."""
    try:
        cert = x509.load_pem_x509_certificate(pem.encode("ascii"))
        # TLS verified it already; checked again so that a misconfigured listener fails closed.
        cert.verify_directly_issued_by(ca_cert)
    except (ValueError, TypeError, InvalidSignature, UnicodeEncodeError):
        return None
    return _Certificate(
        ca_mod.fingerprint(cert), cert.not_valid_before_utc, cert.not_valid_after_utc
    )


def _fingerprint(request: Request) -> str:
    """The fingerprint of the client certificate the TLS layer verified, checked again."""
    ctx = _ctx(request)
    tls = (request.scope.get("extensions") or {}).get("tls") or {}
    chain = tls.get("client_cert_chain") or []
    if not chain:
        raise ApiError(
            401,
            "client_cert_required",
            "端末証明書がありません。この端末はまだ登録されていません。",
        )
    cert = _checked_certificate(chain[0], ctx.ca_fingerprint, ctx.ca.cert)
    if cert is None:
        raise ApiError(
            403, "client_cert_invalid", "この端末証明書は当市の認証局が発行したものではありません。"
        )
    if not (cert.not_before <= datetime.now(UTC) <= cert.not_after):
        raise ApiError(
            403,
            "client_cert_expired",
            "端末証明書の有効期限が切れています。端末を登録し直してください。",
        )
    return cert.fingerprint


def terminal_no(request: Request) -> str:
    """The calling terminal (for the calls without a session: POST /v1/sessions)."""
    fingerprint = _fingerprint(request)
    with _ctx(request).db.read() as conn:
        row = conn.execute(
            select(terminals.c.terminal_no, terminals.c.revoked).where(
                terminals.c.fingerprint == fingerprint
            )
        ).first()
    return str(auth.check_terminal(row).terminal_no)


Terminal = Annotated[str, Depends(terminal_no)]


def session_caller(
    request: Request,
    session: Annotated[str | None, Header(alias=SESSION_HEADER)] = None,
) -> auth.Caller:
    """The calling terminal and the operator of its session, in one look-up (one thread hop,
    one read transaction per request). Without a session the terminal is still checked
    first: a revoked one learns it, not "log in"."""
    return auth.session_caller(_ctx(request).db, session, _fingerprint(request))


async def operator_id(
    caller: Annotated[auth.Caller, Depends(session_caller)],
) -> auth.Caller:
    """The session's operator, for every call but the password change: after an
    administrator's reset, nothing else is allowed until the operator chose a password."""
    return auth.require_own_password(caller)


@dataclass(frozen=True)
class _Credentials:
    """What a request presents (its verified certificate, its session token), checked against
    the database later, on the connection the route's own work uses (the hot routes: GET
    /v1/changes, POST /v1/events)."""

    fingerprint: str
    token: str | None

    def operator_in(self, conn: Connection) -> auth.Caller:
        """The checks of `Operator`, in the caller's transaction."""
        return auth.operator_in(conn, self.token, self.fingerprint)


async def credentials(
    request: Request,
    session: Annotated[str | None, Header(alias=SESSION_HEADER)] = None,
) -> _Credentials:
    # async: the certificate's checks are in memory (parsed once per process); the look-up in
    # the database is the route's, in the worker thread its work runs in anyway.
    return _Credentials(_fingerprint(request), session)


Operator = Annotated[auth.Caller, Depends(operator_id)]
AnySession = Annotated[auth.Caller, Depends(session_caller)]
Credentials = Annotated[_Credentials, Depends(credentials)]


class _RawBatch(BaseModel):
    """POST /v1/events as the server reads it: each event is validated on its own
    (server.events), so one bad event is `rejected` instead of failing the batch. The
    documented schema is protocol.Event."""

    model_config = ConfigDict(extra="forbid")
    events: list[Annotated[dict[str, Any], WithJsonSchema(Event.model_json_schema())]] = Field(
        max_length=MAX_EVENTS_PER_BATCH
    )


class BodyLimit:
    """Refuses a request body over max_bytes before anything reads it (pure ASGI: streaming
    answers pass untouched). A body without Content-Length (chunked) is refused with 411:
    uvicorn would otherwise read it without a bound."""

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            headers = dict(scope.get("headers") or [])
            length = headers.get(b"content-length")
            refusal = None
            if length is None and b"chunked" in headers.get(b"transfer-encoding", b"").lower():
                refusal = (411, "length_required", "Content-Length のない送信は受け付けません。")
            elif length is not None and (not length.isdigit() or int(length) > self.max_bytes):
                refusal = (413, "body_too_large", "送信されたデータが大きすぎます。")
            if refusal is not None:
                await _error(*refusal)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _ctx(request: Request) -> ServerContext:
    ctx: ServerContext = request.app.state.ctx
    return ctx


async def get_ctx(request: Request) -> ServerContext:
    # async: a plain attribute read needs no worker thread (sync dependencies each take one).
    return _ctx(request)


Ctx = Annotated[ServerContext, Depends(get_ctx)]
# A snapshot's id: uuid4().hex (server/snapshot.py). Both ids are patterns, not lengths only: a
# length-only schema let the API fuzzer count an astral character as two (UTF-16) and send an
# id of 34 code points as 36, refused as too short (a failing conformance run on 3.13).
SnapshotId = Annotated[str, Path(min_length=32, max_length=32, pattern=r"^[0-9a-f]{32}$")]
# A 届出's id is the event id it was filed under: a lower-case UUID (protocol.Event).
NotificationId = Annotated[str, Path(min_length=36, max_length=36, pattern=UUID_PATTERN)]

DESCRIPTION = (
    "窓口 central sync server, protocol v1. Every endpoint but POST /v1/enroll, GET /v1/ca and "
    "GET /v1/info needs the terminal's client certificate (mutual TLS, see docs/server.md); "
    f"all but those, sessions and seal also need the {SESSION_HEADER} header from "
    f"POST /v1/sessions. Clients send {CLIENT_VERSION_HEADER} on every request; a server "
    "configured with min_client_version answers an older (or unnamed) client 426 "
    f"client_too_old with the minimum in {MIN_CLIENT_VERSION_HEADER}."
)


async def _from_memory(chunks: list[bytes]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


def _session_answer(answer: SessionResponse) -> JSONResponse:
    # must_change_password travels only when true: terminals older than the field would
    # refuse an answer that carries it.
    body = answer.model_dump(mode="json")
    if not answer.must_change_password:
        body.pop("must_change_password")
    return JSONResponse(body)


def _routes(app: FastAPI) -> None:

    @app.post(f"{API_PREFIX}/enroll", response_model=EnrollResponse, responses=_ERRORS)
    def enroll(ctx: Ctx, body: EnrollRequest) -> EnrollResponse:
        return admin.enroll(ctx.db, ctx.config, ctx.ca, ctx.master_key, body)

    @app.post(f"{API_PREFIX}/sessions", response_model=SessionResponse, responses=_ERRORS)
    def sessions(ctx: Ctx, body: SessionRequest, terminal: Terminal) -> JSONResponse:
        return _session_answer(auth.login(ctx.db, ctx.config, ctx.master_key, terminal, body))

    @app.post(f"{API_PREFIX}/password", response_model=SessionResponse, responses=_ERRORS)
    def change_password(ctx: Ctx, body: ChangePasswordRequest, caller: AnySession) -> JSONResponse:
        """The session's operator changes their own password (old + new); every session of
        the operator ends and the answer is a new one, as after a login."""
        return _session_answer(
            auth.change_password(
                ctx.db, ctx.config, ctx.master_key, caller.terminal_no, caller.operator_id, body
            )
        )

    @app.get(
        f"{API_PREFIX}/changes",
        response_model=None,
        responses={200: {"model": ChangesPage}, **_ERRORS},
    )
    def changes(
        ctx: Ctx,
        who: Credentials,
        after: Annotated[int, Query(ge=0, le=2**62)] = 0,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE_LIMIT)] = DEFAULT_PAGE_LIMIT,
    ) -> Response:
        # The most frequent request of all (a terminal's empty delta page): the caller and the
        # page on one connection (two statements) in this one worker thread, the connection
        # given back before anything is sent; the chunks then go out from memory in the loop.
        with ctx.db.read_each() as conn:
            who.operator_in(conn)
            chunks = read_page_in(conn, ctx.db.register_cipher, after, limit)
        if len(chunks) == 1:  # a plain answer costs less than a stream of one chunk
            return Response(chunks[0], media_type="application/json")
        return StreamingResponse(_from_memory(chunks), media_type="application/json")

    @app.post(f"{API_PREFIX}/events", response_model=EventsResponse, responses=_ERRORS)
    async def post_events(ctx: Ctx, body: _RawBatch, who: Credentials) -> Response:
        answer = await events.apply_session_batch_async(ctx.db, who.operator_in, body.events)
        # Serialised once, here: FastAPI would validate the model again before dumping it.
        return Response(answer.model_dump_json(), media_type="application/json")

    @app.get(f"{API_PREFIX}/digest", response_model=Digest, responses=_ERRORS)
    def digest(ctx: Ctx, _caller: Operator) -> Digest:
        return Digest(bucket_count=DIGEST_BUCKETS, buckets=compute_digest(ctx.db))

    @app.get(f"{API_PREFIX}/records", response_model=BucketRecords, responses=_ERRORS)
    def records(
        ctx: Ctx,
        _caller: Operator,
        bucket: Annotated[int, Query(ge=0, lt=DIGEST_BUCKETS)],
    ) -> BucketRecords:
        return BucketRecords(bucket=bucket, households=bucket_households(ctx.db, bucket))

    @app.post(f"{API_PREFIX}/snapshot", response_model=SnapshotInfo, responses=_ERRORS)
    def prepare_snapshot(ctx: Ctx, caller: Operator) -> SnapshotInfo:
        # Copies the newest base under this terminal's key: seconds per 100,000 persons.
        return snapshot.prepare(ctx.db, ctx.config, ctx.master_key, caller.terminal_no)

    @app.get(
        f"{API_PREFIX}/snapshot/{{snapshot_id}}/file",
        response_model=None,
        responses={200: {"content": {"application/octet-stream": {}}}, 206: {}, **_ERRORS},
    )
    def snapshot_file(
        ctx: Ctx,
        caller: Operator,
        snapshot_id: SnapshotId,
        range_header: Annotated[str | None, Header(alias="Range")] = None,
    ) -> StreamingResponse:
        chunks, size, first, last, status = snapshot.open_range(
            ctx.config, caller.terminal_no, snapshot_id, range_header
        )
        headers = {
            "Accept-Ranges": "bytes",
            "Content-Length": str(last - first + 1),
            # Encrypted pages do not compress; and a range must count bytes of the file.
            "Content-Encoding": "identity",
        }
        if status is not None:
            headers["Content-Range"] = f"bytes {first}-{last}/{size}"
        return StreamingResponse(
            chunks,
            status_code=status or 200,
            media_type="application/octet-stream",
            headers=headers,
        )

    @app.delete(f"{API_PREFIX}/snapshot/{{snapshot_id}}", status_code=204, responses=_ERRORS)
    def discard_snapshot(
        ctx: Ctx,
        caller: Operator,
        snapshot_id: SnapshotId,
        background: BackgroundTasks,
    ) -> None:
        # Checked now (404 for another terminal's id); deleted after the answer: unlinking a
        # file of gigabytes took 3 s at a million persons, and the terminal need not wait.
        path = snapshot.export_path(ctx.config, caller.terminal_no, snapshot_id)
        background.add_task(snapshot.discard, path)

    @app.get(
        f"{API_PREFIX}/certificates/{{issuance_no}}",
        response_model=CertificateInfo,
        responses=_ERRORS,
    )
    def certificate(
        ctx: Ctx,
        _caller: Operator,
        issuance_no: Annotated[
            str, Path(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f]+$")
        ],
    ) -> CertificateInfo:
        info = events.certificate_info(ctx.db, issuance_no)
        if info is None:
            raise ApiError(404, "certificate_unknown", "その交付番号の証明書は記録されていません。")
        return info

    # 住民異動届: the head office's review (審査 role), server/notification_api.py.
    @app.get(f"{API_PREFIX}/notifications", response_model=NotificationList, responses=_ERRORS)
    def notifications(
        ctx: Ctx,
        caller: Operator,
        decided: Annotated[bool, Query()] = False,
    ) -> NotificationList:
        return notification_api.listing(ctx.db, caller.operator_id, decided=decided)

    @app.get(
        f"{API_PREFIX}/notifications/{{notification_id}}",
        response_model=NotificationDetail,
        responses=_ERRORS,
    )
    def notification(
        ctx: Ctx, caller: Operator, notification_id: NotificationId
    ) -> NotificationDetail:
        return notification_api.detail(ctx.db, caller.operator_id, notification_id)

    @app.post(
        f"{API_PREFIX}/notifications/{{notification_id}}/confirm",
        response_model=NotificationDecision,
        responses={409: {"model": ErrorBody}, **_ERRORS},
    )
    def confirm_notification(
        ctx: Ctx,
        caller: Operator,
        notification_id: NotificationId,
        body: ConfirmRequest,
    ) -> NotificationDecision:
        return notification_api.confirm(
            ctx.db, caller.operator_id, caller.terminal_no, notification_id, body
        )

    @app.post(
        f"{API_PREFIX}/notifications/{{notification_id}}/return",
        response_model=NotificationDecision,
        responses={409: {"model": ErrorBody}, **_ERRORS},
    )
    def return_notification(
        ctx: Ctx,
        caller: Operator,
        notification_id: NotificationId,
        body: ReturnRequest,
    ) -> NotificationDecision:
        return notification_api.return_(
            ctx.db, caller.operator_id, caller.terminal_no, notification_id, body
        )

    setup_routes.register(app, Terminal)  # GET /v1/ca, /v1/info, /v1/seal

    @app.post(f"{API_PREFIX}/audit/head", response_model=AuditHeadAnswer, responses=_ERRORS)
    def audit_head(
        ctx: Ctx, body: AuditHead, terminal: Terminal, _operator: Operator
    ) -> AuditHeadAnswer:
        """Where the calling terminal's audit chain ends (signed); docs/audit.md "Chain heads"."""
        with ctx.db.write() as conn:
            key = terminal_public_key(conn, terminal)
            verifier = verifier_for(key) if key is not None else None
            return audit_heads.record_head(conn, terminal, body, verifier)


def create_app(config: ServerConfig, db: Database | None = None) -> FastAPI:
    """The ASGI app; the schema is migrated here so that a started server is always current."""
    ClientVersionGate.validate(config.min_client_version)  # a typo stops the start, not requests
    if db is None:
        db = admin.init_server(config)
    ctx = ServerContext(config, db)
    app = FastAPI(
        title="Madoguchi sync server",
        version="1",
        description=DESCRIPTION,
    )
    app.state.ctx = ctx
    # Level 1: a third of the CPU of level 5 for a slightly larger page; the feed is CPU-bound.
    app.add_middleware(GZipMiddleware, minimum_size=1024, compresslevel=1)

    app.add_middleware(BodyLimit, max_bytes=config.max_body_bytes)
    # Outermost: a client too old is refused before anything else (docs/server.md).
    app.add_middleware(ClientVersionGate, minimum=config.min_client_version)

    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return _error(exc.status, exc.code, exc.message)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            return _error(400, "malformed_json", "送信されたデータがJSONとして読めません。")
        for e in errors:
            loc = tuple(e.get("loc", ()))
            if e.get("type") == "too_long" and loc[-1:] == ("events",):
                return _error(
                    413,
                    "batch_too_large",
                    f"一度に送れるイベントは{MAX_EVENTS_PER_BATCH}件までです。",
                )
        where = ", ".join(".".join(str(p) for p in e.get("loc", ())) for e in errors[:5])
        return _error(422, "invalid_request", f"要求の形式が正しくありません({where})。")

    @app.exception_handler(Exception)
    async def _failed(_request: Request, exc: Exception) -> JSONResponse:
        # Only the class goes to the log: exception text may carry data of the request.
        log.error("unhandled %s in a request", type(exc).__name__)
        return _error(500, "internal_error", "サーバー内部でエラーが発生しました。")

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        messages = {404: "そのようなAPIはありません。", 405: "このメソッドは使えません。"}
        answer = _error(
            exc.status_code,
            f"http_{exc.status_code}",
            messages.get(exc.status_code, "要求を処理できません。"),
        )
        answer.headers.update(exc.headers or {})  # e.g. Allow on 405 (RFC 9110)
        return answer

    _routes(app)
    return app


# `serve --workers N`: each worker process builds its app from this JSON (server.cli).
WORKER_ENV = "MADOGUCHI_SERVER_WORKER"


def worker_app() -> FastAPI:
    """The app of one worker process (uvicorn imports this by name, factory=True)."""
    import json
    import os

    from server import logs
    from server.config import load_config

    spec = json.loads(os.environ[WORKER_ENV])
    config = load_config(data_dir=spec["data_dir"], config_file=spec.get("config_file"))
    os.umask(0o077)
    logs.configure(config.data_dir, config.log_file, spec.get("log_level") or "info")
    return create_app(config)


# FastAPI describes a response by its status's reason phrase, which Python 3.13 renamed after
# RFC 9110: the document uses the RFC 9110 names whatever Python generates it.
_RFC9110_PHRASES = {
    "Request Entity Too Large": "Content Too Large",
    "Request-URI Too Long": "URI Too Long",
    "Requested Range Not Satisfiable": "Range Not Satisfiable",
    "Unprocessable Entity": "Unprocessable Content",
}


def openapi_document() -> dict[str, Any]:
    """The OpenAPI document of protocol v1 without a data directory (docs/openapi.json)."""
    from fastapi.openapi.utils import get_openapi

    app = FastAPI(title="Madoguchi sync server", version="1")
    _routes(app)
    document = get_openapi(
        title=app.title, version=app.version, description=DESCRIPTION, routes=app.routes
    )
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            for response in operation.get("responses", {}).values():
                phrase = response.get("description")
                response["description"] = _RFC9110_PHRASES.get(phrase, phrase)
    return document
