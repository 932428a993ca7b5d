#!/usr/bin/env bash
# Runs the five Parley services as local processes, each with its own SQLite
# file under ./data, and stops them all on Ctrl-C. Open http://localhost:8080.
#
# The ports come from the variables the services themselves read:
# AUTH_SERVICE_URL, USER_SERVICE_URL, CHAT_SERVICE_URL (http://localhost:5001,
# :5002, :5003), API_BASE_URL (the gateway, http://localhost:5000) and PORT
# (the page, 8080); DATA_DIR (./data) holds a folder per service. A busy
# port is refused before anything starts; if a service fails to start,
# everything started is stopped again.
set -euo pipefail
cd "$(dirname "$0")/.."

die() { echo "run-local: $*" >&2; exit 1; }

# The page finds the gateway and the WebSocket on its own host at the
# default ports; only ports that were moved are told to it.
page_api=${API_BASE_URL:-}
page_ws=${CHAT_WS_URL:-}
[ -n "$page_ws" ] || [ -z "${CHAT_SERVICE_URL:-}" ] || page_ws=set-below
AUTH_SERVICE_URL=${AUTH_SERVICE_URL:-http://localhost:5001}
USER_SERVICE_URL=${USER_SERVICE_URL:-http://localhost:5002}
CHAT_SERVICE_URL=${CHAT_SERVICE_URL:-http://localhost:5003}
API_BASE_URL=${API_BASE_URL:-http://localhost:5000}
FRONTEND_PORT=${PORT:-8080}
DATA_ROOT=${DATA_DIR:-data}

# port_of URL VARIABLE: the URL's port (80 for a plain http URL).
port_of() {
  local rest=${1#http://}
  [ "$rest" != "$1" ] || die "$2 must be an http:// URL on this machine (got '$1')"
  rest=${rest%%/*}
  case $rest in
    *:*) rest=${rest##*:} ;;
    *) rest=80 ;;
  esac
  [[ $rest =~ ^[0-9]+$ ]] || die "$2 has no valid port (got '$1')"
  echo "$rest"
}

services=(
  "auth-service:$(port_of "$AUTH_SERVICE_URL" AUTH_SERVICE_URL):AUTH_SERVICE_URL"
  "user-service:$(port_of "$USER_SERVICE_URL" USER_SERVICE_URL):USER_SERVICE_URL"
  "chat-service:$(port_of "$CHAT_SERVICE_URL" CHAT_SERVICE_URL):CHAT_SERVICE_URL"
  "api-gateway:$(port_of "$API_BASE_URL" API_BASE_URL):API_BASE_URL"
  "frontend:$FRONTEND_PORT:PORT"
)

# Refuse busy ports (and the same port twice) before building or starting.
seen=" "
for entry in "${services[@]}"; do
  IFS=: read -r name port var <<<"$entry"
  case $seen in *" $port "*) die "port $port is given to two services; change $var" ;; esac
  seen+="$port "
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    die "port $port ($name) is busy: stop what listens there or choose another port with $var"
  fi
done

command -v go >/dev/null || die "Go is required (https://go.dev/dl/)"
command -v curl >/dev/null || die "curl is required"

mkdir -p bin "$DATA_ROOT"
for entry in "${services[@]}"; do
  name=${entry%%:*}
  (cd "$name" && CGO_ENABLED=0 go build -trimpath -o "../bin/$name" .)
done

pids=()
cleanup() {
  trap - INT TERM EXIT
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup INT TERM EXIT

export LOG_FORMAT=${LOG_FORMAT:-text}
export AUTH_SERVICE_URL USER_SERVICE_URL CHAT_SERVICE_URL
ws_url=ws://localhost:$(port_of "$CHAT_SERVICE_URL" CHAT_SERVICE_URL)/ws
if [ -n "$page_api" ]; then export API_BASE_URL; fi
if [ "$page_ws" = set-below ]; then export CHAT_WS_URL=$ws_url; elif [ -n "$page_ws" ]; then export CHAT_WS_URL; ws_url=$CHAT_WS_URL; fi
export ALLOWED_ORIGINS=${ALLOWED_ORIGINS:-http://localhost:$FRONTEND_PORT}
for entry in "${services[@]}"; do
  IFS=: read -r name port _ <<<"$entry"
  PORT=$port DATA_DIR="$DATA_ROOT/$name" "bin/$name" &
  pids+=($!)
done

# Each service must answer /readyz within 30 s; one that exits or never
# answers stops the whole run (the trap stops the others).
for i in "${!services[@]}"; do
  IFS=: read -r name port _ <<<"${services[$i]}"
  ready=0
  for _ in $(seq 1 300); do
    if curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; then ready=1; break; fi
    kill -0 "${pids[$i]}" 2>/dev/null || die "$name exited at start (its log is above); everything was stopped"
    sleep 0.1
  done
  [ "$ready" = 1 ] || die "$name did not become ready on port $port within 30 s; everything was stopped"
done
echo
echo "Parley is running: http://localhost:$FRONTEND_PORT  (API $API_BASE_URL, WebSocket $ws_url)"
echo "The first admin's password is in auth-service's log above unless ADMIN_PASSWORD was set. Ctrl-C stops everything."
wait
