#!/usr/bin/env bash
# Capture MQTT test vectors from independent MQTT implementations.
#
# Starts a private mosquitto broker on 127.0.0.1 (never port 1883, never the
# system service), puts proxy.py in front of it and drives mosquitto_pub,
# mosquitto_sub, mosquitto_rr, Eclipse Paho (python) and MQTT.js through a
# set of scenarios.  Every scenario gets its own proxy run and produces
# tests/vectors/<peer>-v<version>-<scenario>.txt (format: tests/vectors/README.md).
#
# Usage: tests/vectors/capture/capture.sh
# Environment: BROKER_PORT (18850), PROXY_PORT (18851), DENY_PORT (18852),
#              LIMIT_PORT (18853); KEEP_WORK=1 keeps the temp dir.
#
# Requirements (Debian 12): mosquitto, mosquitto-clients, python3-paho-mqtt
# (for /usr/bin/python3), node + npm (MQTT.js from tests/interop/js).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VEC_DIR=$(cd "$HERE/.." && pwd)
REPO=$(cd "$VEC_DIR/../.." && pwd)
JS_DIR=$REPO/tests/interop/js
PY=/usr/bin/python3
T=10                                   # timeout for every client command

BROKER_PORT=${BROKER_PORT:-18850}      # anonymous access allowed
PROXY_PORT=${PROXY_PORT:-18851}        # proxy.py -> BROKER_PORT or DENY_PORT
DENY_PORT=${DENY_PORT:-18852}          # anonymous refused, no password file
LIMIT_PORT=${LIMIT_PORT:-18853}        # max_qos 1, max_topic_alias 2

WORK=$(mktemp -d /tmp/tern-capture.XXXXXX)
chmod 755 "$WORK"                      # mosquitto drops to user mosquitto
OUT=$WORK/out
mkdir -p "$OUT"

BROKER_PID=""
PROXY_PID=""
BG_PIDS=()
FAILS=0

