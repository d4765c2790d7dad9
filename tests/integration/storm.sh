#!/usr/bin/env bash
# A small boot storm (scripts/bench-storm's checks, no timing): 300 machines, 60 in flight, each
# with its own group, MAC and UUID and a new connection per request, walk /boot.ipxe -> /ipxe ->
# kernel -> initrd -> /ignition -> check-in. The load generator checks that every machine got its
# own answers byte for byte (the kernel and initrd too); then every machine must be in the
# inventory as installed. A second storm of the same machines, now known, with a reload of the
# data dir in the middle of it, must give the same answers.
BOOTCFGD=$1
STORM=$2
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/../../scripts/lib/storm-data.sh"
MACHINES=300

storm_data "$WORK/data" "$WORK/assets" $MACHINES $((1024 * 1024)) $((3 * 1024 * 1024 + 17))
start_bootcfgd storm -data-path="$WORK/data" -assets-path="$WORK/assets" \
    -admin-address=127.0.0.1:0
ADMIN=http://127.0.0.1:$(grep -o 'admin API listening on 127.0.0.1:[0-9]*' "$LOG" | grep -o '[0-9]*$')

# The answers do differ per machine (else "its own answers" would prove nothing).
two=$(curl -s "$(url '/ignition?mac=52:54:03:00:00:01')" "$(url '/ipxe?mac=52:54:03:00:00:02')")
expect_contains "machine 1's config carries its hostname" "node-1" "$two"
expect_contains "machine 2's boot script its profile" "storm.profile=2" "$two"

out=$("$STORM" -check-assets "$PORT" $MACHINES 60 0 "${STORM_PATHS[@]}" 2>&1) && rc=0 || rc=$?
expect_eq "first storm: every machine booted" 0 "$rc"
expect_contains "first storm: none failed" "machines $MACHINES failed 0 " "$out"
expect_contains "first storm: all checked" \
    "checked $MACHINES machines byte for byte: chain script config checkin kernel initrd" "$out"
[[ $rc == 0 ]] || echo "$out" >&2

# count [QUERY]: machines in the inventory.
count() {
    curl -s "$ADMIN/api/v1/machines${1:-}" |
        python3 -c 'import json, sys; print(len(json.load(sys.stdin)["items"]))'
}
for _ in $(seq 100); do
    [[ $(count '?state=installed') == "$MACHINES" ]] && break
    sleep 0.05
done
expect_eq "every machine of the storm is installed" "$MACHINES" "$(count '?state=installed')"

# The same machines again, with the data dir reloaded mid-storm (the same content).
"$STORM" "$PORT" $MACHINES 60 0 "${STORM_PATHS[@]}" >"$WORK/second" 2>&1 &
storm_pid=$!
sleep 0.2
kill -HUP "$PID"
wait "$storm_pid" && rc=0 || rc=$?
out=$(cat "$WORK/second")
expect_eq "second storm, reload in the middle: every machine booted" 0 "$rc"
expect_contains "second storm: all checked" \
    "checked $MACHINES machines byte for byte: chain script config checkin" "$out"
[[ $rc == 0 ]] || echo "$out" >&2
expect_eq "still $MACHINES machines, all installed" "$MACHINES" "$(count '?state=installed')"
expect_eq "and no other" "$MACHINES" "$(count)"
expect_eq "bootcfgd is still up" 0 "$(kill -0 "$PID" && echo 0)"
finish
