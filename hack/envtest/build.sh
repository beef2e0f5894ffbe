#!/usr/bin/env bash
# Builds the envtest control-plane binaries (kube-apiserver, kubectl, etcd) from the Go module proxy
# into $1 (default: $ENVTEST_DIR). Binaries already present are reused. Honours KUBEBUILDER_ASSETS:
# when it names a directory that already has all three binaries, nothing is built.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-${ENVTEST_DIR:?output directory required}}
K8S_VERSION=v1.35.4
if [ -n "${KUBEBUILDER_ASSETS:-}" ] && [ -x "$KUBEBUILDER_ASSETS/kube-apiserver" ] && [ -x "$KUBEBUILDER_ASSETS/etcd" ]; then
  echo "envtest: using KUBEBUILDER_ASSETS=$KUBEBUILDER_ASSETS"; exit 0
fi
mkdir -p "$out"
command -v go >/dev/null || { echo "envtest: Go is required to build kube-apiserver and etcd (apt-get install golang, or Go >= 1.25)" >&2; exit 1; }
export CGO_ENABLED=0 GOFLAGS=-mod=mod
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
build() { # module-dir package output ldflags
  local mod=$1 pkg=$2 bin=$3 ldflags=$4
  if [ -x "$out/$bin" ]; then echo "envtest: $bin cached in $out"; return; fi
  mkdir -p "$work/$mod" && cp "$here/$mod/go.mod" "$work/$mod/go.mod"
  [ -f "$here/$mod/go.sum" ] && cp "$here/$mod/go.sum" "$work/$mod/go.sum"
  echo "envtest: building $bin ($pkg)"
  (cd "$work/$mod" && go build -trimpath -tags selinux,notest,grpcnotrace -ldflags "$ldflags" -o "$out/$bin.tmp" "$pkg")
  mv "$out/$bin.tmp" "$out/$bin"
}
kv="-s -w -X k8s.io/component-base/version.gitVersion=$K8S_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=35 -X k8s.io/client-go/pkg/version.gitVersion=$K8S_VERSION -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=35"
build etcd go.etcd.io/etcd/server/v3 etcd "-s -w"
build kube k8s.io/kubernetes/cmd/kube-apiserver kube-apiserver "$kv"
build kube k8s.io/kubernetes/cmd/kubectl kubectl "$kv"
echo "envtest: binaries in $out"
