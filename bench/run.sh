#!/usr/bin/env bash
# bench/run.sh — Parley's benchmark run (docs/BENCHMARKS.md explains the
# figures). It builds the services, the load harness and the baselines,
# starts everything on loopback ports with SQLite in a temporary directory,
# runs every scenario REPS times interleaved (so background load drifts over
# Parley and its baseline alike), reports medians, ratios and targets, draws
# the chart and takes a CPU profile of chat-service under fan-out.
#
#   bench/run.sh                 # the full run, ~20–25 min on 2 cores
#   QUICK=1 bench/run.sh         # one short repetition of everything, ~5 min
#   ONLY=fanout,http bench/run.sh
#   STACK_ONLY=1 bench/run.sh    # start the stack, print its URLs, wait
#   bench/run.sh bigroom         # only the big-room scenarios (ONLY=storm,bigidle,bigfan)
#   ONLY=rolling bench/run.sh    # rolling restart of two replicas under ROLL_N resuming clients
#
# Environment: SERVICES_IN_HARNESS=1 (build one binary, the harness, and
# run the services from it), REPS (3), QUICK (0), ONLY (all: fanout,saturate,idle,http,
# persist,profile,login; the big-room ones storm, bigidle, bigfan, rolling
# run only when named), BIG_N (10000: clients of the big-room storm and idle
# scenarios), BIGFAN_MEMBERS (10000) and BIGFAN_CLIENTS (1000: clients
# of the fan-out in a big room with most members offline, beside a room of
# BIGFAN_CLIENTS members), ROLL_N (BIG_N: resuming clients in one room
# across a rolling restart of two replicas), ROLL_RATE (2 msg/s) from
# ROLL_SENDERS (2, one on each replica),
# ROLL_DUR (90s), ROLL_PRE (15s before the first SIGTERM), ROLL_GAP (20s
# between the restarts), STORM_TIMEOUT (4m), OUT (results directory), PORT_BASE (15000),
# LOGIN_COST (10), CHART (docs/benchmarks-p99.png), KEEP=1 keeps the
# temporary directory; for experiments FANOUT_TARGETS, REPLICA_ENV,
# SINGLE_ENV and USERS_N (below). TRACING=1 turns OpenTelemetry tracing on
# in every Parley service, sampled at TRACE_RATIO (0.01) with
# parentbased_traceidratio, exporting to a local OTLP sink (loadtest
# otlp-sink): compare a run with it and one without.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

QUICK=${QUICK:-0}
REPS=${REPS:-3}
if [ "${1:-}" = bigroom ]; then ONLY=${ONLY:-storm,bigidle,bigfan}; fi
ONLY=${ONLY:-fanout,saturate,idle,http,persist,profile,login}
PORT_BASE=${PORT_BASE:-15000}
LOGIN_COST=${LOGIN_COST:-10}
CHART=${CHART:-$ROOT/docs/benchmarks-p99.png}
STAMP=$(date -u +%Y%m%d-%H%M%S)
OUT=${OUT:-/tmp/parley-bench-$STAMP}

# Durations: the full run is sized to finish in ~20–25 minutes on a 2-core
# machine; QUICK=1 is a smoke run of the script itself, not a measurement.
if [ "$QUICK" = 1 ]; then
  REPS=1
  FANOUT_DUR=5s; FANOUT_WARM=1s; SAT_STEP=3s; SAT_RATES=100,200,400,800
  IDLE_BIG=2000; IDLE_SETTLE=2s; HTTP_DUR=3s; PERSIST_DUR=4s; LOGIN_DUR=4s; PROFILE_SECS=5
else
  FANOUT_DUR=12s; FANOUT_WARM=3s; SAT_STEP=5s; SAT_RATES=50,100,150,200,250,300,400,500,650,800,1000,1300,1600
  IDLE_BIG=10000; IDLE_SETTLE=4s; HTTP_DUR=8s; PERSIST_DUR=8s; LOGIN_DUR=8s; PROFILE_SECS=12
fi
IDLE_SMALL=1000
# Experiments: FANOUT_TARGETS picks the fan-out servers, REPLICA_ENV adds
# variables (space-separated NAME=value) to the two NATS replicas and
# SINGLE_ENV to the single one, USERS the population registered.
FANOUT_TARGETS=${FANOUT_TARGETS:-parley gorilla parley-nats parley-nats-remote parley-wd0}
read -r -a REPLICA_ENV <<<"${REPLICA_ENV:-}"
read -r -a SINGLE_ENV <<<"${SINGLE_ENV:-}"
BIG_N=${BIG_N:-$IDLE_BIG}
BIGFAN_CLIENTS=${BIGFAN_CLIENTS:-1000}
BIGFAN_MEMBERS=${BIGFAN_MEMBERS:-10000}
ROLL_N=${ROLL_N:-$BIG_N}; ROLL_RATE=${ROLL_RATE:-2}; ROLL_SENDERS=${ROLL_SENDERS:-2}; ROLL_DUR=${ROLL_DUR:-90s}; ROLL_PRE=${ROLL_PRE:-15}; ROLL_GAP=${ROLL_GAP:-20}
USERS_N=${USERS_N:-$(( IDLE_BIG > BIG_N ? IDLE_BIG : BIG_N ))}
USERS_N=$(( USERS_N > ROLL_N ? USERS_N : ROLL_N ))
USERS_N=$(( USERS_N > BIGFAN_MEMBERS ? USERS_N : BIGFAN_MEMBERS ))
FANOUT_CLIENTS=${FANOUT_CLIENTS:-1000}
FANOUT_RATE=${FANOUT_RATE:-200}

