"""A counter process for the SIGKILL tests of filing: `python -m tests.e2e.child_notification
after-commit|inside-transaction`.

Reads its configuration (JSON: terminal_dir, operator, password, household_id) on stdin, logs in
(offline: the parent stopped the server), files a 転居 of the household through the session as
the 異動届 tab does, and prints a marker where the parent kills it:

- after-commit: "filed <id>" once file_notification returned (committed, not yet delivered);
- inside-transaction: "recording <id>" inside the filing's transaction, before its COMMIT.

Then it waits on stdin (never answered): the parent's SIGKILL ends it, no sleep, no timing.
"""

from __future__ import annotations

import json
import sys

from tests.e2e import notification_helpers as N


def main(mode: str) -> None:
    cfg = json.loads(sys.stdin.readline())
    session = N.login_service(cfg["terminal_dir"]).login(cfg["operator"], cfg["password"])
    print(f"online {session.online_at_login}", flush=True)
    household = session.open_household(cfg["household_id"])
    draft = N.move_within(session, household)
    if mode == "inside-transaction":
        record = session.cache.record_notification

        def record_and_wait(**kwargs: object) -> None:
            record(**kwargs)  # type: ignore[arg-type]
            print(f"recording {draft.notification_id}", flush=True)
            sys.stdin.readline()  # inside the open transaction: killed here

        session.cache.record_notification = record_and_wait  # type: ignore[method-assign]
    filed = N.file(session, draft)
    print(f"filed {filed.notification.notification_id}", flush=True)
    sys.stdin.readline()  # committed, not delivered: killed here
    print("done", flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
