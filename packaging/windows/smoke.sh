#!/usr/bin/env bash
# Smoke test of the INSTALLED Windows program under wine (packaging/README.md): the MSI is
# installed silently into a fresh copy of the build's wine prefix, then the program in
# C:\Program Files\Madoguchi runs as a clerk's PC would run it. No test-only code in the program.
#   packaging/windows/smoke.sh MSI
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
# Per machine: ALLUSERS=1 in the MSI. (Wine's msi puts the shortcut into the installing user's
# Start menu even then; Windows Installer uses the all-users one: checklist item.)
properties=$(msiinfo export "$WORK/madoguchi.msi" Property)
grep -q "^ALLUSERS.1" <<<"$properties" || fail "not per machine"
shortcuts=$(find "$C/ProgramData/Microsoft/Windows/Start Menu" "$C/users" -iname 'madoguchi.lnk')
[[ -n $shortcuts ]] || fail "no Start-menu shortcut"
"$HERE/check_bundle.sh" "$APP" $(wine_stub_digests)

step "madoguchi-cli.exe --version"
version=$(winrun "$CLI" --version | tr -d '\r')
echo "$version"
expected=$(cd "$ROOT" && python3 -c 'import tomllib; print(tomllib.load(open("pyproject.toml","rb"))["project"]["version"])')
[[ $version == "madoguchi $expected" ]] || fail "--version said: $version"
# The windowed EXE starts too (it has no console: --version goes nowhere, the exit status counts).
winrun "$APP/madoguchi.exe" --version || fail "madoguchi.exe --version"

step "madoguchi.exe opens its first window (Xvfb; not enrolled: the first-run wizard)"
# Polls the screen until the window is drawn (a bounded wait, no fixed sleep), keeps a picture.
# The wineserver of the steps before must be gone: its desktop process has no display, and a
# window opened on it would never reach Xvfb.
wineserver -w
xvfb-run -a -s "-screen 0 1366x768x24" bash -c '
  (: | wine "$1" --data-dir "C:\smoke\gui" 2>&1 | cat >"$2/gui.log") &
  for _ in $(seq 180); do
    sleep 1
    import -window root "$2/gui.png" 2>/dev/null || continue
    [[ $(convert "$2/gui.png" -format "%[fx:mean>0.05]" info:) == 1 ]] && break
  done
  wineserver -k' _ "$APP/madoguchi.exe" "$WORK"
wineserver -w
[[ $(convert "$WORK/gui.png" -format "%[fx:mean>0.05]" info:) == 1 ]] ||
  fail "madoguchi.exe showed no window: $(cat "$WORK/gui.log")"
echo "window drawn: $WORK/gui.png"

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
(cd "$ROOT" && uv run --frozen --no-sync madoguchi-gen --persons 12 --seed 16 --out "$WORK/town.jsonl" >/dev/null 2>&1)
household=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1],encoding="utf-8").readline())["household_id"])' "$WORK/town.jsonl")
winrun "$CLI" certificate render --input "$(winpath "$WORK/town.jsonl")" --household "$household" \
  --out 'C:\smoke\sample.pdf' >"$WORK/render.out" 2>"$WORK/render.err" ||
  { cat "$WORK/render.out" "$WORK/render.err"; fail "certificate render"; }