P_GATEWAY=$PORT_BASE; P_AUTH=$((PORT_BASE + 1)); P_USER=$((PORT_BASE + 2)); P_CHAT=$((PORT_BASE + 3))
P_CHAT_A=$((PORT_BASE + 4)); P_CHAT_B=$((PORT_BASE + 5)); P_CHAT_IDLE=$((PORT_BASE + 6))
P_CHAT_PROF=$((PORT_BASE + 7)); P_PPROF=$((PORT_BASE + 60)); P_GORILLA=$((PORT_BASE + 80)); P_GORILLA_IDLE=$((PORT_BASE + 81))
P_CHAT_RA=$((PORT_BASE + 11)); P_CHAT_RB=$((PORT_BASE + 12))
P_HELLO=$((PORT_BASE + 99)); P_PROXY=$((PORT_BASE + 98)); P_GW_HELLO=$((PORT_BASE + 97)); P_NATS=$((PORT_BASE + 222)); P_CHAT_WD=$((PORT_BASE + 10))
# chat-service with its write coalescing turned off (WS_WRITE_DELAY=0),
# measured beside the default to show what coalescing buys.
WRITE_DELAY=${WRITE_DELAY:-0}
url() { echo "http://127.0.0.1:$1"; }

want() { [[ ",$ONLY," == *",$1,"* ]]; }
log() { printf '\n\033[1m== %s\033[0m  (load %s)\n' "$*" "$(cut -d' ' -f1-3 /proc/loadavg)" >&2; }

WORK=$(mktemp -d /tmp/parley-bench-work.XXXXXX)
BIN=$WORK/bin
DATA=$WORK/data
mkdir -p "$BIN" "$DATA" "$OUT/logs"
RESULTS=$OUT/results.jsonl
: >"$RESULTS"

declare -A PIDS=()
cleanup() {
  local code=$?
  trap - EXIT INT TERM
  for name in "${!PIDS[@]}"; do kill -TERM "${PIDS[$name]}" 2>/dev/null || true; done
  for name in "${!PIDS[@]}"; do wait "${PIDS[$name]}" 2>/dev/null || true; done
  if [ "${KEEP:-0}" = 1 ]; then echo "kept $WORK" >&2; else rm -rf "$WORK"; fi
  exit "$code"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# One process opening 10,000+ sockets needs the descriptor limit raised;
# the services and the harness inherit it.
ulimit -n "$(ulimit -Hn)"
# 10,000 clients from 127.0.0.1 to one port use 10,000 ephemeral ports
# (net.ipv4.ip_local_port_range: 28,000 by default), enough for one
# scenario at a time.
if [ "$(ulimit -n)" -lt $((IDLE_BIG + 2000)) ]; then
  echo "bench: ulimit -n is $(ulimit -n); $IDLE_BIG connections need more (raise the hard limit)" >&2
  exit 1
fi

# --- build -----------------------------------------------------------------
log "building into $BIN"
if [ "${SERVICES_IN_HARNESS:-0}" = 1 ]; then
  # One binary: the harness runs each service (loadtest service -name X,
  # the same app.Run). Built without -trimpath it reuses the build cache
  # of the tests, which matters on a machine busy with other builds.
  (cd loadtest && go build -o "$BIN/loadtest" .)
  for s in auth-service user-service chat-service api-gateway; do
    printf '#!/bin/sh\nexec "%s" service -name %s "$@"\n' "$BIN/loadtest" "$s" >"$BIN/$s"
    chmod +x "$BIN/$s"
  done
else
  for s in auth-service user-service chat-service api-gateway; do
    (cd "$s" && CGO_ENABLED=0 go build -trimpath -o "$BIN/$s" .)
  done
  (cd loadtest && CGO_ENABLED=0 go build -trimpath -o "$BIN/loadtest" .)
fi
# The baseline: gorilla/websocket's chat example at the version Parley uses,
# built from the module cache.
GORILLA_VERSION=$(cd chat-service && go list -m -f '{{.Version}}' github.com/gorilla/websocket)
GORILLA_DIR=$(cd chat-service && go list -m -f '{{.Dir}}' github.com/gorilla/websocket)
if [ ! -d "$GORILLA_DIR/examples/chat" ]; then
  (cd chat-service && go mod download github.com/gorilla/websocket)
fi
(cd "$GORILLA_DIR" && GOWORK=off GOFLAGS=-mod=mod CGO_ENABLED=0 go build -trimpath -o "$BIN/gorilla-chat" ./examples/chat)
LT=$BIN/loadtest

# --- processes ---------------------------------------------------------------
# start NAME PORT ENV... -- CMD...: run in the background, log to a file.
start() {
  local name=$1 port=$2; shift 2
  local envs=()
  while [ "$1" != "--" ]; do envs+=("$1"); shift; done
  shift
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "bench: port $port (for $name) is already in use; is another bench/run.sh running? set PORT_BASE" >&2; exit 1
  fi
  env "${envs[@]}" "$@" >>"$OUT/logs/$name.log" 2>&1 &
  PIDS[$name]=$!
  wait_port "$name" "$port"
}
wait_port() {
  local name=$1 port=$2
  for _ in $(seq 1 300); do
    if ! kill -0 "${PIDS[$name]}" 2>/dev/null; then
      echo "bench: $name exited; its log:" >&2; tail -20 "$OUT/logs/$name.log" >&2; exit 1
    fi
    case $name in
      gorilla|gorilla-idle|hello|proxy|nats|otlp) # no readiness endpoint: wait for the listener
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi ;;
      *)
        if curl -fsS -o /dev/null "http://127.0.0.1:$port/readyz" 2>/dev/null; then return 0; fi ;;
    esac
    sleep 0.1
  done
  echo "bench: $name not ready on port $port after 30s" >&2; exit 1
}
stop() {
  local name=$1
  [ -n "${PIDS[$name]:-}" ] || return 0
  kill -TERM "${PIDS[$name]}" 2>/dev/null || true
  wait "${PIDS[$name]}" 2>/dev/null || true
  unset "PIDS[$name]"
}

