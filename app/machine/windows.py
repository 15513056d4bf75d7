"""The real MachineApi on Windows: crypt32 (DPAPI), advapi32 and kernel32 through ctypes.

Imported only on Windows (app.machine.setup.machine_api). Linux tests use a fake of the seam;
`packaging/check_machine_scope.py` runs this code for real (under wine in CI, and on a real PC).
"""

from __future__ import annotations

import ctypes
from ctypes import wintypes
from pathlib import Path
from typing import Any

from app.machine.api import MachineApiError

# ctypes' Windows-only names (WinDLL, get_last_error): typeshed declares them for win32 only and
# the type checker runs on Linux, so they are reached through an untyped alias.
_WIN_CTYPES: Any = ctypes

CRYPTPROTECT_UI_FORBIDDEN = 0x1
CRYPTPROTECT_LOCAL_MACHINE = 0x4
SDDL_REVISION_1 = 1
SE_FILE_OBJECT = 1
DACL_SECURITY_INFORMATION = 0x4
PROTECTED_DACL_SECURITY_INFORMATION = 0x80000000
ERROR_ALREADY_EXISTS = 183


class DATA_BLOB(ctypes.Structure):
    _fields_ = (("cbData", wintypes.DWORD), ("pbData", ctypes.POINTER(ctypes.c_char)))


class SECURITY_ATTRIBUTES(ctypes.Structure):
    _fields_ = (
        ("nLength", wintypes.DWORD),
        ("lpSecurityDescriptor", ctypes.c_void_p),
        ("bInheritHandle", wintypes.BOOL),
    )


def _blob(data: bytes) -> tuple[DATA_BLOB, ctypes.Array[ctypes.c_char]]:
    buffer = ctypes.create_string_buffer(data, len(data))
    return DATA_BLOB(len(data), ctypes.cast(buffer, ctypes.POINTER(ctypes.c_char))), buffer