iconv -f utf-8 -t utf-8 "$WORK/render.out" >/dev/null || fail "render output is not UTF-8"
grep -q "見本" "$WORK/render.out" || fail "render said: $(cat "$WORK/render.out")"
fonts=$(pdffonts "$C/smoke/sample.pdf")
grep -q IPAmjMincho <<<"$fonts" || fail "IPAmj明朝 not embedded: $fonts"

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
# A Windows process holds the demo folder's lock (msvcrt.locking, the program's own module
# run by the build's Python), then the installed program starts on the same folder.
PYEXE=$(ls "$MADOGUCHI_CI_CACHE"/winpython-*/python.exe | head -1)
rm -f "$WORK/hold.in" && mkfifo "$WORK/hold.in"
(wine "$PYEXE" -c "import sys; sys.path.insert(0, sys.argv[1])
from app.store.instance_lock import InstanceLock
with InstanceLock(sys.argv[2]):
    print('held', flush=True)
    sys.stdin.readline()" "$(winpath "$ROOT")" 'C:\smoke\demo' <"$WORK/hold.in" 2>&1 | cat >"$WORK/hold.out") &
holder=$!
exec 9>"$WORK/hold.in"
for _ in $(seq 120); do grep -q held "$WORK/hold.out" && break; sleep 1; done
grep -q held "$WORK/hold.out" || fail "the lock holder did not start: $(cat "$WORK/hold.out")"
set +e
winrun "$CLI" demo --headless --residents 200 --port "$port" --data-dir 'C:\smoke\demo' \
  >"$WORK/second.out" 2>&1
second=$?
set -e
exec 9>&-
wait "$holder"
cat "$WORK/second.out"
[[ $second == 3 ]] || fail "the second copy exited with $second"
grep -q "既にこのパソコンで起動しています" "$WORK/second.out" || fail "no refusal message"

step "enrollment against a separately started madoguchi-server, then a sync"
# The central server on Linux (loopback), as the city runs it: init, the register, an operator,
# a token. The terminal goes to the PC's own folder (%ProgramData%\Madoguchi\terminal), where
# the uninstall's check looks.
SRV=$WORK/server
TERMINAL=$C/ProgramData/Madoguchi/terminal
srv() { (cd "$ROOT" && uv run --frozen --no-sync madoguchi-server --data-dir "$SRV" "$@"); }
srv init --municipality-code 012084 >/dev/null
srv import "$WORK/town.jsonl" >/dev/null
printf 'kitami-branch-counter-smoke\n' | srv operator add --id smoke01 --name "試験 職員" --roles clerk \
  --branch 本庁 --password-stdin >/dev/null
token=$(srv terminal token | tail -1)
sport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
server_python=$(cd "$ROOT" && uv run --frozen --no-sync python -c 'import sys; print(sys.executable)')
server_pid=""
start_server() { # on the same port each time: the terminal knows its URL
  # exec: the PID is the server's own, so that kill stops it (no wrapper left holding it)
  (cd "$ROOT" && exec "$server_python" -m server.cli --data-dir "$SRV" serve --host 127.0.0.1 \
    --port "$sport" >>"$WORK/server.log" 2>&1) &
  server_pid=$!
  for _ in $(seq 60); do
    python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' \
      "$sport" 2>/dev/null && return 0
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 1
  done
  cat "$WORK/server.log"
  fail "madoguchi-server did not start"
}
stop_server() {
  [[ -n $server_pid ]] || return 0
  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
}
trap stop_server EXIT
start_server
fingerprint=$(openssl x509 -in "$SRV/ca/ca.pem" -outform DER | sha256sum | cut -d' ' -f1)
winrun "$CLI" enroll --server "https://127.0.0.1:$sport" --token "$token" \
  --ca-fingerprint "$fingerprint" >"$WORK/enroll.out" 2>&1 ||
  { cat "$WORK/enroll.out" "$WORK/server.log"; fail "madoguchi-cli enroll"; }
cat "$WORK/enroll.out"
[[ -f $TERMINAL/terminal.json ]] || fail "enroll wrote no terminal.json"
# The administrator pre-loads the PC: a clerk's login and a sync, the password on stdin.
sync_pc() { # sync_pc OUT: the exit status of madoguchi-cli sync
  set +e
  winrun_input kitami-branch-counter-smoke "$CLI" sync --operator smoke01 >"$1" 2>&1
  local rc=$?
  set -e
  cat "$1"
  return "$rc"
}
unsent() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["unsent"])' "$TERMINAL/outbox-status.json"; }
sync_pc "$WORK/sync.out" || fail "madoguchi-cli sync exited with $?"
grep -q "同期が完了しました" "$WORK/sync.out" || fail "sync did not complete"
grep -q "キャッシュの住民数: 12人" "$WORK/sync.out" || fail "sync: cache count"
[[ $(unsent) == 0 ]] || fail "outbox-status.json after the sync: $(cat "$TERMINAL/outbox-status.json")"

stop_server

step "upgrade to a newer version keeps the data; a downgrade is refused"
# The same bundle as version x.y.(z+1), unsigned (what matters here is the MSI's upgrade logic),
# with the example provisioning file.
newer=$(python3 -c 'import sys; v=[int(p) for p in sys.argv[1].split(".")]; v[2]+=1; print(".".join(map(str,v)))' "$expected")
PROVISIONING=$HERE/provisioning.example.json
"$HERE/make_msi.sh" "$(dirname "$MSI")/madoguchi" "$newer" "$WORK/newer.msi" "$PROVISIONING" >/dev/null
winrun msiexec /i "$(winpath "$WORK/newer.msi")" /qn || fail "msiexec /i newer"
wineserver -w
products=$(winrun reg query 'HKLM\Software\Microsoft\Windows\CurrentVersion\Uninstall' /s |
  tr -d '\r' | grep -c 'DisplayName.*Madoguchi' || true)