COMMON_ENV=(LOG_LEVEL=warn LOG_FORMAT=json "AUTH_SERVICE_URL=$(url "$P_AUTH")" "USER_SERVICE_URL=$(url "$P_USER")"
  "CHAT_SERVICE_URL=$(url "$P_CHAT")" ALLOWED_ORIGINS=http://127.0.0.1:8080)
P_OTLP=$((PORT_BASE + 223))
if [ "${TRACING:-0}" = 1 ]; then
  COMMON_ENV+=("OTEL_EXPORTER_OTLP_ENDPOINT=$(url "$P_OTLP")" OTEL_TRACES_SAMPLER=parentbased_traceidratio
    "OTEL_TRACES_SAMPLER_ARG=${TRACE_RATIO:-0.01}")
fi
# Every client comes from 127.0.0.1, so the per-address limits that protect
# a real deployment would throttle the harness: raise them (the limiter code
# still runs). Tokens live for the whole run.
AUTH_ENV=("${COMMON_ENV[@]}" "PORT=$P_AUTH" "DATA_DIR=$DATA/auth" ADMIN_USERNAME=admin "ADMIN_PASSWORD=bench-$STAMP"
  ACCESS_TOKEN_TTL=3h REGISTER_RATE_IP_BURST=100000 REGISTER_RATE_IP_INTERVAL=1ms
  LOGIN_RATE_IP_BURST=100000 LOGIN_RATE_IP_INTERVAL=1ms LOGIN_RATE_USER_BURST=1000 LOGIN_RATE_USER_INTERVAL=1ms
  LOGIN_RATE_ACCOUNT_BURST=100000 LOGIN_RATE_ACCOUNT_INTERVAL=1ms)
# SEND_RATE and USER_RATE_LIMIT_*: the per-user send and request limits
# (10/s, 20/s) would refuse a load sender; the
# per-connection frame limit (50/s) is fixed, so senders stay under it.
CHAT_ENV=("${COMMON_ENV[@]}" "DATA_DIR=$DATA/chat" SEND_RATE=1000 SEND_BURST=1000 USER_RATE_LIMIT_RPS=100000 USER_RATE_LIMIT_BURST=100000)

start_core() {
  if [ "${TRACING:-0}" = 1 ]; then start otlp "$P_OTLP" -- "$LT" otlp-sink -addr "127.0.0.1:$P_OTLP"; fi
  start auth "$P_AUTH" "${AUTH_ENV[@]}" BCRYPT_COST=4 -- "$BIN/auth-service"
  start user "$P_USER" "${COMMON_ENV[@]}" "PORT=$P_USER" "DATA_DIR=$DATA/user" -- "$BIN/user-service"
  start chat "$P_CHAT" "${CHAT_ENV[@]}" "PORT=$P_CHAT" ${SINGLE_ENV[@]+"${SINGLE_ENV[@]}"} -- "$BIN/chat-service"
  start gateway "$P_GATEWAY" "${COMMON_ENV[@]}" "PORT=$P_GATEWAY" RATE_LIMIT_RPS=1000000 RATE_LIMIT_BURST=1000000 -- "$BIN/api-gateway"
  if want fanout || want saturate; then
    # Every server under fan-out load is started here, once, and serves
    # every repetition: a process just started is slower for its first
    # seconds (heap growth, first-touch page faults, goroutine stacks), and
    # the first repetition warms all of them alike. Only the idle scenario
    # starts fresh servers, since it measures RSS growth from start.
    start chat-wd "$P_CHAT_WD" "${CHAT_ENV[@]}" "PORT=$P_CHAT_WD" "WS_WRITE_DELAY=$WRITE_DELAY" -- "$BIN/chat-service"
    start gorilla "$P_GORILLA" -- "$BIN/gorilla-chat" -addr "127.0.0.1:$P_GORILLA"
    # Two replicas sharing chat.db, fanning out through NATS.
    start nats "$P_NATS" -- "$LT" nats -addr "127.0.0.1:$P_NATS"
    start chat-a "$P_CHAT_A" "${CHAT_ENV[@]}" "PORT=$P_CHAT_A" "NATS_URL=nats://127.0.0.1:$P_NATS" ${REPLICA_ENV[@]+"${REPLICA_ENV[@]}"} -- "$BIN/chat-service"
    start chat-b "$P_CHAT_B" "${CHAT_ENV[@]}" "PORT=$P_CHAT_B" "NATS_URL=nats://127.0.0.1:$P_NATS" ${REPLICA_ENV[@]+"${REPLICA_ENV[@]}"} -- "$BIN/chat-service"
  fi
}

machine() {
  echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo), kernel $(uname -r), $(go version | cut -d' ' -f3-4), gorilla/websocket $GORILLA_VERSION"
}

