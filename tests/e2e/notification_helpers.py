"""Building and filing 住民異動届 through the real session, for the end-to-end tests and their
child process (the SIGKILL test): the steps the 異動届 tab takes, without the widgets."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from app.domain.certificates import IdentityDocument
from app.domain.notifications import (
    Address,
    Filer,
    FilerKind,
    HouseholdPlan,
    MoveOutCertificate,
    NotificationDraft,
    Procedure,
    Severity,
    propose_households,
)
from app.domain.notifications.drafts import (
    address_of,
    movers_from_certificate,
    movers_of,
    roles_of,
)
from app.domain.records import Household
from app.jukinet import SimulatedJukinet
from app.services.login import LoginService
from app.services.notifications import FiledNotification, NotificationTools
from printing import (
    render_certificate,
    render_daily_report,
    render_move_out_certificate,
    render_notification_form,
)

NEW_ADDRESS = Address(text="北海道北見市北進町123番地4", katagaki="北進ハイツ202号室")
OFFICE = "端野総合支所"


def tools(today: date | None = None) -> NotificationTools:
    return NotificationTools(
        form_renderer=render_notification_form,
        certificate_renderer=render_move_out_certificate,
        jukinet=SimulatedJukinet.demo(today or date.today()),
    )


def login_service(terminal_dir: Path, jukinet: SimulatedJukinet | None = None) -> LoginService:
    t = tools()
    if jukinet is not None:
        t = NotificationTools(t.form_renderer, t.certificate_renderer, jukinet)
    return LoginService(
        terminal_dir,
        render_certificate,
        daily_report_renderer=render_daily_report,
        notification_tools=t,
    )


def _residents(h: Household) -> list[str]:
    return [p.person_id for p in h.members if p.status == "resident"]


def move_within(session, h: Household, new: Address = NEW_ADDRESS) -> NotificationDraft:  # type: ignore[no-untyped-def]
    """転居 of the whole household, filed today, moved two days ago; the 世帯主 files."""
    today = session.today()
    ids = _residents(h)
    return NotificationDraft(
        notification_id=session.new_notification_id(),
        procedure=Procedure.MOVE_WITHIN,
        municipality_code=h.municipality_code,
        office=OFFICE,
        filed_on=today,
        moved_on=today - timedelta(days=2),
        filer=Filer(kind=FilerKind.SELF, name=h.head.name, person_id=h.head_person_id),
        movers=movers_of(h, ids),
        households=propose_households(Procedure.MOVE_WITHIN, h, tuple(ids)),
        old_address=address_of(h),
        new_address=new,
        source_household_id=h.household_id,
        identity_documents=(IdentityDocument.DRIVERS_LICENSE,),
    )


def move_out(session, h: Household) -> NotificationDraft:  # type: ignore[no-untyped-def]
    """転出 of the whole household to 札幌, ten days ahead (あらかじめ, §24)."""
    today = session.today()
    ids = _residents(h)
    return NotificationDraft(
        notification_id=session.new_notification_id(),
        procedure=Procedure.MOVE_OUT,
        municipality_code=h.municipality_code,
        office=OFFICE,
        filed_on=today,
        moved_on=today + timedelta(days=10),
        filer=Filer(kind=FilerKind.SELF, name=h.head.name, person_id=h.head_person_id),
        movers=movers_of(h, ids),
        old_address=address_of(h),
        new_address=Address(text="北海道札幌市北区北24条西5丁目1番1号"),
        source_household_id=h.household_id,
        identity_documents=(IdentityDocument.DRIVERS_LICENSE,),
        destination_head_name=h.head.name,
    )


def special_move_in(session, c: MoveOutCertificate) -> NotificationDraft:  # type: ignore[no-untyped-def]
    """特例転入 of everyone on the 転出証明書情報, to the address it names, as a new household."""
    movers = movers_from_certificate(c, special=True)
    head = next(m for m in movers if m.relationship == "世帯主")
    return NotificationDraft(
        notification_id=session.new_notification_id(),
        procedure=Procedure.SPECIAL_MOVE_IN,
        municipality_code="012084",
        office=OFFICE,
        filed_on=session.today(),
        moved_on=c.planned_on,
        filer=Filer(kind=FilerKind.SELF, name=head.name),
        movers=movers,
        households=(HouseholdPlan(household_id=None, roles=roles_of(movers), at_new_address=True),),
        old_address=Address(text=c.address, katagaki=c.katagaki),
        new_address=Address(text=c.destination),
        move_out_certificate=c,
        card_presented=True,
        identity_documents=(IdentityDocument.MY_NUMBER_CARD,),
    )


def file(session, draft: NotificationDraft) -> FiledNotification:  # type: ignore[no-untyped-def]
    """Check, print the 届書 (recorded), confirm signature and documents, file: as the tab does."""
    findings = session.check_notification(draft)
    errors = [f.message for f in findings if f.severity == Severity.ERROR]
    assert not errors, errors
    prepared = session.prepare_notification_form(draft)
    session.record_notification_print(prepared, 1)
    warnings = [f.code for f in findings if f.severity == Severity.WARNING]
    return session.file_notification(
        prepared, acknowledged=warnings, signature_confirmed=True, documents_confirmed=True
    )


def plain_household(session, surname: str = "さとう") -> Household:  # type: ignore[no-untyped-def]
    """A household of residents only, none protected, to move."""
    for hit in session.search(name=surname, limit=50).hits:
        if hit.status != "resident" or hit.protected:
            continue
        h = session.open_household(hit.household_id)
        today = session.today()
        if all(p.status == "resident" and not p.is_protected_on(today) for p in h.members):
            return h  # type: ignore[no-any-return]
    raise AssertionError(f"no plain household named {surname}")
