# Helpers for integration tests: start the real bootcfgd on 127.0.0.1 with an ephemeral port,
# make requests with curl, and clean up on exit. Source it; $1 of the test is the bootcfgd path.
set -euo pipefail

BOOTCFGD=$(realpath "${BOOTCFGD:?path to bootcfgd}")
WORK=$(mktemp -d /tmp/bootcfg-it.XXXXXX)
# Each test's bootcfgd keeps its machine inventory in the test's own directory.
export BOOTCFG_STATE_PATH="$WORK/state"
PIDS=()
FAILURES=0
CHECKS=0

cleanup() {
    for pid in "${PIDS[@]}"; do
        kill -9 "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true  # reaped quietly: no "Killed" job notices
    done

    rm -rf "$WORK"
}
trap cleanup EXIT

# start_bootcfgd NAME [flags...]: sets PORT, PID, LOG (log file) for that instance. With the
# array WRAPPER set (e.g. WRAPPER=(strace -o f)), bootcfgd runs under it and PID is the wrapper's.
WRAPPER=()
start_bootcfgd() {
    local name=$1
    shift
    LOG="$WORK/$name.log"
    "${WRAPPER[@]}" "$BOOTCFGD" -address=127.0.0.1:0 "$@" >"$LOG" 2>&1 &
    PID=$!
    PIDS+=("$PID")
    for _ in $(seq 200); do

        PORT=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$LOG" | grep -o '[0-9]*$' || true)
        [[ -n "$PORT" ]] && return 0
        kill -0 "$PID" 2>/dev/null || break
        sleep 0.05
    done
    echo "bootcfgd did not start; log:" >&2
    cat "$LOG" >&2
    exit 1
}

url() { echo "http://127.0.0.1:$PORT$1"; }

# traversal_tree ROOT: canary files outside ROOT ($WORK/canary, $WORK/outside/canary; the text in
# $canary) and the links a traversal corpus tries inside it: out-absolute, out-relative,
# lab/deeper/up (to $WORK/outside) and root (to /).
traversal_tree() {
    mkdir -p "$WORK/outside" "$1/lab/deeper"
    canary="CANARY-$(date +%s%N)"
    echo "$canary" >"$WORK/outside/canary"
    echo "$canary" >"$WORK/canary"
    ln -s "$WORK/outside/canary" "$1/out-absolute"
    ln -s ../outside/canary "$1/out-relative"
    ln -s ../../../outside "$1/lab/deeper/up"
    ln -s / "$1/root"
}

# timed CMD...: runs it; OUT (stdout and stderr), RC and ELAPSED_MS after.
timed() {
    local started
    started=$(date +%s%N)
    OUT=$("$@" 2>&1) && RC=0 || RC=$?
    ELAPSED_MS=$(( ($(date +%s%N) - started) / 1000000 ))
}

pass() { CHECKS=$((CHECKS + 1)); }
fail() {
    CHECKS=$((CHECKS + 1))
    FAILURES=$((FAILURES + 1))
    echo "FAIL: $*" >&2
}

# expect_eq DESCRIPTION EXPECTED ACTUAL
expect_eq() {
    if [[ "$2" == "$3" ]]; then pass; else fail "$1: expected [$2], got [$3]"; fi
}

# expect_contains DESCRIPTION NEEDLE HAYSTACK
expect_contains() {
    if [[ "$3" == *"$2"* ]]; then pass; else fail "$1: [$2] not in [$3]"; fi
}

# status PATH [curl args...]: the HTTP status code.
status() {
    local path=$1
    shift
    curl -s -o /dev/null -w '%{http_code}' "$@" "$(url "$path")"
}

# body PATH [curl args...]
body() {
    local path=$1
    shift
    curl -s "$@" "$(url "$path")"
}

# raw REQUEST-BYTES: send bytes over a plain TCP connection, print the reply.
raw() {
    exec 9<>"/dev/tcp/127.0.0.1/$PORT"
    # The server may answer and close before all bytes are written (garbage after a good
    # request): that EPIPE must not end the test with SIGPIPE.
    (trap '' PIPE; printf '%b' "$1" >&9) 2>/dev/null || true

    timeout 5 cat <&9 || true
    exec 9<&-
}

finish() {
    echo "$(basename "$0"): $((CHECKS - FAILURES)) passed, $FAILURES failed"
    [[ $FAILURES -eq 0 ]]
}

# expect_body DESCRIPTION PATH < EXPECTED: the body must equal stdin byte for byte.
expect_body() {
    local want="$WORK/want.$CHECKS" got="$WORK/got.$CHECKS"
    cat >"$want"
    curl -s -o "$got" "$(url "$2")"
    if cmp -s "$want" "$got"; then
        pass
    else
        fail "$1: body differs"
        diff -u "$want" "$got" >&2 || true
    fi
}

# expect_log DESCRIPTION NEEDLE [LOGFILE]: the log gets the line within 3 s (logging is async).
expect_log() {
    local file=${3:-$LOG}
    for _ in $(seq 60); do
        if grep -qF -- "$2" "$file"; then
            pass
            return
        fi
        sleep 0.05
    done
    fail "$1: [$2] not in log $file"
}
