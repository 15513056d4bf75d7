#!/usr/bin/env bash
# The MSI from the one-folder bundle, with msitools' wixl.
#   make_msi.sh BUNDLE_DIR VERSION OUT.msi [PROVISIONING.json]
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
bundle=$(realpath "$1") version=$2 out=$(realpath -m "$3") provisioning=${4:-}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Every file of the bundle as a component under INSTALLDIR (wixl-heat writes the fragment).
(cd "$bundle" && find . -type f | sed 's|^\./||' | sort) |
  wixl-heat -p "" --directory-ref INSTALLDIR --component-group Bundle --var var.SourceDir \
    --win64 | sed -E 's|<File Id="fil[0-9A-F]+"( KeyPath="yes" Source="\$\(var\.SourceDir\)/madoguchi\.exe"/>)|<File Id="MadoguchiExe"\1|' >"$work/bundle.wxs"
# madoguchi.exe gets a known File Id: the uninstall's CheckOutbox action runs it (madoguchi.wxs).
grep -q 'File Id="MadoguchiExe"' "$work/bundle.wxs" || { echo "madoguchi.exe not in the bundle" >&2; exit 1; }
# The city's provisioning file (server URL, CA fingerprint, municipality code) goes to
# %ProgramData%\Madoguchi\provisioning.json. A file already there (edited by the administrator)
# is never overwritten, and an uninstall leaves it: the component has no GUID, so Windows
# Installer does not track it.
{
  echo '<?xml version="1.0" encoding="utf-8"?>'
  echo '<Wix xmlns="http://schemas.microsoft.com/wix/2006/wi"><Fragment>'
  if [[ -n $provisioning ]]; then
    # The format belongs to the program (`madoguchi enroll`): refuse a file that is not JSON.
    python3 -c 'import json,sys; json.load(open(sys.argv[1], encoding="utf-8"))' "$provisioning"
    cp "$provisioning" "$work/provisioning.json"
    echo '<DirectoryRef Id="DATADIR">'
    echo '<Component Id="Provisioning" Guid="" Win64="yes">'
    echo '<File Id="provisioning.json" Name="provisioning.json" Source="provisioning.json" KeyPath="yes"/>'
    echo '</Component></DirectoryRef>'
    echo '<ComponentGroup Id="Extras"><ComponentRef Id="Provisioning"/></ComponentGroup>'
  else
    echo '<ComponentGroup Id="Extras"/>'
  fi
  echo '</Fragment></Wix>'
} >"$work/extras.wxs"
# wixl takes source paths relative to the .wxs files: everything is linked into one folder.
ln -s "$bundle" "$work/bundle"
cp "$ROOT/resources/icons/madoguchi.ico" "$HERE/madoguchi.wxs" "$work/"
(cd "$work" && wixl -a x64 -D Win64=yes -D "Version=$version" -D SourceDir=bundle \
  -D Icon=madoguchi.ico -o "$out" madoguchi.wxs bundle.wxs extras.wxs)
echo "MSI $(basename "$out"): $(du -h "$out" | cut -f1)"