[[ $products == 1 ]] || fail "$products Madoguchi products registered after the upgrade"
winrun reg query 'HKLM\Software\Microsoft\Windows\CurrentVersion\Uninstall' /s | tr -d '\r' |
  grep -q "DisplayVersion.*$newer" || fail "the newer version is not the registered one"
[[ -f $C/smoke/demo/terminal/cache.db && -f $APP/madoguchi-cli.exe ]] ||
  fail "the upgrade lost the data or the program"
[[ $(winrun "$CLI" --version | tr -d '\r') == "madoguchi $expected" ]] || fail "after upgrade"
cmp "$PROVISIONING" "$C/ProgramData/Madoguchi/provisioning.json" ||
  fail "provisioning.json not installed to %ProgramData%\\Madoguchi"
if winrun msiexec /i "$(winpath "$WORK/madoguchi.msi")" /qn; then
  fail "the older MSI installed over the newer one"
fi

# After the upgrade: wine's RemoveExistingProducts does not set UPGRADINGPRODUCTCODE for the
# old product's removal, so there the check would stop an upgrade that Windows lets through
# (checklist item); the outbox is empty during the upgrade here.
step "offline: the login's events stay unsent, and outbox-status.json says so"
rc=0
sync_pc "$WORK/offline.out" || rc=$?
[[ $rc == 5 ]] || fail "offline sync exited with $rc"
[[ $(unsent) -ge 1 ]] || fail "no unsent event counted: $(cat "$TERMINAL/outbox-status.json")"
echo "unsent: $(unsent)"

step "uninstall while an event is unsent: refused (quiet), then FORCE=1 proceeds, data kept"
if winrun msiexec /x "$(winpath "$WORK/newer.msi")" /qn /l*v "$(winpath "$WORK/uninstall-refused.log")"; then
  fail "msiexec /x went on with unsent events"
fi
wineserver -w
[[ -f $APP/madoguchi-cli.exe ]] || fail "the refused uninstall removed the program"
grep -q "no user interface: uninstall refused" "$TERMINAL/uninstall-check.log" ||
  fail "no reason logged: $(cat "$TERMINAL/uninstall-check.log" 2>&1)"
iconv -f utf-16 -t utf-8 "$WORK/uninstall-refused.log" 2>/dev/null | grep -a "CheckOutbox" | tail -3 || true
winrun msiexec /x "$(winpath "$WORK/newer.msi")" /qn FORCE=1 || fail "msiexec /x FORCE=1"
wineserver -w
[[ ! -f $APP/madoguchi-cli.exe ]] || fail "program still installed after msiexec /x FORCE=1"
grep -q "FORCE=1: uninstall goes on" "$TERMINAL/uninstall-check.log" || fail "FORCE not logged"
[[ -f $TERMINAL/cache.db && -f $C/smoke/demo/terminal/cache.db ]] || fail "uninstall removed the data"
[[ -f $C/ProgramData/Madoguchi/provisioning.json ]] || fail "uninstall removed provisioning.json"

step "reinstalled, synced: nothing unsent, the uninstall goes on and keeps the data"
winrun msiexec /i "$(winpath "$WORK/newer.msi")" /qn || fail "msiexec /i after FORCE=1"
wineserver -w
start_server
sync_pc "$WORK/resync.out" || fail "sync after the reinstall exited with $?"
[[ $(unsent) == 0 ]] || fail "still unsent after the sync: $(cat "$TERMINAL/outbox-status.json")"
stop_server
winrun msiexec /x "$(winpath "$WORK/newer.msi")" /qn || fail "msiexec /x with nothing unsent"
wineserver -w
[[ ! -f $APP/madoguchi-cli.exe ]] || fail "program still installed after msiexec /x"
[[ -f $TERMINAL/cache.db && -f $C/smoke/demo/terminal/cache.db ]] || fail "uninstall removed the data"
[[ -f $C/ProgramData/Madoguchi/provisioning.json ]] || fail "uninstall removed provisioning.json"

step "passed"
