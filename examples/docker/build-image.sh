#!/usr/bin/env bash
# Builds the mock_k8 image locally, with no registry: a statically linked binary in a `FROM scratch` image.
# The image runs as the Dockerfile's does (`run` by default, MOCK_K8_API_ADDR=0.0.0.0:8080,
# MOCK_K8_DATA_DIR=/app/data), and the same image runs a node agent (`mock_k8 agent ...`).
#
#   examples/docker/build-image.sh            # builds and tags mock-k8:latest
#   examples/docker/build-image.sh my:tag     # another tag
#
# Environment: CARGO_TARGET_DIR (default ./target), MOCK_K8_IMAGE_PROFILE (cargo profile, default release).
# The explicit --target keeps the static RUSTFLAGS from invalidating the normal (test) build cache.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

tag="${1:-mock-k8:latest}"
profile="${MOCK_K8_IMAGE_PROFILE:-release}"
target_dir="${CARGO_TARGET_DIR:-target}"
triple="x86_64-unknown-linux-gnu"
# cargo names the output directory of the `dev` profile "debug".
out_dir="$profile"
[ "$profile" = "dev" ] && out_dir="debug"

RUSTFLAGS="-C target-feature=+crt-static" \
    cargo build --locked --profile "$profile" --target "$triple" --bin mock_k8

ctx="$(mktemp -d)"
trap 'rm -rf "$ctx"' EXIT
cp "$target_dir/$triple/$out_dir/mock_k8" "$ctx/mock_k8"
mkdir -p "$ctx/rootfs/app/data" "$ctx/rootfs/tmp"
cat >"$ctx/Dockerfile" <<'DOCKERFILE'
FROM scratch
COPY rootfs/ /
COPY mock_k8 /usr/local/bin/mock_k8
WORKDIR /app
ENV MOCK_K8_API_ADDR=0.0.0.0:8080 MOCK_K8_DATA_DIR=/app/data
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/mock_k8"]
CMD ["run"]
DOCKERFILE
docker build -q -t "$tag" "$ctx"
echo "built $tag"