log "starting Parley (data in $DATA, logs in $OUT/logs)"
start_core
GW=$(url "$P_GATEWAY")
USERS=$OUT/users.json

if [ "${STACK_ONLY:-0}" = 1 ]; then
  echo "gateway $GW  chat ws://127.0.0.1:$P_CHAT/ws  logs $OUT/logs  (Ctrl-C stops)" >&2
  wait
fi

machine | tee "$OUT/machine.txt" >&2
# One population for every WebSocket scenario, registered once at bcrypt
# cost 4 (the login scenario registers its own at LOGIN_COST).
log "registering $USERS_N users"
"$LT" users -gateway "$GW" -users "$USERS" -n "$USERS_N" -conc 16

lt() { "$LT" "$@" -out "$RESULTS"; }

fanout() { # rep target
  local rep=$1 target=$2
  case $target in
    parley)
      lt fanout -target parley -rep "$rep" -gateway "$GW" -ws "ws://127.0.0.1:$P_CHAT/ws" -users "$USERS" \
        -clients "$FANOUT_CLIENTS" -rate "$FANOUT_RATE" -duration "$FANOUT_DUR" -warmup "$FANOUT_WARM" -pid "${PIDS[chat]}" ;;
    gorilla)
      lt fanout -target gorilla -rep "$rep" -protocol gorilla -ws "ws://127.0.0.1:$P_GORILLA/ws" \
        -clients "$FANOUT_CLIENTS" -rate "$FANOUT_RATE" -duration "$FANOUT_DUR" -warmup "$FANOUT_WARM" -pid "${PIDS[gorilla]}" ;;
    parley-wd0)
      lt fanout -target parley-wd0 -rep "$rep" -gateway "$GW" -ws "ws://127.0.0.1:$P_CHAT_WD/ws" -users "$USERS" \
        -clients "$FANOUT_CLIENTS" -rate "$FANOUT_RATE" -duration "$FANOUT_DUR" -warmup "$FANOUT_WARM" -pid "${PIDS[chat-wd]}" ;;
    parley-nats)
      # Senders on replica A, receivers spread over A and B.
      lt fanout -target parley-nats -rep "$rep" -gateway "$GW" -users "$USERS" \
        -ws "ws://127.0.0.1:$P_CHAT_A/ws,ws://127.0.0.1:$P_CHAT_B/ws" \
        -clients "$FANOUT_CLIENTS" -rate "$FANOUT_RATE" -duration "$FANOUT_DUR" -warmup "$FANOUT_WARM" \
        -pid "${PIDS[chat-a]},${PIDS[chat-b]},${PIDS[nats]}" ;;
    parley-nats-remote)
      # Senders on replica A, every receiver on B: each delivery crosses
      # NATS (the figures above split the spread run by replica too).
      lt fanout -target parley-nats-remote -remote -rep "$rep" -gateway "$GW" -users "$USERS" \
        -ws "ws://127.0.0.1:$P_CHAT_A/ws,ws://127.0.0.1:$P_CHAT_B/ws" \
        -clients "$FANOUT_CLIENTS" -rate "$FANOUT_RATE" -duration "$FANOUT_DUR" -warmup "$FANOUT_WARM" \
        -pid "${PIDS[chat-a]},${PIDS[chat-b]},${PIDS[nats]}" ;;
  esac
}