class WindowsMachineApi:
    name = "windows"

    def __init__(self) -> None:
        windll = _WIN_CTYPES.WinDLL
        self._crypt32 = windll("crypt32", use_last_error=True)
        self._advapi32 = windll("advapi32", use_last_error=True)
        self._kernel32 = windll("kernel32", use_last_error=True)
        p_blob = ctypes.POINTER(DATA_BLOB)
        for fn in (self._crypt32.CryptProtectData, self._crypt32.CryptUnprotectData):
            fn.argtypes = (
                p_blob,
                ctypes.c_void_p,  # description (protect: LPCWSTR in; unprotect: LPWSTR* out)
                p_blob,
                ctypes.c_void_p,
                ctypes.c_void_p,
                wintypes.DWORD,
                p_blob,
            )
            fn.restype = wintypes.BOOL
        self._kernel32.LocalFree.argtypes = (ctypes.c_void_p,)
        self._kernel32.LocalFree.restype = ctypes.c_void_p
        self._kernel32.CreateDirectoryW.argtypes = (
            wintypes.LPCWSTR,
            ctypes.POINTER(SECURITY_ATTRIBUTES),
        )
        self._kernel32.CreateDirectoryW.restype = wintypes.BOOL
        fn = self._advapi32.ConvertStringSecurityDescriptorToSecurityDescriptorW
        fn.argtypes = (
            wintypes.LPCWSTR,
            wintypes.DWORD,
            ctypes.POINTER(ctypes.c_void_p),
            ctypes.POINTER(wintypes.ULONG),
        )
        fn.restype = wintypes.BOOL
        fn = self._advapi32.ConvertSecurityDescriptorToStringSecurityDescriptorW
        fn.argtypes = (
            ctypes.c_void_p,
            wintypes.DWORD,
            wintypes.DWORD,
            ctypes.POINTER(wintypes.LPWSTR),
            ctypes.POINTER(wintypes.ULONG),
        )
        fn.restype = wintypes.BOOL
        fn = self._advapi32.GetSecurityDescriptorDacl
        fn.argtypes = (
            ctypes.c_void_p,
            ctypes.POINTER(wintypes.BOOL),
            ctypes.POINTER(ctypes.c_void_p),
            ctypes.POINTER(wintypes.BOOL),
        )
        fn.restype = wintypes.BOOL
        fn = self._advapi32.SetNamedSecurityInfoW
        fn.argtypes = (
            wintypes.LPWSTR,
            ctypes.c_int,
            wintypes.DWORD,
            ctypes.c_void_p,
            ctypes.c_void_p,
            ctypes.c_void_p,
            ctypes.c_void_p,
        )
        fn.restype = wintypes.DWORD
        fn = self._advapi32.GetNamedSecurityInfoW
        fn.argtypes = (
            wintypes.LPCWSTR,
            ctypes.c_int,
            wintypes.DWORD,
            ctypes.c_void_p,
            ctypes.c_void_p,
            ctypes.c_void_p,
            ctypes.c_void_p,
            ctypes.POINTER(ctypes.c_void_p),
        )
        fn.restype = wintypes.DWORD

    # --- DPAPI -----------------------------------------------------------------------------

    def _crypt(self, fn_name: str, data: bytes, entropy: bytes) -> bytes:
        data_in, _keep1 = _blob(data)
        extra, _keep2 = _blob(entropy)
        out = DATA_BLOB()
        fn = getattr(self._crypt32, fn_name)
        flags = CRYPTPROTECT_UI_FORBIDDEN
        if fn_name == "CryptProtectData":
            flags |= CRYPTPROTECT_LOCAL_MACHINE
        ok = fn(
            ctypes.byref(data_in),
            None,
            ctypes.byref(extra),
            None,
            None,
            flags,
            ctypes.byref(out),
        )
        if not ok:
            raise MachineApiError(fn_name, _WIN_CTYPES.get_last_error())
        try:
            return ctypes.string_at(out.pbData, out.cbData)
        finally:
            self._kernel32.LocalFree(ctypes.cast(out.pbData, ctypes.c_void_p))

    def protect(self, data: bytes, entropy: bytes) -> bytes:
        return self._crypt("CryptProtectData", data, entropy)

    def unprotect(self, blob: bytes, entropy: bytes) -> bytes:
        return self._crypt("CryptUnprotectData", blob, entropy)

    # --- the folder's ACL --------------------------------------------------------------------

    def _descriptor(self, sddl: str) -> ctypes.c_void_p:
        sd = ctypes.c_void_p()
        convert = self._advapi32.ConvertStringSecurityDescriptorToSecurityDescriptorW
        if not convert(sddl, SDDL_REVISION_1, ctypes.byref(sd), None):
            raise MachineApiError(
                "ConvertStringSecurityDescriptorToSecurityDescriptorW",
                _WIN_CTYPES.get_last_error(),
            )
        return sd

    def secure_existing_dir(self, path: Path, sddl: str) -> None:
        sd = self._descriptor(sddl)
        try:
            present, defaulted, dacl = wintypes.BOOL(), wintypes.BOOL(), ctypes.c_void_p()
            get_dacl = self._advapi32.GetSecurityDescriptorDacl
            if not get_dacl(sd, ctypes.byref(present), ctypes.byref(dacl), ctypes.byref(defaulted)):
                raise MachineApiError(
                    "GetSecurityDescriptorDacl",
                    _WIN_CTYPES.get_last_error(),
                )
            status = self._advapi32.SetNamedSecurityInfoW(
                str(path),
                SE_FILE_OBJECT,
                DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION,
                None,
                None,
                dacl,
                None,
            )
            if status != 0:
                raise MachineApiError("SetNamedSecurityInfoW", status)
        finally:
            self._kernel32.LocalFree(sd)

    def create_private_dir(self, path: Path, sddl: str) -> None:
        sd = self._descriptor(sddl)
        try:
            attributes = SECURITY_ATTRIBUTES(ctypes.sizeof(SECURITY_ATTRIBUTES), sd, False)
            if not self._kernel32.CreateDirectoryW(str(path), ctypes.byref(attributes)):
                error = _WIN_CTYPES.get_last_error()
                if error == ERROR_ALREADY_EXISTS:
                    raise FileExistsError(str(path))
                raise MachineApiError("CreateDirectoryW", error)
        finally:
            self._kernel32.LocalFree(sd)

    def read_sddl(self, path: Path) -> str:
        sd = ctypes.c_void_p()
        status = self._advapi32.GetNamedSecurityInfoW(
            str(path),
            SE_FILE_OBJECT,
            DACL_SECURITY_INFORMATION,
            None,
            None,
            None,
            None,
            ctypes.byref(sd),
        )
        if status != 0:
            raise MachineApiError("GetNamedSecurityInfoW", status)
        try:
            text = wintypes.LPWSTR()
            convert = self._advapi32.ConvertSecurityDescriptorToStringSecurityDescriptorW
            info = DACL_SECURITY_INFORMATION
            if not convert(sd, SDDL_REVISION_1, info, ctypes.byref(text), None):
                raise MachineApiError(
                    "ConvertSecurityDescriptorToStringSecurityDescriptorW",
                    _WIN_CTYPES.get_last_error(),
                )
            try:
                return text.value or ""
            finally:
                self._kernel32.LocalFree(ctypes.cast(text, ctypes.c_void_p))
        finally:
            self._kernel32.LocalFree(sd)
