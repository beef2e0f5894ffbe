#!/usr/bin/env bash
# Builds the envtest control-plane binaries (kube-apiserver, kubectl, etcd) from the Go module proxy
# into $1 (default: $ENVTEST_DIR), using the wrapper modules next to this script (k8s.io/kubernetes
# needs its staging modules pinned; etcd's server module has replace directives that `go install`
# refuses). A binary already present is reused when it reports the pinned version, rebuilt otherwise.
# Honours KUBEBUILDER_ASSETS: when it names a directory that already has the binaries, nothing is built.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-${ENVTEST_DIR:?output directory required}}
# The versions come from the wrapper go.mod files, so bumping a version is a go.mod change only.
K8S_VERSION=$(awk '$1 == "k8s.io/kubernetes" { print $2 }' "$here/kube/go.mod")
ETCD_VERSION=$(awk '$1 == "go.etcd.io/etcd/server/v3" { print $2 }' "$here/etcd/go.mod")
k8s_minor=$(echo "$K8S_VERSION" | cut -d. -f2)

# A KUBEBUILDER_ASSETS of the user's own (not our cache) is used as is, whatever versions it holds.
if [ -n "${KUBEBUILDER_ASSETS:-}" ] && [ "$KUBEBUILDER_ASSETS" != "${ENVTEST_DIR:-$out}" ] \
   && [ -x "$KUBEBUILDER_ASSETS/kube-apiserver" ] && [ -x "$KUBEBUILDER_ASSETS/etcd" ]; then
  echo "envtest: using KUBEBUILDER_ASSETS=$KUBEBUILDER_ASSETS"; exit 0
fi
mkdir -p "$out"

# version_ok <binary>: does the cached binary report the pinned version?
version_ok() {
  local bin=$1 reported
  [ -x "$out/$bin" ] || return 1
  case $bin in
    etcd) reported=$("$out/etcd" --version 2>/dev/null | awk '/^etcd Version:/ { print "v" $3 }') ;;
    kube-apiserver) reported=$("$out/kube-apiserver" --version 2>/dev/null | awk '{ print $2 }') ;;
    kubectl) reported=$("$out/kubectl" version --client 2>/dev/null | awk '/^Client Version:/ { print $3 }') ;;
  esac
  case $bin in etcd) [ "$reported" = "$ETCD_VERSION" ] ;; *) [ "$reported" = "$K8S_VERSION" ] ;; esac
}

need=()
for bin in etcd kube-apiserver kubectl; do
  if version_ok "$bin"; then echo "envtest: $bin cached in $out"; else need+=("$bin"); fi
done
[ ${#need[@]} -eq 0 ] && { echo "envtest: binaries in $out (Kubernetes $K8S_VERSION, etcd $ETCD_VERSION)"; exit 0; }

command -v go >/dev/null || { echo "envtest: Go >= 1.25 is required to build ${need[*]} (apt-get install golang-go, or https://go.dev/dl)" >&2; exit 1; }
export CGO_ENABLED=0 GOFLAGS=-mod=mod
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
build() { # module-dir package output ldflags
  local mod=$1 pkg=$2 bin=$3 ldflags=$4
  mkdir -p "$work/$mod" && cp "$here/$mod/go.mod" "$work/$mod/go.mod"
  [ -f "$here/$mod/go.sum" ] && cp "$here/$mod/go.sum" "$work/$mod/go.sum"
  echo "envtest: building $bin ($pkg)"
  (cd "$work/$mod" && go build -trimpath -tags selinux,notest,grpcnotrace -ldflags "$ldflags" -o "$out/$bin.tmp" "$pkg")
  mv "$out/$bin.tmp" "$out/$bin"
}
# Version stamping as upstream's hack/lib/version.sh does, so /version and the user agent are right.
kv="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  kv="$kv -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$k8s_minor"
done
for bin in "${need[@]}"; do
  case $bin in
    etcd) build etcd go.etcd.io/etcd/server/v3 etcd "-s -w" ;;
    kube-apiserver) build kube k8s.io/kubernetes/cmd/kube-apiserver kube-apiserver "$kv" ;;
    kubectl) build kube k8s.io/kubernetes/cmd/kubectl kubectl "$kv" ;;
  esac
  version_ok "$bin" || { echo "envtest: built $bin does not report the expected version" >&2; exit 1; }
done
echo "envtest: binaries in $out (Kubernetes $K8S_VERSION, etcd $ETCD_VERSION)"
