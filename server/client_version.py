"""The version handshake (DESIGN.md §12: the server tells a terminal that is too old to update).

Every client request names its program version (CLIENT_VERSION_HEADER) and protocol version
(PROTOCOL_VERSION_HEADER, informative while there is only v1, whose paths say it). With
`min_client_version` configured, a request to the API from an older program, or one that does
not say, is answered 426 with code `client_too_old` and the minimum in
MIN_CLIENT_VERSION_HEADER; the terminal tells the clerk to have the program updated. Every
answer of the API then carries that header too.
Pure ASGI: nothing of the request is read.
"""

from __future__ import annotations

from typing import Any

from app.sync.protocol import (
    API_PREFIX,
    CLIENT_TOO_OLD_CODE,
    CLIENT_TOO_OLD_STATUS,
    CLIENT_VERSION_HEADER,
    MIN_CLIENT_VERSION_HEADER,
    ErrorBody,
    parse_version,
)

_CLIENT = CLIENT_VERSION_HEADER.lower().encode("ascii")
_MINIMUM = MIN_CLIENT_VERSION_HEADER.lower().encode("ascii")


def too_old_message(minimum: str) -> str:
    return (
        "このプログラムは古いため使用できません。管理者に更新を依頼してください"
        f"(必要なバージョン: {minimum} 以上)。"
    )


class ClientVersionGate:
    def __init__(self, app: Any, minimum: str | None) -> None:
        self.app = app
        self.minimum = self.validate(minimum)
        self._floor = parse_version(self.minimum) if self.minimum else None

    @staticmethod
    def validate(minimum: str | None) -> str | None:
        """The configured minimum, stripped; ValueError if it is not a version."""
        value = (minimum or "").strip() or None
        if value is not None and parse_version(value) is None:
            raise ValueError(f"min_client_version {value!r} is not a version (e.g. 0.2.0)")
        return value

    def refuses(self, client_version: str | None) -> bool:
        if self._floor is None:
            return False
        version = parse_version(client_version)
        return version is None or version < self._floor

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope.get("path", "").startswith(API_PREFIX + "/"):
            await self.app(scope, receive, send)
            return
        if self.minimum is None:
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        client = headers.get(_CLIENT, b"").decode("latin-1") or None
        minimum_header = (_MINIMUM, self.minimum.encode("ascii"))
        if self.refuses(client):
            body = ErrorBody(code=CLIENT_TOO_OLD_CODE, message=too_old_message(self.minimum))
            payload = body.model_dump_json().encode("utf-8")
            await send(
                {
                    "type": "http.response.start",
                    "status": CLIENT_TOO_OLD_STATUS,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(payload)).encode("ascii")),
                        minimum_header,
                    ],
                }
            )
            await send({"type": "http.response.body", "body": payload})
            return

        async def send_with_minimum(message: Any) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), minimum_header]}
            await send(message)

        await self.app(scope, receive, send_with_minimum)
