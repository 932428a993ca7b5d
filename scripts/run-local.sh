#!/usr/bin/env bash
# Runs the five Parley services as local processes, each with its own SQLite
# file under ./data, and stops them all on Ctrl-C. Open http://localhost:8080.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v go >/dev/null || { echo "run-local: Go is required (https://go.dev/dl/)" >&2; exit 1; }

services=(auth-service:5001 user-service:5002 chat-service:5003 api-gateway:5000 frontend:8080)
mkdir -p bin data
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
for entry in "${services[@]}"; do
  name=${entry%%:*}
  port=${entry##*:}
  PORT=$port DATA_DIR="data/$name" "bin/$name" &
  pids+=($!)
done

for entry in "${services[@]}"; do
  port=${entry##*:}
  for _ in $(seq 1 100); do
    if curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; then break; fi
    sleep 0.1
  done
done
echo
echo "Parley is running: http://localhost:8080  (API http://localhost:5000, WebSocket ws://localhost:5003/ws)"
echo "The first admin's password is in auth-service's log above unless ADMIN_PASSWORD was set. Ctrl-C stops everything."
wait
