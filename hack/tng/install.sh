#!/usr/bin/env bash
# Installs the real TNG binary (the RATS-TLS gateway) from the PyPI wheel tng-sdk, which ships the complete
# release binary; TNG cannot be built from source here (its forked git dependencies are unreachable).
# Pinned by version and wheel SHA-256; cached in $CAI_CACHE/tng/<version>/tng; reused only if it reports the
# pinned version. Prints the binary's path.
set -euo pipefail
VERSION=2.12.0
# sha256 of tng_sdk-2.12.0-py3-none-manylinux_2_17_x86_64.whl as served by PyPI.
WHEEL_SHA256_X86_64=dc75b43e3e2a4b83908be3eea46a79083ce756fda678eca601da5952308859ae
cache=${CAI_CACHE:-$HOME/.cache/cai-operator}/tng/$VERSION
bin=$cache/tng
if [ -x "$bin" ] && "$bin" --version 2>/dev/null | head -1 | grep -qx "tng $VERSION"; then echo "$bin"; exit 0; fi
[ "$(uname -m)" = x86_64 ] || { echo "tng: only the x86_64 wheel is pinned here (got $(uname -m))" >&2; exit 1; }
command -v python3 >/dev/null || { echo "tng: python3 (with pip) is required to download the tng-sdk wheel" >&2; exit 1; }
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
python3 -m pip download --quiet --no-deps --only-binary=:all: --platform manylinux_2_17_x86_64 \
  --python-version 3.11 "tng-sdk==$VERSION" -d "$work" >&2
wheel=$(ls "$work"/tng_sdk-"$VERSION"-*.whl)
echo "$WHEEL_SHA256_X86_64  $wheel" | sha256sum -c --quiet - >&2 || { echo "tng: wheel digest mismatch" >&2; exit 1; }
mkdir -p "$cache"
python3 - "$wheel" "$bin.tmp" <<'PY'
import sys, zipfile, shutil
with zipfile.ZipFile(sys.argv[1]) as z, z.open(f"tng_sdk-{sys.argv[1].split('tng_sdk-')[1].split('-')[0]}.data/data/bin/tng") as src, open(sys.argv[2], "wb") as dst:
    shutil.copyfileobj(src, dst)
PY
chmod 0755 "$bin.tmp" && mv "$bin.tmp" "$bin"
"$bin" --version | head -1 | grep -qx "tng $VERSION" || { echo "tng: installed binary does not report $VERSION" >&2; exit 1; }
echo "$bin"
