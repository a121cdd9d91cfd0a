#!/usr/bin/env bash
# Installs the system packages the project needs; instant when they are present.
# Needs Debian (apt-get) and root, as the control plane and node do.
set -euo pipefail

packages=(
  openssl unzip prometheus
  # Argo CD health checks (charts/fleetwright/files/argocd/*.lua) are tested with a Lua interpreter
  lua5.4
  # the real node: container runtime, CNI plugins, iptables for the kubelet's chains
  containerd runc containernetworking-plugins iptables
  # images built here: podman, and debootstrap for the local Debian base
  podman debootstrap
  # the browser for agents and tests run on the host (Playwright drives /usr/bin/chromium)
  chromium
  # bench:gateway's yardstick: a private nginx in front of a browser (the packaged service is not used)
  nginx
  # the host's git server for git-sourced TestRuns (hack/lib/gitserver.ts runs its git http-backend)
  git
  # its ssh side: sshd with git-shell, and ssh-keygen for its keys (the packaged service is not used)
  openssh-server openssh-client
  # the local OCI registry the nodes pull releases from (hack/lib/registry.ts runs it with its own config
  # on the bridge; the packaged service, on :5000, is not used)
  docker-registry
  # Tunnel session videos: ffprobe checks the webm files the agents record
  ffmpeg
  # actionlint (npm run lint) checks the release workflow's run: scripts with it
  shellcheck
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  # Wait for the dpkg lock rather than fail when another apt run holds it.
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}"
fi

if ! command -v go >/dev/null; then
  echo "setup: Go is not on PATH. Install Go 1.25 or newer (it builds the control plane from its modules)," >&2
  echo "       or set KUBEBUILDER_ASSETS to a folder holding kube-apiserver, etcd and kube-controller-manager." >&2
  [ -n "${KUBEBUILDER_ASSETS:-}" ] || exit 1
fi
