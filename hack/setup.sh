#!/usr/bin/env bash
# Installs the system packages the project needs; instant when they are present.
# Needs Debian (apt-get) and root, as the control plane and node do.
set -euo pipefail

packages=(openssl unzip)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if ! command -v go >/dev/null; then
  echo "setup: Go is not on PATH. Install Go 1.25 or newer (it builds the control plane from its modules)," >&2
  echo "       or set KUBEBUILDER_ASSETS to a folder holding kube-apiserver, etcd and kube-controller-manager." >&2
  [ -n "${KUBEBUILDER_ASSETS:-}" ] || exit 1
fi
