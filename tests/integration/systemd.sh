#!/usr/bin/env bash
# systemd integration: READY=1 arrives only once the port answers, RELOADING=1 / READY=1 wrap a
# SIGHUP reload, STOPPING=1 on SIGTERM (path and abstract sockets), and the shipped unit passes
# `systemd-analyze verify`.
BOOTCFGD=$1
source "$(dirname "$0")/lib.sh"
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)

data="$WORK/data"
mkdir -p "$data/boot" "$data/profiles"
echo '{"kernel": "/k"}' >"$data/boot/default"
echo '{"id": "p", "boot": {"kernel": "/p"}}' >"$data/profiles/p.json"

for sock in "$WORK/notify.sock" "@bootcfg-test-$$"; do
    out="$WORK/notify-$RANDOM.txt"
    python3 "$here/notify_listener.py" "$sock" "$out" &
    PIDS+=($!)
    for _ in $(seq 100); do grep -q LISTENING "$out" 2>/dev/null && break; sleep 0.05; done
    NOTIFY_SOCKET=$sock start_bootcfgd "notify$RANDOM" -data-path="$data" -assets-path=
    for _ in $(seq 100); do grep -q READY=1 "$out" && break; sleep 0.05; done
    expect_contains "$sock: READY=1 once the port answers" "READY=1|STATUS=serving http://127.0.0.1:$PORT [port open: 200]" "$(cat "$out")"
    # A changed file applied in place is no reload for systemd (etcd streams 100 changes/s).
    echo "{\"id\": \"p\", \"boot\": {\"kernel\": \"/p$RANDOM\"}}" >"$data/profiles/p.json"
    for _ in $(seq 100); do grep -q "applied 1 changed file" "$LOG" && break; sleep 0.05; done
    expect_contains "$sock: change applied" "applied 1 changed file" "$(cat "$LOG")"
    expect_eq "$sock: no RELOADING=1 for a change applied in place" "READY" \
        "$(grep -o -E '^(READY|RELOADING)' "$out" | xargs)"
    kill -HUP "$PID"
    for _ in $(seq 100); do [[ $(grep -c READY=1 "$out") -ge 2 ]] && break; sleep 0.05; done
    expect_eq "$sock: reload wrapped in RELOADING=1, READY=1" "READY RELOADING READY" \
        "$(grep -o -E '^(READY|RELOADING)' "$out" | xargs)"
    grep -q -E '^RELOADING=1\|MONOTONIC_USEC=[0-9]+\|' "$out" && pass || fail "$sock: MONOTONIC_USEC with RELOADING=1"
    kill "$PID"
    wait "$PID" || true
    for _ in $(seq 100); do grep -q STOPPING=1 "$out" && break; sleep 0.05; done
    expect_contains "$sock: STOPPING=1 on SIGTERM" "STOPPING=1" "$(cat "$out")"
done

# Without NOTIFY_SOCKET nothing is sent and nothing is logged about it.
start_bootcfgd plain -data-path="$data" -assets-path=
expect_eq "no notify socket: serves" "200" "$(status /healthz)"
kill "$PID"
grep -q NOTIFY_SOCKET "$LOG" && fail "notify warning without NOTIFY_SOCKET" || pass

# A notify socket nobody listens on: logged once per state, bootcfgd still serves.
NOTIFY_SOCKET="$WORK/nobody.sock" start_bootcfgd deaf -data-path="$data" -assets-path=
expect_eq "unreachable notify socket: serves" "200" "$(status /healthz)"
expect_log "unreachable notify socket logged" "NOTIFY_SOCKET: cannot notify the service manager"
kill "$PID"

# The unit as shipped, with ExecStart pointed at this build (verify wants the binary to exist).
if command -v systemd-analyze >/dev/null; then
    sed "s#^ExecStart=/usr/bin/bootcfgd#ExecStart=$BOOTCFGD#" "$repo/systemd/bootcfgd.service" >"$WORK/bootcfgd.service"
    if out=$(systemd-analyze verify "$WORK/bootcfgd.service" 2>&1); then pass; else fail "systemd-analyze verify: $out"; fi
    [[ -z $out ]] && pass || fail "systemd-analyze verify printed: $out"
else
    fail "systemd-analyze is missing (scripts/deps --test installs systemd)"
fi
finish
