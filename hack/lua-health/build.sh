#!/usr/bin/env bash
# Builds the Argo CD health.lua test harness (gopher-lua, pinned in go.mod/go.sum next to this script)
# from the Go module proxy into $1 (default $CAI_CACHE/lua-health). A cached binary is reused only
# when it reports the hash of the sources it was built from.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-${CAI_CACHE:-$HOME/.cache/cai-operator}/lua-health}
hash=$(cat "$here/go.mod" "$here/go.sum" "$here/main.go" | sha256sum | cut -c1-16)
mkdir -p "$out"
if [ -x "$out/lua-health" ] && [ "$("$out/lua-health" --version 2>/dev/null)" = "$hash" ]; then
  echo "lua-health: cached in $out"; exit 0
fi
command -v go >/dev/null || { echo "lua-health: Go >= 1.25 is required (apt-get install golang-go, or https://go.dev/dl)" >&2; exit 1; }
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
cp "$here/go.mod" "$here/go.sum" "$here/main.go" "$work/"
(cd "$work" && CGO_ENABLED=0 nice -n 10 go build -mod=readonly -trimpath -ldflags "-s -w -X main.sourceHash=$hash" -o "$out/lua-health.tmp" .)
mv "$out/lua-health.tmp" "$out/lua-health"
[ "$("$out/lua-health" --version)" = "$hash" ] || { echo "lua-health: built binary does not report $hash" >&2; exit 1; }
echo "lua-health: built in $out"
