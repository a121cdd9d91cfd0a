#!/usr/bin/env bash
# Fleetwright on a kind cluster, for people with Docker: creates the cluster,
# builds the image from the Dockerfile (on Playwright's published image),
# loads it into the cluster's nodes and installs the chart with it.
#
#   hack/kind.sh                 # cluster "fleetwright"; again: rebuilds and upgrades
#   KIND_CLUSTER=dev hack/kind.sh
#
# Needs docker, kind, kubectl and helm on PATH. Remove it all with
#   kind delete cluster --name fleetwright
set -euo pipefail
cd "$(dirname "$0")/.."

cluster="${KIND_CLUSTER:-fleetwright}"
namespace="${NAMESPACE:-fleetwright-system}"
repository="localhost/fleetwright/fleetwright"
# A tag per build, so that pods pick up a rebuilt image (kind nodes never pull it).
tag="dev-$(date +%Y%m%d%H%M%S)"

for tool in docker kind kubectl helm; do
  command -v "$tool" >/dev/null || { echo "hack/kind.sh needs $tool on PATH" >&2; exit 1; }
done

if ! kind get clusters | grep -qx "$cluster"; then
  kind create cluster --name "$cluster" --wait 120s
fi
kubectl config use-context "kind-$cluster" >/dev/null

docker build -t "$repository:$tag" .
kind load docker-image --name "$cluster" "$repository:$tag"

# Helm installs crds/ only on first install; apply them so an upgrade gets new fields too.
kubectl apply --server-side -f charts/fleetwright/crds/
# Fleetwright's pods meet the restricted Pod Security Standard: have the namespace enforce it.
kubectl create namespace "$namespace" --dry-run=client -o yaml | kubectl apply -f - >/dev/null
kubectl label namespace "$namespace" pod-security.kubernetes.io/enforce=restricted --overwrite >/dev/null
helm upgrade --install fleetwright charts/fleetwright --namespace "$namespace" \
  --set image.repository="$repository" --set image.tag="$tag" --set image.pullPolicy=Never \
  --wait --timeout 5m

echo
echo "Fleetwright runs in kind cluster $cluster. Try it:"
echo "  kubectl apply -f config/samples/browserpool.yaml && kubectl get bp -w"
echo "  kubectl -n $namespace port-forward service/fleetwright-gateway 8080:80   # Tunnels at ws://localhost:8080"
