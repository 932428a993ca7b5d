#!/usr/bin/env bash
# deploy-all.sh - build Parley, get the images onto the cluster, apply the
# manifests, wait for the rollouts and print the URLs.
#
# Usage: ./deploy-all.sh [options]
#   --hostnetwork     deploy k8s-hostnetwork/ (namespace parley-hostnet)
#                     instead of k8s/ (namespace parley)
#   --host HOST       the address browsers use to reach the node (default
#                     localhost); sets ALLOWED_ORIGINS and the browser config
#   --ingress         point the browser config at the Traefik Ingress
#                     (http://HOST/, ws://HOST/ws) instead of the NodePorts
#   --push            push the images to $REGISTRY instead of importing them
#                     into the local K3s (needed for multi-node clusters)
#   --local-cluster   target the development cluster of kube-local-cluster.sh
#                     ($KCLUSTER_SCRIPT, default ../shared/tools/ beside the
#                     repository) instead of K3s: start it if it is not
#                     running, load the images into it, use its kubeconfig
#   --tag TAG         image tag (default: git short commit, plus -dirty-<time>
#                     when the work tree has changes)
#   --no-build        do not build; the images [REGISTRY/]parley/*:TAG exist
#   --timeout SECS    how long to wait for each rollout (default 300)
#   -h, --help        this help
#
# Environment: REGISTRY (with --push), GO_IMAGE (passed to build-all.sh),
# KCLUSTER_SCRIPT (with --local-cluster),
# KUBECTL (default "kubectl", else "k3s kubectl"), DOCKER (default "docker").
# Importing into K3s runs `k3s ctr images import` and needs root (sudo is used
# when available).
set -euo pipefail

SERVICES=(auth-service user-service chat-service api-gateway frontend)
NATS_IMAGE=nats:2.10-alpine

die() { echo "deploy-all: error: $*" >&2; exit 1; }
log() { echo "deploy-all: $*" >&2; }
usage() { sed -n '2,28s/^# \{0,1\}//p' "$0"; }

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
HOSTNET=0 HOST="" INGRESS=0 PUSH=0 BUILD=1 TAG="" TIMEOUT=300 LOCAL=0
REGISTRY=${REGISTRY:-}
DOCKER=${DOCKER:-docker}

