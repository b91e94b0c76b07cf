#!/usr/bin/env bash
# Create throughput through a Raft cluster of MEMBERS local members (3 processes on 127.0.0.1),
# with a wrk load of Pod creates (its Lua script is written below), aimed at the leader or at a follower.
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
# The wrk script: POST a small Pod with generateName (every request creates a new object); the
# summary line counts non-201 answers, so the figure never hides errors.
cat >"$work/create_pods.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"apiVersion":"v1","kind":"Pod","metadata":{"generateName":"bench-","labels":{"app":"bench"}},' ..
  '"spec":{"containers":[{"name":"app","image":"registry.k8s.io/pause:3.9",' ..
  '"resources":{"requests":{"cpu":"100m","memory":"64Mi"}}}]}}'
local failures = 0
function response(status, headers, body)
  if status ~= 201 then
    failures = failures + 1
    if failures <= 3 then io.stderr:write("unexpected status " .. status .. ": " .. body .. "\n") end
  end
end
function done(summary, latency, requests)
  io.write(string.format("creates/s: %.0f  p50: %.2f ms  p99: %.2f ms  non-2xx: %d  errors: %d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, summary.errors.status, summary.errors.connect + summary.errors.read +
    summary.errors.write + summary.errors.timeout))
end
LUA
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
wrk -t2 -c"$conns" -d"${secs}s" -s "$work/create_pods.lua" "http://127.0.0.1:$port/api/v1/namespaces/default/pods" | tail -1
for p in "${ports[@]}"; do
    echo "pods on member :$p: $(curl -fs "http://127.0.0.1:$p/api/v1/namespaces/default/pods" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["items"]))')"
done
