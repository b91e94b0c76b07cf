#!/usr/bin/env bash
# Create throughput through a Raft cluster of MEMBERS local members (3 processes on 127.0.0.1),
# with the same wrk load as create-throughput.sh, aimed at the leader or at a follower.
#
# Usage: examples/bench/cluster-create-throughput.sh [MEMBERS=3] [CONNECTIONS=32] [SECONDS=10] [leader|follower]
# Needs: wrk. Uses $MOCK_K8_BIN if set, else builds the release binary. MEMBERS=1 gives the
# single-member figure with the same harness. Every member runs with `--api-only` (the API server
# and its Raft store alone) on its own fresh data directory; all are stopped at the end.
set -euo pipefail
members=${1:-3}
conns=${2:-32}
secs=${3:-10}
target=${4:-leader}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 2; }
if [ -z "${MOCK_K8_BIN:-}" ]; then
    cargo build --release --locked --manifest-path "$repo/Cargo.toml" --bin mock_k8 >&2
    MOCK_K8_BIN=${CARGO_TARGET_DIR:-$repo/target}/release/mock_k8
fi
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
ready() { for _ in $(seq 200); do curl -fs "http://127.0.0.1:$1/readyz" >/dev/null && return 0; sleep 0.1; done; echo "member on $1 not ready" >&2; exit 1; }
ports=()
token="bench-token-$(date +%s%N)"
for i in $(seq "$members"); do
    port=$(free_port); ports+=("$port")
    join=()
    [ "$i" -gt 1 ] && join=(--join "http://127.0.0.1:${ports[0]}")
    RUST_LOG=warn "$MOCK_K8_BIN" run --api-only --data-dir "$work/m$i" --api-addr "127.0.0.1:$port" \
        --token "$token" "${join[@]}" >"$work/m$i.log" 2>&1 &
    pids+=($!)
    ready "$port"
done
if [ "$members" -gt 1 ]; then
    for _ in $(seq 300); do
        voters=$(curl -fs -H "Authorization: Bearer $token" "http://127.0.0.1:${ports[0]}/cluster/members" | grep -o '"Voter"' | wc -l)
        [ "$voters" -eq "$members" ] && break; sleep 0.1
    done
fi
port=${ports[0]}
[ "$target" = follower ] && [ "$members" -gt 1 ] && port=${ports[1]}
echo "mock_k8 $(git -C "$repo" rev-parse --short HEAD), $(nproc) cores, $members member(s), writes to the $target, $conns connections, ${secs}s"
wrk -t2 -c"$conns" -d"${secs}s" -s "$here/create_pods.lua" "http://127.0.0.1:$port/api/v1/namespaces/default/pods" | tail -1
for p in "${ports[@]}"; do
    echo "pods on member :$p: $(curl -fs "http://127.0.0.1:$p/api/v1/namespaces/default/pods" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["items"]))')"
done
