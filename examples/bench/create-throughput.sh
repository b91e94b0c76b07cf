#!/usr/bin/env bash
# Create throughput over HTTP: durable (fsync'd) Pod creates per second with C concurrent clients.
#
# Usage: examples/bench/create-throughput.sh [CONNECTIONS=32] [SECONDS=10]
# Needs: wrk (Debian package `wrk`). Builds the release binary, starts it on a fresh data directory
# on a free port, runs wrk with 2 threads and CONNECTIONS connections, prints the result line and the
# number of pods the server holds afterwards, then stops the server. The server runs with
# $MOCK_K8_BENCH_FLAGS (default `--api-only`: the API server and its Raft store alone, no scheduler
# or node agents competing for the same cores).
set -euo pipefail
conns=${1:-32}
secs=${2:-10}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 2; }
cargo build --release --locked --manifest-path "$repo/Cargo.toml" --bin mock_k8 >&2
bin=${CARGO_TARGET_DIR:-$repo/target}/release/mock_k8
data=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# shellcheck disable=SC2086 # the flags are a list
RUST_LOG=warn "$bin" run ${MOCK_K8_BENCH_FLAGS---api-only} --data-dir "$data" --api-addr "127.0.0.1:$port" >"$data/server.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$data"' EXIT
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
echo "mock_k8 $(git -C "$repo" rev-parse --short HEAD), $(nproc) cores, $conns connections, ${secs}s"
wrk -t2 -c"$conns" -d"${secs}s" -s "$here/create_pods.lua" "http://127.0.0.1:$port/api/v1/namespaces/default/pods" | tail -1
echo "pods stored: $(curl -fs "http://127.0.0.1:$port/api/v1/namespaces/default/pods" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["items"]))')"
