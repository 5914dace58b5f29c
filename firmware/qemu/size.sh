#!/usr/bin/env bash
# Size report of the QEMU firmware (Cortex-M3, opt-level "s", LTO):
#
# 1. flash and static RAM of four builds: floats on / ints only, each with and without defmt
#    logging. Flash = .vector_table + .text + .rodata + .data (the initial values of .data
#    live in flash); static RAM = .data + .bss + .uninit. From arm-none-eabi-size
#    (apt-get install binutils-arm-none-eabi).
# 2. peak stack per request, measured by stack painting: the firmware paints its free stack
#    at boot and logs each request's high-water mark over defmt; this boots the two defmt
#    builds under QEMU (run.sh), sends a fixed set of requests and decodes the log
#    (defmt-print). The figure counts everything from the top of RAM: reset, main, the
#    server loop, the engine and the handler.
#
#   firmware/qemu/size.sh            both parts
#   firmware/qemu/size.sh --no-stack part 1 only (no QEMU, no defmt-print needed)
#
# The builds go to firmware/qemu/target/size/, apart from run.sh's build.

set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
TARGET_DIR="$HERE/target/size"
OUT="$TARGET_DIR/elf"

stack=1
case "${1:-}" in
"") ;;
--no-stack) stack=0 ;;
*)
    sed -n '2,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac

die() {
    echo "size.sh: $*" >&2
    exit 1
}

command -v arm-none-eabi-size >/dev/null 2>&1 ||
    die "arm-none-eabi-size is missing: apt-get install binutils-arm-none-eabi (./ci.sh setup)"
if ((stack)); then
    command -v qemu-system-arm >/dev/null 2>&1 || die "qemu-system-arm is missing (./ci.sh setup)"
    command -v defmt-print >/dev/null 2>&1 ||
        die "defmt-print is missing: cargo install defmt-print --locked --version 1.2.0 (./ci.sh setup)"
fi

# name|cargo feature arguments
VARIANTS=(
    "float+defmt|"
    "float|--no-default-features --features float"
    "ints+defmt|--no-default-features --features defmt"
    "ints|--no-default-features"
)