while (($# > 0)); do
  case $1 in
    --hostnetwork) HOSTNET=1 ;;
    --host) [[ $# -ge 2 ]] || die "--host needs a value"; HOST=$2; shift ;;
    --ingress) INGRESS=1 ;;
    --push) PUSH=1 ;;
    --local-cluster) LOCAL=1 ;;
    --tag) [[ $# -ge 2 ]] || die "--tag needs a value"; TAG=$2; shift ;;
    --no-build) BUILD=0 ;;
    --timeout) [[ $# -ge 2 ]] || die "--timeout needs a value"; TIMEOUT=$2; shift ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
  shift
done

[[ $TIMEOUT =~ ^[0-9]+$ ]] || die "--timeout must be a number of seconds"
host_re='^[][A-Za-z0-9.:-]+$'  # a name, an IPv4 address or a bracketed IPv6 address
[[ -z $HOST || $HOST =~ $host_re ]] || die "invalid --host '$HOST'"
((INGRESS == 0 || HOSTNET == 0)) || die "--ingress applies to k8s/ only (k8s-hostnetwork/ has no Ingress)"
((LOCAL == 0 || PUSH == 0)) || die "--local-cluster loads the images into the local cluster: drop --push"

if ((HOSTNET)); then
  DIR=k8s-hostnetwork NS=parley-hostnet
else
  DIR=k8s NS=parley
fi

# ---------------------------------------------------------------- prerequisites
missing=()
KC=""
if ((LOCAL)); then
  KC=${KCLUSTER_SCRIPT:-$ROOT/../shared/tools/kube-local-cluster.sh}
  [[ -f $KC ]] || missing+=("kube-local-cluster.sh (set KCLUSTER_SCRIPT to its path)")
  ((EUID == 0)) || missing+=("root: the local cluster runs containerd, the kubelet and iptables")
fi
if [[ -n ${KUBECTL:-} ]]; then
  read -r -a KCTL <<<"$KUBECTL"
elif ((LOCAL)); then
  KCTL=(kubectl) # the cluster's own, on the PATH its export lines set
elif command -v kubectl >/dev/null 2>&1; then
  KCTL=(kubectl)
elif command -v k3s >/dev/null 2>&1; then
  KCTL=(k3s kubectl)
else
  missing+=("kubectl (or k3s, which bundles it): https://docs.k3s.io/quick-start")
fi
if ((BUILD)) || ((PUSH == 0)); then
  command -v "$DOCKER" >/dev/null 2>&1 || missing+=("docker, to build and export the images: https://docs.docker.com/engine/install/")
fi
SUDO=()
if ((EUID != 0)) && command -v sudo >/dev/null 2>&1; then SUDO=(sudo); fi
if ((PUSH)); then
  [[ -n $REGISTRY ]] || missing+=("REGISTRY=host:port, the registry to push to (with --push)")
elif ((LOCAL)); then
  :
else
  if ! command -v k3s >/dev/null 2>&1; then
    missing+=("k3s on this machine, to import the images (not a K3s node? use --push with REGISTRY)")
  elif ((EUID != 0)) && ((${#SUDO[@]} == 0)); then
    missing+=("root or sudo, for 'k3s ctr images import'")
  fi
fi
if ((${#missing[@]})); then
  echo "deploy-all: missing prerequisites:" >&2
  printf '  - %s\n' "${missing[@]}" >&2
  exit 1
fi
if ((LOCAL)); then
  # start prints the cluster's export lines (and only those when it runs).
  exports=$(bash "$KC" start | grep '^export ') || die "kube-local-cluster.sh start failed"
  eval "$exports"
fi
kctl() { "${KCTL[@]}" "$@"; }
kctl version --request-timeout=10s >/dev/null 2>&1 \
  || die "cannot reach the cluster with '${KCTL[*]}' (KUBECONFIG? on K3s: export KUBECONFIG=/etc/rancher/k3s/k3s.yaml)"

if [[ -z $TAG ]]; then
  TAG=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo dev)
  if [[ -n $(git -C "$ROOT" status --porcelain 2>/dev/null) ]]; then
    TAG=$TAG-dirty-$(date +%Y%m%d%H%M%S)
  fi
fi
REGISTRY=${REGISTRY%/}
PREFIX=parley
((PUSH == 0)) || PREFIX=$REGISTRY/parley

# ---------------------------------------------------------------- build + ship
if ((BUILD)); then
  args=(-t "$TAG")
  ((PUSH == 0)) || args+=(-r "$REGISTRY" -p)
  "$ROOT/build-all.sh" "${args[@]}"
fi

if ((PUSH == 0)); then
  images=()
  for s in "${SERVICES[@]}"; do
    "$DOCKER" image inspect "$PREFIX/$s:$TAG" >/dev/null 2>&1 || die "image $PREFIX/$s:$TAG not found (build it, or drop --no-build)"
    images+=("$PREFIX/$s:$TAG")
    # the manifests name :latest until the Deployments are pinned below
    if "$DOCKER" image inspect "$PREFIX/$s:latest" >/dev/null 2>&1; then images+=("$PREFIX/$s:latest"); fi
  done
  # The node pulls NATS itself; import a local copy when there is one, for
  # nodes without access to Docker Hub.
  if ((HOSTNET == 0)) && "$DOCKER" image inspect "$NATS_IMAGE" >/dev/null 2>&1; then
    images+=("$NATS_IMAGE")
  fi
  if ((LOCAL)); then
    log "loading ${#images[@]} image tags into the local cluster"
    bash "$KC" load-images "${images[@]}" >/dev/null || die "kube-local-cluster.sh load-images failed"
  else
    log "importing ${#images[@]} image tags into K3s"
    "$DOCKER" save "${images[@]}" | "${SUDO[@]}" k3s ctr images import - >/dev/null \
      || die "k3s ctr images import failed"
  fi
fi

if ((HOSTNET)); then
  # hostPath data must belong to the services' non-root user (see README).
  if ((LOCAL)) || command -v k3s >/dev/null 2>&1; then
    "${SUDO[@]}" install -d -o 10001 -g 10001 -m 0750 \
      /var/lib/parley/auth /var/lib/parley/users /var/lib/parley/chat \
      || die "cannot create /var/lib/parley/* (run as root?)"
  else
    log "not on the K3s node: create /var/lib/parley/{auth,users,chat} owned by 10001:10001 on the node yourself"
  fi
fi

# ---------------------------------------------------------------- apply
log "applying $DIR/ to namespace $NS"
kctl apply -f "$ROOT/$DIR"

if [[ -n $HOST ]] || ((INGRESS)); then
  h=${HOST:-localhost}
  if ((HOSTNET)); then
    data="{\"ALLOWED_ORIGINS\":\"http://$h:8080\"}"
  elif ((INGRESS)); then
    data="{\"ALLOWED_ORIGINS\":\"http://$h,http://$h:30080\",\"API_BASE_URL\":\"http://$h\",\"CHAT_WS_URL\":\"ws://$h/ws\"}"
  else
    data="{\"ALLOWED_ORIGINS\":\"http://$h:30080,http://$h\",\"API_BASE_URL\":\"http://$h:30000\",\"CHAT_WS_URL\":\"ws://$h:30003/ws\"}"
  fi
  log "browser config for $h"
  kctl -n "$NS" patch configmap parley-config --type merge -p "{\"data\":$data}" >/dev/null
fi

# Pin each Deployment to the tag just built, and restart it when the config
# changed (env from a ConfigMap is read at start). Unchanged tag and config:
# no rollout.
confighash=$(kctl -n "$NS" get configmap parley-config -o jsonpath='{.data}' | sha256sum | cut -c1-16)
for s in "${SERVICES[@]}"; do
  kctl -n "$NS" patch deployment "$s" --type strategic -p "{\"spec\":{\"template\":{
    \"metadata\":{\"annotations\":{\"parley.chat/config-hash\":\"$confighash\"}},
    \"spec\":{\"containers\":[{\"name\":\"$s\",\"image\":\"$PREFIX/$s:$TAG\"}]}}}}" >/dev/null
done

# ---------------------------------------------------------------- wait
deployments=("${SERVICES[@]}")
((HOSTNET)) || deployments+=(nats)
for d in "${deployments[@]}"; do
  log "waiting for deployment/$d"
  if ! kctl -n "$NS" rollout status "deployment/$d" --timeout="${TIMEOUT}s"; then
    kctl -n "$NS" get pods -o wide >&2 || true
    die "deployment/$d did not become ready within ${TIMEOUT}s (kubectl -n $NS describe deployment/$d; kubectl -n $NS logs deploy/$d)"
  fi
done

# ---------------------------------------------------------------- URLs
h=${HOST:-localhost}
echo
echo "Parley $TAG is running in namespace $NS:"
if ((HOSTNET)); then
  echo "  app              http://$h:8080"
  echo "  API gateway      http://$h:5000"
  echo "  chat WebSocket   ws://$h:5003/ws"
else
  echo "  app              http://$h:30080    (Ingress: http://$h/)"
  echo "  API gateway      http://$h:30000    (Ingress: http://$h/api)"
  echo "  chat WebSocket   ws://$h:30003/ws   (Ingress: ws://$h/ws)"
fi
echo "  first admin password (when ADMIN_PASSWORD was not set):"
echo "    ${KCTL[*]} -n $NS logs deploy/auth-service | grep -i password"
