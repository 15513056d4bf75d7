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

It also bounds how long a connection may take (uvicorn arms no timer before a first request,
and any byte cancels its keep-alive timer): the request headers must be complete within
`header_timeout_s` of the connection (or of the previous answer), and a request body may pause
at most `body_timeout_s`; otherwise the connection is closed (issue 21 item 10).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import socket
import ssl
from asyncio import constants as asyncio_constants
from typing import Any, cast

import h11
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
    def __init__(self, config: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        self._header_timeout = float(getattr(config, "madoguchi_header_timeout", 10))
        self._body_timeout = float(getattr(config, "madoguchi_body_timeout", 30))
        self._deadline: asyncio.TimerHandle | None = None
        # The TLS handshake comes before this protocol's connection_made, so the header
        # deadline cannot cover it; asyncio gives it constants.SSL_HANDSHAKE_TIMEOUT (60 s)
        # because uvicorn passes no ssl_handshake_timeout to create_server. asyncio reads the
        # constant when it wraps the accepted connection, right after making this protocol:
        # the handshake gets the header deadline too (issue 21 item 10). Server processes only.
        setattr(asyncio_constants, "SSL_HANDSHAKE_TIMEOUT", self._header_timeout)  # noqa: B010

    # -- deadlines ------------------------------------------------------------------------

    def _arm(self, seconds: float) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, self._on_deadline)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _waiting_for_body(self) -> bool:
        return (
            self.cycle is not None
            and not self.cycle.response_complete
            and self.conn.their_state is h11.SEND_BODY
        )

    def _on_deadline(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        idle = self.cycle is None or self.cycle.response_complete
        if idle or self._waiting_for_body():
            # Headers not complete in time, or a body that stopped: nothing to answer.
            self.transport.close()

    def handle_events(self) -> None:
        before = self.cycle
        super().handle_events()
        if self.cycle is not before:  # a request's headers are complete
            if self._waiting_for_body():
                self._arm(self._body_timeout)
            else:
                self._disarm()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._waiting_for_body():
            self._arm(self._body_timeout)  # a body may be slow, not stopped
        elif self.cycle is not None and not self.cycle.response_complete:
            self._disarm()

    def on_response_complete(self) -> None:
        # Armed first: a pipelined request handled inside super() disarms it again.
        if not self.transport.is_closing():
            self._arm(self._header_timeout)
        super().on_response_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # asyncio's signature; uvicorn's H11Protocol narrows it to the Transport it gets.
        transport = cast(asyncio.Transport, transport)
        super().connection_made(transport)
        self._arm(self._header_timeout)
        # asyncio sets TCP_NODELAY only on sockets whose proto is IPPROTO_TCP; a listening
        # socket made by socket.socket() (uvicorn's bind_socket for --workers, the embedded
        # server) has proto 0, and Nagle's algorithm then meets the peer's delayed ACK: about
        # 45 ms added to every request (benchmarks/bench_load.py).
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
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


def _ssl_context_factory(
    config: ServerConfig, _uvicorn_config: Any, _default: Any
) -> ssl.SSLContext:
    return server_ssl_context(config)


def uvicorn_config(app: Any, config: ServerConfig, host: str, port: int, **kwargs: Any) -> Any:
    """uvicorn's Config for our listener. Picklable (no lambdas), so that `serve --workers N`
    can hand it to worker processes with the app as an import string."""
    import uvicorn

    uv = uvicorn.Config(
        app,
        host=host,
        port=port,
        http=ClientCertH11Protocol,
        ws="none",
        lifespan="off",
        ssl_certfile=str(config.tls_cert_path),
        ssl_keyfile=str(config.tls_key_path),
        ssl_context_factory=functools.partial(_ssl_context_factory, config),
        log_level=kwargs.pop("log_level", "warning"),
        access_log=kwargs.pop("access_log", False),
        # Idle keep-alive TLS connections would otherwise hold a stop for the SSL shutdown.
        timeout_graceful_shutdown=kwargs.pop("timeout_graceful_shutdown", 3),
        **kwargs,
    )
    # Read by ClientCertH11Protocol (attributes of the config: they reach --workers' processes).
    setattr(uv, "madoguchi_header_timeout", config.header_timeout_s)  # noqa: B010
    setattr(uv, "madoguchi_body_timeout", config.body_timeout_s)  # noqa: B010
    return uv
