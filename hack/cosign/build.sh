#!/usr/bin/env bash
# Builds the cosign CLI (github.com/sigstore/cosign/v3, version pinned in the wrapper go.mod next to
# this script) from the Go module proxy into $1 (default: ~/.cache/cai-operator/cosign). A binary
# already there is reused only when `cosign version` reports the pinned version; otherwise it is rebuilt.
# The reference-value test that runs the real cosign (operator/test/integration/cosign-v3.test.ts)
# finds it through COSIGN_BIN or this directory.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-${COSIGN_DIR:-$HOME/.cache/cai-operator/cosign}}
VERSION=$(awk '$1 == "github.com/sigstore/cosign/v3" { print $2 }' "$here/go.mod")
[ -n "$VERSION" ] || { echo "cosign: no pinned version in $here/go.mod" >&2; exit 1; }

version_ok() {
  [ -x "$out/cosign" ] || return 1
  [ "$("$out/cosign" version --json 2>/dev/null | sed -n 's/.*"gitVersion": *"\([^"]*\)".*/\1/p')" = "$VERSION" ]
}
if version_ok; then echo "cosign: $VERSION cached in $out"; exit 0; fi

command -v go >/dev/null || { echo "cosign: Go >= 1.26 is required to build cosign $VERSION (https://go.dev/dl)" >&2; exit 1; }
mkdir -p "$out"
export CGO_ENABLED=0 GOFLAGS=-mod=mod
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
cp "$here/go.mod" "$here/go.sum" "$work/"
echo "cosign: building $VERSION (heavy: several minutes on 2 cores)"
# Version stamping as cosign's own Makefile does (sigs.k8s.io/release-utils), so `cosign version` is right.
ldflags="-s -w -X sigs.k8s.io/release-utils/version.gitVersion=$VERSION"
(cd "$work" && nice -n 10 go build -trimpath -ldflags "$ldflags" -o "$out/cosign.tmp" github.com/sigstore/cosign/v3/cmd/cosign)
mv "$out/cosign.tmp" "$out/cosign"
version_ok || { echo "cosign: built binary does not report $VERSION" >&2; exit 1; }
echo "cosign: $VERSION in $out"