saturate() { # rep target
  local rep=$1 target=$2
  case $target in
    parley)
      lt saturate -target parley -rep "$rep" -gateway "$GW" -ws "ws://127.0.0.1:$P_CHAT/ws" -users "$USERS" \
        -clients "$FANOUT_CLIENTS" -rates "$SAT_RATES" -step "$SAT_STEP" -pid "${PIDS[chat]}" ;;
    parley-wd0)
      lt saturate -target parley-wd0 -rep "$rep" -gateway "$GW" -ws "ws://127.0.0.1:$P_CHAT_WD/ws" -users "$USERS" \
        -clients "$FANOUT_CLIENTS" -rates "$SAT_RATES" -step "$SAT_STEP" -pid "${PIDS[chat-wd]}" ;;
    gorilla)
      lt saturate -target gorilla -rep "$rep" -protocol gorilla -ws "ws://127.0.0.1:$P_GORILLA/ws" \
        -clients "$FANOUT_CLIENTS" -rates "$SAT_RATES" -step "$SAT_STEP" -pid "${PIDS[gorilla]}" ;;
  esac
}

idle() { # rep target clients
  local rep=$1 target=$2 n=$3 name=idle-$3
  case $n in 1000) name=idle-1k ;; 10000) name=idle-10k ;; esac
  # A fresh server each time, so RSS grows from its own start.
  case $target in
    parley)
      start chat-idle "$P_CHAT_IDLE" "${CHAT_ENV[@]}" "PORT=$P_CHAT_IDLE" -- "$BIN/chat-service"
      lt idle -name "$name" -target parley -rep "$rep" -gateway "$GW" -ws "ws://127.0.0.1:$P_CHAT_IDLE/ws" -users "$USERS" \
        -clients "$n" -settle "$IDLE_SETTLE" -pid "${PIDS[chat-idle]}" -conc 64 -metrics "$(url "$P_CHAT_IDLE")/metrics"
      stop chat-idle ;;
    gorilla)
      start gorilla-idle "$P_GORILLA_IDLE" -- "$BIN/gorilla-chat" -addr "127.0.0.1:$P_GORILLA_IDLE"
      lt idle -name "$name" -target gorilla -rep "$rep" -protocol gorilla -ws "ws://127.0.0.1:$P_GORILLA_IDLE/ws" \
        -clients "$n" -settle "$IDLE_SETTLE" -pid "${PIDS[gorilla-idle]}" -conc 64
      stop gorilla-idle ;;
  esac
}

# Big rooms (docs/BENCHMARKS.md, Big rooms). Room layouts: "one room" is
# all BIG_N clients in one room, every one of them a member (as everyone is
# of General); "spread" is rooms of 100.
storm() { # rep layout
  local rep=$1 layout=$2 rooms=1
  [ "$layout" = spread ] && rooms=$(( BIG_N / 100 ))
  # A fresh replica each time: the storm is its first load.
  start chat-storm "$P_CHAT_IDLE" "${CHAT_ENV[@]}" "PORT=$P_CHAT_IDLE" -- "$BIN/chat-service"
  lt storm -target "parley-$layout" -rep "$rep" -gateway "$GW" -ws "ws://127.0.0.1:$P_CHAT_IDLE/ws" -users "$USERS" \
    -clients "$BIG_N" -rooms "$rooms" -timeout "${STORM_TIMEOUT:-4m}" -pid "${PIDS[chat-storm]}" || echo "bench: storm $layout rep $rep failed" >&2
  stop chat-storm
}

bigidle() { # rep target
  local rep=$1 target=$2
  case $target in
    parley)
      start chat-idle "$P_CHAT_IDLE" "${CHAT_ENV[@]}" "PORT=$P_CHAT_IDLE" -- "$BIN/chat-service"
      lt idle -name idle-oneroom -target parley-oneroom -rep "$rep" -gateway "$GW" -ws "ws://127.0.0.1:$P_CHAT_IDLE/ws" -users "$USERS" \
        -clients "$BIG_N" -rooms 1 -settle "$IDLE_SETTLE" -pid "${PIDS[chat-idle]}" -conc 64 -timeout "${STORM_TIMEOUT:-4m}" \
        -metrics "$(url "$P_CHAT_IDLE")/metrics" || echo "bench: idle one room rep $rep failed" >&2
      stop chat-idle ;;
    gorilla)
      start gorilla-idle "$P_GORILLA_IDLE" -- "$BIN/gorilla-chat" -addr "127.0.0.1:$P_GORILLA_IDLE"
      lt idle -name idle-oneroom -target gorilla -rep "$rep" -protocol gorilla -ws "ws://127.0.0.1:$P_GORILLA_IDLE/ws" \
        -clients "$BIG_N" -settle "$IDLE_SETTLE" -pid "${PIDS[gorilla-idle]}" -conc 64
      stop gorilla-idle ;;
  esac
}

bigfan() { # rep members: BIGFAN_CLIENTS clients in a room of that many members
  local rep=$1 members=$2
  lt fanout -name fanout-members -target "members-$members" -rep "$rep" -gateway "$GW" -ws "ws://127.0.0.1:$P_CHAT/ws" -users "$USERS" \
    -clients "$BIGFAN_CLIENTS" -members "$members" -rate "$FANOUT_RATE" -duration "$FANOUT_DUR" -warmup "$FANOUT_WARM" -pid "${PIDS[chat]}"
}