mkdir -p "$OUT"
for v in "${VARIANTS[@]}"; do
    name="${v%%|*}"
    # shellcheck disable=SC2206 # feature arguments split on purpose
    args=(${v#*|})
    echo "+ cargo build --release ${args[*]}   # $name" >&2
    (cd "$HERE" && cargo build --release --quiet --target-dir "$TARGET_DIR" ${args[@]+"${args[@]}"})
    cp "$TARGET_DIR/thumbv7m-none-eabi/release/reflex-qemu" "$OUT/$name.elf"
done

# Prints "flash ram text rodata vectors data bss" for an ELF.
sizes() {
    arm-none-eabi-size -A -d "$1" | awk '
        $1 == ".vector_table" { v = $2 }
        $1 == ".text"         { t = $2 }
        $1 == ".rodata"       { r = $2 }
        $1 == ".data"         { d = $2 }
        $1 == ".bss"          { b = $2 }
        $1 == ".uninit"       { u = $2 }
        END { printf "%d %d %d %d %d %d %d\n", v + t + r + d, d + b + u, t, r, v, d, b + u }'
}

echo
echo "reflex-qemu size report (thumbv7m-none-eabi, opt-level s, LTO; LM3S6965: 256 KiB flash, 64 KiB RAM)"
echo
printf '  %-12s %8s %8s   %8s %8s %6s %6s %6s\n' build flash ram .text .rodata vector .data .bss
for v in "${VARIANTS[@]}"; do
    name="${v%%|*}"
    read -r flash ram text rodata vectors data bss < <(sizes "$OUT/$name.elf")
    printf '  %-12s %8d %8d   %8d %8d %6d %6d %6d\n' "$name" "$flash" "$ram" "$text" "$rodata" "$vectors" "$data" "$bss"
done
echo
echo "  flash = vector table + .text + .rodata + .data; ram = static RAM (.data + .bss + .uninit),"
echo "  of which 12416 B are the connection buffers (rx 8192, scratch 4096, tx 128). The stack is the rest."

((stack)) || exit 0

# The requests whose stack is measured, one line each (label|request).
REQUESTS=(
    'add (2.0)|{"jsonrpc":"2.0","method":"add","params":[2,3],"id":1}'
    'add (1.0)|{"method":"add","params":[2,3],"id":1}'
    'echo|{"jsonrpc":"2.0","method":"echo","params":["hello"],"id":1}'
    'echo, escaped string|{"jsonrpc":"2.0","method":"echo","params":["tab\there \u00e9\ud83d\ude00"],"id":1}'
    'echo by name|{"jsonrpc":"2.0","method":"echo","params":{"message":"hi"},"id":"x"}'
    'hash_echo|{"jsonrpc":"2.0","method":"hash_echo","params":[{"firstname":"a","lastname":"b","street1":"c","street2":"","zipcode":"1","city":"d"}],"id":1}'
    'enum_echo|{"jsonrpc":"2.0","method":"enum_echo","params":["FAX"],"id":1}'
    'echo_ints (32)|{"jsonrpc":"2.0","method":"echo_ints","params":[[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32]],"id":1}'
    'checksum|{"jsonrpc":"2.0","method":"checksum","params":["MTIzNDU2Nzg5"],"id":1}'
    'device.info|{"jsonrpc":"2.0","method":"device.info","id":1}'
    'led.set|{"jsonrpc":"2.0","method":"led.set","params":[1,true],"id":1}'
    'div|{"jsonrpc":"2.0","method":"div","params":[1.5,3.0],"id":1}'
    'temperature|{"jsonrpc":"2.0","method":"temperature","id":1}'
    'error.user|{"jsonrpc":"2.0","method":"error.user","id":1}'
    'error.internal|{"jsonrpc":"2.0","method":"error.internal","id":1}'
    'type error|{"method":"add","params":[1,true],"id":1}'
    'unknown method|{"jsonrpc":"2.0","method":"nope","id":1}'
    'parse error|{"jsonrpc":"2.0","method"'
    'batch of 3|[{"jsonrpc":"2.0","method":"add","params":[1,2],"id":1},{"jsonrpc":"2.0","method":"echo","params":["x"],"id":2},{"jsonrpc":"2.0","method":"get_data","id":3}]'
    '__describe_service|{"jsonrpc":"2.0","method":"__describe_service","id":1}'
    '__describe_functions|{"jsonrpc":"2.0","method":"__describe_functions","id":1}'
    '__describe_custom_types|{"jsonrpc":"2.0","method":"__describe_custom_types","id":1}'
    'rpc.discover|{"jsonrpc":"2.0","method":"rpc.discover","id":1}'
)

QEMU_PID=""
cleanup() {
    if [[ -n "$QEMU_PID" ]]; then
        kill "$QEMU_PID" 2>/dev/null || true
        wait "$QEMU_PID" 2>/dev/null || true
    fi
}
trap cleanup EXIT

# Boots ELF on a free loopback port and sends every request; leaves the frames in $2.
measure() {
    local elf="$1" frames="$2" port attempt fd="" i line label request reply
    for attempt in 1 2 3 4 5; do
        port=$((20000 + RANDOM % 40000))
        # Taken if something answers there.
        if (exec 9<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then continue; fi
        DEFMT_OUT="$frames" "$HERE/run.sh" "$port" --elf "$elf" >/dev/null 2>"$frames.stderr" &
        QEMU_PID=$!
        for i in $(seq 100); do
            kill -0 "$QEMU_PID" 2>/dev/null || break
            if exec {fd}<>"/dev/tcp/127.0.0.1/$port"; then break; fi 2>/dev/null
            fd=""
            sleep 0.05
        done
        [[ -n "$fd" ]] && break
        cleanup
        QEMU_PID=""
    done
    [[ -n "$fd" ]] || die "QEMU did not come up: $(cat "$frames.stderr")"
    for line in "${REQUESTS[@]}"; do
        label="${line%%|*}"
        request="${line#*|}"
        printf '%s\n' "$request" >&"$fd"
        IFS= read -r -t 10 reply <&"$fd" || die "no reply to $label"
        if [[ "$label" != "parse error" && "$reply" == *'"code":-32700'* ]]; then
            die "$label: the firmware saw a garbled request: $reply"
        fi
    done
    exec {fd}>&-
    sleep 0.2 # the last request's log line is written when the firmware reads again
    cleanup
    QEMU_PID=""
}

echo
echo "peak stack per request (stack painting; bytes from the top of RAM, defmt builds)"
echo
declare -A results
labels=()
for line in "${REQUESTS[@]}"; do labels+=("${line%%|*}"); done
for name in float+defmt ints+defmt; do
    frames="$TARGET_DIR/$name.frames"
    measure "$OUT/$name.elf" "$frames"
    log="$(defmt-print -e "$OUT/$name.elf" <"$frames")"
    idle="$(sed -n 's/.* \([0-9]*\) B of stack in use while idle.*/\1/p' <<<"$log")"
    results["$name,idle"]="${idle:-?}"
    i=0
    while IFS= read -r l; do
        results["$name,$i"]="$l"
        i=$((i + 1))
    done < <(sed -n 's/.*request [0-9]*: .*, stack \([0-9]*\) B (max.*/\1/p' <<<"$log")
    ((i == ${#REQUESTS[@]})) || die "expected ${#REQUESTS[@]} request lines in the $name log, got $i:
$log"
done

printf '  %-26s %12s %12s\n' request float+defmt ints+defmt
max_f=0
max_i=0
for i in "${!labels[@]}"; do
    f="${results["float+defmt,$i"]}"
    n="${results["ints+defmt,$i"]}"
    ((f > max_f)) && max_f=$f
    ((n > max_i)) && max_i=$n
    printf '  %-26s %12s %12s\n' "${labels[$i]}" "$f" "$n"
done
printf '  %-26s %12s %12s\n' "PEAK" "$max_f" "$max_i"
printf '  %-26s %12s %12s\n' "(idle, waiting in read)" "${results["float+defmt,idle"]}" "${results["ints+defmt,idle"]}"
echo
echo "  ints-only builds answer div and temperature with 'method not found'."
