#!/usr/bin/env bash
# Builds the controller-runtime reference operator (main.go here) that npm run bench:reconcile runs next
# to the TypeScript runtime, into $CAI_CACHE/cr-reference/<controller-runtime version>/cr-reference
# (CAI_CACHE defaults to ~/.cache/cai-operator). Modules come from the Go module proxy, pinned by go.mod
# and checked against go.sum. A cached binary is reused only when it reports the pinned version and the
# digest of the sources it was built from (a changed main.go/go.mod rebuilds). Prints the binary's path
# on the last line of stdout.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
CR_VERSION=$(awk '$1 == "sigs.k8s.io/controller-runtime" { print $2 }' "$here/go.mod")
recipe=$(cat "$here/main.go" "$here/go.mod" "$here/go.sum" "$0" | sha256sum | cut -c1-16)
want="$CR_VERSION+$recipe"
out=${CAI_CACHE:-$HOME/.cache/cai-operator}/cr-reference/$CR_VERSION
bin=$out/cr-reference
if [ -x "$bin" ] && [ "$("$bin" -version 2>/dev/null)" = "$want" ]; then
  echo "cr-reference: controller-runtime $CR_VERSION cached in $out" >&2; echo "$bin"; exit 0
fi
command -v go >/dev/null || { echo "cr-reference: Go >= 1.26 is required to build the controller-runtime $CR_VERSION reference (apt-get install golang-go, or https://go.dev/dl)" >&2; exit 1; }
mkdir -p "$out"
echo "cr-reference: building against controller-runtime $CR_VERSION" >&2
(cd "$here" && GOFLAGS=-mod=readonly CGO_ENABLED=0 nice -n 10 go build -trimpath -ldflags "-s -w -X main.Version=$want" -o "$bin.tmp" .) >&2
mv "$bin.tmp" "$bin"
[ "$("$bin" -version)" = "$want" ] || { echo "cr-reference: built binary does not report $want" >&2; exit 1; }
echo "cr-reference: $want in $out" >&2
echo "$bin"
