#!/usr/bin/env bash
# Device figures on a Cortex-M3 (thumbv7m, opt-level "s", LTO, panic=abort):
#
# 1. The QEMU firmware (firmware/qemu): flash and static RAM of its four builds and the peak
#    stack per request, from firmware/qemu/size.sh (stack painting under QEMU).
# 2. Instructions per request, counted by QEMU 7.2 (-singlestep: one instruction per
#    translation block; -d exec,nochain: one "Trace" line per executed block) on
#    bench/qemu-count, a firmware that handles one request from flash N times with
#    reflex::io::handle_to_slice and exits through semihosting. Built for N=1 and N=100:
#    per request = (count(100) - count(1)) / 99. Deterministic. For the demo without floats
#    (2.0 add, 1.0 add, batch of 10, __describe_functions) and for a one-function service.
# 3. Flash of the core: bench/qemu-count built with a one-function `#[reflex::service]`
#    (`tiny`), with the demo (ints only), and without reflex (`none`, the baseline); the
#    difference is what the core, its reflection and the service cost.
#
# Beside them, figures of mjson and eRPC quoted from the project's performance notes
# (shared/reference/performance.md), not measured here.
#
#   bench/device.sh                   everything (about 3 min; size.sh boots QEMU twice)
#   DEVICE_N=10 bench/device.sh       count with N=1 and N=10 instead of 100 (CI)
#   DEVICE_SIZE=0 bench/device.sh     skip part 1
#
# The exit code says whether the measurement ran; no figure fails it.

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
HERE="$ROOT/bench/qemu-count"
TARGET_DIR="$HERE/target"
WORK="$TARGET_DIR/count"
N_HIGH="${DEVICE_N:-100}"

die() {
    echo "device.sh: $*" >&2
    exit 1
}

command -v qemu-system-arm >/dev/null 2>&1 || die "qemu-system-arm is missing (./ci.sh setup)"
command -v arm-none-eabi-size >/dev/null 2>&1 || die "arm-none-eabi-size is missing: apt-get install binutils-arm-none-eabi"
((N_HIGH > 1)) || die "DEVICE_N must be above 1"
mkdir -p "$WORK"

QEMU=(qemu-system-arm -cpu cortex-m3 -machine lm3s6965evb -nographic -monitor none
    -semihosting-config enable=on,target=native)

# build SERVICE REQUEST N [CARGO-FLAG]: builds bench/qemu-count (with the extra cargo flag, e.g.
# --no-default-features: the core without `rpc.discover`), copies the ELF to $WORK, prints its
# path.
build() {
    local elf="$WORK/$1-$2-$3${4:+-lean}.elf"
    echo "+ QEMU_COUNT_SERVICE=$1 QEMU_COUNT_REQUEST=$2 QEMU_COUNT_N=$3 cargo build --release ${4:-}  # bench/qemu-count" >&2
    (cd "$HERE" && QEMU_COUNT_SERVICE="$1" QEMU_COUNT_REQUEST="$2" QEMU_COUNT_N="$3" \
        cargo build --release --quiet --target-dir "$TARGET_DIR" ${4:+"$4"})
    cp "$TARGET_DIR/thumbv7m-none-eabi/release/reflex-qemu-count" "$elf"
    echo "$elf"
}

# count ELF: runs it under QEMU with an instruction trace; prints the number of instructions.
# The trace goes through a pipe, not a file (a __describe_functions run logs millions of lines).
count() {
    local elf="$1" n rc=0
    n="$(timeout 600 "${QEMU[@]}" -singlestep -d exec,nochain -D /dev/stderr -kernel "$elf" \
        2>&1 >"$elf.reply" | grep -c '^Trace')" || rc=$?
    # grep -c exits 1 on no match; QEMU's own failure shows as a missing or wrong reply.
    grep -q '"result"' "$elf.reply" || die "$elf: no result in the reply: $(head -c 300 "$elf.reply") (exit $rc)"
    ((n > 0)) || die "$elf: no trace lines"
    echo "$n"
}

# flash ELF: vector table + .text + .rodata + .data (as firmware/qemu/size.sh counts it).
flash() {
    arm-none-eabi-size -A -d "$1" | awk '
        $1 == ".vector_table" || $1 == ".text" || $1 == ".rodata" || $1 == ".data" { f += $2 }
        END { print f }'
}

# ------------------------------------------------------------------------------------------
if [[ "${DEVICE_SIZE:-1}" != 0 ]]; then
    echo "== 1. firmware/qemu/size.sh"
    "$ROOT/firmware/qemu/size.sh"
    echo
