#!/usr/bin/env bash
# Builds promtool and prometheus from the Go module proxy into $1 (default $CAI_CACHE/prometheus), pinned by
# the wrapper go.mod beside this script. A binary already present is reused when it reports the pinned version.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-${CAI_CACHE:-$HOME/.cache/cai-operator}/prometheus}
MOD_VERSION=$(awk '$1 == "require" && $2 == "github.com/prometheus/prometheus" { print $3 }' "$here/go.mod")
# v0.316.0 -> 3.16.0
VERSION=$(echo "$MOD_VERSION" | sed -E 's/^v0\.3([0-9]{2})\.([0-9]+)$/3.\1.\2/; s/^3\.0([0-9])/3.\1/')
mkdir -p "$out"
version_ok() { [ -x "$out/$1" ] && "$out/$1" --version 2>/dev/null | head -1 | grep -q "version $VERSION "; }
need=()
for bin in promtool prometheus; do version_ok "$bin" || need+=("$bin"); done
[ ${#need[@]} -eq 0 ] && { echo "prometheus: promtool and prometheus $VERSION cached in $out"; exit 0; }
command -v go >/dev/null || { echo "prometheus: Go is required to build ${need[*]}" >&2; exit 1; }
export CGO_ENABLED=0 GOFLAGS=-mod=mod
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
cp "$here/go.mod" "$work/go.mod"; [ -f "$here/go.sum" ] && cp "$here/go.sum" "$work/go.sum"
ld="-s -w -X github.com/prometheus/common/version.Version=$VERSION -X github.com/prometheus/common/version.Revision=$MOD_VERSION -X github.com/prometheus/common/version.Branch=module-proxy"
for bin in "${need[@]}"; do
  echo "prometheus: building $bin $VERSION"
  (cd "$work" && nice -n 10 go build -trimpath -ldflags "$ld" -o "$out/$bin.tmp" "github.com/prometheus/prometheus/cmd/$bin")
  mv "$out/$bin.tmp" "$out/$bin"
  version_ok "$bin" || { echo "prometheus: built $bin does not report version $VERSION" >&2; "$out/$bin" --version >&2; exit 1; }
done
echo "prometheus: promtool and prometheus $VERSION in $out"
