"""Errors that become HTTP answers with an ErrorBody {code, message(ja)}."""

from __future__ import annotations


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}")
        self.status = status
        self.code = code
        self.message = message


class AdminError(Exception):
    """An admin command could not be done; `message` is Japanese, for the console."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