fi

# ------------------------------------------------------------------------------------------
# -singlestep must really make every translation block one instruction: checked on one run.
check_elf="$(build demo v2 1)"
blocks="$(timeout 120 "${QEMU[@]}" -singlestep -d in_asm,nochain -D /dev/stderr -kernel "$check_elf" 2>&1 >/dev/null |
    awk '/^IN:/ { b++ } /^0x[0-9a-f]+:/ { i++ } END { printf "%d %d", b, i }')"
read -r nblocks ninsns <<<"$blocks"
((nblocks > 0 && nblocks == ninsns)) ||
    die "-singlestep does not give one instruction per block here ($nblocks blocks, $ninsns instructions)"

declare -A counts
CASES=("demo v2" "demo v1" "demo batch" "demo describe" "tiny v2")
for c in "${CASES[@]}"; do
    read -r service request <<<"$c"
    for n in 1 "$N_HIGH"; do
        elf="$(build "$service" "$request" "$n")"
        counts["$service,$request,$n"]="$(count "$elf")"
    done
done
declare -A flashes
for service in none tiny demo; do
    elf="$WORK/$service-v2-1.elf"
    [[ -f "$elf" && "$service" != none ]] || elf="$(build "$service" v2 1)"
    flashes[$service]="$(flash "$elf")"
done
flashes[lean]="$(flash "$(build tiny v2 1 --no-default-features)")"

echo "== 2. Cortex-M3 instructions per request (QEMU $(qemu-system-arm --version | sed -n 's/.*version \([^ ]*\).*/\1/p'), lm3s6965evb, -singlestep -d exec,nochain)"
echo "   thumbv7m-none-eabi, opt-level s, LTO, no floats; reflex::io::handle_to_slice, default Config"
echo "   (-singlestep checked: $nblocks translation blocks, $ninsns instructions)"
echo
printf '  %-22s %-8s %14s %16s\n' request service instr/request "whole run, N=1"
label() {
    case "$1" in
    v2) echo "2.0 add" ;; v1) echo "1.0 add" ;; batch) echo "batch of 10 add" ;; describe) echo "__describe_functions" ;;
    esac
}
for c in "${CASES[@]}"; do
    read -r service request <<<"$c"
    lo="${counts["$service,$request,1"]}"
    hi="${counts["$service,$request,$N_HIGH"]}"
    printf '  %-22s %-8s %14d %16d\n' "$(label "$request")" "$service" $(((hi - lo) / (N_HIGH - 1))) "$lo"
done
echo
echo "  instr/request = (count(N=$N_HIGH) - count(N=1)) / $((N_HIGH - 1)); the whole run includes reset, .bss/.data"
echo "  set-up, zeroing the buffers, writing the reply over semihosting and exiting."
echo "  From performance.md (not measured here): mjson 1.2.7 jsonrpc_process -> add 13,923 instr/request;"
echo "  serde-json-core 2-pass dispatch 4,824; single typed parse + reply 2,638 (Cortex-M3, QEMU-counted)."
echo
echo "== 3. Flash of the core (bench/qemu-count, 2.0 add build, no floats; vector table + .text + .rodata + .data)"
echo
printf '  %-52s %8s %8s\n' image flash "minus none"
printf '  %-52s %8d %8s\n' "none: the skeleton without reflex (baseline)" "${flashes[none]}" "-"
printf '  %-52s %8d %8d\n' "tiny: core + reflection + a 1-function service" "${flashes[tiny]}" $((flashes[tiny] - flashes[none]))
printf '  %-52s %8d %8d\n' "tiny without rpc.discover (core feature openrpc off)" "${flashes[lean]}" $((flashes[lean] - flashes[none]))
printf '  %-52s %8d %8d\n' "demo: core + reflection + the demo (ints only)" "${flashes[demo]}" $((flashes[demo] - flashes[none]))
echo
delta=$((flashes[tiny] - flashes[none]))
lean=$((flashes[lean] - flashes[none]))
if ((delta < 10240)); then verdict="meets"; else verdict="does not meet yet"; fi
echo "  core with reflection and one function: $delta B ($lean B with ReflectRPC's reflection only);"
echo "  $verdict the target of < 10 KiB (10,240 B; reported, not enforced)."
echo "  From performance.md (not measured here): mjson firmware with one method 8,406 B (+8,060 B over its"
echo "  skeleton, about 3 KB of it soft-float); serde-json-core 2-pass, 3 methods 12,064 B; eRPC claims"
echo "  \"<5kB\" code size (its README; C++ core with a binary codec, no reflection)."