cleanup() {
    local rc=$?
    set +e
    for pid in "${BG_PIDS[@]}" $PROXY_PID $BROKER_PID; do
        if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
            kill "$pid" 2>/dev/null
            wait "$pid" 2>/dev/null
        fi
    done
    if [ $rc -ne 0 ] || [ "${KEEP_WORK:-0}" = 1 ]; then
        echo "capture: work dir kept: $WORK" >&2
    else
        rm -rf "$WORK"
    fi
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

die() { echo "capture: $*" >&2; exit 1; }
note() { echo "capture: $*" >&2; }

# ---------------------------------------------------------------- checks
for tool in mosquitto mosquitto_pub mosquitto_sub mosquitto_rr node npm; do
    command -v "$tool" >/dev/null || die "missing $tool"
done
$PY -c 'import paho.mqtt' 2>/dev/null || die "$PY cannot import paho.mqtt"
for port in "$BROKER_PORT" "$PROXY_PORT" "$DENY_PORT" "$LIMIT_PORT"; do
    [ "$port" != 1883 ] || die "refusing to use port 1883"
    if ss -Hltn "sport = :$port" | grep -q .; then
        die "port $port is already in use"
    fi
done
if [ ! -d "$JS_DIR/node_modules/mqtt" ]; then
    note "installing MQTT.js (npm ci) in $JS_DIR"
    (cd "$JS_DIR" && timeout 300 npm ci --no-audit --no-fund) >&2
fi

MOSQ_VERSION=$( (mosquitto -h 2>/dev/null || true) | sed -n 's/^mosquitto version \([^ ]*\).*/\1/p' | head -1)
PAHO_VERSION=$($PY -c 'import paho.mqtt; print(paho.mqtt.__version__)')
MQTTJS_VERSION=$(cd "$JS_DIR" && node -p 'require("mqtt/package.json").version')
NODE_VERSION=$(node --version)

# ---------------------------------------------------------------- broker
cat > "$WORK/mosquitto.conf" <<EOF
# tern vector capture broker: loopback only, throwaway.
per_listener_settings true
persistence false
# MQTT 5 clients asking for a longer keepalive get a Server Keep Alive in
# CONNACK (2.0.11 does not enforce it for MQTT 3.x clients).
max_keepalive 100
# Announced to MQTT 5 clients as Maximum Packet Size in CONNACK.
max_packet_size 1000000

listener $BROKER_PORT 127.0.0.1
allow_anonymous true

listener $DENY_PORT 127.0.0.1
allow_anonymous false

listener $LIMIT_PORT 127.0.0.1
allow_anonymous true
max_qos 1
max_topic_alias 2
EOF
chmod 644 "$WORK/mosquitto.conf"

mosquitto -c "$WORK/mosquitto.conf" >"$WORK/mosquitto.log" 2>&1 &
BROKER_PID=$!
for _ in $(seq 50); do
    grep -q " running" "$WORK/mosquitto.log" 2>/dev/null && break
    kill -0 "$BROKER_PID" 2>/dev/null || { cat "$WORK/mosquitto.log" >&2; die "mosquitto died"; }
    sleep 0.1
done
grep -q " running" "$WORK/mosquitto.log" || die "mosquitto did not start"
note "mosquitto $MOSQ_VERSION pid $BROKER_PID on 127.0.0.1:$BROKER_PORT (+ deny :$DENY_PORT, limits :$LIMIT_PORT)"

# ---------------------------------------------------------------- scenario helpers
CUR=""          # current scenario name
CUR_BODY=""     # packets recorded by the proxy
CUR_HDR=""      # header lines
CUR_PLOG=""     # proxy diagnostics

# begin NAME PEER VERSION DESCRIPTION [UPSTREAM_PORT]
begin() {
    CUR=$1
    local peer=$2 version=$3 desc=$4 upstream=${5:-$BROKER_PORT}
    CUR_BODY=$WORK/$CUR.body
    CUR_HDR=$WORK/$CUR.hdr
    CUR_PLOG=$WORK/$CUR.proxy.log
    : >"$CUR_BODY"
    {
        echo "# peer: $peer"
        echo "# version: $version"
        echo "# server: mosquitto $MOSQ_VERSION (s2c lines are the broker's bytes)"
        echo "# scenario: $desc"
    } >"$CUR_HDR"
    case $upstream in
        "$DENY_PORT") echo "# listener: anonymous access refused (no password file)" >>"$CUR_HDR" ;;
        "$LIMIT_PORT") echo "# listener: max_qos 1, max_topic_alias 2" >>"$CUR_HDR" ;;
    esac
    rm -f "$WORK/proxy.ready"
    $PY "$HERE/proxy.py" --listen "$PROXY_PORT" --upstream "$upstream" \
        --out "$CUR_BODY" --ready "$WORK/proxy.ready" --log "$CUR_PLOG" &
    PROXY_PID=$!
    for _ in $(seq 50); do
        [ -s "$WORK/proxy.ready" ] && break
        kill -0 "$PROXY_PID" 2>/dev/null || die "proxy died"
        sleep 0.1
    done
    [ -s "$WORK/proxy.ready" ] || die "proxy did not start"
}

# Quote a command for the header.
quote() { local out; printf -v out '%q ' "$@"; echo "${out% }"; }

# run [--any] CMD...   run a client with a timeout; record it as '# command:'
run() {
    local any=0 rc=0
    [ "$1" = --any ] && { any=1; shift; }
    echo "# command: $(quote "$@")" >>"$CUR_HDR"
    timeout "$T" "$@" >>"$WORK/clients.log" 2>&1 || rc=$?
    if [ $rc -ne 0 ] && [ $any = 0 ]; then
        note "[$CUR] exit $rc: $(quote "$@")"
        FAILS=$((FAILS + 1))
    fi
    return 0
}

# run_stdin TEXT CMD...   like run, with TEXT (printf format) on stdin
run_stdin() {
    local text=$1 rc=0
    shift
    echo "# command: printf $(quote "$text") | $(quote "$@")" >>"$CUR_HDR"
    # shellcheck disable=SC2059
    printf "$text" | timeout "$T" "$@" >>"$WORK/clients.log" 2>&1 || rc=$?
    if [ $rc -ne 0 ]; then
        note "[$CUR] exit $rc: $(quote "$@")"
        FAILS=$((FAILS + 1))
    fi
    return 0
}

