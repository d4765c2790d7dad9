#!/usr/bin/env bash
# The machine inventory in etcd, shared by two bootcfgd replicas on a 3-member cluster: a record
# under machines/<MAC> that both replicas show; boot counts from both replicas added, not
# overwritten; a check-in URL rendered by one replica taken by the other, and the installed
# state then selecting the boot-from-disk group on both; an operator's state and a forget on
# one replica seen on the other; the store's problems and export untouched by machine keys; a
# record broken by hand reported with its key and skipped; a BMC set through one replica called
# through the other (its password a secret in etcd); sightings made while etcd is down
# written once it is back; a replica started later loads every record.
# Usage: machines.sh BOOTCFGD BOOTCFG
BOOTCFGD=$1
BOOTCFG=$(realpath "$2")
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../integration/lib.sh"
source "$here/cluster.sh"

start_cluster 3
M1=52:54:00:cc:00:01
ctl put /bootcfg/profiles/install \
    '{"id":"install","boot":{"kernel":"/assets/installer"},"ignition_id":"install.json"}' >/dev/null
ctl put /bootcfg/profiles/disk '{"id":"disk","name":"boot from the local disk"}' >/dev/null
ctl put /bootcfg/groups/default '{"id":"default","profile":"disk"}' >/dev/null
ctl put /bootcfg/ignition/install.json '{"ignition":{"version":"3.3.0"},"storage":{"files":[{"path":"/etc/checkin-url","contents":{"source":"data:,{{.request.checkin_url}}"}}]}}' >/dev/null
ctl put /bootcfg/groups/install "{\"id\":\"install\",\"profile\":\"install\",\"selector\":{\"mac\":\"$M1\"}}" >/dev/null
ctl put /bootcfg/groups/installed \
    "{\"id\":\"installed\",\"profile\":\"disk\",\"selector\":{\"mac\":\"$M1\",\"state\":\"installed\"}}" >/dev/null

start_replica A -etcd-endpoints="$ENDPOINTS"
start_replica B -etcd-endpoints="${ENDPOINT[3]},${ENDPOINT[2]},${ENDPOINT[1]}"
expect_contains "start-up says where the inventory is" \
    "inventory: 0 machines in etcd $ENDPOINTS /bootcfg/machines/" "$(cat "$A_LOG")"

machine() { curl -s "$1/api/v1/machines/$2"; }
field() { python3 -c 'import json, sys; d = json.load(sys.stdin); print(d'"$1"')'; }
# eventually ADMIN MAC PYTHON-EXPR VALUE [TRIES]: the record's field reaches VALUE (0.1 s a try).
eventually() {
    local got=""
    for _ in $(seq "${5:-100}"); do
        got=$(machine "$1" "$2" | field "$3" 2>/dev/null || true)
        [[ $got == "$4" ]] && break
        sleep 0.1
    done
    expect_eq "machine $2 $3 on $1" "$4" "$got"
}
stored() { ctl get --print-value-only "/bootcfg/machines/$1" | field "$2"; }

# --- A machine seen by A is in etcd and on B.
curl -s "http://127.0.0.1:$A_PORT/ipxe?mac=$M1&serial=SN1" >/dev/null
eventually "$B_ADMIN" "$M1" '["state"]' provisioning
eventually "$B_ADMIN" "$M1" '["serial"]' SN1
expect_eq "the record is in etcd under machines/<MAC>" provisioning "$(stored "$M1" '["state"]')"
expect_eq "the check-in key is in etcd, 32 bytes" 32 \
    "$(ctl get -w json /bootcfg/secrets/checkin-key | python3 -c 'import base64, json, sys
print(len(base64.b64decode(json.load(sys.stdin)["kvs"][0]["value"])))')"

# --- Boot counts from both replicas add up (concurrent writers merge, not overwrite).
loops=()
for port in "$A_PORT" "$B_PORT"; do
    for _ in $(seq 25); do curl -s -o /dev/null "http://127.0.0.1:$port/ipxe?mac=$M1"; done &
    loops+=($!)
