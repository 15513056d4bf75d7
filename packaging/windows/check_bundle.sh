#!/usr/bin/env bash
# Fails when a bundle folder (or an MSI, unpacked) carries one of the wine prefix's stub DLLs:
# by name (icuuc.dll, bcryptprimitives.dll, mscms.dll: a stub in the program folder would shadow
# Windows' own) or by content (the digests given).
#   check_bundle.sh DIR [SHA256 ...]        check_bundle.sh --msi FILE.msi [SHA256 ...]
set -euo pipefail
if [[ $1 == --msi ]]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && msiextract -C "$tmp" "$2" >/dev/null)
  dir=$tmp
  shift 2
else
  dir=$1
  shift
fi
bad=$(find "$dir" -type f \( -iname icuuc.dll -o -iname bcryptprimitives.dll -o -iname mscms.dll \) -print)
if (($#)); then
  while IFS= read -r -d '' f; do
    digest=$(sha256sum "$f" | cut -d' ' -f1)
    for stub in "$@"; do
      [[ $digest == "$stub" ]] && bad+=$'\n'"$f"
    done
  done < <(find "$dir" -type f -iname '*.dll' -print0)
fi
if [[ -n ${bad//$'\n'/} ]]; then
  echo "stub DLLs of the wine prefix found in $dir:" >&2
  echo "$bad" >&2
  exit 1
fi
echo "no stub DLL in $(basename "$dir") ($(find "$dir" -type f -iname '*.dll' | wc -l) DLLs checked)"
