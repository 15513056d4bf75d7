"""The FastAPI application of the central sync server (DESIGN.md §5)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Annotated, Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from fastapi import BackgroundTasks, Depends, FastAPI, Header, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from sqlalchemy import select
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.gzip import GZipMiddleware

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
    BucketRecords,
    CertificateInfo,
    ChangesPage,
    Digest,
    EnrollRequest,
    EnrollResponse,
    ErrorBody,
    EventsBatch,
    EventsResponse,
    SessionRequest,
    SessionResponse,
    SnapshotInfo,
)
from server import admin, events, notification_api, setup_routes, snapshot
from server import ca as ca_mod
from server.client_version import ClientVersionGate
from server.config import ServerConfig
from server.db import Database
from server.errors import ApiError
from server.feed import bucket_households, compute_digest, stream_page
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
        self.master_key = admin.load_master_key(config)


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse(ErrorBody(code=code, message=message).model_dump(), status_code=status)


# --- who calls -------------------------------------------------------------------------


def terminal_no(request: Request) -> str:
    """The calling terminal, from the client certificate the TLS layer verified."""
    ctx = get_ctx(request)
    tls = (request.scope.get("extensions") or {}).get("tls") or {}
    chain = tls.get("client_cert_chain") or []
    if not chain:
        raise ApiError(
            401,
            "client_cert_required",
            "端末証明書がありません。この端末はまだ登録されていません。",
        )
    try:
        cert = x509.load_pem_x509_certificate(chain[0].encode("ascii"))
        # TLS verified it already; checked again so that a misconfigured listener fails closed.
        cert.verify_directly_issued_by(ctx.ca.cert)
    except (ValueError, TypeError, InvalidSignature, UnicodeEncodeError):
        raise ApiError(
            403, "client_cert_invalid", "この端末証明書は当市の認証局が発行したものではありません。"
        ) from None
    moment = datetime.now(UTC)
    if not (cert.not_valid_before_utc <= moment <= cert.not_valid_after_utc):
        raise ApiError(
            403,
            "client_cert_expired",
            "端末証明書の有効期限が切れています。端末を登録し直してください。",
        )
    with ctx.db.read() as conn:
        row = conn.execute(
            select(terminals.c.terminal_no, terminals.c.revoked).where(
                terminals.c.fingerprint == ca_mod.fingerprint(cert)
            )
        ).first()
    if row is None:
        raise ApiError(403, "terminal_unknown", "この端末は登録されていません。")
    if row.revoked:
        raise ApiError(
            403,
            "terminal_revoked",
            "この端末は登録を取り消されています。管理者に連絡してください。",
        )
    return str(row.terminal_no)


Terminal = Annotated[str, Depends(terminal_no)]


def operator_id(
    request: Request,
    terminal: Terminal,
    session: Annotated[str | None, Header(alias=SESSION_HEADER)] = None,
) -> str:
    if not session:
        raise ApiError(401, "session_required", "ログインしてください。")
    ctx = get_ctx(request)
    return admin.session_operator(ctx.db, session, terminal)


Operator = Annotated[str, Depends(operator_id)]


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


def get_ctx(request: Request) -> ServerContext:
    ctx: ServerContext = request.app.state.ctx
    return ctx


Ctx = Annotated[ServerContext, Depends(get_ctx)]
NotificationId = Annotated[str, Path(min_length=36, max_length=36)]

DESCRIPTION = (
    "窓口 central sync server, protocol v1. Every endpoint but POST /v1/enroll, GET /v1/ca and "
    "GET /v1/info needs the terminal's client certificate (mutual TLS, see docs/server.md); "
    f"all but those, sessions and seal also need the {SESSION_HEADER} header from "
    f"POST /v1/sessions. Clients send {CLIENT_VERSION_HEADER} on every request; a server "
    "configured with min_client_version answers an older (or unnamed) client 426 "
    f"client_too_old with the minimum in {MIN_CLIENT_VERSION_HEADER}."
)


def _routes(app: FastAPI) -> None:

    @app.post(f"{API_PREFIX}/enroll", response_model=EnrollResponse, responses=_ERRORS)
    def enroll(ctx: Ctx, body: EnrollRequest) -> EnrollResponse:
        return admin.enroll(ctx.db, ctx.config, ctx.ca, ctx.master_key, body)

    @app.post(f"{API_PREFIX}/sessions", response_model=SessionResponse, responses=_ERRORS)
    def sessions(ctx: Ctx, body: SessionRequest, terminal: Terminal) -> SessionResponse:
        return admin.login(ctx.db, ctx.config, ctx.master_key, terminal, body)

    @app.get(
        f"{API_PREFIX}/changes",
        response_model=None,
        responses={200: {"model": ChangesPage}, **_ERRORS},
    )
    def changes(
        ctx: Ctx,
        _terminal: Terminal,
        _operator: Operator,
        after: Annotated[int, Query(ge=0, le=2**62)] = 0,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE_LIMIT)] = DEFAULT_PAGE_LIMIT,
    ) -> StreamingResponse:
        return StreamingResponse(stream_page(ctx.db, after, limit), media_type="application/json")

    @app.post(f"{API_PREFIX}/events", response_model=EventsResponse, responses=_ERRORS)
    def post_events(
        ctx: Ctx, body: EventsBatch, terminal: Terminal, _operator: Operator
    ) -> EventsResponse:
        return events.apply_batch(ctx.db, terminal, body.events)

    @app.get(f"{API_PREFIX}/digest", response_model=Digest, responses=_ERRORS)
    def digest(ctx: Ctx, _terminal: Terminal, _operator: Operator) -> Digest:
        return Digest(bucket_count=DIGEST_BUCKETS, buckets=compute_digest(ctx.db))

    @app.get(f"{API_PREFIX}/records", response_model=BucketRecords, responses=_ERRORS)
    def records(
        ctx: Ctx,
        _terminal: Terminal,
        _operator: Operator,
        bucket: Annotated[int, Query(ge=0, lt=DIGEST_BUCKETS)],
    ) -> BucketRecords:
        return BucketRecords(bucket=bucket, households=bucket_households(ctx.db, bucket))

    @app.post(f"{API_PREFIX}/snapshot", response_model=SnapshotInfo, responses=_ERRORS)
    def prepare_snapshot(ctx: Ctx, terminal: Terminal, _operator: Operator) -> SnapshotInfo:
        # Copies the newest base under this terminal's key: seconds per 100,000 persons.
        return snapshot.prepare(ctx.db, ctx.config, ctx.master_key, terminal)

    @app.get(
        f"{API_PREFIX}/snapshot/{{snapshot_id}}/file",
        response_model=None,
        responses={200: {"content": {"application/octet-stream": {}}}, 206: {}, **_ERRORS},
    )
    def snapshot_file(
        ctx: Ctx,
        terminal: Terminal,
        _operator: Operator,
        snapshot_id: Annotated[str, Path(min_length=32, max_length=32)],
        range_header: Annotated[str | None, Header(alias="Range")] = None,
    ) -> StreamingResponse:
        chunks, size, first, last, status = snapshot.open_range(
            ctx.config, terminal, snapshot_id, range_header
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
        terminal: Terminal,
        _operator: Operator,
        snapshot_id: Annotated[str, Path(min_length=32, max_length=32)],
        background: BackgroundTasks,
    ) -> None:
        # Checked now (404 for another terminal's id); deleted after the answer: unlinking a
        # file of gigabytes took 3 s at a million persons, and the terminal need not wait.
        path = snapshot.export_path(ctx.config, terminal, snapshot_id)
        background.add_task(snapshot.discard, path)

    @app.get(
        f"{API_PREFIX}/certificates/{{issuance_no}}",
        response_model=CertificateInfo,
        responses=_ERRORS,
    )
    def certificate(
        ctx: Ctx,
        _terminal: Terminal,
        _operator: Operator,
        issuance_no: Annotated[str, Path(min_length=1, max_length=64)],
    ) -> CertificateInfo:
        info = events.certificate_info(ctx.db, issuance_no)
        if info is None:
            raise ApiError(404, "certificate_unknown", "その交付番号の証明書は記録されていません。")
        return info

    # 住民異動届: the head office's review (審査 role), server/notification_api.py.
    @app.get(f"{API_PREFIX}/notifications", response_model=NotificationList, responses=_ERRORS)
    def notifications(
        ctx: Ctx,
        _terminal: Terminal,
        operator: Operator,
        decided: Annotated[bool, Query()] = False,
    ) -> NotificationList:
        return notification_api.listing(ctx.db, operator, decided=decided)

    @app.get(
        f"{API_PREFIX}/notifications/{{notification_id}}",
        response_model=NotificationDetail,
        responses=_ERRORS,
    )
    def notification(
        ctx: Ctx, _terminal: Terminal, operator: Operator, notification_id: NotificationId
    ) -> NotificationDetail:
        return notification_api.detail(ctx.db, operator, notification_id)

    @app.post(
        f"{API_PREFIX}/notifications/{{notification_id}}/confirm",
        response_model=NotificationDecision,
        responses={409: {"model": ErrorBody}, **_ERRORS},
    )
    def confirm_notification(
        ctx: Ctx,
        terminal: Terminal,
        operator: Operator,
        notification_id: NotificationId,
        body: ConfirmRequest,
    ) -> NotificationDecision:
        return notification_api.confirm(ctx.db, operator, terminal, notification_id, body)

    @app.post(
        f"{API_PREFIX}/notifications/{{notification_id}}/return",
        response_model=NotificationDecision,
        responses={409: {"model": ErrorBody}, **_ERRORS},
    )
    def return_notification(
        ctx: Ctx,
        terminal: Terminal,
        operator: Operator,
        notification_id: NotificationId,
        body: ReturnRequest,
    ) -> NotificationDecision:
        return notification_api.return_(ctx.db, operator, terminal, notification_id, body)

    setup_routes.register(app, Terminal)  # GET /v1/ca, /v1/info, /v1/seal


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
