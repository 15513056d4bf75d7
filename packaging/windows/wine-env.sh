# Sourced by build.sh and smoke.sh: the wine prefix used to build and test the Windows program.
# The workarounds for what Wine 8 lacks live here, in the prefix, never in the bundle:
#  - bcryptprimitives.dll!ProcessPrng (Rust's std: cryptography, pydantic_core), icuuc.dll
#    (Qt6Core) and mscms.dll (Qt's windows platform plugin; wine's own lacks
#    WcsCreateIccProfile and aborts) as stub DLLs built with mingw-w64 into the prefix's
#    system32;
#  - _wmi.pyd disabled by a DLL override (platform.win32_ver() calls propsys.VariantToString,
#    which Wine does not implement, and aborts);
#  - every wine command's stdin, stdout and stderr are pipes: with /dev/null or a regular file
#    as one of them, Python under wine dies in init_sys_streams ("[WinError 6] Invalid handle").
# shellcheck shell=bash

MADOGUCHI_CI_CACHE=${MADOGUCHI_CI_CACHE:-/var/cache/madoguchi-ci}
export WINEPREFIX=${WINEPREFIX:-$MADOGUCHI_CI_CACHE/wine-prefix}
export WINEARCH=win64
export WINEDEBUG=${WINEDEBUG:--all}
# No Mono or Gecko: nothing here needs .NET or the HTML engine, and they are not downloadable.
export WINEDLLOVERRIDES="mscoree=;mshtml="
WINE_STUB_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/wine-stubs

winrun() { : | wine "$@" 2> >(cat >&2) | cat; }
# winrun_input TEXT PROGRAM ARGS...: the same with TEXT on standard input.
winrun_input() { local text=$1; shift; printf '%s\n' "$text" | wine "$@" 2> >(cat >&2) | cat; }

# Z:\ is / in every wine prefix.
winpath() { printf 'Z:%s' "$(realpath -m "$1" | tr / '\\')"; }

wine_prefix_ready() { # wine_prefix_ready PYSIDE6_DIR
  local sys32 stubs
  if [[ ! -f $WINEPREFIX/system.reg ]]; then
    mkdir -p "$(dirname "$WINEPREFIX")"
    wineboot --init </dev/null >/dev/null 2>&1 || true
    wineserver -w
  fi
  sys32=$WINEPREFIX/drive_c/windows/system32
  stubs=$WINEPREFIX/madoguchi-stubs
  mkdir -p "$stubs"
  x86_64-w64-mingw32-gcc -shared -O2 -o "$stubs/bcryptprimitives.dll" \
    "$WINE_STUB_SRC/bcryptprimitives.c" -ladvapi32
  # One stub function per import of the Qt binaries that use them.
  "$WINE_STUB_SRC/make_stub.sh" icuuc.dll "$1/Qt6Core.dll" >"$stubs/icuuc.c"
  "$WINE_STUB_SRC/make_stub.sh" mscms.dll "$1/plugins/platforms/qwindows.dll" >"$stubs/mscms.c"
  for name in icuuc mscms; do
    x86_64-w64-mingw32-gcc -shared -O2 -o "$stubs/$name.dll" "$stubs/$name.c"
  done
  cp "$stubs"/*.dll "$sys32/"
  winrun reg add 'HKCU\Software\Wine\DllOverrides' /v _wmi.pyd /d '' /f >/dev/null 2>&1
  winrun reg add 'HKCU\Software\Wine\DllOverrides' /v mscms /d native /f >/dev/null 2>&1
  wineserver -w
}

# The stub DLLs' digests, to prove that none of them went into a bundle or an MSI.
wine_stub_digests() { sha256sum "$WINEPREFIX"/madoguchi-stubs/*.dll | cut -d' ' -f1; }
