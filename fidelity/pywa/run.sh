#!/usr/bin/env bash
# The pywa acceptance suite: pywa (a real WhatsApp Cloud API client library,
# pinned in requirements.txt) drives `wasim serve` on the Cloud API surface and,
# through a Cloud-API adapter, on 360dialog's; wasim's signed webhooks come back
# through pywa's own handshake, signature validator and update parser.
#
#   fidelity/pywa/run.sh                      build wasim, make the venv, run the suite
#   WASIM_BIN=path/to/wasim fidelity/pywa/run.sh   use that binary (no cargo build)
#   PYTHON=python3.12 fidelity/pywa/run.sh    make the venv from that interpreter (>= 3.10)
#   PYWA_VENV=dir fidelity/pywa/run.sh        keep the venv there (default fidelity/pywa/.venv)
#
# The server runs on a free loopback port with a manual clock, and with the
# `2026-04` policy profile when this wasim has it (pywa 4.5.0 parses webhooks
# only with business-scoped user ids; see docs/platform-rules.md). Exit: 0
# every check passed, 1 a check failed, 2 the suite could not run, with one
# line saying what is missing (python3, its venv module, PyPI access).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
python="${PYTHON:-python3}"
venv="${PYWA_VENV:-$here/.venv}"

# 1. The virtual environment: exactly the pinned packages, rebuilt when
#    requirements.txt changes.
command -v "$python" >/dev/null 2>&1 || {
    echo "pywa suite: $python not found: install Python 3.10+ with venv (Debian: apt-get install python3 python3-venv)" >&2
    exit 2
}
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 10))' || {
    echo "pywa suite: $python is older than Python 3.10 (pywa needs 3.10+)" >&2
    exit 2
}
want="$("$python" -c 'import hashlib, sys; print(hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest())' "$here/requirements.txt")"
if [[ ! -x "$venv/bin/python" || "$(cat "$venv/.requirements.sha256" 2>/dev/null)" != "$want" ]]; then
    echo "pywa suite: creating $venv" >&2
    rm -rf "$venv"
    "$python" -m venv "$venv" >/dev/null 2>&1 || {
        rm -rf "$venv"
        echo "pywa suite: $python -m venv failed: install the venv module (Debian: apt-get install python3-venv)" >&2
        exit 2
    }
    pip_log="$(mktemp)"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps \
        -r "$here/requirements.txt" >"$pip_log" 2>&1 || {
        rm -rf "$venv"
        echo "pywa suite: pip could not install fidelity/pywa/requirements.txt from PyPI: is PyPI reachable? (pip's output: $pip_log)" >&2
        exit 2
    }
    rm -f "$pip_log"
    "$venv/bin/python" -m pip check --disable-pip-version-check >/dev/null
    echo "$want" >"$venv/.requirements.sha256"
fi

# 2. The wasim binary.
if [[ -z "${WASIM_BIN:-}" ]]; then
    (cd "$root" && cargo build --locked --quiet -p wasim)
    target="${CARGO_TARGET_DIR:-target}"
    [[ "$target" = /* ]] || target="$root/$target"
    WASIM_BIN="$target/debug/wasim"
fi
[[ -x "$WASIM_BIN" ]] || { echo "pywa suite: no wasim binary at $WASIM_BIN" >&2; exit 2; }

# 3. The server: loopback, a port the OS picks, manual clock.
serve=("$WASIM_BIN" serve --addr 127.0.0.1:0 --clock manual)
if "$WASIM_BIN" serve --help | grep -q '2026-04'; then
    serve+=(--policy 2026-04)
else
    echo "pywa suite: this wasim has no 2026-04 policy profile; serving its default" >&2
fi
log="$(mktemp)"
"${serve[@]}" 2>"$log" &
server=$!
cleanup() {
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
    rm -f "$log"
}
trap cleanup EXIT

addr=""
for _ in $(seq 1 200); do
    addr="$(sed -n 's/^wasim serving on \(http:\/\/[0-9.]*:[0-9]*\).*/\1/p' "$log")"
    [[ -n "$addr" ]] && break
    if ! kill -0 "$server" 2>/dev/null; then
        echo "pywa suite: wasim serve exited:" >&2
        cat "$log" >&2
        exit 2
    fi
    sleep 0.05
done
[[ -n "$addr" ]] || { echo "pywa suite: wasim serve did not start" >&2; cat "$log" >&2; exit 2; }

# 4. The suite.
status=0
"$venv/bin/python" "$here/suite.py" --wasim "$addr" || status=$?
exit "$status"
