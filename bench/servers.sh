#!/usr/bin/env bash
# Host servers under load: `reflex serve` (the demo service, HTTP and its TCP line listener)
# against jsonrpsee's HTTP server and a bare TCP ping-pong floor, all loaded by the same
# clients, in interleaved rounds, pinned to one CPU (see the project's performance notes:
# loopback round trips are bimodal unless server and client share a vCPU).
#
#   HTTP (wrk, keep-alive, bench/wrk-add.lua POSTs the 2.0 add and counts bad replies):
#     reflex http://…/rpc and jsonrpsee-server (bench/src/bin), 1 and 16 connections
#   Line protocol (line-load, bench/src/bin: closed loop, every reply validated):
#     reflex tcp:// and pingpong-server (the floor: counts newlines, writes canned replies of
#     reflex's size), 1 connection, 16 connections, 16 pipelined requests on 1 connection
#
# Each round runs every configuration once for BENCH_SECS; the figures are medians with
# min-max over the rounds, and paired per-round ratios:
#   reflex HTTP / jsonrpsee HTTP (target >= 1.2), reflex line 1 conn / ping-pong floor
#   (target >= 0.85). Targets are reported, never enforced: the exit code says whether the
#   benchmark ran (a bad reply or a server that does not start fails it).
#
# Environment: BENCH_ROUNDS (default 5), BENCH_SECS (default 3), BENCH_CPU (the CPU that
# everything is pinned to, default 1; "none" for unpinned).
#
#   bench/servers.sh                               about 2.5 min
#   BENCH_ROUNDS=1 BENCH_SECS=1 bench/servers.sh   a quick check (CI)

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

ROUNDS="${BENCH_ROUNDS:-5}"
SECS="${BENCH_SECS:-3}"
CPU="${BENCH_CPU:-1}"

die() {
    echo "servers.sh: $*" >&2
    exit 1
}

command -v wrk >/dev/null 2>&1 || die "wrk is missing: apt-get install wrk (./ci.sh setup)"
if [[ "$CPU" == none ]]; then
    PIN=()
else
    command -v taskset >/dev/null 2>&1 || die "taskset is missing (util-linux)"
    PIN=(taskset -c "$CPU")
fi

echo "+ cargo build --release -p reflex-host --bin reflex -p reflex-bench --bins" >&2
cargo build --release --quiet -p reflex-host --bin reflex -p reflex-bench --bins
TARGET_DIR="$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
BIN="$TARGET_DIR/release"
WORK="$TARGET_DIR/bench/servers"
rm -rf "$WORK"
mkdir -p "$WORK"

PIDS=()
cleanup() {
    local p
    for p in ${PIDS[@]+"${PIDS[@]}"}; do
        kill "$p" 2>/dev/null || true
    done
    for p in ${PIDS[@]+"${PIDS[@]}"}; do
        wait "$p" 2>/dev/null || true
    done
}
trap cleanup EXIT

# start NAME LINES COMMAND...: starts a server pinned, waits for LINES "listening on" lines.
start() {
    local name="$1" lines="$2" i
    shift 2
    "${PIN[@]}" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" &
    PIDS+=($!)
    for i in $(seq 100); do
        (($(grep -c '^listening on ' "$WORK/$name.out" || true) >= lines)) && return 0
        kill -0 "${PIDS[-1]}" 2>/dev/null || die "$name exited: $(cat "$WORK/$name.err")"
        sleep 0.1
    done
    die "$name did not start listening: $(cat "$WORK/$name.err")"
}

url() { sed -n "s|^listening on \\($2\\)|\\1|p" "$WORK/$1.out" | head -n 1; }

start reflex 2 "$BIN/reflex" serve --listen tcp://127.0.0.1:0 --listen http://127.0.0.1:0/rpc
start jsonrpsee 1 "$BIN/jsonrpsee-server"
start pingpong 1 "$BIN/pingpong-server"
REFLEX_TCP="$(url reflex 'tcp://.*')"
REFLEX_HTTP="$(url reflex 'http://.*')"
JSONRPSEE_HTTP="$(url jsonrpsee 'http://.*')"
PINGPONG_TCP="$(url pingpong 'tcp://.*')"
[[ -n "$REFLEX_TCP" && -n "$REFLEX_HTTP" && -n "$JSONRPSEE_HTTP" && -n "$PINGPONG_TCP" ]] ||
    die "could not read the servers' addresses"

