#!/usr/bin/env bash
# The machine inventory: lifecycle states from real requests, the boot-once pattern (install,
# check in, boot from disk), signed and expiring check-in URLs, a client claiming a state, the
# admin API and CLI for machines, 10,000 machines under load with none lost, and kill -9 during
# a storm losing no acknowledged state change. Usage: inventory.sh BOOTCFGD BOOTCFG
BOOTCFGD=$1
BOOTCFG=$(realpath "$2")
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
state="$WORK/state"

data="$WORK/data"
mkdir -p "$data/profiles" "$data/groups" "$data/ignition"
cat >"$data/profiles/install.json" <<'J'
{"id": "install", "boot": {"kernel": "/assets/installer", "args": ["install.marker"]},
 "ignition_id": "install.json"}
J
echo '{"id": "disk", "name": "boot from the local disk"}' >"$data/profiles/disk.json"
echo '{"id": "default", "boot": {"kernel": "/assets/default-kernel"}}' >"$data/profiles/default.json"
cat >"$data/ignition/install.json" <<'J'
{"ignition": {"version": "3.3.0"}, "storage": {"files": [{"path": "/etc/checkin-url",
 "contents": {"source": "data:,{{.request.checkin_url}}"}}]}}
J
M1=52:54:00:aa:00:01
echo "{\"id\": \"node1-install\", \"profile\": \"install\", \"selector\": {\"mac\": \"$M1\"}}" \
    >"$data/groups/node1-install.json"
echo "{\"id\": \"node1-installed\", \"profile\": \"disk\", \"selector\": {\"mac\": \"$M1\", \"state\": \"installed\"}}" \
    >"$data/groups/node1-installed.json"
echo '{"id": "default", "profile": "default"}' >"$data/groups/default.json"
# The storm's machines: a group for 52:54:01:* is not needed; they get the default group.

start_bootcfgd main -data-path="$data" -assets-path= -admin-address=127.0.0.1:0
ADMIN=http://127.0.0.1:$(grep -o 'admin API listening on 127.0.0.1:[0-9]*' "$LOG" | grep -o '[0-9]*$')
main_log=$LOG
expect_contains "start-up says where the inventory is" "inventory: 0 machines in $state/inventory.db" "$(cat "$LOG")"
machine() { curl -s "$ADMIN/api/v1/machines/$1"; }
field() { python3 -c 'import json, sys; d = json.load(sys.stdin); print(d'"$1"')'; }
# eventually MAC PYTHON-EXPR VALUE: the record's field reaches VALUE within 5 s.
eventually() {
    local got=""
    for _ in $(seq 100); do
        got=$(machine "$1" | field "$2" 2>/dev/null || true)
        [[ $got == "$3" ]] && break
        sleep 0.05
    done
    expect_eq "machine $1 $2" "$3" "$got"
}

# --- Lifecycle from requests: discovered (default group), assigned, provisioning.
curl -s "$(url "/metadata?mac=52:54:00:bb:00:01&hostname=lonely")" >/dev/null
eventually 52:54:00:bb:00:01 '["state"]' discovered
eventually 52:54:00:bb:00:01 '["hostname"]' lonely
curl -s "$(url "/metadata?mac=$M1")" >/dev/null
eventually "$M1" '["state"]' assigned
out=$(curl -s "$(url "/ipxe?mac=$M1&arch=x86_64&serial=SN1")")
expect_contains "the install profile boots" "install.marker" "$out"
eventually "$M1" '["state"]' provisioning
eventually "$M1" '["boot_count"]' 1
eventually "$M1" '["serial"]' SN1
eventually "$M1" '["client_ip"]' 127.0.0.1
eventually "$M1" '["group"]' node1-install

# --- A client cannot claim a state: the recorded one decides.
out=$(curl -s "$(url "/ipxe?mac=$M1&state=installed")")
expect_contains "state=installed in the query changes nothing" "install.marker" "$out"

# --- Check-in: the URL rendered into the Ignition config, signed for this machine.
ign=$(curl -s "$(url "/ignition?mac=$M1")")
checkin=$(printf '%s' "$ign" | python3 -c 'import json, sys; print(json.load(sys.stdin)["storage"]["files"][0]["contents"]["source"][len("data:,"):])')
expect_contains "a check-in URL on this server" "http://127.0.0.1:$PORT/checkin?id=$M1&state=installed&expires=" "$checkin"
forged=${checkin%?}0
[[ $forged == "$checkin" ]] && forged=${checkin%?}1
expect_eq "a forged signature: 403" 403 "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$forged")"
other=${checkin/$M1/52:54:00:bb:00:01}
expect_eq "another machine's id with this signature: 403" 403 "$(curl -s -o /dev/null -w '%{http_code}' "$other")"
wiped=${checkin/state=installed/state=wiped}
expect_eq "another state with this signature: 403" 403 "$(curl -s -o /dev/null -w '%{http_code}' "$wiped")"
expect_eq "no signature at all: 403" 403 "$(curl -s -o /dev/null -w '%{http_code}' "$(url "/checkin?id=$M1&state=installed")")"
expect_eq "still provisioning after the refused check-ins" provisioning "$(machine "$M1" | field '["state"]')"
expect_eq "PUT is not a check-in" 405 "$(curl -s -o /dev/null -w '%{http_code}' -X PUT "$checkin")"
out=$(curl -s -X POST "$checkin")
expect_eq "the signed check-in is taken" "ok: $M1 is installed" "$out"
expect_eq "installed at once (committed before the answer)" installed "$(machine "$M1" | field '["state"]')"
out=$(curl -s "$(url "/ipxe?mac=$M1")")
expect_eq "installed: iPXE exits so the firmware boots the disk" \
    "$(printf '#!ipxe\necho bootcfg: no boot config for this machine: booting from disk\nexit')" "$out"
