#!/usr/bin/env bash
# Builds the helm CLI used by the chart tests from the Go module proxy into $1 (default
# $CAI_CACHE/helm, CAI_CACHE defaulting to ~/.cache/cai-operator). `go install module@version` builds
# with helm's own go.mod/go.sum, checked against the Go checksum database, so the pin below is the
# whole supply chain. A cached binary is reused only when it reports the pinned version.
set -euo pipefail
HELM_VERSION=v3.22.0
out=${1:-${CAI_CACHE:-$HOME/.cache/cai-operator}/helm}
# Kubernetes version helm assumes offline (helm template/lint): client-go v0.MINOR -> 1.MINOR, as helm's Makefile stamps it.
K8S_MINOR=37
# The recipe (this script) is recorded next to the binary: a changed recipe rebuilds.
recipe=$(sha256sum "$0" | cut -c1-16)
mkdir -p "$out"
if [ -x "$out/helm" ] && [ "$("$out/helm" version --template '{{.Version}}' 2>/dev/null)" = "$HELM_VERSION" ] \
   && [ "$(cat "$out/helm.recipe" 2>/dev/null)" = "$recipe" ]; then
  echo "helm: $HELM_VERSION cached in $out"; exit 0
fi
command -v go >/dev/null || { echo "helm: Go >= 1.25 is required to build helm $HELM_VERSION (apt-get install golang-go, or https://go.dev/dl)" >&2; exit 1; }
gobin=$(mktemp -d); trap 'rm -rf "$gobin"' EXIT
echo "helm: building helm $HELM_VERSION"
# Version stamping as helm's Makefile does, so `helm version` reports the pin. GOFLAGS is cleared: a
# caller's -mod=... would make `go install module@version` fail.
GOFLAGS= CGO_ENABLED=0 GOBIN="$gobin" nice -n 10 go install -trimpath \
  -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION -X helm.sh/helm/v3/internal/version.metadata= \
    -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$K8S_MINOR \
    -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$K8S_MINOR" \
  "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
mv "$gobin/helm" "$out/helm"
reported=$("$out/helm" version --template '{{.Version}}')
[ "$reported" = "$HELM_VERSION" ] || { echo "helm: built binary reports $reported, expected $HELM_VERSION" >&2; exit 1; }
echo "$recipe" > "$out/helm.recipe"
echo "helm: $HELM_VERSION in $out"
