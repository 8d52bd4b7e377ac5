#!/usr/bin/env bash
# The gateway end to end (issue 18's performance target: >= 100k
# statuses/s on this machine): an interface producing statuses (the
# gateway_flood_interface plug-in) -> `tern gateway` -> ternd -> a
# subscriber (mosquitto_sub; see below). One round: the subscriber on
# +/+/+/+/+/+/S (ready once it has printed a retained message), then the
# gateway, which produces COUNT statuses; the round's figure is COUNT / the
# time from the gateway's start to the subscriber's last message (the
# gateway's start and connection included). A round counts only if every
# status arrived, once, in order, and the gateway dropped none.
#
#   cmake --preset release && cmake --build --preset release --target tern ternd gateway_flood_interface
#   bench/gateway_throughput.sh [BUILD=build/release] [COUNT=1000000] [ROUNDS=3] [QOS="1"]
#
# The subscriber is mosquitto_sub, a third-party client (`tern sub` once
# lost QoS 1 messages at these rates: its receive queue dropped its oldest
# when the callback fell behind; fixed in 0d041bc, it now stops reading).
# Figures: docs/benchmarks.md.
# QoS 0 works too but ternd drops QoS 0 for a subscriber that writes to a
# file slower than the gateway publishes (max_output_backlog), so the round
# never completes: QoS 1 is the figure.
set -euo pipefail
build=${1:-build/release}
count=${2:-1000000}
rounds=${3:-3}
qos_list=${4:-1}
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT
now() { date +%s.%N; }

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$build/bin/ternd" --port "$port" --storage memory 2>"$tmp/ternd.log" &
pids+=($!)
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break; sleep 0.05; done
"$build/bin/tern" pub -p "$port" -t ready/0/0/0/0/0/S -m ready -r -q 1

echo "gateway throughput: $count statuses per round, ternd (memory store) on 127.0.0.1:$port, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
for qos in $qos_list; do
  for round in $(seq "$rounds"); do
    cat >"$tmp/gateway.toml" <<TOML
name = "flood"
metrics_interval = 0
[mqtt]
uri = "mqtt://127.0.0.1:$port"
qos = $qos
[interface]
library = "$(realpath "$build")/lib/gateway_flood_interface.so"
count = $count
TOML
    : >"$tmp/out"
    mosquitto_sub -V 5 -W 300 -p "$port" -t '+/+/+/+/+/+/S' -q "$qos" -C $((count + 1)) >"$tmp/out" &
    sub=$!
    pids+=($sub)
    for _ in $(seq 200); do [[ -s "$tmp/out" ]] && break; sleep 0.02; done
    t0=$(now)
    "$build/bin/tern" gateway -c "$tmp/gateway.toml" 2>"$tmp/gateway.log" &
    gw=$!
    pids+=($gw)
    wait "$sub" || { echo "the subscriber failed ($?); the gateway said:"; cat "$tmp/gateway.log"; exit 1; }
    t1=$(now)
    kill -TERM "$gw"
    wait "$gw" || true
    # Every status once and in order: line i+2 carries n = i.
    in_order=$(awk -F'"n":"' 'NR > 1 { split($2, v, "\""); if (v[1] != NR - 2) bad++ } END { print NR - 1 - bad }' "$tmp/out")
    dropped=$(grep -c 'the oldest status dropped' "$tmp/gateway.log" || true)
    awk -v n="$count" -v a="$t0" -v b="$t1" -v q="$qos" -v r="$round" -v ok="$in_order" -v d="$dropped" \
      'BEGIN { printf "QoS %s round %s: %d statuses in %.3f s: %.0f statuses/s (%d received in order; gateway drop warnings: %d)\n", q, r, n, b - a, n / (b - a), ok, d }'
    [[ $in_order -eq $count && $dropped -eq 0 ]] || { echo "round $round: statuses lost or out of order"; exit 1; }
  done
done