# bg CMD...   start a client in the background (waited for by end/wait_bg)
bg() {
    echo "# command (background): $(quote "$@")" >>"$CUR_HDR"
    timeout "$T" "$@" >>"$WORK/clients.log" 2>&1 &
    BG_PIDS+=($!)
}

wait_bg() {
    local pid rc
    for pid in "${BG_PIDS[@]}"; do
        rc=0
        wait "$pid" || rc=$?
        if [ $rc -ne 0 ]; then
            note "[$CUR] background client exit $rc"
            FAILS=$((FAILS + 1))
        fi
    done
    BG_PIDS=()
}

# setup CMD...   talk to the broker directly (not recorded), e.g. seed retained
setup() {
    echo "# setup (direct to broker, not recorded): $(quote "$@")" >>"$CUR_HDR"
    timeout "$T" "$@" >>"$WORK/clients.log" 2>&1 || { note "[$CUR] setup failed: $*"; FAILS=$((FAILS + 1)); }
}

# wait_for REGEX COUNT   wait until COUNT recorded lines match REGEX
wait_for() {
    local re=$1 count=$2
    for _ in $(seq 100); do
        [ "$(grep -cE "$re" "$CUR_BODY" || true)" -ge "$count" ] && return 0
        sleep 0.05
    done
    note "[$CUR] timed out waiting for $count x /$re/"
    FAILS=$((FAILS + 1))
}

# end   wait for clients and connections to finish, stop the proxy, emit file
end() {
    wait_bg
    local opened closed
    for _ in $(seq 100); do
        opened=$(grep -c ': open$' "$CUR_PLOG" || true)
        closed=$(grep -c ': closed$' "$CUR_PLOG" || true)
        [ "$opened" = "$closed" ] && break
        sleep 0.05
    done
    [ "$opened" = "$closed" ] || note "[$CUR] $((opened - closed)) connection(s) still open"
    sleep 0.1
    kill "$PROXY_PID"
    wait "$PROXY_PID" 2>/dev/null || true
    PROXY_PID=""
    if grep -vE ': (open|closed)$|^proxy: stopping$' "$CUR_PLOG" >&2; then
        note "[$CUR] proxy reported problems (above)"
        FAILS=$((FAILS + 1))
    fi
    if [ ! -s "$CUR_BODY" ]; then
        note "[$CUR] no packets captured"
        FAILS=$((FAILS + 1))
    fi
    cat "$CUR_HDR" "$CUR_BODY" >"$OUT/$CUR.txt"
    note "[$CUR] $(wc -l <"$CUR_BODY") packets"
}

P=(-h 127.0.0.1 -p "$PROXY_PORT")      # clients talk to the proxy
D=(-h 127.0.0.1 -p "$BROKER_PORT")     # direct (setup only)

head -c 200 /dev/zero | tr '\0' 'a' >"$WORK/payload-200"      # 2-byte remaining length
head -c 17000 /dev/zero | tr '\0' 'b' >"$WORK/payload-17000"  # 3-byte remaining length

vname() { case $1 in 31) echo 3.1 ;; 311) echo 3.1.1 ;; 5) echo 5.0 ;; esac; }
MPUB="mosquitto_pub $MOSQ_VERSION"
MSUB="mosquitto_sub $MOSQ_VERSION"

