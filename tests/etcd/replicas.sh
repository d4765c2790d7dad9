#!/usr/bin/env bash
# Two bootcfgd replicas on one 3-member etcd cluster (Debian's etcd on loopback ports): a write
# through one replica is served by the other; 50 If-Match writers spread over both lose no
# update; killing the leader during a write loop loses no acknowledged write; with all members
# stopped both replicas serve every machine and say degraded; writes made while they were away
# arrive by themselves; a replica whose watch history was compacted away recovers with a full
# read; a broken object is reported with its key and its last good version kept; -validate and
# start-up against etcd.
# Also `bootcfg store import|export`: a matchbox data dir into etcd and back, equal, and served
# by an etcd-backed replica exactly as a directory-backed bootcfgd serves it.
# Usage: replicas.sh BOOTCFGD BOOTCFG
BOOTCFGD=$1
BOOTCFG=$(realpath "$2")
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../integration/lib.sh"
source "$here/cluster.sh"

start_cluster 3
MACHINES=20
mac_of() { printf '52:54:00:00:01:%02x' "$1"; }
ctl put /bootcfg/profiles/p '{"id":"p","boot":{"kernel":"/assets/k","args":["v=1"]}}' >/dev/null
for i in $(seq "$MACHINES"); do
    ctl put "/bootcfg/groups/m$i" \
        "{\"id\":\"m$i\",\"profile\":\"p\",\"selector\":{\"mac\":\"$(mac_of "$i")\"}}" >/dev/null
done

start_replica A -etcd-endpoints="$ENDPOINTS"
start_replica B -etcd-endpoints="${ENDPOINT[2]},${ENDPOINT[3]},${ENDPOINT[1]}"

