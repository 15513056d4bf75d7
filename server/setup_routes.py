"""Routes for setting up a terminal and keeping its certificate layout current.

- `GET /v1/ca`: the municipality's CA certificate (PEM), no client certificate needed. The
  enrolling PC fetches it over TLS it does not trust yet and accepts it only if its SHA-256
  fingerprint is the one the administrator gave (provisioning.json or --ca-fingerprint).
- `GET /v1/info`: municipality and versions, for the administrator to confirm before enrolling.
- `GET /v1/seal`: the signed 公印 bundle (server/seal.py), for enrolled terminals; ETag is the
  version, so a terminal that has it gets 304.
"""

# No `from __future__ import annotations`: FastAPI must see `terminal_dependency` itself.

from typing import Annotated, Any

from fastapi import FastAPI, Header, Request
from fastapi.responses import Response

from app.sync.protocol import API_PREFIX, PROTOCOL_VERSION, ErrorBody, SealBundle, ServerInfo
from server.errors import ApiError
from server.seal import load_seal


def register(app: FastAPI, terminal_dependency: Any) -> None:
    """Add the routes; `terminal_dependency` is server.app.Terminal (mTLS, not revoked)."""
    errors: dict[int | str, dict[str, Any]] = {
        code: {"model": ErrorBody} for code in (401, 403, 404)
    }

    @app.get(
        f"{API_PREFIX}/ca",
        response_class=Response,
        responses={200: {"content": {"application/x-pem-file": {"schema": {"type": "string"}}}}},
    )
    def ca_certificate(request: Request) -> Response:
        pem = request.app.state.ctx.ca.cert_pem
        return Response(pem, media_type="application/x-pem-file")

    @app.get(f"{API_PREFIX}/info", response_model=ServerInfo)
    def info(request: Request) -> ServerInfo:
        config = request.app.state.ctx.config
        return ServerInfo(
            municipality_code=config.municipality_code,
            municipality_name=config.municipality_name,
            protocol_version=PROTOCOL_VERSION,
            min_client_version=config.min_client_version,
        )

    @app.get(
        f"{API_PREFIX}/seal",
        response_model=SealBundle,
        responses={304: {"description": "the terminal has this version"}, **errors},
    )
    def seal(
        request: Request,
        _terminal: terminal_dependency,
        if_none_match: Annotated[str | None, Header(alias="If-None-Match")] = None,
    ) -> Response:
        bundle = load_seal(request.app.state.ctx.config)
        if bundle is None:
            raise ApiError(
                404,
                "no_seal",
                "公印と市長名が中央サーバーに登録されていません(madoguchi-server seal set)。",
            )
        etag = f'"{bundle.version}"'
        if if_none_match is not None and if_none_match.strip() == etag:
            return Response(status_code=304, headers={"ETag": etag})
        return Response(
            bundle.model_dump_json(), media_type="application/json", headers={"ETag": etag}
        )
