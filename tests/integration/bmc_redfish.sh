#!/usr/bin/env bash
# Power and next boot through Redfish BMCs: bootcfgd against redfish_double.py (a test double:
# no Redfish service is packaged in Debian) over HTTPS with a test CA, as BMCs differ: ETags
# required, BootSourceOverrideMode refused, no PowerCycle among the allowed resets, several
# systems, a wrong password, a certificate from another CA, a slow BMC.
BOOTCFGD=$1
BOOTCFG=$(realpath "$2")
source "$(dirname "$0")/lib.sh"
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)

"$repo/scripts/tls-gen" "$WORK/tls" >/dev/null
"$repo/scripts/tls-gen" "$WORK/other-ca" >/dev/null
chmod a+r "$WORK/tls/ca.crt"
printf 'calvin\n' >"$WORK/pw" && chmod 600 "$WORK/pw"
printf 'hobbes\n' >"$WORK/wrong" && chmod 600 "$WORK/wrong"

# start_bmc NAME [double options...]: sets BMC_<NAME> to its redfish:// URL, its log in $WORK/NAME.log.
start_bmc() {
    local name=$1
    shift
    python3 "$here/redfish_double.py" --cert "$WORK/tls/server.crt" --key "$WORK/tls/server.key" \
        --port-file "$WORK/$name.port" --log "$WORK/$name.log" --user root --password calvin "$@" &
    PIDS+=($!)
    for _ in $(seq 100); do [[ -f $WORK/$name.port ]] && break; sleep 0.05; done
    printf -v "BMC_$name" 'redfish://127.0.0.1:%s' "$(cat "$WORK/$name.port")"
}
start_bmc plain
start_bmc strict --require-etag --reject-mode
start_bmc many --systems 2
start_bmc slow --delay 3

mkdir -p "$WORK/data"
start_bootcfgd main -data-path="$WORK/data" -assets-path= -admin-address=127.0.0.1:0 -bmc-timeout=1s
ADMIN=http://127.0.0.1:$(grep -o 'admin API listening on 127.0.0.1:[0-9]*' "$LOG" | grep -o '[0-9]*$')
cli() { "$BOOTCFG" --endpoint "$ADMIN" "$@"; }
requests() { grep -c "\"method\": \"$2\"" "$WORK/$1.log" || true; }
last() { grep "\"method\": \"$2\"" "$WORK/$1.log" | tail -1; }
set_bmc() {  # set_bmc MAC URL [flags...]
    local mac=$1 url=$2
    shift 2
    cli machine set-bmc "$mac" --bmc "$url" --user root --password-file "$WORK/pw" "$@" >/dev/null
}

# --- one system, found through the Systems collection; the test CA named
M=52:54:00:c1:00:01
set_bmc $M "$BMC_plain" --bmc-ca-file "$WORK/tls/ca.crt"
expect_eq "power status" "$M: power is on ($BMC_plain)" "$(cli power $M status)"
expect_eq "... found the system through the collection" "1" "$(grep -c '"path": "/redfish/v1/Systems"' "$WORK/plain.log")"
expect_eq "... and read the system once for its power and its hardware" "1" \
    "$(grep -c '"path": "/redfish/v1/Systems/RACK1-N1"' "$WORK/plain.log")"
record=$(curl -s "$ADMIN/api/v1/machines/$M")
hw() { python3 -c 'import json, sys; print(json.load(sys.stdin)["hardware"]'"$1"')' <<<"$record"; }
expect_eq "the record gets the BMC's serial" "SN000001" "$(hw '["SerialNumber"]')"
expect_eq "... manufacturer and model" "Bootcfg Test Systems RS-2000" "$(hw '["Manufacturer"]') $(hw '["Model"]')"
expect_eq "... UUID" "6b9a1c2e-0000-4000-8000-000000000001" "$(hw '["UUID"]')"
expect_eq "... CPUs and memory" "2 256" "$(hw '["ProcessorSummary"]["Count"]') $(hw '["MemorySummary"]["TotalSystemMemoryGiB"]')"
expect_eq "... NIC MACs" "['52:54:00:c0:01:01', '52:54:00:c0:01:02']" "$(hw '["MACs"]')"

expect_contains "power off" "off: power is off" "$(cli power $M off)"
expect_contains "... as a ForceOff reset" '"body": "{\"ResetType\":\"ForceOff\"}"' "$(last plain POST)"
expect_contains "power cycle of a machine that is off: On" "cycle: power is on" "$(cli power $M cycle)"
expect_contains "... as an On reset" '{\"ResetType\":\"On\"}' "$(last plain POST)"
expect_contains "power cycle of a machine that is on" "cycle: power is on" "$(cli power $M cycle)"
expect_contains "... ForceRestart: this system allows no PowerCycle" '{\"ResetType\":\"ForceRestart\"}' "$(last plain POST)"
expect_contains "soft: a graceful shutdown" "soft: power is off" "$(cli power $M soft)"
expect_contains "... GracefulShutdown" '{\"ResetType\":\"GracefulShutdown\"}' "$(last plain POST)"
expect_log "Redfish power actions audited" "action=\"power soft\" object=machines/$M bmc=$BMC_plain"

expect_eq "next-boot pxe --uefi" "$M: next boot pxe (UEFI), next boot only ($BMC_plain)" \
    "$(cli next-boot $M pxe --uefi)"
