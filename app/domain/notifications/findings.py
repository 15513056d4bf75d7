"""What a check says about a draft: a Japanese message tied to a field, with its article."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum


class Severity(IntEnum):
    ERROR = 0  # the 届出 cannot be filed as it stands
    WARNING = 1  # may be filed once the clerk has acknowledged it (a late filing, a mismatch)
    NOTICE = 2  # for the clerk's information


@dataclass(frozen=True, slots=True)
class Finding:
    field: str  # path in the draft: "moved_on", "new_address", "movers[1].relationship" …
    severity: Severity
    code: str  # stable, for acknowledgements and tests ("late_filing")
    message: str  # Japanese, for the clerk's screen (never read out: it may name a 支援措置)
    article: str = ""  # e.g. "住基法第22条第1項"


def error(field: str, code: str, message: str, article: str = "") -> Finding:
    return Finding(field, Severity.ERROR, code, message, article)


def warning(field: str, code: str, message: str, article: str = "") -> Finding:
    return Finding(field, Severity.WARNING, code, message, article)


def notice(field: str, code: str, message: str, article: str = "") -> Finding:
    return Finding(field, Severity.NOTICE, code, message, article)


def errors(findings: Iterable[Finding]) -> tuple[Finding, ...]:
    return tuple(f for f in findings if f.severity == Severity.ERROR)


def may_file(findings: Iterable[Finding], acknowledged: Iterable[str] = ()) -> bool:
    """No error, and every warning acknowledged by the clerk (by code)."""
    seen = set(acknowledged)
    return all(
        f.severity == Severity.NOTICE or (f.severity == Severity.WARNING and f.code in seen)
        for f in findings
    )