# Rolling restart (issue 19): ROLL_N clients in one room, spread over two
# replicas sharing chat.db and NATS, reconnecting and resuming (loadtest
# soak), ROLL_RATE msg/s from senders on both. "restart": ROLL_PRE seconds
# after every client is connected replica A gets SIGTERM (its sockets close
# with 1012) and is started again; ROLL_GAP seconds after it is ready, the
# same for B. "baseline": the same load with no restart, interleaved.
replica_conns() { # port
  curl -fsS "$(url "$1")/metrics" 2>/dev/null | awk '$1 == "chat_ws_connections" {n = int($2)} END {print n + 0}'
}
rolling() { # rep mode
  local rep=$1 mode=$2 nats_started=0
  if [ -z "${PIDS[nats]:-}" ]; then start nats "$P_NATS" -- "$LT" nats -addr "127.0.0.1:$P_NATS"; nats_started=1; fi
  local renv=("${CHAT_ENV[@]}" "NATS_URL=nats://127.0.0.1:$P_NATS")
  start chat-ra "$P_CHAT_RA" "${renv[@]}" "PORT=$P_CHAT_RA" -- "$BIN/chat-service"
  start chat-rb "$P_CHAT_RB" "${renv[@]}" "PORT=$P_CHAT_RB" -- "$BIN/chat-service"
  lt soak -name rolling -target "parley-$mode" -rep "$rep" -gateway "$GW" -users "$USERS" \
    -ws "ws://127.0.0.1:$P_CHAT_RA/ws,ws://127.0.0.1:$P_CHAT_RB/ws" -clients "$ROLL_N" -rate "$ROLL_RATE" -senders "$ROLL_SENDERS" \
    -duration "$ROLL_DUR" -catch-up 3m -conc 1000 -timeout 12m &
  local soak=$!
  if [ "$mode" = restart ]; then
    for _ in $(seq 1 1200); do
      local n=$(( $(replica_conns "$P_CHAT_RA" || echo 0) + $(replica_conns "$P_CHAT_RB" || echo 0) ))
      [ "$n" -ge "$ROLL_N" ] && break
      kill -0 "$soak" 2>/dev/null || break
      sleep 0.5
    done
    sleep "$ROLL_PRE"
    for r in ra rb; do
      local port=$P_CHAT_RA; [ "$r" = rb ] && port=$P_CHAT_RB
      echo "bench: $(date -u +%T.%N | cut -c1-12) SIGTERM chat-$r ($(replica_conns "$port") sockets), load $(cut -d' ' -f1 /proc/loadavg)" >&2
      stop "chat-$r"
      echo "bench: $(date -u +%T.%N | cut -c1-12) chat-$r exited; starting it again" >&2
      start "chat-$r" "$port" "${renv[@]}" "PORT=$port" -- "$BIN/chat-service"
      echo "bench: $(date -u +%T.%N | cut -c1-12) chat-$r ready" >&2
      [ "$r" = ra ] && sleep "$ROLL_GAP"
    done
  fi
  wait "$soak" || echo "bench: rolling $mode rep $rep failed" >&2
  stop chat-ra; stop chat-rb
  if [ "$nats_started" = 1 ]; then stop nats; fi
}

http_bench() { # rep target
  local rep=$1 target=$2
  case $target in
    gateway) lt http -target gateway -rep "$rep" -url "$GW/api/auth/me" -users "$USERS" -gateway "$GW" \
               -duration "$HTTP_DUR" -pid "${PIDS[gateway]},${PIDS[auth]}" ;;
    direct)  lt http -target direct -rep "$rep" -url "$(url "$P_AUTH")/me" -users "$USERS" -gateway "$GW" \
               -duration "$HTTP_DUR" -pid "${PIDS[auth]}" ;;
    hello)   lt http -target hello -rep "$rep" -url "$(url "$P_HELLO")/" -users "$USERS" -gateway "$GW" \
               -duration "$HTTP_DUR" -pid "${PIDS[hello]}" ;;
    # The floor of a proxy hop, and Parley's gateway on that same hop: both
    # in front of the hello handler, so only the proxy's own work differs.
    proxy)   lt http -target proxy -rep "$rep" -url "$(url "$P_PROXY")/" -users "$USERS" -gateway "$GW" \
               -duration "$HTTP_DUR" -pid "${PIDS[proxy]},${PIDS[hello]}" ;;
    gateway-hello)
             lt http -target gateway-hello -rep "$rep" -url "$(url "$P_GW_HELLO")/api/auth/hello" -users "$USERS" -gateway "$GW" \
               -duration "$HTTP_DUR" -pid "${PIDS[gw-hello]},${PIDS[hello]}" ;;
    history) lt history -target parley -rep "$rep" -gateway "$GW" -users "$USERS" -duration "$HTTP_DUR" \
               -pid "${PIDS[gateway]},${PIDS[chat]}" ;;
  esac
}