# ================================================================ mosquitto_pub
for V in 31 311 5; do
    VN=$(vname $V)
    PFX=mosquitto_pub-v$V
    TP=tern/pub/v$V

    for q in 0 1 2; do
        begin "$PFX-qos$q" "$MPUB" "$VN" "single PUBLISH at QoS $q"
        run mosquitto_pub "${P[@]}" -V $V -i "tern-pub-$V" -t "$TP/qos$q" -m "hello qos$q" -q $q
        end
    done

    begin "$PFX-retain" "$MPUB" "$VN" "retained PUBLISH, then clear it with an empty retained PUBLISH"
    run mosquitto_pub "${P[@]}" -V $V -i "tern-pub-$V" -t "$TP/retained" -m "retained value" -q 1 -r
    run mosquitto_pub "${P[@]}" -V $V -i "tern-pub-$V" -t "$TP/retained" -n -q 1 -r
    end

    begin "$PFX-empty" "$MPUB" "$VN" "zero-length payload (-n) at QoS 0"
    run mosquitto_pub "${P[@]}" -V $V -i "tern-pub-$V" -t "$TP/empty" -n
    end

    begin "$PFX-connect-options" "$MPUB" "$VN" "client id, username/password, keepalive, retained QoS 1 will; QoS 2 publish"
    run mosquitto_pub "${P[@]}" -V $V -i "tern-pub-opts-$V" -u tern-user -P tern-pass -k 30 \
        --will-topic "$TP/will" --will-payload "pub gone" --will-qos 1 --will-retain \
        -t "$TP/opts" -m "with options" -q 2
    end

    begin "$PFX-multi" "$MPUB" "$VN" "three QoS 2 PUBLISHes on one connection (packet ids 1..3)"
    run_stdin 'one\ntwo\nthree\n' mosquitto_pub "${P[@]}" -V $V -i "tern-pub-multi-$V" -t "$TP/multi" -l -q 2
    end

    begin "$PFX-large" "$MPUB" "$VN" "200-byte and 17000-byte payloads (2- and 3-byte remaining length)"
    run mosquitto_pub "${P[@]}" -V $V -i "tern-pub-$V" -t "$TP/large" -f "$WORK/payload-200" -q 1
    run mosquitto_pub "${P[@]}" -V $V -i "tern-pub-$V" -t "$TP/large" -f "$WORK/payload-17000" -q 0
    end

    if [ $V = 5 ]; then
        desc="keepalive 200 > broker max_keepalive 100: CONNACK carries Server Keep Alive"
    else
        desc="keepalive 200 > broker max_keepalive 100: accepted (2.0.11 does not enforce max_keepalive for MQTT 3.x)"
    fi
    begin "$PFX-keepalive-limit" "$MPUB" "$VN" "$desc"
    run mosquitto_pub "${P[@]}" -V $V -i "tern-pub-ka-$V" -k 200 -t "$TP/ka" -m ka
    end

    begin "$PFX-refused" "$MPUB" "$VN" "username/password on a listener refusing everyone: CONNACK not authorized" "$DENY_PORT"
    run --any mosquitto_pub "${P[@]}" -V $V -i "tern-pub-deny-$V" -u nobody -P wrong -t "$TP/deny" -m x
    end
done

V=5
TP=tern/pub/v5
begin "mosquitto_pub-v5-properties" "$MPUB" 5.0 "MQTT 5 CONNECT, will, PUBLISH and DISCONNECT properties via -D"
run mosquitto_pub "${P[@]}" -V 5 -i tern-pub-props -q 1 -t "$TP/props" -m "with properties" \
    -D connect session-expiry-interval 60 \
    -D connect user-property a b \
    -D connect user-property a2 b2 \
    -D connect receive-maximum 10 \
    -D connect maximum-packet-size 100000 \
    -D connect topic-alias-maximum 5 \
    -D connect request-response-information 1 \
    -D connect request-problem-information 0 \
    -D publish message-expiry-interval 30 \
    -D publish content-type text/plain \
    -D publish response-topic reply/here \
    -D publish correlation-data 1234 \
    -D publish payload-format-indicator 1 \
    -D publish user-property k v \
    -D publish topic-alias 3 \
    --will-topic "$TP/will" --will-payload "props gone" --will-qos 2 \
    -D will will-delay-interval 5 \
    -D will message-expiry-interval 100 \
    -D will content-type text/plain \
    -D will response-topic will/reply \
    -D will correlation-data will-corr \
    -D will payload-format-indicator 1 \
    -D will user-property wk wv \
    -D disconnect session-expiry-interval 0 \
    -D disconnect user-property bye now
end

begin "mosquitto_pub-v5-no-client-id" "$MPUB" 5.0 "MQTT 5 with no -i: empty client id, CONNACK has Assigned Client Identifier"
run mosquitto_pub "${P[@]}" -V 5 -t "$TP/anon" -m "anonymous id" -q 1
end

