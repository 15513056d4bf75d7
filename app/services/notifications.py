"""The 書かない窓口 desk's use cases: check a 住民異動届 as the clerk types, print the 届書 for
the signature, file it (offline-safe), the 転出証明書, the 特例転入's 転出証明書情報.

A mixin on SessionCore (app.services.session puts it together). Every call checks
FILE_NOTIFICATION; the steps leave audit entries with ids and the procedure, never names
(prepared, printed, filed). Filing is ONE cache transaction, like an issuance: the 届出, its
outbox event (validated NotificationFiledPayload) and its audit entry — and for a 転出 the
転出証明書's number and rendering, so a character the font lacks files nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Protocol

from msgspec.structs import replace

from app.auth.permissions import Permission
from app.domain.cards import CardFaceInfo
from app.domain.errors import ValidationError
from app.domain.notifications import (
    CheckContext,
    Finding,
    MoveOutCertificate,
    NotificationDraft,
    Procedure,
    Register,
    Severity,
    TownList,
    check,
    referenced_person_ids,
    touched_household_ids,
    touched_person_ids,
)
from app.domain.notifications.forms import (
    MoveOutCertificateSheet,
    NotificationForm,
    build_move_out_certificate,
    build_notification_form,
    form_digest,
    move_out_certificate_sheet,
)
from app.domain.notifications.towns import load as load_towns
from app.domain.records import Household
from app.jukinet import CardIdentity, JukinetAdapter
from app.services.session_core import SessionCore, SessionError
from app.store.audit import AuditAction
from app.store.errors import NotFound
from app.store.notifications import LocalNotification
from app.sync.notification_protocol import FiledFinding, NotificationFiledPayload
from app.sync.protocol import Event


class FormRenderer(Protocol):
    """printing.render_notification_form, injected by the composition root."""

    def __call__(self, form: NotificationForm) -> bytes: ...


class MoveOutCertificateRenderer(Protocol):
    """printing.render_move_out_certificate, injected like FormRenderer."""

    def __call__(
        self,
        sheet: MoveOutCertificateSheet,
        *,
        sample: bool,
        municipality_name: str,
        seal_png: bytes | None = None,
    ) -> bytes: ...


@dataclass(frozen=True, slots=True)
class NotificationTools:
    """What the composition root gives the 異動届 desk: printing (app never imports it) and the
    住基ネット adapter (the simulator in the demo; None where the terminal has none)."""

    form_renderer: FormRenderer | None = None
    certificate_renderer: MoveOutCertificateRenderer | None = None
    jukinet: JukinetAdapter | None = None


@dataclass(frozen=True, slots=True)
class PreparedForm:
    """The 届書 of a draft as it would print now: the PDF and the digest of what it says."""

    pdf: bytes
    digest: str
    draft: NotificationDraft  # with the 版数 read from the register (relied_versions)


@dataclass(frozen=True, slots=True)
class FiledNotification:
    notification: LocalNotification
    certificate_no: str | None = None  # 転出: the 転出証明書 issued with it
    certificate_pdf: bytes | None = None


def _ids(draft: NotificationDraft) -> list[str]:
    """Audit targets: the 届出 and the registered persons it names (ids only)."""
    return [draft.notification_id, *referenced_person_ids(draft)]


class NotificationDesk(SessionCore):
    """The 異動届 desk (mixin on SessionCore; CounterSession sets the renderers, the 住基ネット
    adapter and the set of printed 届書)."""

    form_renderer: FormRenderer | None
    certificate_renderer: MoveOutCertificateRenderer | None
    jukinet: JukinetAdapter | None
    # notification_id → digests of the 届書 printed for it (in this session): what may be filed.
    printed_forms: dict[str, set[str]]
    _towns: TownList | None = None

    # -- reading ---------------------------------------------------------------------------

    def towns(self) -> TownList:
        """The municipality's 町名一覧 (for the address completer and the checks)."""
        if self._towns is None:
            self._towns = load_towns()
        return self._towns

    def new_notification_id(self) -> str:
        return str(uuid.uuid4())

    def notification_register(self, draft: NotificationDraft) -> Register:
        """The households the draft touches or names a person of, from the cache."""
        self._require(Permission.FILE_NOTIFICATION)
        ids = list(touched_household_ids(draft))
        for person_id in referenced_person_ids(draft):
            try:
                ids.append(self.cache.person(person_id)[1])
            except NotFound:
                continue  # the check reports the person as missing
        found: list[Household] = []
        for household_id in dict.fromkeys(ids):
            try:
                found.append(self.cache.household(household_id))
            except NotFound:
                continue
        return Register.of(found)

    def with_relied_versions(self, draft: NotificationDraft) -> NotificationDraft:
        """The draft with the 版数 of every registered person it touches, as the cache has them
        now: what the head office compares with (a later change is a conflict)."""
        register = self.notification_register(draft)
        versions = {}
        for person_id in sorted(touched_person_ids(draft, register)):
            p = register.person(person_id)
            if p is not None:
                versions[person_id] = p.version
        return replace(draft, relied_versions=versions)

    def check_notification(self, draft: NotificationDraft) -> tuple[Finding, ...]:
        """Every rule of 住基法 §22–§27 on the draft, against the cache (cheap: no I/O beyond
        reading the touched households). The GUI calls it, debounced, as the clerk types."""
        draft = self.with_relied_versions(draft)
        register = self.notification_register(draft)
        return check(draft, CheckContext(self.today(), register, self.towns()))

    def move_in_certificate_from_card(self, face: CardFaceInfo) -> MoveOutCertificate:
        """特例転入: the 転出証明書情報 of the card holder, from 住基ネット (online only)."""
        self._require(Permission.FILE_NOTIFICATION)
        if self.jukinet is None:
            raise SessionError(
                "この端末には住基ネットの接続が設定されていません。特例転入は受け付けられません。"
            )
        certificate = self.jukinet.fetch_move_out_certificate(CardIdentity.from_card(face))
        self.audit(AuditAction.NOTIFICATION_PREPARED, [], reason="住基ネット: 転出証明書情報")
        return certificate

    # -- the 届書 ------------------------------------------------------------------------

    def notification_form(self, draft: NotificationDraft) -> NotificationForm:
        return build_notification_form(draft, self.notification_register(draft), self.municipality)

    def prepare_notification_form(self, draft: NotificationDraft) -> PreparedForm:
        """The 届書 as it will be signed: the relied 版数 taken from the cache now, the PDF and
        its digest. Audited (prepared) with ids and the procedure."""
        self._require(Permission.FILE_NOTIFICATION)
        if self.form_renderer is None:
            raise SessionError("届書の印刷機能が設定されていません。")
        draft = self.with_relied_versions(draft)
        form = self.notification_form(draft)
        pdf = self.form_renderer(form)
        self.audit(AuditAction.NOTIFICATION_PREPARED, _ids(draft), reason=draft.procedure.value)
        return PreparedForm(pdf, form_digest(form), draft)

    def record_notification_print(self, prepared: PreparedForm, pages: int) -> None:
        """The 届書 went to the printer: audited, and this digest may now be filed."""
        self._require(Permission.FILE_NOTIFICATION)
        d = prepared.draft
        self.printed_forms.setdefault(d.notification_id, set()).add(prepared.digest)
        self.audit(AuditAction.NOTIFICATION_PRINTED, _ids(d), reason=f"届書 {pages}ページ")

    def record_certificate_print(self, filed: FiledNotification, pages: int) -> None:
        self._require(Permission.FILE_NOTIFICATION)
        targets = [filed.notification.notification_id, filed.certificate_no or ""]
        self.audit(AuditAction.NOTIFICATION_PRINTED, targets, reason=f"転出証明書 {pages}ページ")

    # -- filing ----------------------------------------------------------------------------

    def file_notification(
        self,
        prepared: PreparedForm,
        *,
        acknowledged: Iterable[str],
        signature_confirmed: bool,
        documents_confirmed: bool,
    ) -> FiledNotification:
        """届出する: the signed 届書 becomes a filed 届出 in ONE transaction (row, outbox event,
        audit entry; a 転出's 転出証明書 numbered and rendered inside). Works offline."""
        self._require(Permission.FILE_NOTIFICATION)
        if not signature_confirmed:
            raise ValidationError("signature", "届書の署名を確認してください。")
        if not documents_confirmed:
            raise ValidationError("identity_documents", "本人確認書類を確認してください。")
        draft = prepared.draft
        if prepared.digest not in self.printed_forms.get(draft.notification_id, set()):
            raise SessionError(
                "届書が印刷されていません。印刷して署名を受けてから届け出てください。"
            )
        register = self.notification_register(draft)
        form = build_notification_form(draft, register, self.municipality)
        if form_digest(form) != prepared.digest:
            raise SessionError(
                "住民票が更新されたため、届書の内容が変わりました。届書を印刷し直して署名を"
                "受けてください。"
            )
        self._check_relied(draft, register)
        now = self.clock()
        findings = check(draft, CheckContext(self.today(), register, self.towns()))
        self._refuse_unfileable(findings, set(acknowledged))
        seen = set(acknowledged)
        ack = [
            FiledFinding(code=f.code, field=f.field, message=f.message)
            for f in findings
            if f.severity == Severity.WARNING and f.code in seen
        ]
        day = now.astimezone().date()
        certificate_no: str | None = None
        certificate_pdf: bytes | None = None
        with self.cache.transaction():
            if draft.procedure == Procedure.MOVE_OUT:
                certificate_no, certificate_pdf = self._move_out_certificate(draft, register, day)
            payload = NotificationFiledPayload(
                notification_id=draft.notification_id,
                draft=draft,
                form_digest=prepared.digest,
                printed_at=now,
                signature_confirmed_by=self.operator.operator_id,
                acknowledged=ack,
                move_out_certificate_no=certificate_no,
            )
            event = Event(
                event_id=draft.notification_id,
                type="notification_filed",
                occurred_at=now,
                operator_id=self.operator.operator_id,
                terminal_no=self.terminal_no,
                relied_versions=dict(draft.relied_versions),
                payload=payload.model_dump(mode="json"),
            )
            self.cache.record_notification(
                draft=draft,
                form_digest=prepared.digest,
                filed_at=now,
                operator_id=self.operator.operator_id,
                event=event,
                move_out_certificate_no=certificate_no,
            )
            targets = _ids(draft) + ([certificate_no] if certificate_no else [])
            self.audit(AuditAction.NOTIFICATION_FILED, targets, reason=draft.procedure.value)
        self.printed_forms.pop(draft.notification_id, None)
        return FiledNotification(
            self.cache.notification_filed(draft.notification_id), certificate_no, certificate_pdf
        )

    @staticmethod
    def _check_relied(draft: NotificationDraft, register: Register) -> None:
        """The signed 届書 was made from the register the cache still holds."""
        for person_id, version in draft.relied_versions.items():
            p = register.person(person_id)
            if p is None or p.version != version:
                raise SessionError(
                    "住民票が更新されたため、届書を作り直してください（届書の印刷からやり直します）。"
                )

    @staticmethod
    def _refuse_unfileable(findings: Sequence[Finding], acknowledged: set[str]) -> None:
        errors = [f.message for f in findings if f.severity == Severity.ERROR]
        if errors:
            raise SessionError("届出できません:\n" + "\n".join(errors))
        open_warnings = [
            f.message
            for f in findings
            if f.severity == Severity.WARNING and f.code not in acknowledged
        ]
        if open_warnings:
            raise SessionError("確認していない注意があります:\n" + "\n".join(open_warnings))

    def _move_out_certificate(
        self, draft: NotificationDraft, register: Register, day: date
    ) -> tuple[str, bytes]:
        """Number and render the 転出証明書 inside the filing's transaction."""
        if self.certificate_renderer is None:
            raise SessionError("転出証明書の印刷機能が設定されていません。")
        seal = self.seal()  # no verified 公印 from the server, no 転出証明書 (SealError)
        number = self.cache.next_issuance_no(self.terminal_no, day)
        towns = self.towns()
        certificate = build_move_out_certificate(
            draft,
            register,
            municipality_name=towns.municipality_name,
            municipality_code=draft.municipality_code,
            certificate_no=number,
        )
        sheet = move_out_certificate_sheet(certificate, self.municipality, day)
        pdf = self.certificate_renderer(
            sheet,
            sample=False,
            municipality_name=self.config.municipality_name,
            seal_png=seal.image_png,
        )
        return number, pdf

    # -- the clerk's list and the head office's answers -------------------------------------

    def notifications_filed(self) -> list[LocalNotification]:
        self._require(Permission.FILE_NOTIFICATION)
        return self.cache.notifications_filed()

    def notification_decisions(self) -> list[LocalNotification]:
        """Decisions of the head office not yet shown at this terminal (confirmed, returned
        with the reason, or waiting as a conflict); shown once, then marked seen."""
        self._check_open()  # under the idle lock nothing is shown, nor marked seen
        if not self.can(Permission.FILE_NOTIFICATION):
            return []
        unseen = self.cache.unseen_notification_decisions()
        if unseen:
            self.cache.mark_notifications_seen([n.notification_id for n in unseen])
        return unseen
