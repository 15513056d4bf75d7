"""This PC as a terminal: where its data lives, who may use it, where its device secret is kept.

DESIGN.md §12: one enrollment and one cache per PC, not per Windows user.

- `paths`: the machine data directory (Windows: %ProgramData%\\Madoguchi\\terminal; elsewhere the
  XDG data directory) and the provisioning file beside it.
- `api`: the seam to the Windows-only APIs (DPAPI with the machine key, the folder's ACL);
  `windows.WindowsMachineApi` is the real one (ctypes), tests use a fake on Linux.
- `secret`: the device secret in machine scope (a DPAPI-protected file in the data directory).
- `setup`: create the data directory with its ACL, pick the secret store, migrate the per-user
  folder of earlier versions.
- `provisioning`: provisioning.json written by the installer (server URL, CA fingerprint,
  municipality code).
"""