# ================================================================ mosquitto_sub
for V in 31 311 5; do
    VN=$(vname $V)
    PFX=mosquitto_sub-v$V
    TS=tern/sub/v$V

    for q in 0 1 2; do
        begin "$PFX-retained-q$q" "$MSUB" "$VN" "subscribe -q $q to three filters (+, #, exact); -C 1 exits after the retained QoS 2 message"
        setup mosquitto_pub "${D[@]}" -V $V -t "$TS/r/x" -m "retained for sub" -q 2 -r
        run mosquitto_sub "${P[@]}" -V $V -i "tern-sub-$V" -q $q -t "$TS/+/x" -t "$TS/other/#" -t "$TS/exact" -C 1
        setup mosquitto_pub "${D[@]}" -V $V -t "$TS/r/x" -n -r
        end
    done

    begin "$PFX-live" "$MSUB" "$VN" "QoS 2 subscriber receives live QoS 0, 1, 2 publishes (broker->client QoS flows)"
    bg mosquitto_sub "${P[@]}" -V $V -i "tern-sub-live-$V" -q 2 -t "$TS/live/#" -C 3
    wait_for '^s2c 90' 1
    for q in 0 1 2; do
        run mosquitto_pub "${P[@]}" -V $V -i "tern-sub-pub-$V" -t "$TS/live/q$q" -m "live qos$q" -q $q
    done
    end

    if [ $V = 5 ]; then
        begin "$PFX-unsubscribe" "$MSUB" "$VN" "subscribe then unsubscribe (-U) with user properties; -E exits after the acks"
        run mosquitto_sub "${P[@]}" -V 5 -i "tern-sub-unsub-$V" -c -x 60 -t "$TS/keep" -U "$TS/gone" -U "$TS/keep" \
            -D subscribe user-property sk sv -D unsubscribe user-property uk uv -E
    else
        begin "$PFX-unsubscribe" "$MSUB" "$VN" "subscribe then unsubscribe (-U); -E exits after the acks"
        run mosquitto_sub "${P[@]}" -V $V -i "tern-sub-unsub-$V" -c -t "$TS/keep" -U "$TS/gone" -U "$TS/keep" -E
        # Remove the persistent session again (clean session connect).
        run mosquitto_sub "${P[@]}" -V $V -i "tern-sub-unsub-$V" -t "$TS/keep" -E
    fi
    end

    if [ $V = 5 ]; then
        begin "$PFX-ping" "$MSUB" "$VN" "keepalive 5, -W 7: PINGREQ/PINGRESP, then DISCONNECT 0x04 on timeout; no -i (assigned client id)"
        run --any mosquitto_sub "${P[@]}" -V 5 -k 5 -W 7 -t "$TS/idle"
    else
        begin "$PFX-ping" "$MSUB" "$VN" "keepalive 5, -W 7: PINGREQ/PINGRESP"
        run --any mosquitto_sub "${P[@]}" -V $V -i "tern-sub-ping-$V" -k 5 -W 7 -t "$TS/idle"
    fi
    end
done

TS=tern/sub/v5
begin "mosquitto_sub-v5-options" "$MSUB" 5.0 "retain-as-published subscription with subscription identifier and user properties; connect/disconnect properties"
setup mosquitto_pub "${D[@]}" -V 5 -t "$TS/opt/x" -m "retained for options" -q 1 -r \
    -D publish user-property origin setup -D publish content-type text/plain
run mosquitto_sub "${P[@]}" -V 5 -i tern-sub-options -q 2 -x 30 --retain-as-published \
    -t "$TS/opt/+" -t "$TS/opt2/#" -C 1 \
    -D connect user-property ck cv \
    -D connect request-problem-information 1 \
    -D connect maximum-packet-size 500000 \
    -D subscribe subscription-identifier 99 \
    -D subscribe user-property sk sv \
    -D disconnect session-expiry-interval 0 \
    -D disconnect user-property bye now \
    --will-topic "$TS/will" --will-payload "sub gone" \
    -D will user-property wk wv -D will will-delay-interval 2
setup mosquitto_pub "${D[@]}" -V 5 -t "$TS/opt/x" -n -r
end

# ================================================================ mosquitto_rr
begin "mosquitto_rr-v5-request-response" "mosquitto_rr $MOSQ_VERSION (+ mosquitto_sub/pub as responder)" 5.0 \
    "request/response: mosquitto_rr publishes with Response Topic; a responder answers with Correlation Data"