# served PORT MAC: the /ipxe status for that machine.
served() { curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$1/ipxe?mac=$2"; }
# wait_for DESCRIPTION COMMAND...: until the command succeeds (10 s at most).
wait_for() {
    local what=$1
    shift
    for _ in $(seq 200); do
        "$@" && { pass; return; }
        sleep 0.05
    done
    fail "$what"
}
serves_kernel() { curl -s "http://127.0.0.1:$1/ipxe?mac=$2" | grep -q "^kernel $3"; }

expect_eq "replica A serves a machine from etcd" 200 "$(served "$A_PORT" "$(mac_of 1)")"
expect_eq "replica B serves a machine from etcd" 200 "$(served "$B_PORT" "$(mac_of 1)")"
expect_eq "healthz while etcd is up" "ok" "$(curl -s "http://127.0.0.1:$A_PORT/healthz")"

# --- a write through A's admin API is served by B
put() { curl -s -o /dev/null -w '%{http_code}' -X PUT --data-binary "$3" "$1/api/v1/$2"; }
expect_eq "PUT a profile through A" 201 \
    "$(put "$A_ADMIN" profiles/q '{"id":"q","boot":{"kernel":"/assets/q-kernel"}}')"
expect_eq "PUT a group through A" 201 \
    "$(put "$A_ADMIN" groups/new "{\"id\":\"new\",\"profile\":\"q\",\"selector\":{\"mac\":\"$(mac_of 99)\"}}")"
expect_eq "A serves its own write at once" 200 "$(served "$A_PORT" "$(mac_of 99)")"
wait_for "B serves the write made through A" serves_kernel "$B_PORT" "$(mac_of 99)" /assets/q-kernel
expect_eq "the write is in etcd with the bytes sent (plus a newline)" \
    '{"id":"q","boot":{"kernel":"/assets/q-kernel"}}' "$(ctl get --print-value-only /bootcfg/profiles/q)"

# --- 50 concurrent If-Match writers over both replicas lose no update
python3 "$here/../integration/admin_writers.py" "$A_ADMIN,$B_ADMIN" distinct 50 >"$WORK/distinct.out" \
    || fail "distinct writers over two replicas: $(cat "$WORK/distinct.out")"
expect_eq "50 distinct profiles in etcd" 50 "$(ctl get --prefix --keys-only /bootcfg/profiles/d | grep -c .)"
put "$A_ADMIN" profiles/shared '{"id":"shared","boot":{"kernel":"/assets/k"}}' >/dev/null
has_shared() { [[ $(curl -s -o /dev/null -w '%{http_code}' "$B_ADMIN/api/v1/profiles/shared") == 200 ]]; }
wait_for "B has the shared profile" has_shared
python3 "$here/../integration/admin_writers.py" "$A_ADMIN,$B_ADMIN" same 50 >"$WORK/same.out" \
    || fail "If-Match writers over two replicas: $(cat "$WORK/same.out")"
marks=$(ctl get --print-value-only /bootcfg/profiles/shared | python3 -c 'import json, sys
print(len(set(json.load(sys.stdin)["boot"]["args"])))')
expect_eq "50 If-Match writers over two replicas: every mark kept" 50 "$marks"

# --- kill the leader during a write loop: every acknowledged write is there afterwards
python3 "$here/../integration/admin_writers.py" "$A_ADMIN,$B_ADMIN" acked 6 >"$WORK/acked.out" 2>"$WORK/acked.err" &
writer=$!
sleep 1.5
killed=$(leader)
[[ $killed != 0 ]] || fail "no etcd leader found"
stop_member "$killed" KILL
wait "$writer" || fail "the write loop failed: $(cat "$WORK/acked.err")"
start_member "$killed"
wait_healthy
ctl get --prefix /bootcfg/profiles/a -w json >"$WORK/after-kill"
python3 - "$WORK/acked.out" "$WORK/after-kill" >"$WORK/kill-check" <<'EOF' || fail "leader kill: $(cat "$WORK/kill-check")"
import base64, json, sys
acked, nacked = set(), set()
for line in open(sys.argv[1]):
    word = line.split()
    (acked if word[0] == "ack" else nacked).add(word[1])
stored = {base64.b64decode(kv["key"]).decode(): base64.b64decode(kv["value"]).decode()
          for kv in json.load(open(sys.argv[2])).get("kvs", [])}
bad = []
for name in acked | nacked:
    value = stored.get("/bootcfg/profiles/" + name)
    if value is None:
        if name in acked:
            bad.append(f"acknowledged {name} is missing")
        continue
    doc = json.loads(value)  # present: whole, never half-written
    if doc["id"] != name or doc["boot"]["args"] != [f"n={name[1:]}"]:
        bad.append(f"{name} holds {value}")
print(f"{len(acked)} acknowledged, {len(nacked)} not; problems: {bad[:5]}")
sys.exit(1 if bad or not acked else 0)
EOF
pass

# --- every member stopped: both replicas serve every machine from their last snapshot
for i in 1 2 3; do stop_member "$i"; done
failed=0
for port in "$A_PORT" "$B_PORT"; do
    for i in $(seq "$MACHINES"); do
        [[ $(served "$port" "$(mac_of "$i")") == 200 ]] || failed=$((failed + 1))
    done
done
expect_eq "with etcd down, no failed /ipxe on either replica" 0 "$failed"
degraded() { curl -s "http://127.0.0.1:$1/healthz" | grep -q '^degraded: store unreachable since '; }
wait_for "A's /healthz says degraded" degraded "$A_PORT"
wait_for "B's /healthz says degraded" degraded "$B_PORT"
expect_eq "healthz stays 200 when degraded" 200 "$(status /healthz)"
expect_log "A logs that etcd is unreachable" "etcd: unreachable" "$A_LOG"
expect_eq "a write with etcd down is a 503" 503 \
    "$(put "$A_ADMIN" profiles/down '{"id":"down","boot":{"kernel":"/assets/k"}}')"

# --- members back: changes made through etcdctl arrive without restarting bootcfgd
for i in 1 2 3; do start_member "$i"; done
wait_healthy
ctl put /bootcfg/profiles/p '{"id":"p","boot":{"kernel":"/assets/k2"}}' >/dev/null
wait_for "A follows etcd again" serves_kernel "$A_PORT" "$(mac_of 1)" /assets/k2
wait_for "B follows etcd again" serves_kernel "$B_PORT" "$(mac_of 1)" /assets/k2
healthy() { [[ $(curl -s "http://127.0.0.1:$1/healthz") == ok ]]; }
wait_for "A's /healthz is ok again" healthy "$A_PORT"
expect_log "A logs that etcd is back" "etcd: reachable again" "$A_LOG"
expect_eq "the write refused while etcd was down is absent" "" "$(ctl get /bootcfg/profiles/down)"

# --- a broken object written by hand: reported with its key, the last good version kept
ctl put /bootcfg/groups/m1 '{"id":"m1","profile":"p","selector":{"mac":' >/dev/null
expect_log "the broken key is reported" "/bootcfg/groups/m1:1: invalid JSON" "$A_LOG"
expect_log "its last good version is kept" "keeping the last good version" "$A_LOG"
expect_eq "the machine is still served" 200 "$(served "$A_PORT" "$(mac_of 1)")"
rc=0
"$BOOTCFGD" -etcd-endpoints="$ENDPOINTS" -assets-path= -validate >"$WORK/validate.out" 2>&1 || rc=$?
expect_eq "-validate against etcd fails on the broken key" 1 "$rc"
expect_contains "-validate names the key" "/bootcfg/groups/m1:1: invalid JSON" "$(cat "$WORK/validate.out")"
ctl put /bootcfg/groups/m1 "{\"id\":\"m1\",\"profile\":\"p\",\"selector\":{\"mac\":\"$(mac_of 1)\"}}" >/dev/null
out=$("$BOOTCFGD" -etcd-endpoints="$ENDPOINTS" -assets-path= -validate 2>&1) \
    || fail "-validate against etcd after the fix: $out"
expect_contains "-validate's summary names etcd" "etcd $ENDPOINTS /bootcfg/: 21 groups" "$out"

# --- a replica whose watch history is compacted away recovers with a full read
start_replica C -etcd-endpoints="${ENDPOINT[3]}"
stop_member 3
ctl put /bootcfg/profiles/p '{"id":"p","boot":{"kernel":"/assets/k3"}}' >/dev/null
ctl del /bootcfg/groups/m2 >/dev/null
rev=$(ctl get /bootcfg/profiles/p -w json | python3 -c 'import json,sys; print(json.load(sys.stdin)["header"]["revision"])')
ctl compaction "$rev" >/dev/null
start_member 3
wait_for "C serves the change made while it was cut off" serves_kernel "$C_PORT" "$(mac_of 1)" /assets/k3
not_served() { [[ $(served "$1" "$2") == 404 ]]; }
wait_for "C no longer serves the deleted group" not_served "$C_PORT" "$(mac_of 2)"
expect_log "C read everything again after the compaction" "was compacted" "$C_LOG"

# --- bootcfg store import/export: a matchbox example dir in, out, equal, served the same
FIXTURE="$here/../fixtures/matchbox"
out=$("$BOOTCFG" store import "$FIXTURE" --etcd-endpoints "$ENDPOINTS" --prefix /mb/)
expect_eq "import writes every object in one transaction" \
    "imported $FIXTURE into etcd $ENDPOINTS /mb/: 12 written, 0 unchanged (1 transactions)" "$out"
out=$("$BOOTCFG" store import "$FIXTURE" --etcd-endpoints "$ENDPOINTS" --prefix /mb/)
expect_contains "a second import changes nothing" "0 written, 12 unchanged (0 transactions)" "$out"
"$BOOTCFG" store export "$WORK/exported" --etcd-endpoints "$ENDPOINTS" --prefix /mb/ >/dev/null
diff -r "$FIXTURE" "$WORK/exported" >"$WORK/export.diff" && pass || fail "export differs: $(cat "$WORK/export.diff")"
rc=0
"$BOOTCFG" store export "$WORK/exported" --etcd-endpoints "$ENDPOINTS" --prefix /mb/ 2>"$WORK/again.err" || rc=$?
expect_eq "export refuses a non-empty dir" "1 bootcfg: store export: $WORK/exported: not empty; export into a new or empty directory" "$rc $(cat "$WORK/again.err")"
# The example data dir mixes both layouts (boot/, cloud/default beside profiles and groups).
DATA=$(realpath "$here/../../data")
out=$("$BOOTCFG" store import "$DATA" --etcd-endpoints "$ENDPOINTS" --prefix /lab/)
expect_contains "the bootcfg layout imports too" "written, 0 unchanged" "$out"
"$BOOTCFG" store export "$WORK/lab" --etcd-endpoints "$ENDPOINTS" --prefix /lab/ >/dev/null
diff -r "$DATA" "$WORK/lab" >"$WORK/lab.diff" && pass || fail "layout export differs: $(cat "$WORK/lab.diff")"
rc=0
"$BOOTCFG" store export "$WORK/x" --etcd-endpoints "${ENDPOINT[1]}/v3" 2>"$WORK/path.err" || rc=$?
expect_eq "an endpoint with a path: usage error, as bootcfgd says it" \
    "2 bootcfg: store: --etcd-endpoints: expected http://HOST:PORT or https://HOST:PORT, comma-separated, got \"${ENDPOINT[1]}/v3\" (bootcfg store --help)" \
    "$rc $(cat "$WORK/path.err")"
rc=0
"$BOOTCFG" store import "$FIXTURE" --etcd-endpoints "http://127.0.0.1:$(free_ports 1)" 2>/dev/null || rc=$?
expect_eq "import with etcd unreachable: exit 3" 3 "$rc"
start_replica M -etcd-endpoints="$ENDPOINTS" -etcd-prefix=/mb/
start_bootcfgd dir -assets-path= -data-path="$FIXTURE"
for q in "ipxe?mac=52:54:00:89:d8:10" "ipxe?mac=52:54:00:00:00:77" "metadata?mac=52:54:00:89:d8:10" \
    "ignition?mac=52:54:00:89:d8:10" "generic?mac=52:54:00:89:d8:10"; do
    expect_eq "/$q from etcd equals /$q from the data dir" \
        "$(curl -s "http://127.0.0.1:$PORT/$q")" "$(curl -s "http://127.0.0.1:$M_PORT/$q")"
done
start_replica L -etcd-endpoints="$ENDPOINTS" -etcd-prefix=/lab/
start_bootcfgd labdir -assets-path= -data-path="$DATA"
for q in "ipxe?mac=52:54:00:12:34:56" "ipxe?mac=52:54:00:00:00:99" "cloud?mac=52:54:00:12:34:56" \
    "cloud?mac=52:54:00:00:00:99" "ipxe?mac=52:54:00:00:00:98&rack=1" "metadata?rack=1&mac=52:54:00:00:00:98"; do
    expect_eq "bootcfg layout: /$q from etcd equals the data dir's" \
        "$(curl -s "http://127.0.0.1:$PORT/$q")" "$(curl -s "http://127.0.0.1:$L_PORT/$q")"
done

# --- a replica stops cleanly while its watch is live and changes arrive (its watch thread posts
# to the reloader's io_context: it must be stopped before that goes)
for i in 1 2 3 4 5; do ctl put /bootcfg/profiles/p "{\"id\":\"p\",\"boot\":{\"kernel\":\"/assets/s$i\"}}" >/dev/null; done &
putter=$!
sleep 0.2
rc=0
kill -TERM "$A_PID"
wait "$A_PID" || rc=$?
wait "$putter" || true
expect_eq "replica A exits 0 on SIGTERM with its watch live" 0 "$rc"
expect_log "and says it stopped" "stopped" "$A_LOG"

# --- start-up: no etcd means no server (bounded wait, exit 1); both stores at once is exit 2
dead=$(free_ports 1)
start=$(date +%s)
rc=0
"$BOOTCFGD" -address=127.0.0.1:0 -etcd-endpoints="http://127.0.0.1:$dead" -etcd-start-timeout=1s \
    >"$WORK/nostart.log" 2>&1 || rc=$?
expect_eq "no first read: exit 1" 1 "$rc"
expect_contains "no first read: says why" "no first read of etcd http://127.0.0.1:$dead" "$(cat "$WORK/nostart.log")"
[[ $(($(date +%s) - start)) -le 5 ]] && pass || fail "the start-up wait is not bounded"
rc=0
"$BOOTCFGD" -etcd-endpoints="$ENDPOINTS" -data-path=/tmp >"$WORK/both.out" 2>&1 || rc=$?
expect_eq "-data-path with -etcd-endpoints: usage error" 2 "$rc"
expect_contains "names both flags" "-data-path and -etcd-endpoints are both set" "$(cat "$WORK/both.out")"

finish