expect_contains "... one PATCH of the boot override" \
    '{\"Boot\":{\"BootSourceOverrideEnabled\":\"Once\",\"BootSourceOverrideMode\":\"UEFI\",\"BootSourceOverrideTarget\":\"Pxe\"}}' \
    "$(last plain PATCH)"
expect_contains "... with the system's ETag" '"if_match": "W/\"' "$(last plain PATCH)"
expect_contains "next-boot http: UEFI HTTP boot" "next boot http (UEFI), every boot" "$(cli next-boot $M http --uefi --persistent)"
expect_contains "... UefiHttp, Continuous" '\"BootSourceOverrideEnabled\":\"Continuous\",\"BootSourceOverrideMode\":\"UEFI\",\"BootSourceOverrideTarget\":\"UefiHttp\"' "$(last plain PATCH)"
expect_contains "next-boot disk (legacy)" "next boot disk, next boot only" "$(cli next-boot $M disk)"
expect_contains "next-boot read back" "next boot disk, next boot only" "$(cli next-boot $M)"

# --- a strict BMC: If-Match required, BootSourceOverrideMode refused
M2=52:54:00:c1:00:02
set_bmc $M2 "$BMC_strict" --bmc-ca-file "$WORK/tls/ca.crt"
expect_contains "a BMC that refuses the Mode still gets the override" "next boot pxe (UEFI), next boot only" \
    "$(cli next-boot $M2 pxe --uefi)"
expect_eq "... tried with the Mode, then without" "2" "$(requests strict PATCH)"
expect_contains "... the second without it" '{\"Boot\":{\"BootSourceOverrideEnabled\":\"Once\",\"BootSourceOverrideTarget\":\"Pxe\"}}' "$(last strict PATCH)"
expect_eq "... no PATCH without the ETag" "0" "$(grep '"method": "PATCH"' "$WORK/strict.log" | grep -c '"if_match": null' || true)"

# --- several systems: the URL must name one
M3=52:54:00:c1:00:03
set_bmc $M3 "$BMC_many" --bmc-ca-file "$WORK/tls/ca.crt"
out=$(cli power $M3 status 2>&1) && rc=0 || rc=$?
expect_eq "several systems and none named: refused" "1" "$rc"
expect_contains "... saying how to name one" "2 systems; name one in the URL" "$out"
set_bmc $M3 "$BMC_many/redfish/v1/Systems/RACK1-N2" --bmc-ca-file "$WORK/tls/ca.crt"
expect_contains "the named system" "power is on" "$(cli power $M3 status)"
expect_eq "... its own serial" "SN000002" "$(curl -s "$ADMIN/api/v1/machines/$M3" | python3 -c 'import json, sys; print(json.load(sys.stdin)["hardware"]["SerialNumber"])')"

# --- refusals: password, certificate, a slow BMC
M4=52:54:00:c1:00:04
cli machine set-bmc $M4 --bmc "$BMC_plain" --user root --password-file "$WORK/wrong" --bmc-ca-file "$WORK/tls/ca.crt" >/dev/null
out=$(cli power $M4 status 2>&1) && rc=0 || rc=$?
expect_eq "wrong password: refused" "1" "$rc"
expect_contains "... one line naming the BMC and its answer" "$BMC_plain: HTTP 401" "$out"
set_bmc $M4 "$BMC_plain" --bmc-ca-file "$WORK/other-ca/ca.crt"
out=$(cli power $M4 status 2>&1) && rc=0 || rc=$?
expect_eq "a certificate from another CA: refused" "1" "$rc"
expect_contains "... saying so" "certificate verify failed" "$out"
set_bmc $M4 "$BMC_plain"
out=$(cli power $M4 status 2>&1) && rc=0 || rc=$?
expect_eq "the system's CAs do not know the test CA: refused" "1" "$rc"
out=$(cli machine set-bmc $M4 --bmc "$BMC_plain" --user root --password-file "$WORK/pw" --insecure 2>&1)
expect_contains "--insecure says what it does" "will not verify this BMC's certificate" "$out"
expect_log "... and the audit line says so" "action=set-bmc object=machines/$M4 bmc=$BMC_plain user=\"root\" insecure=true"
expect_contains "--insecure: no certificate check, on request" "power is" "$(cli power $M4 status)"
expect_contains "... shown in the BMC settings" '"insecure": true' "$(curl -s "$ADMIN/api/v1/machines/$M4/bmc")"
M5=52:54:00:c1:00:05
set_bmc $M5 "$BMC_slow" --bmc-ca-file "$WORK/tls/ca.crt"
timed cli power $M5 status
expect_eq "a BMC slower than -bmc-timeout: refused" "1" "$RC"
expect_contains "... after its tries" "(2 tries)" "$OUT"
[[ $ELAPSED_MS -lt 5000 ]] && pass || fail "the slow BMC took ${ELAPSED_MS} ms (-bmc-timeout=1s, 2 tries)"
out=$(curl -s -X PUT -d '{"url": "redfish://127.0.0.1/redfish/v1/Systems/../../x", "user": "root"}' "$ADMIN/api/v1/machines/$M5/bmc")
expect_contains "a system path that climbs out: refused" "not a system's" "$out"

expect_eq "the password in no log line" "" "$(grep -ho 'calvin\|hobbes' "$LOG" || true)"
expect_eq "... and in no answer" "" "$(curl -s "$ADMIN/api/v1/machines" | grep -o 'calvin\|hobbes' || true)"
finish