out=$(curl -s "$(url "/grub?mac=$M1")")
expect_contains "installed: GRUB exits too" "exit" "$out"
expect_eq "the state history (first seen by a group with a selector: assigned at once)" "assigned provisioning installed" \
    "$(machine "$M1" | python3 -c 'import json, sys; print(*[h["state"] for h in json.load(sys.stdin)["history"]])')"
expect_eq "who installed it" checkin "$(machine "$M1" | field '["history"][-1]["by"]')"

# --- The admin API and the CLI.
cli() { "$BOOTCFG" --endpoint "$ADMIN" "$@"; }
out=$(cli machine list 2>&1)
expect_contains "machine list shows the installed machine" "installed" "$out"
expect_contains "... with its group and profile" "node1-installed -> disk" "$out"
expect_contains "... and counts per state" "2 machines: 1 discovered, 1 installed" "$out"
out=$(cli machine list --state discovered -o json)
expect_eq "filter by state" "52:54:00:bb:00:01" "$(printf '%s' "$out" | python3 -c 'import json, sys; print(*[m["id"] for m in json.load(sys.stdin)["items"]])')"
out=$(curl -s "$ADMIN/api/v1/machines?label=hostname=lonely")
expect_contains "filter by label" "52:54:00:bb:00:01" "$out"
out=$(curl -s "$ADMIN/api/v1/machines?seen-since=1h" | field '["items"].__len__()')
expect_eq "seen within the hour" 2 "$out"
expect_eq "an unknown filter: 400" 400 "$(curl -s -o /dev/null -w '%{http_code}' "$ADMIN/api/v1/machines?colour=red")"
expect_eq "a bad MAC: 400" 400 "$(curl -s -o /dev/null -w '%{http_code}' "$ADMIN/api/v1/machines/not-a-mac")"
cli machine set-state "52-54-00-BB-00-01" maintenance >/dev/null
expect_eq "set-state through the CLI (MAC normalized)" maintenance "$(machine 52:54:00:bb:00:01 | field '["state"]')"
grep -q 'audit: who="127.0.0.1:[0-9]*" action=set-state object=machines/52:54:00:bb:00:01 old=discovered new=maintenance' "$main_log" &&
    pass || fail "set-state writes an audit line"
err=$(cli machine set-state 52:54:00:bb:00:01 'Bad State' 2>&1) && rc=0 || rc=$?
expect_eq "an invalid state: refused (exit 1)" 1 "$rc"
expect_contains "... saying why" "is not a state name" "$err"
cli machine set-state "$M1" discovered >/dev/null
out=$(curl -s "$(url "/ipxe?mac=$M1")")
expect_contains "back to discovered: the install profile again (reinstall)" "install.marker" "$out"
eventually "$M1" '["state"]' provisioning
cli machine forget 52:54:00:bb:00:01 >/dev/null
expect_eq "forgotten" 404 "$(curl -s -o /dev/null -w '%{http_code}' "$ADMIN/api/v1/machines/52:54:00:bb:00:01")"
err=$(cli machine forget 52:54:00:bb:00:01 2>&1) && rc=0 || rc=$?
expect_eq "forgetting it again: exit 1" 1 "$rc"

