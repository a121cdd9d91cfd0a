#!/usr/bin/env bash
# The whole test suite, as CI runs it: `npm ci && npm test`. System packages
# come first: unit tests run promtool, lua5.4 and chromium too.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

step "system packages"; bash hack/setup.sh
step "lint (ESLint, and actionlint over .github/workflows)"; npm run --silent lint
step "types";           npm run --silent typecheck
step "generated CRDs, config/ and docs/reference.md"; npm run --silent check:generated
step "unit tests";      npm run --silent test:unit
step "integration tests (real kube-apiserver + etcd)"; npm run --silent test:integration
step "node tests (real kubelet, containerd, the project's image)"; npm run --silent test:node
step "Helm end to end (helm install of charts/fleetwright, the operator in pods)"; npm run --silent test:e2e-helm
