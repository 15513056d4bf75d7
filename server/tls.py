"""Client certificates into the ASGI scope (uvicorn 0.54 does not pass them on).

uvicorn runs with our SSLContext: verify_mode CERT_OPTIONAL and the municipality CA as the only
trust anchor, so OpenSSL itself refuses, during the handshake, a certificate from another CA or
an expired one; a client without a certificate gets through (POST /v1/enroll needs that).

`ClientCertH11Protocol` is uvicorn's h11 protocol with one change: when a connection is made
(asyncio calls connection_made after the TLS handshake), it reads the verified peer certificate
from the SSL object and wraps the ASGI app for that connection so that every request's scope
carries it as the ASGI TLS extension says:
scope["extensions"]["tls"] = {"client_cert_chain": [PEM, ...], ...}.
server.app then maps the certificate to a terminal row by fingerprint (see docs/server.md).
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any, cast

from uvicorn.protocols.http.h11_impl import H11Protocol

from server.config import ServerConfig


def peer_cert_pem(transport: asyncio.BaseTransport) -> str | None:
    ssl_object = transport.get_extra_info("ssl_object")
    if ssl_object is None:
        return None
    der = ssl_object.getpeercert(binary_form=True)
    if not der:
        return None
    return ssl.DER_cert_to_PEM_cert(der)


class _WithTLS:
    """The ASGI app of one connection: adds the TLS extension to each scope."""

    def __init__(self, app: Any, tls: dict[str, Any]) -> None:
        self.app = app
        self.tls = tls

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket"):
            extensions = dict(scope.get("extensions") or {})
            extensions["tls"] = self.tls
            scope = {**scope, "extensions": extensions}
        await self.app(scope, receive, send)


class ClientCertH11Protocol(H11Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # asyncio's signature; uvicorn's H11Protocol narrows it to the Transport it gets.
        transport = cast(asyncio.Transport, transport)
        super().connection_made(transport)
        pem = peer_cert_pem(transport)
        ssl_object = transport.get_extra_info("ssl_object")
        tls = {
            "server_cert": None,
            "client_cert_chain": [pem] if pem else [],
            "client_cert_name": None,
            "client_cert_error": None,
            "tls_version": None,
            "cipher_suite": None,
        }
        if ssl_object is not None:
            cipher = ssl_object.cipher()
            tls["cipher_suite"] = cipher[0] if cipher else None
            tls["tls_version"] = ssl_object.version()
        # uvicorn reads self.app when it starts each request cycle on this connection.
        self.app = _WithTLS(self.app, tls)


def server_ssl_context(config: ServerConfig) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(str(config.tls_cert_path), str(config.tls_key_path))
    ctx.load_verify_locations(cafile=str(config.ca_cert_path))
    ctx.verify_mode = ssl.CERT_OPTIONAL
    return ctx


def uvicorn_config(app: Any, config: ServerConfig, host: str, port: int, **kwargs: Any) -> Any:
    import uvicorn

    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=ClientCertH11Protocol,
        ws="none",
        lifespan="off",
        ssl_certfile=str(config.tls_cert_path),
        ssl_keyfile=str(config.tls_key_path),
        ssl_context_factory=lambda _cfg, _default: server_ssl_context(config),
        log_level=kwargs.pop("log_level", "warning"),
        access_log=kwargs.pop("access_log", False),
        # Idle keep-alive TLS connections would otherwise hold a stop for the SSL shutdown.
        timeout_graceful_shutdown=kwargs.pop("timeout_graceful_shutdown", 3),
        **kwargs,
    )