# --- The event stream (SSE): in order, resumable with Last-Event-ID; bootcfg machine watch.
curl -sN "$ADMIN/api/v1/events" >"$WORK/events.txt" &
sse_pid=$!
cli machine watch -o json >"$WORK/watch.txt" &
watch_pid=$!
PIDS+=("$sse_pid" "$watch_pid")
sleep 0.5
M3=52:54:00:cc:00:03
curl -s "$(url "/ipxe?mac=$M3")" >/dev/null
eventually "$M3" '["state"]' discovered
echo '{"id": "sse", "boot": {"kernel": "/k"}}' | cli profile create -f - >/dev/null
cli machine set-state "$M3" maintenance >/dev/null
cli machine forget "$M3" >/dev/null
for _ in $(seq 100); do grep -q machine.forgotten "$WORK/events.txt" && grep -q machine.forgotten "$WORK/watch.txt" && break; sleep 0.05; done
kill "$sse_pid" "$watch_pid" 2>/dev/null || true
order=$(python3 - "$WORK/events.txt" <<'PY'
import json, sys
events, cur = [], {}
for line in open(sys.argv[1]).read().split("\n"):
    if not line:
        if cur: events.append(cur); cur = {}
        continue
    k, _, v = line.partition(": ")
    cur[k] = v
ids = [int(e["id"]) for e in events]
assert ids == sorted(ids) and len(set(ids)) == len(ids), ids
mine = []
for e in events:
    d = json.loads(e["data"])
    if d.get("id") == "52:54:00:cc:00:03" or d.get("name") == "sse":
        mine.append(e["event"] + ("=" + d["state"] if e["event"] == "machine.state" else ""))
print(" ".join(mine), ids[0])
PY
)
expect_eq "the stream, in order" "machine.state=discovered object.put machine.state=maintenance machine.forgotten" "${order% *}"
first=${order##* }
resumed=$(curl -s --max-time 1 -H "Last-Event-ID: $first" "$ADMIN/api/v1/events" | sed -n 's/^id: //p' | head -1 || true)
expect_eq "resumes after Last-Event-ID" "$((first + 1))" "$resumed"
expect_eq "a Last-Event-ID that is not a number: 400" 400 \
    "$(curl -s -o /dev/null -w '%{http_code}' -H 'Last-Event-ID: x' "$ADMIN/api/v1/events")"
expect_contains "machine watch prints the events as JSON lines" '"event":"machine.forgotten"' "$(cat "$WORK/watch.txt")"
expect_contains "... with the machine's state" '"state":"maintenance"' "$(cat "$WORK/watch.txt")"

# --- 10,000 distinct machines, two boots each, under load: none lost, boot counts right.
out=$(python3 "$here/inventory_clients.py" storm "http://127.0.0.1:$PORT" 10000 2 8)
expect_eq "the storm's requests all answered" "sent 20000 failed 0" "$out"
counts=""
for _ in $(seq 100); do
    counts=$(curl -s "$ADMIN/api/v1/machines?label=group=default" | python3 -c '
import json, sys
items = json.load(sys.stdin)["items"]
storm = [m for m in items if m["id"].startswith("52:54:01:")]
print(len(storm), sorted({m["boot_count"] for m in storm}), sorted({m["state"] for m in storm}))')
    [[ $counts == "10000 [2] ['discovered']" ]] && break
    sleep 0.1
done
expect_eq "10,000 records, each with 2 boots, discovered (default group)" "10000 [2] ['discovered']" "$counts"

# --- kill -9 during a storm: every acknowledged state change is there after a restart.
python3 "$here/inventory_clients.py" storm "http://127.0.0.1:$PORT" 20000 3 4 >/dev/null 2>&1 &
storm_pid=$!
python3 "$here/inventory_clients.py" acked "$ADMIN" 100000 "$WORK/acked" &
acked_pid=$!
sleep 1.5
kill -9 "$PID"
wait "$acked_pid" 2>/dev/null || true
wait "$storm_pid" 2>/dev/null || true
acknowledged=$(wc -l <"$WORK/acked")
[[ $acknowledged -gt 10 ]] && pass || fail "only $acknowledged state changes were acknowledged before the kill"
start_bootcfgd again -data-path="$data" -assets-path= -admin-address=127.0.0.1:0
ADMIN=http://127.0.0.1:$(grep -o 'admin API listening on 127.0.0.1:[0-9]*' "$LOG" | grep -o '[0-9]*$')
expect_contains "the database opens after kill -9" "inventory: " "$(grep 'machines in' "$LOG")"
missing=$(curl -s "$ADMIN/api/v1/machines?state=acked" | python3 -c '
import json, sys
have = {m["id"] for m in json.load(sys.stdin)["items"]}
acked = [l.strip() for l in open(sys.argv[1]) if l.strip()]
print(len([a for a in acked if a not in have]))' "$WORK/acked")
expect_eq "acknowledged state changes lost by kill -9 (of $acknowledged)" 0 "$missing"
expect_eq "a state from before the kill is still there" provisioning "$(machine "$M1" | field '["state"]')"

# --- Expiry, and the inventory off.
start_bootcfgd short -data-path="$data" -assets-path= -state-path="$WORK/state-short" -checkin-ttl=1s
ign=$(curl -s "$(url "/ignition?mac=$M1")")
checkin=$(printf '%s' "$ign" | python3 -c 'import json, sys; print(json.load(sys.stdin)["storage"]["files"][0]["contents"]["source"][len("data:,"):])')
sleep 2.2
expect_eq "an expired check-in URL: 403" 403 "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$checkin")"
start_bootcfgd off -data-path="$data" -assets-path= -state-path=
expect_eq "-state-path= turns the inventory off: no check-in" 404 "$(status "/checkin?id=$M1")"
expect_contains "... and nothing of it in the log" "" "$(grep -c inventory "$LOG" | sed 's/^0$//')"
err=$("$BOOTCFGD" -data-path="$data" -state-path="$data/profiles/disk.json" 2>&1) && rc=0 || rc=$?
expect_eq "a state path that is a file: exit 1" 1 "$rc"
expect_contains "... naming the flag" "-state-path $data/profiles/disk.json is not a directory" "$err"

echo "inventory: $((CHECKS - FAILURES))/$CHECKS checks passed"
[[ $FAILURES -eq 0 ]]