T0=$(date +%s)
for rep in $(seq 1 "$REPS"); do
  if want fanout; then
    for t in $FANOUT_TARGETS; do log "rep $rep: fan-out $t"; fanout "$rep" "$t"; done
  fi
  if want saturate; then
    for t in parley gorilla parley-wd0; do log "rep $rep: saturation $t"; saturate "$rep" "$t"; done
  fi
  if want idle; then
    for n in "$IDLE_SMALL" "$IDLE_BIG"; do
      for t in parley gorilla; do log "rep $rep: idle $n $t"; idle "$rep" "$t" "$n"; done
    done
  fi
  if want http; then
    if [ -z "${PIDS[hello]:-}" ]; then
      start hello "$P_HELLO" -- "$LT" hello -addr "127.0.0.1:$P_HELLO"
      start proxy "$P_PROXY" -- "$LT" proxy -addr "127.0.0.1:$P_PROXY" -to "$(url "$P_HELLO")"
      # A second gateway whose "auth-service" is the hello handler: the
      # whole chain (token check, CORS, rate limit, logs, metrics, proxy)
      # on the same hop as the bare proxy.
      start gw-hello "$P_GW_HELLO" "${COMMON_ENV[@]}" "PORT=$P_GW_HELLO" "AUTH_SERVICE_URL=$(url "$P_HELLO")" \
        "JWKS_URL=$(url "$P_AUTH")/.well-known/jwks.json" RATE_LIMIT_RPS=1000000 RATE_LIMIT_BURST=1000000 -- "$BIN/api-gateway"
    fi
    for t in gateway direct hello proxy gateway-hello history; do log "rep $rep: http $t"; http_bench "$rep" "$t"; done
  fi
  if want storm; then
    for l in oneroom spread; do log "rep $rep: storm of $BIG_N clients, $l"; storm "$rep" "$l"; done
  fi
  if want bigidle; then
    for t in parley gorilla; do log "rep $rep: idle $BIG_N in one room, $t"; bigidle "$rep" "$t"; done
  fi
  if want bigfan; then
    for m in "$BIGFAN_MEMBERS" "$BIGFAN_CLIENTS"; do log "rep $rep: fan-out, $BIGFAN_CLIENTS clients in a room of $m members"; bigfan "$rep" "$m"; done
  fi
  if want rolling; then
    for m in baseline restart; do log "rep $rep: rolling, $ROLL_N resuming clients in one room, $m"; rolling "$rep" "$m"; done
  fi
  if want persist; then
    log "rep $rep: persistence through the send path"
    lt persist -target parley -rep "$rep" -gateway "$GW" -ws "ws://127.0.0.1:$P_CHAT/ws" -users "$USERS" \
      -clients 200 -rooms 8 -duration "$PERSIST_DUR" -pid "${PIDS[chat]}"
    log "rep $rep: raw SQLite commits"
    lt sqlite -target raw -rep "$rep" -dir "$DATA" -duration "$PERSIST_DUR"
  fi
done
stop gw-hello; stop proxy; stop hello
stop chat-a; stop chat-b; stop nats; stop gorilla