# name|kind|url|connections|depth
CONFIGS=(
    "reflex HTTP c1|http|$REFLEX_HTTP|1|1"
    "jsonrpsee HTTP c1|http|$JSONRPSEE_HTTP|1|1"
    "reflex HTTP c16|http|$REFLEX_HTTP|16|1"
    "jsonrpsee HTTP c16|http|$JSONRPSEE_HTTP|16|1"
    "reflex line c1|line|$REFLEX_TCP|1|1"
    "ping-pong floor c1|line|$PINGPONG_TCP|1|1"
    "reflex line c16|line|$REFLEX_TCP|16|1"
    "ping-pong floor c16|line|$PINGPONG_TCP|16|1"
    "reflex line c1 x16|line|$REFLEX_TCP|1|16"
    "ping-pong floor c1 x16|line|$PINGPONG_TCP|1|16"
)

RESULTS="$WORK/results.tsv"
LATENCY="$WORK/latency.tsv"
: >"$RESULTS"
: >"$LATENCY"

# run ROUND CONFIG: one measurement; appends its rate to RESULTS, p50/p99 to LATENCY.
run() {
    local round="$1" name kind url conns depth out rate bad p50 p99
    IFS='|' read -r name kind url conns depth <<<"$2"
    if [[ "$kind" == http ]]; then
        out="$("${PIN[@]}" wrk -t1 -c"$conns" -d"${SECS}s" -s bench/wrk-add.lua "$url")" ||
            die "wrk failed on $name: $out"
        rate="$(sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' <<<"$out")"
        bad="$(sed -n 's/^bad \([0-9]*\) errors \([0-9]*\) .*/\1 \2/p' <<<"$out")"
        p50="$(sed -n 's/.* p50_us \([0-9]*\) .*/\1/p' <<<"$out")"
        p99="$(sed -n 's/.* p99_us \([0-9]*\).*/\1/p' <<<"$out")"
        [[ "$bad" == "0 0" ]] || die "$name: bad replies / errors: $bad
$out"
    else
        out="$("${PIN[@]}" "$BIN/line-load" "$url" --conns "$conns" --depth "$depth" --secs "$SECS")" ||
            die "line-load failed on $name: $out"
        rate="$(sed -n 's/^rate \([0-9.]*\) .*/\1/p' <<<"$out")"
        p50="$(sed -n 's/.* p50_us \([0-9.]*\) .*/\1/p' <<<"$out")"
        p99="$(sed -n 's/.* p99_us \([0-9.]*\).*/\1/p' <<<"$out")"
    fi
    [[ -n "$rate" ]] || die "$name: no rate in: $out"
    printf '%s\t%s\t%s\n' "$round" "$name" "$rate" >>"$RESULTS"
    printf '%s\t%s\t%s\t%s\n' "$round" "$name" "$p50" "$p99" >>"$LATENCY"
    printf '  round %d  %-24s %12.0f req/s   p50 %s us  p99 %s us\n' "$round" "$name" "$rate" "$p50" "$p99" >&2
}

echo >&2
echo "servers.sh: $ROUNDS rounds x ${#CONFIGS[@]} configurations x ${SECS} s, pinned: ${PIN[*]:-no}" >&2
for round in $(seq "$ROUNDS"); do
    for c in "${CONFIGS[@]}"; do
        run "$round" "$c"
    done
done

echo
echo "Host servers, $ROUNDS interleaved rounds x ${SECS} s, $(if ((${#PIN[@]})); then echo "server and client pinned to CPU $CPU"; else echo unpinned; fi);"
echo "$(uname -srm), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg) at the end; 0 bad replies"
echo "HTTP: wrk $(wrk -v 2>&1 | sed -n 's/^wrk \([^ ]*\).*/\1/p' | head -n 1) -t1, bench/wrk-add.lua; line: line-load (depth x16 = 16 pipelined requests)"
echo
"$BIN/bench-stats" "$RESULTS" \
    --ratio "reflex HTTP c1|jsonrpsee HTTP c1|1.2" \
    --ratio "reflex HTTP c16|jsonrpsee HTTP c16|1.2" \
    --ratio "reflex line c1|ping-pong floor c1|0.85" \
    --ratio "reflex line c16|ping-pong floor c16" \
    --ratio "reflex line c1 x16|ping-pong floor c1 x16" \
    --ratio "reflex line c1|reflex HTTP c1"
echo
echo "  latency per round trip, range of p50 / p99 over rounds (us; wrk rounds to whole us)"
awk -F'\t' '
    { n = $2; if (!(n in lo50)) { order[++k] = n; lo50[n] = hi50[n] = $3; lo99[n] = hi99[n] = $4 }
      if ($3 + 0 < lo50[n] + 0) lo50[n] = $3; if ($3 + 0 > hi50[n] + 0) hi50[n] = $3
      if ($4 + 0 < lo99[n] + 0) lo99[n] = $4; if ($4 + 0 > hi99[n] + 0) hi99[n] = $4 }
    END { for (i = 1; i <= k; i++) { n = order[i]
            printf "  %-24s p50 %s-%s   p99 %s-%s\n", n, lo50[n], hi50[n], lo99[n], hi99[n] } }' "$LATENCY"
