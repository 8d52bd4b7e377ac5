#!/bin/sh
# Test of scripts/run-broker's arguments (CTest: run_broker_arguments): they
# go to ternd as they are, ternd starts in the caller's directory, and the
# script adds no option of its own (no -p 1883 over the user's -p, or over
# the listeners of the user's -c). The real run-broker runs in a scratch tree
# where scripts/build-release is a stub (the real one takes minutes the first
# time) and build/pgo/bin/ternd is the ternd under test.
#
#   sh scripts/run_broker_test.sh build/asan/bin/ternd
set -eu
ternd=$1
scripts=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d)
pid=
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$dir"
}
trap cleanup EXIT INT TERM

mkdir -p "$dir/tree/scripts" "$dir/tree/build/pgo/bin" "$dir/cwd"
cp "$scripts/run-broker" "$dir/tree/scripts/run-broker"
printf '#!/bin/sh\n' >"$dir/tree/scripts/build-release"
chmod +x "$dir/tree/scripts/build-release"
ln -s "$(cd "$(dirname "$ternd")" && pwd)/$(basename "$ternd")" "$dir/tree/build/pgo/bin/ternd"

failures=0
# expect_listening NAME ARGS...: `scripts/run-broker ARGS` run from $dir/cwd
# (run-broker execs ternd: $pid is ternd's) listens on 127.0.0.1 on a port
# the kernel picked, not 1883.
expect_listening() {
  name=$1
  shift
  (cd "$dir/cwd" && exec "$dir/tree/scripts/run-broker" "$@") >"$dir/log" 2>&1 &
  pid=$!
  port=
  i=0
  while [ -z "$port" ] && [ $i -lt 1000 ] && kill -0 "$pid" 2>/dev/null; do  # up to 10 s
    port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' "$dir/log" | head -n 1)
    [ -n "$port" ] || { sleep 0.01; i=$((i + 1)); }
  done
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  pid=
  if [ -n "$port" ] && [ "$port" != 1883 ]; then
    echo "ok: $name (listened on 127.0.0.1:$port)"
  else
    echo "FAILED: $name: scripts/run-broker $*"
    sed 's/^/  | /' "$dir/log"
    failures=$((failures + 1))
  fi
}

expect_listening "-p goes to ternd" -p 0 --storage memory
printf '[[listeners]]\nport = 0\n[storage]\nbackend = "memory"\n' >"$dir/cwd/ternd.toml"
expect_listening "-c FILE: the file's listener is used" -c "$dir/cwd/ternd.toml"
expect_listening "-c FILE: relative to the caller's directory" -c ternd.toml

if [ "$failures" -ne 0 ]; then exit 1; fi
