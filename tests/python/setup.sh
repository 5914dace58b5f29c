#!/usr/bin/env bash
# Creates (or refreshes) the Python environment the foreign-client tests use
# (tests/tests/foreign_clients.rs): a venv at $REPO/target/pyenv with
# tests/python/requirements.txt installed.
#
# Idempotent and quick when nothing changed: the venv records the hash of requirements.txt (comments aside) in
# target/pyenv/.requirements.sha256, and it is rebuilt only when that differs, or when the venv
# is incomplete or its interpreter no longer runs. Fails loudly (exit 1, message on stderr) when
# python3, its venv module or pip is missing, or when the install fails. Runs under a lock, so
# concurrent callers (ci.sh, cargo test) do not build the venv twice at once.
#
# Environment: PYTHON   the interpreter to build the venv with (default: python3 on PATH).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
VENV="$REPO/target/pyenv"
REQ="$HERE/requirements.txt"
STAMP="$VENV/.requirements.sha256"
PYTHON="${PYTHON:-python3}"

die() {
    printf '\ntests/python/setup.sh: ERROR: %s\n\n' "$*" >&2
    exit 1
}

mkdir -p "$REPO/target"
if command -v flock >/dev/null 2>&1; then
    exec 9>"$REPO/target/pyenv.lock"
    flock 9
fi

# Comments and blank lines do not count: only a change of what gets installed rebuilds the venv.
want="$(sed -e 's/#.*//' -e 's/[[:space:]]*$//' -e '/^$/d' "$REQ" | sha256sum | cut -d' ' -f1)"

if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$want" ]] && "$VENV/bin/python" -c '' 2>/dev/null; then
    echo "python env up to date: $VENV ($("$VENV/bin/python" --version 2>&1))"
    exit 0
fi

command -v "$PYTHON" >/dev/null 2>&1 ||
    die "\`$PYTHON\` is not on PATH. Install Python 3 (Debian: apt-get install python3 python3-venv)."
"$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 8) else 1)' ||
    die "$("$PYTHON" --version 2>&1) is too old: Python >= 3.8 is needed."
"$PYTHON" -c 'import venv, ensurepip' 2>/dev/null ||
    die "\`$PYTHON -m venv\` cannot create a venv with pip (module venv or ensurepip missing). On Debian: apt-get install python3-venv."

echo "+ creating python env $VENV with $(command -v "$PYTHON") ($("$PYTHON" --version 2>&1))"
rm -rf "$VENV"
"$PYTHON" -m venv "$VENV" || die "\`$PYTHON -m venv $VENV\` failed. On Debian: apt-get install python3-venv."
"$VENV/bin/python" -m pip --version >/dev/null 2>&1 || die "pip does not work in the new venv $VENV."

export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
echo "+ $VENV/bin/python -m pip install -r $REQ"
"$VENV/bin/python" -m pip install --quiet -r "$REQ" ||
    die "pip install -r tests/python/requirements.txt failed (is PyPI reachable?)."

# Every console script and module the tests use must be there.
for tool in rpcsh rpcdoc rpcgencode; do
    [[ -x "$VENV/bin/$tool" ]] || die "$tool is missing from $VENV/bin after the install."
done
"$VENV/bin/python" -c 'import reflectrpc.client, reflectrpc.rpcsh, jsonrpcclient, jsonrpclib, pexpect' ||
    die "the installed packages cannot be imported."

echo "$want" >"$STAMP"
"$VENV/bin/python" -m pip list --format=freeze 2>/dev/null | sed 's/^/    /'
echo "python env ready: $VENV"
