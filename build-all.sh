#!/usr/bin/env bash
# build-all.sh - build the five Parley images from the repository root.
#
# Usage: ./build-all.sh [-t TAG] [-r REGISTRY] [-p] [-L] [service...]
#   -t TAG        image tag (default: $TAG, else the short git commit, else "dev")
#   -r REGISTRY   prefix the images with REGISTRY/ (e.g. registry.example.com:5000)
#   -p            push the images after building (needs -r or $REGISTRY)
#   -L            do not also tag the images :latest
#   service...    build only these (default: all five)
#
# Environment: TAG, REGISTRY, GO_IMAGE (Go builder image, passed to every
# Dockerfile as a build arg), VERSION (stamped into the binaries; default TAG),
# DOCKER (the docker command, default "docker").
#
# Images are named [REGISTRY/]parley/<service>:TAG and also tagged :latest (the
# tag docker-compose.yml and k8s/ use by default) unless -L is given.
set -euo pipefail

SERVICES=(auth-service user-service chat-service api-gateway frontend)

die() { echo "build-all: error: $*" >&2; exit 1; }
log() { echo "build-all: $*" >&2; }

usage() { sed -n '2,17s/^# \{0,1\}//p' "$0"; }

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TAG=${TAG:-}
REGISTRY=${REGISTRY:-}
PUSH=0
LATEST=1
DOCKER=${DOCKER:-docker}

while getopts ":t:r:pLh" opt; do
  case $opt in
    t) TAG=$OPTARG ;;
    r) REGISTRY=$OPTARG ;;
    p) PUSH=1 ;;
    L) LATEST=0 ;;
    h) usage; exit 0 ;;
    :) die "option -$OPTARG needs a value (see -h)" ;;
    *) die "unknown option -$OPTARG (see -h)" ;;
  esac
done
shift $((OPTIND - 1))

if [[ -z $TAG ]]; then
  TAG=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || true)
  TAG=${TAG:-dev}
fi
[[ $TAG =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]] || die "invalid tag '$TAG'"
VERSION=${VERSION:-$TAG}
REGISTRY=${REGISTRY%/}
PREFIX=${REGISTRY:+$REGISTRY/}parley

if (($# > 0)); then
  for s in "$@"; do
    [[ " ${SERVICES[*]} " == *" $s "* ]] || die "unknown service '$s' (one of: ${SERVICES[*]})"
  done
  SERVICES=("$@")
fi

command -v "$DOCKER" >/dev/null 2>&1 \
  || die "'$DOCKER' not found: install Docker (https://docs.docker.com/engine/install/) or set DOCKER"
"$DOCKER" info >/dev/null 2>&1 \
  || die "cannot talk to the Docker daemon: is it running, and may this user use it (docker group)?"
((PUSH == 0)) || [[ -n $REGISTRY ]] || die "-p needs a registry (-r or \$REGISTRY)"

build_args=(--build-arg "VERSION=$VERSION")
[[ -z ${GO_IMAGE:-} ]] || build_args+=(--build-arg "GO_IMAGE=$GO_IMAGE")

start=$SECONDS
for s in "${SERVICES[@]}"; do
  [[ -f $ROOT/$s/Dockerfile ]] || die "$s/Dockerfile is missing"
  t0=$SECONDS
  log "building $PREFIX/$s:$TAG"
  tags=(-t "$PREFIX/$s:$TAG")
  ((LATEST == 0)) || tags+=(-t "$PREFIX/$s:latest")
  "$DOCKER" build --force-rm "${build_args[@]}" -f "$ROOT/$s/Dockerfile" "${tags[@]}" "$ROOT" \
    || die "building $s failed"
  log "built $PREFIX/$s:$TAG in $((SECONDS - t0))s"
done

if ((PUSH)); then
  for s in "${SERVICES[@]}"; do
    log "pushing $PREFIX/$s:$TAG"
    "$DOCKER" push "$PREFIX/$s:$TAG" || die "pushing $PREFIX/$s:$TAG failed (logged in? docker login $REGISTRY)"
  done
fi

log "done in $((SECONDS - start))s:"
for s in "${SERVICES[@]}"; do
  size=$("$DOCKER" image inspect -f '{{.Size}}' "$PREFIX/$s:$TAG")
  awk -v n="$PREFIX/$s:$TAG" -v b="$size" 'BEGIN { printf "  %-50s %6.1f MB\n", n, b / 1000000 }' >&2
done
