#!/usr/bin/env bash
# reflex CI: the one script that installs what a fresh machine lacks and runs every check.
#
#   ./ci.sh                 run every step (setup first), then print a summary
#   ./ci.sh STEP [STEP...]  run only these steps, e.g. `./ci.sh fmt clippy`
#   ./ci.sh list            print the step names
#
# Every step runs in its own bash process with `set -euo pipefail`, so the first failing command
# fails that step. A run goes on after a failed step (one failure must not hide another) and
# exits 1 at the end if any step failed. The last line printed is always the plain summary
# `ci: N passed, N failed`.
#
# Environment:
#   CI=true           no colours from cargo (CARGO_TERM_COLOR=never)
#   CI_STEP_TIMEOUT   seconds one step may take before it is killed and failed (default 1800)
#
# The whole CI run has a 90 min budget on 2 cores.

set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"
ROOT="$(pwd)"
SELF="$ROOT/$(basename "${BASH_SOURCE[0]}")"

if [[ "${CI:-}" == "true" ]]; then
    export CARGO_TERM_COLOR=never
    export RUST_BACKTRACE="${RUST_BACKTRACE:-1}"
fi

# The order of a full run. `setup` comes first: the other steps need what it installs.
STEPS=(setup python fmt clippy test thumb doc qemu sim boards fuzz bench)

# Rust pieces the steps need, installed by `setup` through rustup.
RUST_COMPONENTS=(rustfmt clippy)
RUST_TARGETS=(thumbv6m-none-eabi thumbv7m-none-eabi thumbv7em-none-eabihf)

# ---------------------------------------------------------------------------------------------
# Debian packages the steps need: "COMMAND:PACKAGE [PACKAGE...]". `setup` installs the packages
# of every COMMAND not on PATH, running `apt-get update` once, and only if something is missing.
# qemu-system-arm and qemu-utils go in ONE command: installing qemu-system-arm (7.2 on Debian 12)
# alone removes the image's newer qemu-utils from bookworm-backports (qemu-img disappears), and
# plain `qemu-utils` beside it fails ("held broken packages": the backports qemu-utils breaks
# qemu-system-common < 8.0). `qemu-utils/bookworm` takes Debian 12's own 7.2 (a downgrade on
# that image, hence --allow-downgrades below) and keeps qemu-img.
APT_NEEDS=("tmux:tmux" "chromium:chromium" "python3:python3" "qemu-system-arm:qemu-system-arm qemu-utils/bookworm" "arm-none-eabi-size:binutils-arm-none-eabi" "ip:iproute2" "wrk:wrk" "valgrind:valgrind")
# ---------------------------------------------------------------------------------------------

log() { printf 'ci: %s\n' "$*"; }

die() {
    printf '\nci: ERROR: %s\n\n' "$*" >&2
    exit 1
}

# Prints a command, then runs it.
run() {
    printf '+ %s\n' "$*"
    "$@"
}

require_cmd() {
    command -v "$1" >/dev/null 2>&1 || die "prerequisite missing: \`$1\` is not on PATH. $2"
}

require_cargo_subcommand() {
    require_cmd cargo "Install Rust with rustup (https://rustup.rs)."
    cargo "$1" --version >/dev/null 2>&1 ||
        die "prerequisite missing: \`cargo $1\` does not work. Run \`./ci.sh setup\` (rustup component add $2)."
}

require_target() {
    require_cmd rustc "Install Rust with rustup (https://rustup.rs)."
    local sysroot
    sysroot="$(rustc --print sysroot)"
    [[ -d "$sysroot/lib/rustlib/$1/lib" ]] ||
        die "prerequisite missing: the Rust standard library for target $1 is not installed. Run \`./ci.sh setup\` (rustup target add $1)."
}

# ----------------------------------------------------------------------------- steps ---------

