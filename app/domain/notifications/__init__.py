"""住民異動届 (転入・転居・転出・世帯変更) taken at the counter: the law as pure functions.

- model.py: the draft the clerk builds (NotificationDraft and its parts), its JSON;
- checks.py, households.py: the rules of 住基法 §22–§27, run as the clerk types (Findings);
- deadlines.py: how the 14 days are counted, the office's closed days;
- towns.py: the municipality's 町名一覧 and addresses read against it;
- register.py: the part of the register a 届出 touches;
- confirm.py: the head office's confirmation → new record versions, 異動履歴, conflicts;
- forms.py: the print models of the 住民異動届 and the 転出証明書.

No I/O (the town list is package data read on first use), no clock: callers pass `today`.
docs/notifications.md explains the procedures and cites the articles.
"""

from app.domain.notifications.checks import CheckContext, check
from app.domain.notifications.confirm import (
    ChangeRecord,
    Confirmation,
    Conflict,
    ConflictError,
    ConflictKind,
    confirm,
    find_conflicts,
    overlapping,
)
from app.domain.notifications.deadlines import (
    filing_deadline,
    is_office_closed,
    national_holidays,
    special_move_in_limit,
)
from app.domain.notifications.findings import Finding, Severity, errors, may_file
from app.domain.notifications.households import check_households, propose_households
from app.domain.notifications.model import (
    CHANGE_REASONS,
    FILER_LABELS,
    PROCEDURE_LABELS,
    Address,
    Filer,
    FilerKind,
    HouseholdPlan,
    MoveOutCertificate,
    MoveOutPerson,
    Mover,
    NotificationDraft,
    Procedure,
    Role,
    draft_to_dict,
    parse_draft,
)
from app.domain.notifications.register import (
    Register,
    referenced_person_ids,
    touched_household_ids,
    touched_person_ids,
)
from app.domain.notifications.towns import AddressMatch, Town, TownList, fold_address

__all__ = [
    "CHANGE_REASONS",
    "FILER_LABELS",
    "PROCEDURE_LABELS",
    "Address",
    "AddressMatch",
    "ChangeRecord",
    "CheckContext",
    "Confirmation",
    "Conflict",
    "ConflictError",
    "ConflictKind",
    "Filer",
    "FilerKind",
    "Finding",
    "HouseholdPlan",
    "MoveOutCertificate",
    "MoveOutPerson",
    "Mover",
    "NotificationDraft",
    "Procedure",
    "Register",
    "Role",
    "Severity",
    "Town",
    "TownList",
    "check",
    "check_households",
    "confirm",
    "draft_to_dict",
    "errors",
    "filing_deadline",
    "find_conflicts",
    "fold_address",
    "is_office_closed",
    "may_file",
    "national_holidays",
    "overlapping",
    "parse_draft",
    "propose_households",
    "referenced_person_ids",
    "special_move_in_limit",
    "touched_household_ids",
    "touched_person_ids",
]