bg mosquitto_sub "${P[@]}" -V 5 -i tern-rr-responder -t tern/rr/req -C 1 -F '%R'
wait_for '^s2c 90' 1
bg mosquitto_rr "${P[@]}" -V 5 -i tern-rr-requester -t tern/rr/req -e tern/rr/resp -m ping -W 5
wait_for '^s2c 3' 1     # request delivered to the responder
wait_for '^s2c 90' 2    # requester subscribed to its response topic
run mosquitto_pub "${P[@]}" -V 5 -i tern-rr-answer -t tern/rr/resp -m pong -D publish correlation-data rr-1
end

# ================================================================ paho
PAHO="paho-mqtt (python) $PAHO_VERSION"
for V in 31 311 5; do
    VN=$(vname $V)
    begin "paho-v$V-session" "$PAHO" "$VN" \
        "will + username/password + keepalive 1, multi-filter SUBSCRIBE, QoS 0/1/2 round trip, PINGREQ, UNSUBSCRIBE, DISCONNECT, will delivery"
    run $PY "$HERE/paho_capture.py" --port "$PROXY_PORT" --version $V --scenario session
    end

    begin "paho-v$V-persistent" "$PAHO" "$VN" \
        "persistent session: subscribe, disconnect, messages queued offline, reconnect with session present"
    run $PY "$HERE/paho_capture.py" --port "$PROXY_PORT" --version $V --scenario persistent
    end
done
begin "paho-v5-takeover" "$PAHO" 5.0 "second client with the same id takes over the session (mosquitto 2.0.11 closes the first connection without a DISCONNECT)"
run $PY "$HERE/paho_capture.py" --port "$PROXY_PORT" --version 5 --scenario takeover
end
begin "paho-v5-limits" "$PAHO" 5.0 "QoS 2 publish and topic alias 3 beyond the listener limits: CONNACK Maximum QoS, broker DISCONNECT 0x9B and 0x94" "$LIMIT_PORT"
run $PY "$HERE/paho_capture.py" --port "$PROXY_PORT" --version 5 --scenario limits
end

# ================================================================ MQTT.js
MQTTJS="MQTT.js $MQTTJS_VERSION (node $NODE_VERSION)"
for PV in 3 4 5; do
    case $PV in 3) V=31 ;; 4) V=311 ;; 5) V=5 ;; esac
    VN=$(vname $V)
    begin "mqttjs-v$V-session" "$MQTTJS" "$VN" \
        "connect (will, username/password, keepalive 1, v5 properties), SUBSCRIBE with options, QoS 0/1/2 round trip, PINGREQ, UNSUBSCRIBE, DISCONNECT"
    run node "$JS_DIR/capture.js" --port "$PROXY_PORT" --version $PV --scenario session
    end

    begin "mqttjs-v$V-refused" "$MQTTJS" "$VN" "username/password on a listener refusing everyone: CONNACK not authorized" "$DENY_PORT"
    run node "$JS_DIR/capture.js" --port "$PROXY_PORT" --version $PV --scenario refused
    end
done
begin "mqttjs-v5-bad-auth-method" "$MQTTJS" 5.0 "CONNECT with an unsupported Authentication Method: CONNACK 0x8C"
run node "$JS_DIR/capture.js" --port "$PROXY_PORT" --version 5 --scenario badauth
end

# ================================================================ results
note "validating"
$PY "$HERE/check_vectors.py" "$OUT" >"$WORK/check.txt" || { cat "$WORK/check.txt" >&2; die "validation failed"; }
[ $FAILS -eq 0 ] || die "$FAILS scenario problem(s); vectors not installed (see $WORK)"

# Replace previously generated vectors with the new set.
rm -f "$VEC_DIR"/mosquitto_pub-*.txt "$VEC_DIR"/mosquitto_sub-*.txt "$VEC_DIR"/mosquitto_rr-*.txt \
      "$VEC_DIR"/paho-*.txt "$VEC_DIR"/mqttjs-*.txt
cp "$OUT"/*.txt "$VEC_DIR"/
grep -E '^[0-9]+ files, ' "$WORK/check.txt" >&2 || true
note "wrote $(ls "$OUT"/*.txt | wc -l) vector files to $VEC_DIR"
