#!/usr/bin/env bash
# Smoke test of the INSTALLED Windows program under wine (packaging/README.md): the MSI is
# installed silently into a fresh copy of the build's wine prefix, then the program in
# C:\Program Files\Madoguchi runs as a clerk's PC would run it. No test-only code in the program.
#   packaging/windows/smoke.sh MSI [--older-msi OLDER.msi]
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
# shellcheck source=wine-env.sh
source "$HERE/wine-env.sh"
MSI=$(realpath "$1")
WORK=$ROOT/packaging/build/windows/smoke
step() { printf '\n== smoke: %s (%ds)\n' "$*" "$SECONDS"; }
fail() { echo "SMOKE FAILED: $*" >&2; exit 1; }

step "a fresh wine prefix (copy of the build's, with its stub DLLs)"
rm -rf "$WORK"
mkdir -p "$WORK"
cp -a "$WINEPREFIX" "$WORK/prefix"
export WINEPREFIX=$WORK/prefix
C=$WINEPREFIX/drive_c
APP="$C/Program Files/Madoguchi"
CLI="C:\\Program Files\\Madoguchi\\madoguchi-cli.exe"

step "msiexec /i (silent, per machine)"
cp "$MSI" "$WORK/madoguchi.msi"
winrun msiexec /i "$(winpath "$WORK/madoguchi.msi")" /qn /l*v "$(winpath "$WORK/install.log")" ||
  { iconv -f utf-16 -t utf-8 "$WORK/install.log" | tail -40; fail "msiexec /i"; }
wineserver -w
for f in madoguchi.exe madoguchi-cli.exe _internal/fonts/ipamjm.ttf \
  _internal/fonts/IPA_Font_License_Agreement_v1.0.txt; do
  [[ -f $APP/$f ]] || fail "not installed: $f"
done
find "$C/ProgramData/Microsoft/Windows/Start Menu" -iname 'madoguchi*.lnk' | grep -q . ||
  fail "no Start-menu shortcut"
"$HERE/check_bundle.sh" "$APP" $(wine_stub_digests)
if [[ -n ${MADOGUCHI_PROVISIONING_EXPECTED:-} ]]; then
  cmp "$MADOGUCHI_PROVISIONING_EXPECTED" "$C/ProgramData/Madoguchi/provisioning.json" ||
    fail "provisioning.json not installed to %ProgramData%\\Madoguchi"
fi

step "madoguchi-cli.exe --version"
version=$(winrun "$CLI" --version | tr -d '\r')
echo "$version"
expected=$(cd "$ROOT" && python3 -c 'import tomllib; print(tomllib.load(open("pyproject.toml","rb"))["project"]["version"])')
[[ $version == "madoguchi $expected" ]] || fail "--version said: $version"

step "madoguchi-cli.exe demo --headless (HTTPS + mTLS, enrollment, snapshot, sync)"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
winrun "$CLI" demo --headless --residents 200 --port "$port" \
  --data-dir 'C:\smoke\demo' >"$WORK/demo.out" 2>"$WORK/demo.err" ||
  { cat "$WORK/demo.out" "$WORK/demo.err"; fail "demo --headless"; }
cat "$WORK/demo.out"
grep -q "同期が完了しました" "$WORK/demo.out" || fail "demo did not sync"
grep -Eq "キャッシュの住民数: 201人" "$WORK/demo.out" || fail "demo cache count"
[[ -f $C/smoke/demo/terminal/cache.db ]] || fail "no cache.db"

step "certificate render, stdout piped (UTF-8), IPAmj明朝 from the bundle"
(cd "$ROOT" && uv run --frozen madoguchi-gen --persons 12 --seed 16 --out "$WORK/town.jsonl" >/dev/null)
household=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1],encoding="utf-8").readline())["household_id"])' "$WORK/town.jsonl")
winrun "$CLI" certificate render --input "$(winpath "$WORK/town.jsonl")" --household "$household" \
  --out 'C:\smoke\sample.pdf' >"$WORK/render.out" 2>"$WORK/render.err" ||
  { cat "$WORK/render.out" "$WORK/render.err"; fail "certificate render"; }
iconv -f utf-8 -t utf-8 "$WORK/render.out" >/dev/null || fail "render output is not UTF-8"
grep -q "見本" "$WORK/render.out" || fail "render said: $(cat "$WORK/render.out")"
pdffonts "$C/smoke/sample.pdf" | grep -q IPAmjMincho || fail "IPAmj明朝 not embedded"
pdftotext "$C/smoke/sample.pdf" - | grep -q "見本" || fail "no 見本 watermark text"

step "card status / card read with the virtual card, output piped"
PROFILE="C:\\Program Files\\Madoguchi\\_internal\\resources\\cards\\demo_card.json"
winrun "$CLI" card status --simulator "$PROFILE" >"$WORK/card.out" || fail "card status"
cat "$WORK/card.out"
grep -q "利用者証明用電子証明書の有効期限" "$WORK/card.out" || fail "card status output"
# A name with an IVS and a character outside JIS, through a pipe (cp932 would refuse both).
python3 - "$C/smoke/ivs_card.json" "$APP/_internal/resources/cards/demo_card.json" <<'EOF'
import json, sys
card = json.load(open(sys.argv[2], encoding="utf-8"))
card["name"] = "葛\U000e0102城 𠮷子"
json.dump(card, open(sys.argv[1], "w", encoding="utf-8"), ensure_ascii=False)
EOF
winrun_input 1234 "$CLI" card read --simulator 'C:\smoke\ivs_card.json' >"$WORK/read.out" ||
  fail "card read"
grep -q "氏名: 葛$(printf '\U000e0102')城 𠮷子" "$WORK/read.out" || fail "card read: $(cat "$WORK/read.out")"

step "a second copy on the same data folder is refused"
# Hold the demo folder's lock with a Windows process, then start the demo again on it.
# TODO(w16a): needs a long-running command of the program; covered by tests/store on Linux.

step "enrollment against a separately started madoguchi-server"
# TODO(w16a, issue 16): `madoguchi enroll` (w16b) is not in main yet. When it is:
#   madoguchi-server init/serve on loopback (Linux, uv run), `terminal token`, then
#   madoguchi-cli.exe enroll --server https://127.0.0.1:PORT --token T --ca-fingerprint SHA256
#   and a sync (a login as an operator added with `operator add`).
echo "SKIPPED: madoguchi enroll is not in main yet (see TODO in $0)"

step "uninstall keeps the data"
winrun msiexec /x "$(winpath "$WORK/madoguchi.msi")" /qn || fail "msiexec /x"
wineserver -w
[[ ! -f $APP/madoguchi-cli.exe ]] || fail "program still installed after msiexec /x"
[[ -f $C/smoke/demo/terminal/cache.db ]] || fail "uninstall removed the data"

step "passed"
