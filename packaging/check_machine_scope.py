"""Run the real Windows machine-scope code (app/machine/windows.py) and check what it did.

On a real Windows PC, or under wine in the CI's Windows leg (the Linux tests only reach the
seam's fake). Needs only the standard library and the project's `app` package on sys.path:

    python packaging/check_machine_scope.py [WORK_DIR] [--lenient-acl]

1. CreateDirectoryW with the data folder's SDDL, then the DACL read back: protected, SYSTEM
   and Administrators full control, the users' SID modify, nothing else.
2. DPAPI (CRYPTPROTECT_LOCAL_MACHINE) round trip; another entropy is refused.
3. The device-secret store (app/machine/secret.py) on that folder: create, read back, refuse a
   blob altered on disk.

`--lenient-acl`: wine keeps no NTFS ACLs on a Unix file system, so under wine step 1 checks that
the calls succeed and reports the DACL it read without judging it. Prints one line per step;
exit status 0 when all hold.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.machine.api import data_dir_sddl
from app.machine.secret import SECRET_FILE, MachineSecretStore
from app.machine.windows import WindowsMachineApi

EXPECTED_ACES = {
    "A;OICI;FA;;;SY",
    "A;OICI;FA;;;BA",
    "A;OICI;0x1301bf;;;AU",
    "A;OICI;0x1301bf;;;OW",
}


def _aces(sddl: str) -> set[str]:
    body = sddl.split("D:", 1)[-1]
    _flags, _, rest = body.partition("(")
    return {a.strip("()").replace("0x1301BF", "0x1301bf") for a in ("(" + rest).split(")(")}


def _judge(sddl: str) -> bool:
    """Protected, and exactly the expected entries (aliases or their SIDs)."""
    protected = sddl.split("D:", 1)[-1].startswith(("P", "PAI", "PAR"))
    aliases = {";;;S-1-5-18": ";;;SY", ";;;S-1-5-32-544": ";;;BA", ";;;S-1-3-4": ";;;OW"}
    aces = set()
    for ace in _aces(sddl):
        for sid, alias in aliases.items():
            ace = ace.replace(sid, alias)
        aces.add(ace)
    return protected and aces == EXPECTED_ACES


def main(argv: list[str]) -> int:
    lenient = "--lenient-acl" in argv
    args = [a for a in argv if not a.startswith("--")]
    work = Path(args[0]) if args else Path(tempfile.mkdtemp(prefix="madoguchi-machine-"))
    work.mkdir(parents=True, exist_ok=True)
    api = WindowsMachineApi()
    failures = 0

    folder = work / "terminal"
    api.create_private_dir(folder, data_dir_sddl())
    sddl = api.read_sddl(folder)
    if _judge(sddl):
        print(f"acl: OK {sddl}")
    elif lenient:
        print(f"acl: not judged (--lenient-acl); read back {sddl!r}")
    else:
        print(f"acl: FAILED, read back {sddl!r}")
        failures += 1
    try:
        api.create_private_dir(folder, data_dir_sddl())
        print("acl: FAILED, a second CreateDirectoryW did not report ERROR_ALREADY_EXISTS")
        failures += 1
    except FileExistsError:
        pass

    existing = work / "made-before"
    existing.mkdir(exist_ok=True)
    api.secure_existing_dir(existing, data_dir_sddl())
    existing_sddl = api.read_sddl(existing)
    if _judge(existing_sddl):
        print("acl of an existing folder: OK")
    elif lenient:
        print(f"acl of an existing folder: not judged; read back {existing_sddl!r}")
    else:
        print(f"acl of an existing folder: FAILED, read back {existing_sddl!r}")
        failures += 1

    secret = bytes(range(32))
    blob = api.protect(secret, b"entropy-1")
    if secret in blob or api.unprotect(blob, b"entropy-1") != secret:
        print("dpapi: FAILED round trip")
        failures += 1
    else:
        try:
            api.unprotect(blob, b"entropy-2")
            print("dpapi: FAILED, another entropy opened the blob")
            failures += 1
        except OSError:
            print("dpapi: OK (machine scope, entropy bound)")

    store = MachineSecretStore(folder / SECRET_FILE, "check", api)
    made = store.get_or_create()
    if MachineSecretStore(folder / SECRET_FILE, "check", api).get() != made:
        print("secret store: FAILED read back")
        failures += 1
    else:
        text = (folder / SECRET_FILE).read_text(encoding="ascii")
        (folder / SECRET_FILE).write_text(text[:-10] + "AAAAAAAAA\n", encoding="ascii")
        try:
            store.get()
            print("secret store: FAILED, an altered file was accepted")
            failures += 1
        except Exception as exc:  # StoreError: refused with the clerk's message
            print(f"secret store: OK (altered file refused: {type(exc).__name__})")
    print("machine scope: " + ("OK" if failures == 0 else f"{failures} FAILED"))
    return 0 if failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