done
wait "${loops[@]}"
# Each replica writes a machine only seen again at most every 10 s.
eventually "$A_ADMIN" "$M1" '["boot_count"]' 51 250
eventually "$B_ADMIN" "$M1" '["boot_count"]' 51 50
expect_eq "etcd holds the sum" 51 "$(stored "$M1" '["boot_count"]')"

# --- Check-in: the URL A renders is taken by B; both then boot the machine from its disk.
checkin=$(curl -s "http://127.0.0.1:$A_PORT/ignition?mac=$M1" | python3 -c 'import json, sys
print(json.load(sys.stdin)["storage"]["files"][0]["contents"]["source"][len("data:,"):])')
expect_contains "A renders its own URL" "http://127.0.0.1:$A_PORT/checkin?id=$M1" "$checkin"
expect_eq "B takes A's check-in URL" 200 \
    "$(curl -s -o /dev/null -w '%{http_code}' -X POST "${checkin/:$A_PORT\//:$B_PORT/}")"
expect_eq "B has it at once" installed "$(machine "$B_ADMIN" "$M1" | field '["state"]')"
eventually "$A_ADMIN" "$M1" '["state"]' installed 30
for port in "$A_PORT" "$B_PORT"; do
    expect_contains "the installed group answers on $port: exit to the disk" "exit" \
        "$(curl -s "http://127.0.0.1:$port/ipxe?mac=$M1")"
done
expect_eq "a booting installed machine stays installed" installed "$(stored "$M1" '["state"]')"

# --- An operator's state and a forget, each through one replica, on the other.
cli() { "$BOOTCFG" --endpoint "$1" "${@:2}"; }
cli "$B_ADMIN" machine set-state "$M1" maintenance >/dev/null
eventually "$A_ADMIN" "$M1" '["state"]' maintenance 30
expect_eq "the history says who" maintenance "$(stored "$M1" '["history"][-1]["state"]')"
events=$(curl -s -N --max-time 2 -H 'Last-Event-ID: 0' "$A_ADMIN/api/v1/events" || true)
expect_contains "A's event stream has B's state change" '"state":"maintenance"' \
    "$(grep -A1 '^event: machine.state' <<<"$events")"
M2=52:54:00:cc:00:02
curl -s -o /dev/null "http://127.0.0.1:$B_PORT/metadata?mac=$M2"
eventually "$A_ADMIN" "$M2" '["state"]' discovered
cli "$A_ADMIN" machine forget "$M2" >/dev/null
expect_eq "forgotten in etcd" "" "$(ctl get --keys-only "/bootcfg/machines/$M2")"
gone=""
for _ in $(seq 30); do
    gone=$(curl -s -o /dev/null -w '%{http_code}' "$B_ADMIN/api/v1/machines/$M2")
    [[ $gone == 404 ]] && break
    sleep 0.1
done
expect_eq "forgotten on B" 404 "$gone"

# --- A BMC set through one replica is called through the other: its settings in the shared
# record, its password under secrets/ (never in the record).
"$here/../../scripts/tls-gen" "$WORK/tls" >/dev/null
python3 "$here/../integration/redfish_double.py" --cert "$WORK/tls/server.crt" \
    --key "$WORK/tls/server.key" --port-file "$WORK/bmc.port" --log "$WORK/bmc.log" \
    --user root --password calvin &
PIDS+=($!)
for _ in $(seq 100); do [[ -f $WORK/bmc.port ]] && break; sleep 0.05; done
printf 'calvin\n' >"$WORK/bmc.pass" && chmod 600 "$WORK/bmc.pass"
cli "$A_ADMIN" machine set-bmc "$M1" --bmc "redfish://127.0.0.1:$(cat "$WORK/bmc.port")" --user root \
    --password-file "$WORK/bmc.pass" --bmc-ca-file "$WORK/tls/ca.crt" >/dev/null
expect_eq "the password is a secret in etcd" calvin "$(ctl get --print-value-only "/bootcfg/secrets/bmc/$M1")"
expect_eq "... not in the record" "" "$(ctl get --print-value-only "/bootcfg/machines/$M1" | grep -o calvin || true)"
eventually "$B_ADMIN" "$M1" '["bmc"]["user"]' root 30
expect_contains "B calls the BMC A set, with the password from etcd" "power is on" "$(cli "$B_ADMIN" power "$M1" status)"
cli "$B_ADMIN" machine remove-bmc "$M1" >/dev/null
expect_eq "removed through B: the secret is gone" "" "$(ctl get --keys-only "/bootcfg/secrets/bmc/$M1")"

# --- The store leaves the inventory's keys alone: no problem reported, nothing exported.
expect_eq "no load problems on A" 0 \
    "$(curl -s "$A_ADMIN/api/v1/problems" | python3 -c 'import json, sys; print(len(json.load(sys.stdin)["items"]))')"
"$BOOTCFG" store export "$WORK/exported" --etcd-endpoints "$ENDPOINTS" >"$WORK/export.out" 2>&1
expect_eq "export says nothing of machines" "" "$(grep -i machines "$WORK/export.out")"
[[ ! -e $WORK/exported/machines && ! -e $WORK/exported/secrets ]] && pass || fail "export wrote the inventory's keys"

# --- A record broken by hand: reported with its key, skipped, the replicas go on.
ctl put /bootcfg/machines/52:54:00:cc:00:99 'not json {' >/dev/null
logged=""
for _ in $(seq 50); do
    grep -q "inventory: /bootcfg/machines/52:54:00:cc:00:99: not a machine record; ignored" "$A_LOG" && { logged=1; break; }
    sleep 0.1
done
expect_eq "the broken record is logged with its key" 1 "$logged"
expect_eq "A serves on" 200 "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$A_PORT/ipxe?mac=$M1")"
expect_eq "not listed" 404 "$(curl -s -o /dev/null -w '%{http_code}' "$A_ADMIN/api/v1/machines/52:54:00:cc:00:99")"

# --- etcd down: machines are still answered; what was seen meanwhile is written when it is back.
M3=52:54:00:cc:00:03
for i in 1 2 3; do stop_member "$i"; done
expect_eq "A answers with etcd down" 200 \
    "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$A_PORT/ipxe?mac=$M3")"
