#!/usr/bin/env bash
# Boots the reflex demo firmware under QEMU (lm3s6965evb, Cortex-M3) and runs until killed.
#
#   firmware/qemu/run.sh PORT      UART0 is a TCP server on 127.0.0.1:PORT (loopback only):
#                                    reflex shell tcp://127.0.0.1:PORT
#   firmware/qemu/run.sh --pty     UART0 is a pseudo-terminal; prints QEMU's line
#                                    "char device redirected to /dev/pts/N (label serial0)":
#                                    reflex shell 'serial:///dev/pts/N?baud=115200'
#
# Options (after the mode):
#   --elf ELF   boot this firmware instead of building firmware/qemu (cargo build --release)
#   --log       also decode the defmt log live on stderr (needs defmt-print on PATH)
#
# Environment:
#   DEFMT_OUT   file for the defmt frames the firmware writes over semihosting
#               (default firmware/qemu/target/defmt.bin); decode with
#               defmt-print -e firmware/qemu/target/thumbv7m-none-eabi/release/reflex-qemu < FILE
#
# QEMU replaces this script (exec): the script's PID is QEMU's, so `kill PID` stops it.
#
# Why these QEMU options (QEMU 7.2, Debian 12):
# * -serial tcp:127.0.0.1:PORT,server=on,wait=off,nodelay=on: QEMU listens on loopback and
#   the guest boots at once. Clients may come and go (one at a time). nodelay matters: QEMU
#   sends every guest byte in its own send(), and with Nagle plus delayed ACKs a reply takes
#   40+ ms. The firmware never writes unprompted, so nothing is lost before a client
#   connects; a request sent right after start-up is kept too (the firmware leaves the UART's
#   FIFOs off: switching them on would drop a byte that arrived before it ran).
# * -semihosting-config enable=on,target=native: the firmware's defmt frames go to QEMU's
#   stdout (semihosting SYS_WRITE to ":tt"), which goes to DEFMT_OUT. QEMU 7.2 writes them
#   there even with a semihosting chardev configured, and its "-serial pty" announcement goes
#   to stdout too: in --pty mode, that first line is split off and printed here.
# * -nographic -monitor none: no window, no monitor; stdin is not read.

set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

usage() {
    sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

mode=""
elf=""
log=0
while (($#)); do
    case "$1" in
    --pty) mode=pty ;;
    --elf)
        (($# >= 2)) || usage
        elf="$2"
        shift
        ;;
    --log) log=1 ;;
    -h | --help) usage ;;
    *)
        [[ "$1" =~ ^[0-9]+$ ]] && (($1 > 0 && $1 < 65536)) || usage
        mode="$1"
        ;;
    esac
    shift
done
[[ -n "$mode" ]] || usage

command -v qemu-system-arm >/dev/null 2>&1 || {
    echo "run.sh: qemu-system-arm is not installed (apt-get install qemu-system-arm qemu-utils; see ci.sh setup)" >&2
    exit 1
}

if [[ -z "$elf" ]]; then
    # Cargo rebuilds only what changed; an up-to-date firmware costs a fraction of a second.
    # From here: cargo reads .cargo/config.toml (target, DEFMT_LOG) from the current directory.
    (cd "$HERE" && cargo build --release --quiet)
    elf="$HERE/target/thumbv7m-none-eabi/release/reflex-qemu"
fi
[[ -f "$elf" ]] || {
    echo "run.sh: no firmware at $elf" >&2
    exit 1
}

DEFMT_OUT="${DEFMT_OUT:-$HERE/target/defmt.bin}"
mkdir -p "$(dirname "$DEFMT_OUT")"
: >"$DEFMT_OUT"

if ((log)); then
    command -v defmt-print >/dev/null 2>&1 || {
        echo "run.sh: --log needs defmt-print (cargo install defmt-print --locked --version 1.2.0)" >&2
        exit 1
    }
fi

# Copies the frames on stdin to DEFMT_OUT (and, with --log, decodes them on stderr).
frames() {
    if ((log)); then
        tee "$DEFMT_OUT" | defmt-print -e "$elf" >&2
    else
        cat >"$DEFMT_OUT"
    fi
}

qemu=(qemu-system-arm -cpu cortex-m3 -machine lm3s6965evb -nographic -monitor none
    -semihosting-config enable=on,target=native)

if [[ "$mode" == pty ]]; then
    # QEMU announces the pty on stdout before the guest starts: pass that line on, keep the
    # rest (binary defmt frames) byte for byte.
    pty_then_frames() {
        local line
        IFS= read -r line || true
        printf '%s\n' "$line" >&3
        if [[ "$line" =~ (/dev/pts/[0-9]+) ]]; then
            printf 'run.sh: UART0 on serial://%s?baud=115200\n' "${BASH_REMATCH[1]}" >&3
        fi
        frames
    }
    exec 3>&1
    exec "${qemu[@]}" -serial pty -kernel "$elf" > >(pty_then_frames) 3>&-
else
    echo "run.sh: UART0 on tcp://127.0.0.1:$mode"
    if ((log)); then
        exec "${qemu[@]}" -serial "tcp:127.0.0.1:$mode,server=on,wait=off,nodelay=on" -kernel "$elf" > >(frames)
    else
        exec "${qemu[@]}" -serial "tcp:127.0.0.1:$mode,server=on,wait=off,nodelay=on" -kernel "$elf" >"$DEFMT_OUT"
    fi
fi