if want profile; then
  # The services' own code inside the harness binary (loadtest service),
  # with the profiler on, under the loads whose targets matter most.
  grab() { # file pprof-port seconds delay: take a CPU profile in the background
    (sleep "$4"; curl -fsS -o "$OUT/$1.pprof" "http://127.0.0.1:$2/debug/pprof/profile?seconds=$3") &
    GRABS+=($!)
  }
  tops() { # file
    go tool pprof -top -nodecount=45 "$BIN/loadtest" "$OUT/$1.pprof" >"$OUT/$1-top.txt" 2>/dev/null || true
    go tool pprof -top -cum -nodecount=45 "$BIN/loadtest" "$OUT/$1.pprof" >"$OUT/$1-cum.txt" 2>/dev/null || true
  }
  P_GW_PROF=$((PORT_BASE + 8)); P_AUTH_PROF=$((PORT_BASE + 9))
  start chat-prof "$P_CHAT_PROF" "${CHAT_ENV[@]}" "PORT=$P_CHAT_PROF" "PPROF_ADDR=127.0.0.1:$P_PPROF" -- "$LT" service -name chat-service
  start auth-prof "$P_AUTH_PROF" "${AUTH_ENV[@]}" BCRYPT_COST=4 "PORT=$P_AUTH_PROF" "PPROF_ADDR=127.0.0.1:$((P_PPROF + 2))" -- "$LT" service -name auth-service
  start gw-prof "$P_GW_PROF" "${COMMON_ENV[@]}" "PORT=$P_GW_PROF" "AUTH_SERVICE_URL=$(url "$P_AUTH_PROF")" "CHAT_SERVICE_URL=$(url "$P_CHAT_PROF")" \
    RATE_LIMIT_RPS=1000000 RATE_LIMIT_BURST=1000000 "PPROF_ADDR=127.0.0.1:$((P_PPROF + 1))" -- "$LT" service -name api-gateway

  log "profile: chat-service under fan-out (${FANOUT_RATE} msg/s x $FANOUT_CLIENTS clients)"
  GRABS=()
  grab chat-fanout "$P_PPROF" "$PROFILE_SECS" 8
  "$LT" fanout -name profile-fanout -target parley -gateway "$GW" -ws "ws://127.0.0.1:$P_CHAT_PROF/ws" -users "$USERS" \
    -clients "$FANOUT_CLIENTS" -rate "$FANOUT_RATE" -duration "$((PROFILE_SECS + 4))s" -warmup 2s \
    -pid "${PIDS[chat-prof]}" -cpuprofile "$OUT/loadtest-fanout.pprof" -out "$OUT/profile-runs.jsonl"
  wait "${GRABS[@]}" || echo "bench: a profile was not taken" >&2

  log "profile: chat-service under closed-loop persistence"
  GRABS=()
  grab chat-persist "$P_PPROF" "$PROFILE_SECS" 5
  "$LT" persist -name profile-persist -target parley -gateway "$GW" -ws "ws://127.0.0.1:$P_CHAT_PROF/ws" -users "$USERS" \
    -clients 200 -rooms 8 -duration "$((PROFILE_SECS + 2))s" -pid "${PIDS[chat-prof]}" -out "$OUT/profile-runs.jsonl"
  wait "${GRABS[@]}" || echo "bench: a profile was not taken" >&2

  log "profile: chat-service heap with $IDLE_SMALL idle connections"
  "$LT" idle -name profile-idle -target parley -gateway "$GW" -ws "ws://127.0.0.1:$P_CHAT_PROF/ws" -users "$USERS" \
    -clients "$IDLE_SMALL" -settle 6s -pid "${PIDS[chat-prof]}" -conc 64 -metrics "$(url "$P_CHAT_PROF")/metrics" \
    -out "$OUT/profile-runs.jsonl" &
  IDLE_RUN=$!
  sleep 5
  curl -fsS -o "$OUT/chat-idle-heap.pprof" "http://127.0.0.1:$P_PPROF/debug/pprof/heap?gc=1" || true
  curl -fsS -o "$OUT/chat-idle-goroutines.txt" "http://127.0.0.1:$P_PPROF/debug/pprof/goroutine?debug=1" || true
  wait "$IDLE_RUN" || echo "bench: the idle profile run failed" >&2
  go tool pprof -top -sample_index=inuse_space -nodecount=30 "$BIN/loadtest" "$OUT/chat-idle-heap.pprof" >"$OUT/chat-idle-heap-top.txt" 2>/dev/null || true

  log "profile: api-gateway and auth-service under GET /api/auth/me"
  GRABS=()
  grab gateway-http "$((P_PPROF + 1))" "$PROFILE_SECS" 3
  grab auth-http "$((P_PPROF + 2))" "$PROFILE_SECS" 3
  "$LT" http -name profile-http -target gateway -url "$(url "$P_GW_PROF")/api/auth/me" -users "$USERS" -gateway "$GW" \
    -duration "$((PROFILE_SECS + 2))s" -pid "${PIDS[gw-prof]},${PIDS[auth-prof]}" -cpuprofile "$OUT/loadtest-http.pprof" \
    -out "$OUT/profile-runs.jsonl"
  wait "${GRABS[@]}" || echo "bench: a profile was not taken" >&2
  stop gw-prof; stop auth-prof; stop chat-prof
  for f in chat-fanout chat-persist gateway-http auth-http loadtest-fanout loadtest-http; do tops "$f"; done
  head -25 "$OUT/chat-fanout-top.txt" >&2 || true
fi

if want login; then
  # Logins cost what bcrypt costs: restart auth-service at LOGIN_COST.
  log "auth-service at BCRYPT_COST=$LOGIN_COST"
  stop auth
  start auth "$P_AUTH" "${AUTH_ENV[@]}" "BCRYPT_COST=$LOGIN_COST" -- "$BIN/auth-service"
  for rep in $(seq 1 "$REPS"); do
    log "rep $rep: login storm vs bcrypt bound"
    lt login -target parley -rep "$rep" -gateway "$GW" -cost "$LOGIN_COST" -duration "$LOGIN_DUR" -pid "${PIDS[auth]},${PIDS[gateway]}"
  done
fi

log "report"
CHART_ARGS=()
want saturate && CHART_ARGS=(-chart "$CHART")
"$LT" report -results "$RESULTS" -md "$OUT/summary.md" "${CHART_ARGS[@]}"
{ machine; echo; cat "$OUT/summary.md"; } >"$OUT/summary.tmp" && mv "$OUT/summary.tmp" "$OUT/summary.md"
cat "$OUT/summary.md"
echo >&2
echo "bench: done in $(( ($(date +%s) - T0) / 60 )) min; results in $OUT (summary.md, results.jsonl, logs/, *.pprof)" >&2
