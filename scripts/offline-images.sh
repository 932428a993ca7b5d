#!/usr/bin/env bash
# offline-images.sh - make the two public base images Parley's Docker build
# needs, for a machine that reaches no image registry.
#
# Usage: scripts/offline-images.sh [--postgres]    (or: make offline-images)
#
# The service Dockerfiles build FROM golang:1.26-bookworm and the compose
# scale profile runs nats:2.10-alpine. When those images cannot be pulled,
# this script makes stand-ins under the same names from this machine's Go
# toolchain and Go module cache (deploy/standin): a Go builder image with the
# services' modules and a warmed build cache, and nats-server in a scratch
# image. A real image already present under either name is used as it is; a
# stand-in is rebuilt only when its inputs change (go.mod/go.sum, Go version).
# Then: docker-compose up --build   (or: docker compose up --build)
#
# --postgres also makes postgres:16-alpine, the image of k8s/postgres, from
# this machine's PostgreSQL packages (apt-get install postgresql; its major
# version, not 16) with an entrypoint that initialises the data directory as
# the official image does. On K3s, import it with
# docker save postgres:16-alpine | sudo k3s ctr images import -
#
# Needs: Go (the version in go.work), Docker, and the services' Go modules in
# the module cache (any earlier `go build`/`go test` here fetched them) or a
# reachable Go proxy.
set -euo pipefail

die() { echo "offline-images: error: $*" >&2; exit 1; }

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

args=()
for arg in "$@"; do
  case $arg in
    -h | --help) sed -n '2,26s/^# \{0,1\}//p' "$0"; exit 0 ;;
    --postgres) args+=(-postgres) ;;
    *) die "unknown argument '$arg' (see --help)" ;;
  esac
done

missing=()
command -v go >/dev/null 2>&1 || missing+=("go: install Go (https://go.dev/dl/) or add it to PATH (e.g. /usr/local/go/bin)")
command -v docker >/dev/null 2>&1 || missing+=("docker: install Docker (https://docs.docker.com/engine/install/)")
if ((${#missing[@]})); then
  echo "offline-images: error: missing prerequisites:" >&2
  printf '  - %s\n' "${missing[@]}" >&2
  exit 1
fi
docker info >/dev/null 2>&1 \
  || die "cannot talk to the Docker daemon: is it running, and may this user use it (docker group)?"

cd "$ROOT/deploy"
exec go run ./cmd/offline-images -root "$ROOT" ${args[@]+"${args[@]}"}
