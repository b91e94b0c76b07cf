#!/usr/bin/env bash
# Deployment benchmark: time for a Deployment of REPLICAS pods to become fully available on NODES
# simulated nodes, then for a rolling update of it (an image change, default maxSurge and
# maxUnavailable of 25%), each measured as the wall time of `kubectl rollout status`.
#
# Usage (release build; a separate target directory keeps it from invalidating a debug build):
#   CARGO_TARGET_DIR=target-release cargo build --release --locked --bin mock_k8
#   examples/bench/deployment-rollout.sh [NODES] [REPLICAS] [BIN]
# Defaults: 100 nodes, 1000 replicas, target-release/release/mock_k8. Needs kubectl.
set -euo pipefail
NODES=${1:-100}
REPLICAS=${2:-1000}
BIN=${3:-target-release/release/mock_k8}
PORT=${PORT:-18980}
DATA=$(mktemp -d)
LOG="$DATA/server.log"
"$BIN" run --data-dir "$DATA/data" --api-addr "127.0.0.1:$PORT" --simulated-nodes "$NODES" \
    >"$LOG" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null; rm -rf "$DATA"' EXIT
K=(kubectl --server "http://127.0.0.1:$PORT")
for _ in $(seq 100); do
    ready=$("${K[@]}" get nodes --no-headers 2>/dev/null | grep -c ' Ready' || true)
    [ "$ready" -ge $((NODES + 1)) ] && break
    sleep 0.2
done
echo "nodes Ready: $("${K[@]}" get nodes --no-headers | grep -c ' Ready')"

now() { date +%s.%N; }
manifest() {
    cat <<YAML
apiVersion: apps/v1
kind: Deployment
metadata: {name: bench}
spec:
  replicas: $REPLICAS
  selector: {matchLabels: {app: bench}}
  template:
    metadata: {labels: {app: bench}}
    spec: {containers: [{name: app, image: "nginx:$1", resources: {requests: {cpu: 10m, memory: 16Mi}}}]}
YAML
}

t0=$(now)
manifest 1.27 | "${K[@]}" apply -f - >/dev/null
"${K[@]}" rollout status deployment/bench --timeout=600s >/dev/null
t1=$(now)
echo "create: $REPLICAS replicas available in $(echo "$t1 - $t0" | bc) s"
"${K[@]}" get deployment bench

t2=$(now)
manifest 1.28 | "${K[@]}" apply -f - >/dev/null
"${K[@]}" rollout status deployment/bench --timeout=600s >/dev/null
t3=$(now)
echo "rolling update: $REPLICAS replicas replaced in $(echo "$t3 - $t2" | bc) s"
"${K[@]}" get deployment bench
"${K[@]}" get rs