step_setup() {
    require_cmd cargo "Install Rust with rustup (https://rustup.rs)."
    run rustc --version
    run cargo --version

    local missing_components=() c
    for c in "${RUST_COMPONENTS[@]}"; do
        local sub="$c"
        [[ "$c" == rustfmt ]] && sub=fmt
        cargo "$sub" --version >/dev/null 2>&1 || missing_components+=("$c")
    done
    if ((${#missing_components[@]})); then
        require_cmd rustup "Components ${missing_components[*]} are missing and cannot be installed without rustup."
        run rustup component add "${missing_components[@]}"
    else
        log "rust components present: ${RUST_COMPONENTS[*]}"
    fi

    local missing_targets=() t installed=""
    if command -v rustup >/dev/null 2>&1; then
        installed="$(rustup target list --installed)"
    fi
    for t in "${RUST_TARGETS[@]}"; do
        if ! grep -qx "$t" <<<"$installed" && ! [[ -d "$(rustc --print sysroot)/lib/rustlib/$t/lib" ]]; then
            missing_targets+=("$t")
        fi
    done
    if ((${#missing_targets[@]})); then
        require_cmd rustup "Targets ${missing_targets[*]} are missing and cannot be installed without rustup."
        run rustup target add "${missing_targets[@]}"
    else
        log "rust targets present: ${RUST_TARGETS[*]}"
    fi

    local missing_pkgs=() entry cmd
    for entry in ${APT_NEEDS[@]+"${APT_NEEDS[@]}"}; do
        cmd="${entry%%:*}"
        if ! command -v "$cmd" >/dev/null 2>&1; then
            # Word splitting on purpose: one entry may name several packages.
            # shellcheck disable=SC2206
            missing_pkgs+=(${entry#*:})
        fi
    done
    if ((${#missing_pkgs[@]})); then
        require_cmd apt-get "Debian packages ${missing_pkgs[*]} are needed and apt-get is not available."
        local sudo=()
        if ((EUID != 0)); then
            require_cmd sudo "Installing ${missing_pkgs[*]} needs root."
            sudo=(sudo)
        fi
        run "${sudo[@]}" apt-get update
        run "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
            --allow-downgrades "${missing_pkgs[@]}"
    else
        log "debian packages: nothing to install"
    fi

    # Download every crate now, so a registry problem shows up here and not mid-build.
    run cargo fetch
    # firmware/qemu is a workspace of its own (and fetched for its target, from its directory).
    (cd firmware/qemu && run cargo fetch)
    # So are the embassy firmwares: the TAP simulator and the two boards.
    (cd firmware/sim && run cargo fetch)
    (cd firmware/rp2040 && run cargo fetch)
    (cd firmware/stm32 && run cargo fetch)
    # And the instruction-counting firmware of the bench step.
    (cd bench/qemu-count && run cargo fetch)

    # defmt-print decodes the QEMU firmware's log (qemu step, host/tests/qemu.rs); building it
    # takes about 2.5 min the first time.
    if command -v defmt-print >/dev/null 2>&1; then
        log "defmt-print present: $(defmt-print --version 2>&1 | head -n 1)"
    else
        run cargo install defmt-print --locked --version 1.2.0
    fi
}

# The Python environment of the foreign-client tests (tests/tests/foreign_clients.rs): a venv at
# target/pyenv with tests/python/requirements.txt (ReflectRPC 0.7.6 and its tools, jsonrpcclient,
# jsonrpclib-pelix, pexpect) from PyPI. Quick when it is up to date. Installs Debian's python3 and
# python3-venv first if python3 or its venv module is missing.
step_python() {
    if ! command -v python3 >/dev/null 2>&1 || ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
        require_cmd apt-get "python3 with its venv module is needed (tests/python/setup.sh) and apt-get is not available to install it."
        local sudo=()
        if ((EUID != 0)); then
            require_cmd sudo "Installing python3 python3-venv needs root."
            sudo=(sudo)
        fi
        run "${sudo[@]}" apt-get update
        run "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3 python3-venv
        hash -r
    fi
    require_cmd python3 "Install Python 3 (Debian: apt-get install python3 python3-venv)."
    run python3 --version
    run bash tests/python/setup.sh
}

step_fmt() {
    require_cargo_subcommand fmt rustfmt
    run cargo fmt --all -- --check
}

step_clippy() {
    require_cargo_subcommand clippy clippy
    run cargo clippy --workspace --all-targets -- -D warnings
    run cargo clippy -p reflex --no-default-features -- -D warnings
}

step_test() {
    require_cmd cargo "Install Rust with rustup (https://rustup.rs)."
    local logfile="$ROOT/target/ci/test.log"
    mkdir -p "$(dirname "$logfile")"
    local rc=0
    printf '+ %s\n' "cargo test --workspace"
    cargo test --workspace 2>&1 | tee "$logfile" || rc=$?

    echo
    log "cargo test summary (one line per test binary and doc-test run):"
    grep -E '^test result: ' "$logfile" | sed 's/^/    /' || true
    local totals
    totals="$(awk '/^test result: /{
            for (i = 1; i <= NF; i++) {
                if ($(i) ~ /^passed/)  p += $(i-1);
                if ($(i) ~ /^failed/)  f += $(i-1);
                if ($(i) ~ /^ignored/) g += $(i-1);
            }
            n++
        } END { printf "%d %d %d %d", p, f, g, n }' "$logfile")"
    local passed failed ignored runs
    read -r passed failed ignored runs <<<"$totals"
    log "cargo test total: ${passed} passed; ${failed} failed; ${ignored} ignored (${runs} test runs)"

    ((rc == 0)) || die "cargo test failed (exit code $rc); full output in target/ci/test.log"
    ((runs > 0 && passed > 0)) || die "cargo test ran no test: a test step that tests nothing is a failure"
}

step_thumb() {
    require_cmd cargo "Install Rust with rustup (https://rustup.rs)."
    require_target thumbv6m-none-eabi
    require_target thumbv7m-none-eabi
    run cargo build -p reflex --no-default-features --target thumbv6m-none-eabi
    run cargo build -p reflex --no-default-features --target thumbv7m-none-eabi
    run cargo build -p reflex --no-default-features --features defmt --target thumbv7m-none-eabi
    # The core's unit tests without any feature (no floats, no rpc.discover), on the host.
    run cargo test -p reflex --no-default-features --lib
    run cargo build -p reflex-demo --no-default-features --target thumbv6m-none-eabi
    run cargo build -p reflex-demo --target thumbv7m-none-eabi
}

step_doc() {
    require_cmd cargo "Install Rust with rustup (https://rustup.rs)."
    export RUSTDOCFLAGS="-D warnings"
    printf '+ RUSTDOCFLAGS="%s" %s\n' "$RUSTDOCFLAGS" "cargo doc --workspace --no-deps"
    cargo doc --workspace --no-deps
}

# firmware/qemu, the demo device on an emulated Cortex-M3. A workspace of its own, so the fmt
# and clippy steps do not cover it: format and lints (with floats and ints only), the size report
# (flash and static RAM with floats / ints only, peak stack per request, firmware/qemu/size.sh),
# then its end-to-end test (host/tests/qemu.rs, also run by `test`) with the figures it prints:
# the conformance run, round-trip time, idle CPU, the decoded defmt log.
step_qemu() {
    require_cmd cargo "Install Rust with rustup (https://rustup.rs)."
    require_target thumbv7m-none-eabi
    require_cmd qemu-system-arm "Run \`./ci.sh setup\` (apt-get install qemu-system-arm qemu-utils/bookworm)."
    require_cmd arm-none-eabi-size "Run \`./ci.sh setup\` (apt-get install binutils-arm-none-eabi)."
    require_cmd defmt-print "Run \`./ci.sh setup\` (cargo install defmt-print --locked --version 1.2.0)."
    run qemu-system-arm --version
    (
        cd firmware/qemu
        run cargo fmt -- --check
        run cargo clippy --release -- -D warnings
        run cargo clippy --release --no-default-features -- -D warnings
    )
    run firmware/qemu/size.sh
    run cargo test -p reflex-host --test qemu -- --nocapture
}

# firmware/sim, the demo device as an embassy firmware on a Linux TAP device (embassy-net,
# the std executor, the core's async server). A workspace of its own, so the fmt and clippy
# steps do not cover it: format, lints, build, then its end-to-end test (host/tests/sim.rs,
# also run by `test`): in a network namespace of its own, with a TAP device, the firmware and
# the `reflex` client inside (no packet leaves it), calls, the whole conformance suite and
# concurrent connections. Needs root, which CI has, and `ip` (iproute2).
step_sim() {
    require_cmd cargo "Install Rust with rustup (https://rustup.rs)."
    require_cmd ip "Run \`./ci.sh setup\` (apt-get install iproute2)."
    ((EUID == 0)) || die "the sim step needs root: its test makes a network namespace and a TAP device (CI runs as root)."
    (
        cd firmware/sim
        run cargo fmt -- --check
        run cargo build --release
        run cargo clippy --release --all-targets -- -D warnings
    )
    run cargo test -p reflex-host --test sim -- --nocapture
}

# The real-board firmwares, "DIR:TARGET:BINARY..." (each a workspace of its own; flashed with
# probe-rs, for which CI has no board): an RP2040 on UART0 and on a W5500-EVB-Pico's Ethernet,
# a Nucleo-F429ZI on the ST-LINK's virtual COM port and on its Ethernet.
BOARDS=("firmware/rp2040:thumbv6m-none-eabi:uart w5500" "firmware/stm32:thumbv7em-none-eabihf:uart eth")

# Format, lints (with floats and ints only), release builds of every binary, then their sizes
# (flash = text + data, static RAM = data + bss; the stack is the rest of RAM).
step_boards() {
    require_cmd cargo "Install Rust with rustup (https://rustup.rs)."
    require_cmd arm-none-eabi-size "Run \`./ci.sh setup\` (apt-get install binutils-arm-none-eabi)."
    local entry dir target bins bin sizes=()
    for entry in "${BOARDS[@]}"; do
        IFS=: read -r dir target bins <<<"$entry"
        require_target "$target"
        (
            cd "$dir"
            run cargo fmt -- --check
            run cargo build --release --bins
            run cargo clippy --release --all-targets -- -D warnings
            run cargo clippy --release --all-targets --no-default-features -- -D warnings
        )
        for bin in $bins; do
            sizes+=("$(arm-none-eabi-size -B -d "$dir/target/$target/release/$bin" | awk -v n="$dir $bin" -v t="$target" \
                'NR == 2 { printf "%-24s %-22s %8d %8d   %8d %6d %6d", n, t, $1 + $2, $2 + $3, $1, $2, $3 }')")
        done
    done
    echo
    log "board firmware sizes (release: opt-level s, LTO; bytes):"
    printf '    %-24s %-22s %8s %8s   %8s %6s %6s\n' firmware target flash ram text data bss
    printf '    %s\n' "${sizes[@]}"
}

# fuzz/ (cargo-fuzz on the nightly toolchain, a workspace of its own): every target in
# FUZZ_TARGETS for FUZZ_SECONDS (default 60) from its committed seeds in fuzz/corpus/<target>/.
# What a run discovers goes to fuzz/work/<target>/ (kept between runs, never committed), a
# crashing input to fuzz/artifacts/<target>/. Every target runs even after another crashed; the
# step fails if any did. The nightly toolchain is preinstalled on the CI machines (rustup); the
# step installs cargo-fuzz when it is missing.
FUZZ_TARGETS=(json_scanner request framing host)

step_fuzz() {
    require_cmd cargo "Install Rust with rustup (https://rustup.rs)."
    require_cmd rustup "cargo-fuzz needs the nightly toolchain, which is managed by rustup."
    rustup toolchain list | grep -q '^nightly' ||
        die "prerequisite missing: the nightly toolchain (cargo-fuzz builds with -Zsanitizer). It is preinstalled on the CI machines; elsewhere: rustup toolchain install nightly."
    if ! cargo +nightly fuzz --help >/dev/null 2>&1; then
        run cargo install cargo-fuzz --locked
    fi
    run cargo +nightly fuzz --version
    run cargo fmt --manifest-path fuzz/Cargo.toml -- --check
    local secs="${FUZZ_SECONDS:-60}" logdir="$ROOT/target/ci/fuzz" t rc
    local crashed=() summary=()
    mkdir -p "$logdir"
    cd fuzz
    # Everything is built first, so compiling does not eat into the fuzzing time.
    run cargo +nightly fuzz build
    for t in "${FUZZ_TARGETS[@]}"; do
        mkdir -p "work/$t"
        rc=0
        printf '+ %s\n' "cargo +nightly fuzz run $t work/$t corpus/$t -- -max_total_time=$secs -rss_limit_mb=2048"
        cargo +nightly fuzz run "$t" "work/$t" "corpus/$t" -- \
            -max_total_time="$secs" -rss_limit_mb=2048 -print_final_stats=1 >"$logdir/$t.log" 2>&1 || rc=$?
        # libFuzzer's last status line: runs, coverage, corpus, exec/s.
        summary+=("$(printf '%-13s %s' "$t" "$(grep -E '^#[0-9]+' "$logdir/$t.log" | tail -n 1)")")
        if ((rc != 0)); then
            crashed+=("$t")
            tail -n 60 "$logdir/$t.log"
            log "fuzz target $t FAILED (exit code $rc); full output in target/ci/fuzz/$t.log, input in fuzz/artifacts/$t/"
        fi
    done
    log "fuzz summary (${secs}s per target):"
    printf '    %s\n' "${summary[@]}"
    ((${#crashed[@]} == 0)) || die "fuzz targets crashed: ${crashed[*]}"
}

# The benchmarks (bench/), briefly: this step proves that they run, with one short round each;
# it never passes or fails on a figure or a target (a script fails only if it could not run,
# e.g. a bad reply). Full-length runs and what they measure: README.md, "Figures".
#   - in process: reflex vs jsonrpsee vs a serde_json dispatch (criterion, then interleaved rounds)
#   - x86-64 instructions and allocations per request (callgrind, memcheck)
#   - host servers under load: reflex HTTP vs jsonrpsee HTTP (wrk), reflex TCP lines vs a
#     ping-pong floor (line-load), pinned to one CPU
#   - Cortex-M3 instructions per request (QEMU instruction trace) and flash of the core
#     (bench/qemu-count, a workspace of its own: format and lints here too)
step_bench() {
    require_cmd cargo "Install Rust with rustup (https://rustup.rs)."
    require_target thumbv7m-none-eabi
    require_cmd valgrind "Run \`./ci.sh setup\` (apt-get install valgrind)."
    require_cmd wrk "Run \`./ci.sh setup\` (apt-get install wrk)."
    require_cmd qemu-system-arm "Run \`./ci.sh setup\` (apt-get install qemu-system-arm qemu-utils/bookworm)."
    require_cmd arm-none-eabi-size "Run \`./ci.sh setup\` (apt-get install binutils-arm-none-eabi)."
    export BENCH_ROUNDS=1 BENCH_SECS=1
    run cargo bench -p reflex-bench --bench core -- --quick --warm-up-time 0.1 --measurement-time 0.1
    run bench/core-cost.sh
    run bench/servers.sh
    (
        cd bench/qemu-count
        run cargo fmt -- --check
        local s
        for s in none tiny demo; do
            printf '+ QEMU_COUNT_SERVICE=%s cargo clippy --release -- -D warnings\n' "$s"
            QEMU_COUNT_SERVICE="$s" cargo clippy --release -- -D warnings
        done
    )
    # firmware/qemu/size.sh already runs in the qemu step.
    printf '+ DEVICE_SIZE=0 DEVICE_N=10 bench/device.sh\n'
    DEVICE_SIZE=0 DEVICE_N=10 bench/device.sh
}

# ----------------------------------------------------------------------------- driver --------

is_step() {
    local s
    for s in "${STEPS[@]}"; do [[ "$s" == "$1" ]] && return 0; done
    return 1
}

usage() {
    cat <<EOF
usage: ./ci.sh [STEP...]
  no STEP: run every step: ${STEPS[*]}
  steps:   ${STEPS[*]}
  list:    print the step names
EOF
}

# Internal: `ci.sh __step NAME` runs one step at the top level of a fresh bash, so `set -e`
# applies to every command in it (it would not inside an `if` or `||` in this process).
if [[ "${1:-}" == "__step" ]]; then
    "step_$2"
    exit 0
fi

now_ms() { date +%s%3N; }

CHILD=
on_signal() {
    trap - INT TERM
    if [[ -n "$CHILD" ]]; then
        kill -TERM "$CHILD" 2>/dev/null || true
        wait "$CHILD" 2>/dev/null || true
    fi
    printf '\nci: interrupted\n' >&2
    exit 130
}

fmt_ms() {
    local ms=$1
    if ((ms >= 60000)); then
        printf '%dm%02d.%ds' $((ms / 60000)) $((ms % 60000 / 1000)) $((ms % 1000 / 100))
    else
        printf '%d.%ds' $((ms / 1000)) $((ms % 1000 / 100))
    fi
}

# The lines of a failed step's log that tell why: panics, errors, failed tests, sanitizer and
# libFuzzer reports (at most 60), then its last 15 lines.
failure_digest() {
    [[ -f "$1" ]] || return 0
    grep -n -E 'panicked|^error|ERROR|FAILED|^failures:|^---- |assertion|left:|right:|SUMMARY|deadly signal|Test unit written|^Base64:|timed out|prerequisite missing' "$1" |
        head -n 60 || true
    printf -- '--- last lines:\n'
    tail -n 15 "$1"
}

main() {
    local selected=()
    if (($# == 0)) || [[ "$1" == all ]]; then
        selected=("${STEPS[@]}")
    else
        local a
        for a in "$@"; do
            case "$a" in
            -h | --help | help) usage; exit 0 ;;
            list) printf '%s\n' "${STEPS[@]}"; exit 0 ;;
            *)
                if ! is_step "$a"; then
                    usage >&2
                    die "unknown step '$a'"
                fi
                selected+=("$a")
                ;;
            esac
        done
    fi

    local timeout_s="${CI_STEP_TIMEOUT:-1800}"
    local has_timeout=0
    command -v timeout >/dev/null 2>&1 && has_timeout=1

    trap on_signal INT TERM

    local results=() failed=() passed=0 step t0 ms rc status tee_fd tee_pid
    local run_t0 logdir="$ROOT/target/ci/steps"
    mkdir -p "$logdir"
    run_t0=$(now_ms)
    for step in "${selected[@]}"; do
        printf '\n==================== ci: %s ====================\n' "$step"
        t0=$(now_ms)
        rc=0
        # In the background and waited for, so Ctrl-C / SIGTERM reach the step through the trap
        # (timeout puts the step in its own process group, which the terminal does not signal).
        # The step's output goes to the terminal and to its log (for the digest below).
        exec {tee_fd}> >(tee "$logdir/$step.log")
        tee_pid=$!
        if ((has_timeout)); then
            timeout -k 30 "$timeout_s" bash "$SELF" __step "$step" </dev/null >&"$tee_fd" 2>&1 &
        else
            bash "$SELF" __step "$step" </dev/null >&"$tee_fd" 2>&1 &
        fi
        CHILD=$!
        wait "$CHILD" || rc=$?
        CHILD=
        exec {tee_fd}>&-
        wait "$tee_pid" 2>/dev/null || true
        ms=$(($(now_ms) - t0))
        if ((rc == 0)); then
            status=passed
            passed=$((passed + 1))
        elif ((has_timeout)) && ((rc == 124 || rc == 137)); then
            status="FAILED (timed out after ${timeout_s}s)"
            failed+=("$step")
        else
            status="FAILED (exit code $rc)"
            failed+=("$step")
        fi
        results+=("$(printf '%-8s %-36s %10s' "$step" "$status" "$(fmt_ms "$ms")")")
        log "step $step $status in $(fmt_ms "$ms")"
    done

    # Why each failed step failed, next to the summary: a long run's beginning may be cut
    # off where only the end of the output is kept.
    for step in "${failed[@]}"; do
        printf '\n==================== ci: why %s failed (from target/ci/steps/%s.log) ====================\n' "$step" "$step"
        failure_digest "$logdir/$step.log"
    done

    printf '\n==================== ci: summary ====================\n'
    printf '    %s\n' "${results[@]}"
    printf '    total time %s\n' "$(fmt_ms $(($(now_ms) - run_t0)))"
    if ((${#failed[@]})); then
        printf 'ci: failed steps: %s (rerun one with ./ci.sh STEP)\n' "${failed[*]}"
    fi
    printf 'ci: %d passed, %d failed\n' "$passed" "${#failed[@]}"
    ((${#failed[@]} == 0))
}

main "$@"
