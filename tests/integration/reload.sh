#!/usr/bin/env bash
# Reload on file change and on SIGHUP while requests are running: no request fails, new
# configs show up, a broken file keeps its last good version.
BOOTCFGD=$1
source "$(dirname "$0")/lib.sh"

data="$WORK/data"
mkdir -p "$data/boot/mac"
echo '{"kernel": "/k/default"}' >"$data/boot/default"
echo '{"kernel": "/k/node1-v1"}' >"$data/boot/mac/52:54:00:00:00:01"
start_bootcfgd reload -data-path="$data" -assets-path=

# Background load: batches of keep-alive requests, every status recorded.
load() {
    local end=$((SECONDS + 6))
    while [[ $SECONDS -lt $end ]]; do
        local urls=()
        for i in $(seq 50); do urls+=(-o /dev/null "$(url "/ipxe?mac=52:54:00:00:00:0$((i % 3 + 1))")"); done
        curl -s -w '%{http_code}\n' "${urls[@]}" || echo "curl-failed"
    done >"$WORK/statuses"
}
load &
load_pid=$!

wait_for() {  # wait_for DESCRIPTION PATH EXPECTED-SUBSTRING
    for _ in $(seq 100); do
        [[ "$(body "$2")" == *"$3"* ]] && { pass; return; }
        sleep 0.05
    done
    fail "$1: $(body "$2") does not contain $3"
}

sleep 0.3
# In-place edit.
echo '{"kernel": "/k/node1-v2"}' >"$data/boot/mac/52:54:00:00:00:01"
wait_for "in-place edit picked up" "/ipxe?mac=52:54:00:00:00:01" "/k/node1-v2"
# Atomic replace (temp file + rename), the way config management tools write.
echo '{"kernel": "/k/node2"}' >"$data/boot/mac/.tmp-node2"
mv "$data/boot/mac/.tmp-node2" "$data/boot/mac/52-54-00-00-00-02"
wait_for "new machine via rename" "/ipxe?mac=52:54:00:00:00:02" "/k/node2"
# A new directory created after start is watched too.
mkdir -p "$data/cloud/mac"
printf '#cloud-config\nnode: 3\n' >"$data/cloud/mac/52:54:00:00:00:03"
wait_for "new directory watched" "/cloud?mac=52:54:00:00:00:03" "node: 3"
# A broken write keeps the last good version and is logged with its path.
echo '{"kernel": "/k/node1-v3"' >"$data/boot/mac/52:54:00:00:00:01"
sleep 0.5
expect_contains "broken file keeps last good" "/k/node1-v2" "$(body "/ipxe?mac=52:54:00:00:00:01")"
expect_log "broken file logged" "$data/boot/mac/52:54:00:00:00:01:2: invalid JSON"
expect_log "kept version logged" "keeping the last good version"
# Deleting a file drops the machine back to the default.
rm "$data/boot/mac/52-54-00-00-00-02"
wait_for "deleted file falls back to default" "/ipxe?mac=52:54:00:00:00:02" "/k/default"

# SIGHUP reloads too (inotify would also see this; the log line proves the signal path).
echo '{"kernel": "/k/node1-v4"}' >"$data/boot/mac/52:54:00:00:00:01"
kill -HUP "$PID"
wait_for "SIGHUP reload" "/ipxe?mac=52:54:00:00:00:01" "/k/node1-v4"
expect_log "SIGHUP logged" "SIGHUP: reloading"

wait "$load_pid"
total=$(wc -l <"$WORK/statuses")
bad=$(grep -vc '^200$' "$WORK/statuses" || true)
[[ $total -gt 200 ]] && pass || fail "load made only $total requests"
expect_eq "requests failed during reloads (of $total)" "0" "$bad"
kill -0 "$PID" && pass || fail "bootcfgd died"
kill "$PID"

# SIGTERM while a reload is still running and logging a problem: a clean exit. (Found by
# scripts/soak: the loggers were torn down before the reloader's thread was joined, and the
# reload's warning crashed bootcfgd at exit.)
big="$WORK/big"
"$(dirname "$0")/../../scripts/gen-data" 20000 "$big"
echo '{"id": "broken"' >"$big/groups/broken.json"
for round in 1 2 3 4 5; do
    start_bootcfgd "term$round" -data-path="$big" -assets-path=
    kill -HUP "$PID"
    sleep 0.$((round * 2))
    kill -TERM "$PID"
    wait "$PID" && code=0 || code=$?
    expect_eq "round $round: exit status of SIGTERM during a reload" "0" "$code"
    expect_log "round $round: stopped cleanly" "stopped"
done

finish