eventually "$A_ADMIN" "$M3" '["boot_count"]' 1 30
sleep 2  # a write pass or two fail
for i in 1 2 3; do start_member "$i"; done
wait_healthy
eventually "$B_ADMIN" "$M3" '["state"]' discovered 300
expect_contains "A said the write failed, once" "records not written to etcd" "$(cat "$A_LOG")"
expect_eq "... once" 1 "$(grep -c "records not written to etcd" "$A_LOG")"
expect_contains "and that it writes again" "inventory: writing to etcd" "$(cat "$A_LOG")"

# --- A replica started now loads every record and skips the broken one, naming its key.
start_replica C -etcd-endpoints="$ENDPOINTS" -log-level=debug
expect_contains "C's store reads its 6 config keys, none of the inventory's" \
    "etcd: read 6 keys under /bootcfg/" "$(cat "$C_LOG")"
expect_contains "C skips the broken record" \
    "inventory: etcd $ENDPOINTS /bootcfg/machines/: the record of /bootcfg/machines/52:54:00:cc:00:99 does not parse; skipped" \
    "$(cat "$C_LOG")"
expect_contains "C loads the two machines" "inventory: 2 machines in etcd" "$(cat "$C_LOG")"
expect_eq "C has M1's state" maintenance "$(machine "$C_ADMIN" "$M1" | field '["state"]')"
# A's last boots of M1 may still be on their way (a machine only seen again: within 10 s).
for _ in $(seq 150); do
    in_etcd=$(stored "$M1" '["boot_count"]')
    on_c=$(machine "$C_ADMIN" "$M1" | field '["boot_count"]')
    [[ $in_etcd == "$on_c" ]] && break
    sleep 0.1
done
expect_eq "C has M1's boot count, as etcd has it" "$in_etcd" "$on_c"

finish
