#!/bin/sh
# Smoke test of `tern bench` (CTest: tern_bench_smoke): starts ternd on a
# free port with memory storage, runs fan-in at QoS 1 (MQTT 3.1.1) and QoS 2
# (MQTT 5) for a second each, and 3 pairs at 200 messages/s each, and checks
# that every message arrived exactly once and in order, that the paced run
# kept its rate, and that the generator reported its CPU time.
#
#   sh apps/tern/bench_smoke.sh build/release/bin/tern build/release/bin/ternd
set -eu
tern=$1
ternd=$2
dir=$(mktemp -d)
pid=
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$dir"
}
trap cleanup EXIT INT TERM

"$ternd" --port 0 --storage memory >"$dir/ternd.log" 2>&1 &
pid=$!
port=
i=0
while [ -z "$port" ] && [ $i -lt 500 ]; do  # up to 5 s for "listening on 127.0.0.1:PORT"
  port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' "$dir/ternd.log" | head -n 1)
  [ -n "$port" ] || { sleep 0.01; i=$((i + 1)); }
done
if [ -z "$port" ]; then echo "ternd did not start:"; cat "$dir/ternd.log"; exit 1; fi

run() {
  "$tern" bench "$@" -p "$port" --duration 1 --progress never --broker-pid "$pid" >>"$dir/runs.json"
}
run fan-in --publishers 4 --qos 1 --version 3.1.1
run fan-in --publishers 4 --qos 2 --version 5
run pairs --pairs 3 --qos 1 --rate 200

/usr/bin/python3 - "$dir/runs.json" <<'PY'
import json, sys
ok = True
for line in open(sys.argv[1]):
    r = json.loads(line)
    print(line.strip())
    checks = {
        "ran": r["ok"],
        "messages flowed": r["received"] > 100,
        "paced at its rate": r["rate_per_publisher"] == 0 or
            abs(r["sent"] - r["rate_per_publisher"] * r["publishers"] * r["duration_s"]) <= 3,
        "none lost": r["lost"] == 0,
        "none duplicated": r["duplicated"] == 0,
        "none reordered": r["reordered"] == 0,
        "none foreign": r["unexpected"] == 0,
        "every one received": r["received"] == r["expected"],
        "no disconnects": r["disconnects"] == 0,
        "latency measured": r["latency_us"]["count"] == r["received"] and r["latency_us"]["p50"] > 0,
        "generator CPU reported": r["generator"]["cores"] > 0,
    }
    for name, passed in checks.items():
        if not passed:
            print("FAILED: %s (qos %d)" % (name, r["qos"]))
            ok = False
sys.exit(0 if ok else 1)
PY
