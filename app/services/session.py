"""The counter session: one operator at one terminal, the use cases the GUI calls.

    session = LoginService(data_dir, renderer).login(operator_id, password)   # app.services.login

CounterSession is SessionCore (search, view, status, sync, logout, audit) with the certificate
desk (IssuanceDesk) and the card desk's adapters (CardAdapters) mixed in: one object, so the UI
keeps one handle, each use case in a module of its own (docs/architecture.md).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from app.auth.service import AuthService
from app.services.card_adapters import CardAdapters
from app.services.issuance import (
    KIND_LABELS,
    DailyReportRenderer,
    IssuanceDesk,
    IssuedCertificate,
    Renderer,
)
from app.services.notification_review import ReviewDesk
from app.services.notifications import NotificationDesk, NotificationTools
from app.services.records_view import RecordView
from app.services.session_core import Clock, SessionCore, SessionError, utc_now
from app.services.terminal import TerminalConfig, TerminalFiles
from app.store.db import Cache
from app.store.keys import KeySlots
from app.sync.client import SyncClient

if TYPE_CHECKING:
    from app.services.session_api import CounterSessionApi

__all__ = [
    "KIND_LABELS",
    "CounterSession",
    "DailyReportRenderer",
    "IssuedCertificate",
    "NotificationTools",
    "Renderer",
    "SessionCore",
    "SessionError",
]


class CounterSession(IssuanceDesk, CardAdapters, NotificationDesk, ReviewDesk, RecordView):
    """One operator at one terminal: search, view (a withheld address, a person's detail),
    decide, issue, the card desk, the 異動届 desk and its 審査, sync."""

    def __init__(
        self,
        *,
        config: TerminalConfig,
        files: TerminalFiles,
        auth: AuthService,
        cache: Cache,
        client: SyncClient,
        slots: KeySlots,
        device_secret: bytes,
        sign: Callable[[bytes], bytes],
        renderer: Renderer,
        daily_report_renderer: DailyReportRenderer | None = None,
        clock: Clock = utc_now,
        client_factory: Callable[[], SyncClient] | None = None,
        secret_store: Any = None,
        notification_tools: NotificationTools | None = None,
    ) -> None:
        self.renderer = renderer
        self.daily_report_renderer = daily_report_renderer
        tools = notification_tools or NotificationTools()
        self.form_renderer = tools.form_renderer
        self.certificate_renderer = tools.certificate_renderer
        self.jukinet = tools.jukinet
        self.printed_forms = {}
        super().__init__(
            config=config,
            files=files,
            auth=auth,
            cache=cache,
            client=client,
            slots=slots,
            device_secret=device_secret,
            sign=sign,
            clock=clock,
            client_factory=client_factory,
            secret_store=secret_store,
        )


if TYPE_CHECKING:
    # The type checker holds the GUI's seam: CounterSession must satisfy CounterSessionApi.
    _SEAM: type[CounterSessionApi] = CounterSession
