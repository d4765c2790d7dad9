#!/usr/bin/env bash
# Power and next boot through a real IPMI BMC: OpenIPMI's ipmi_sim (Debian's openipmi) on
# 127.0.0.1, spoken to by bootcfgd over IPMI v2.0 lanplus (FreeIPMI). ipmi_sim's chassis-control
# program stands in for the machine's hardware (a power line and a boot-device register kept in
# files); ipmitool, the tool operators know, reads the same simulator to compare.
BOOTCFGD=$1
BOOTCFG=$(realpath "$2")
source "$(dirname "$0")/lib.sh"
for tool in ipmi_sim ipmitool python3; do
    command -v "$tool" >/dev/null || { echo "SKIP: $tool missing (scripts/deps --test)"; exit 77; }
done

free_udp_port() {
    python3 -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# The hardware: power 0/1 and the boot device, as ipmi_sim's chassis_control program sees them.
hw="$WORK/hw"
mkdir -p "$hw" "$WORK/sim"
cat >"$WORK/chassis" <<EOF
#!/bin/sh
# chassis DEVICE get PARM... | set PARM VALUE...
shift; op=\$1; shift
echo "\$op \$*" >>"$hw/calls"
case \$op in
get) for p in "\$@"; do
         if [ -f "$hw/\$p" ]; then v=\$(cat "$hw/\$p"); elif [ "\$p" = power ]; then v=0; else v=default; fi
         echo "\$p:\$v"
     done ;;
set) while [ \$# -ge 2 ]; do echo "\$2" >"$hw/\$1"; shift 2; done ;;
*) exit 1 ;;
esac
EOF
chmod +x "$WORK/chassis"
ipmi_port=$(free_udp_port)
cat >"$WORK/sim/lan.conf" <<EOF
name "bmc-test"
set_working_mc 0x20
  startlan 1
    addr 127.0.0.1 $ipmi_port
    priv_limit admin
    allowed_auths_callback none md2 md5 straight
    allowed_auths_user none md2 md5 straight
    allowed_auths_operator none md2 md5 straight
    allowed_auths_admin none md2 md5 straight
    guid a123456789abcdefa123456789abcdef
  endlan
  chassis_control "$WORK/chassis 0x20"
  user 2 true "admin" "s3cret-pw" admin 10 none md2 md5 straight
EOF
cat >"$WORK/sim/sim.emu" <<'EOF'
mc_setbmc 0x20
mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr
mc_enable 0x20
EOF
ipmi_sim -c "$WORK/sim/lan.conf" -f "$WORK/sim/sim.emu" -n -s "$WORK/sim/state" >"$WORK/sim/log" 2>&1 &
PIDS+=($!)
# -C 3: a cipher suite named, as ipmitool otherwise asks for the list, which ipmi_sim never
# answers (10 s lost per call).
ipmitool_() {
    ipmitool -I lanplus -C 3 -H 127.0.0.1 -p "$ipmi_port" -U admin -P s3cret-pw "$@" 2>/dev/null
}
for _ in $(seq 100); do
    ipmitool_ chassis power status >/dev/null && break
    sleep 0.1
done
expect_eq "ipmi_sim answers ipmitool" "Chassis Power is off" "$(ipmitool_ chassis power status)"

mkdir -p "$WORK/data"
start_bootcfgd main -data-path="$WORK/data" -assets-path= -admin-address=127.0.0.1:0 -bmc-timeout=1s
ADMIN=http://127.0.0.1:$(grep -o 'admin API listening on 127.0.0.1:[0-9]*' "$LOG" | grep -o '[0-9]*$')
cli() { "$BOOTCFG" --endpoint "$ADMIN" "$@"; }
M=52:54:00:b0:00:01
BMC=ipmi://127.0.0.1:$ipmi_port

# --- setting the BMC: the password from a file only its owner reads, never shown again
printf 's3cret-pw\n' >"$WORK/pw"
chmod 644 "$WORK/pw"
out=$(cli machine set-bmc $M --bmc "$BMC" --user admin --password-file "$WORK/pw" 2>&1) && rc=0 || rc=$?
expect_eq "a password file others may read: usage error" "2" "$rc"
expect_contains "... naming the file and its mode" "--password-file $WORK/pw: others may read it (mode 0644)" "$out"
chmod 600 "$WORK/pw"
expect_eq "set-bmc" "machine $M: BMC $BMC" \
    "$(cli machine set-bmc $M --bmc "$BMC" --user admin --password-file "$WORK/pw" --ipmi-workarounds opensesspriv)"
record=$(curl -s "$ADMIN/api/v1/machines/$M")
expect_contains "the record has the BMC" "\"url\": \"$BMC\"" "$record"
expect_eq "... never its password (record)" "" "$(grep -o s3cret <<<"$record" || true)"
expect_eq "... nor GET .../bmc" "" "$(curl -s "$ADMIN/api/v1/machines/$M/bmc" | grep -o s3cret || true)"
expect_eq "the state file is the owner's only" "600" "$(stat -c %a "$BOOTCFG_STATE_PATH/inventory.db")"

# --- power, compared with ipmitool reading the same BMC
expect_eq "power status" "$M: power is off ($BMC)" "$(cli power $M status)"
expect_eq "power on" "$M on: power is on ($BMC)" "$(cli power $M on)"
expect_eq "... ipmitool sees it on" "Chassis Power is on" "$(ipmitool_ chassis power status)"
expect_eq "... the machine's power line" "1" "$(cat "$hw/power")"
expect_eq "power off" "$M off: power is off ($BMC)" "$(cli power $M off)"
expect_eq "... ipmitool sees it off" "Chassis Power is off" "$(ipmitool_ chassis power status)"
: >"$hw/calls"
expect_eq "power cycle of a machine that is off turns it on" "$M cycle: power is on ($BMC)" "$(cli power $M cycle)"
expect_eq "... one power-on, no cycle" "set power 1" "$(grep '^set' "$hw/calls")"
: >"$hw/calls"
cli power $M cycle >/dev/null
for _ in $(seq 40); do [[ $(grep -c '^set power' "$hw/calls") -ge 2 ]] && break; sleep 0.1; done
expect_eq "power cycle of a machine that is on: off, then on" "set power 0 set power 1" \
    "$(grep '^set power' "$hw/calls" | tr '\n' ' ' | sed 's/ $//')"
expect_contains "power reset reaches the BMC" "reset: power is on" "$(cli power $M reset)"
expect_eq "... as a reset pulse" "set reset 1" "$(grep '^set reset' "$hw/calls")"
expect_log "power actions audited (who, machine, what, BMC)" \
    "action=\"power on\" object=machines/$M bmc=$BMC"

# --- next boot device
expect_eq "next-boot pxe" "$M: next boot pxe, next boot only ($BMC)" "$(cli next-boot $M pxe --uefi)"
expect_contains "... ipmitool reads it back" "Boot Device Selector : Force PXE" "$(ipmitool_ chassis bootparam get 5)"
expect_eq "... the machine's boot register" "pxe" "$(cat "$hw/boot")"
expect_eq "next-boot disk" "$M: next boot disk, next boot only ($BMC)" "$(cli next-boot $M disk --persistent)"
expect_contains "... ipmitool reads it back" "Force Boot from default Hard-Drive" "$(ipmitool_ chassis bootparam get 5)"
expect_eq "next-boot (read)" "$M: next boot disk, next boot only ($BMC)" "$(cli next-boot $M)"
ipmitool_ chassis bootdev pxe >/dev/null
expect_eq "a change made with ipmitool is what bootcfg reads" "$M: next boot pxe, next boot only ($BMC)" "$(cli next-boot $M)"
out=$(cli next-boot $M http 2>&1) && rc=0 || rc=$?
expect_eq "HTTP boot over IPMI: refused" "1" "$rc"
expect_contains "... saying why" "IPMI has no HTTP boot device" "$out"
expect_eq "... as a bad request" "400" "$(curl -s -o /dev/null -w '%{http_code}' -X PUT -d '{"device": "http"}' "$ADMIN/api/v1/machines/$M/next-boot")"
expect_log "next boot audited" "action=\"next-boot disk persistent\" object=machines/$M"

# --- bad requests
expect_eq "unknown power action" "400" "$(curl -s -o /dev/null -w '%{http_code}' -X POST -d '{"action": "explode"}' "$ADMIN/api/v1/machines/$M/power")"
expect_eq "unknown field" "400" "$(curl -s -o /dev/null -w '%{http_code}' -X POST -d '{"action": "on", "force": 1}' "$ADMIN/api/v1/machines/$M/power")"
expect_eq "a machine without a BMC" "404" "$(curl -s -o /dev/null -w '%{http_code}' "$ADMIN/api/v1/machines/52:54:00:b0:00:99/power")"
expect_eq "a BMC URL with a shell in it" "400" "$(curl -s -o /dev/null -w '%{http_code}' -X PUT -d '{"url": "ipmi://x;reboot", "user": "a"}' "$ADMIN/api/v1/machines/$M/bmc")"
expect_eq "an unknown workaround" "400" "$(curl -s -o /dev/null -w '%{http_code}' -X PUT -d "{\"url\": \"$BMC\", \"ipmi_workarounds\": [\"bogus\"]}" "$ADMIN/api/v1/machines/$M/bmc")"
expect_eq "a refused BMC URL changes nothing" "\"$BMC\"" "$(curl -s "$ADMIN/api/v1/machines/$M/bmc" | python3 -c 'import json, sys; print(json.dumps(json.load(sys.stdin)["url"]))')"

# --- BMCs that say no, or nothing
M2=52:54:00:b0:00:02
printf 'wrong\n' >"$WORK/wrong" && chmod 600 "$WORK/wrong"
cli machine set-bmc $M2 --bmc "$BMC" --user admin --password-file "$WORK/wrong" --ipmi-workarounds opensesspriv >/dev/null
: >"$hw/calls"
out=$(cli power $M2 on 2>&1) && rc=0 || rc=$?
expect_eq "wrong password: refused" "1" "$rc"
expect_eq "... one line naming the BMC and its answer" "bootcfg: $BMC: password invalid" "$out"
expect_eq "... and the machine untouched" "" "$(grep '^set' "$hw/calls" || true)"
cli machine set-bmc $M2 --bmc "$BMC" --user admin --password-file "$WORK/pw" >/dev/null
out=$(cli power $M2 status 2>&1) && rc=0 || rc=$?
expect_eq "IPMI 2.0 without the workaround this BMC needs: refused" "1" "$rc"
expect_contains "... with the hint" "workaround: ipmi_workarounds opensesspriv" "$out"
dead=$(free_udp_port)
cli machine set-bmc $M2 --bmc "ipmi://127.0.0.1:$dead" --user admin --password-file "$WORK/pw" >/dev/null
timed cli power $M2 status
expect_eq "unreachable BMC: refused" "1" "$RC"
expect_contains "... after its deadline, tried twice" "no answer within 1000 ms (2 tries)" "$OUT"
[[ $ELAPSED_MS -lt 6000 ]] && pass || fail "unreachable BMC took ${ELAPSED_MS} ms (-bmc-timeout=1s, 2 tries)"
# The admin listener keeps answering while a BMC call waits.
( cli power $M2 status >/dev/null 2>&1 & )
sleep 0.2
timed curl -s -o /dev/null "$ADMIN/api/v1/machines"
[[ $ELAPSED_MS -lt 500 ]] && pass || fail "the admin API waited ${ELAPSED_MS} ms behind a BMC call"

# --- bootcfg run ipmi: its end (the --wait passing, or Ctrl-C) powers off and unregisters.
echo '{"id": "installer", "boot": {"kernel": "/assets/vmlinuz"}}' >"$WORK/installer.json"
curl -s -o /dev/null -X PUT --data-binary @"$WORK/installer.json" "$ADMIN/api/v1/profiles/installer"
M3=52:54:00:b0:00:03
groups_of_runs() { curl -s "$ADMIN/api/v1/groups" | grep -c bootcfg_run || true; }
cli power $M off >/dev/null
: >"$hw/calls"
timed "$BOOTCFG" run ipmi installer --mac $M3 --endpoint "$ADMIN" --bmc "$BMC" --user admin \
    --password-file "$WORK/pw" --ipmi-workarounds opensesspriv --wait 2s --poll 1s
expect_eq "run ipmi: a machine that never checks in fails the run" "1" "$RC"
expect_contains "... saying what it waited for" "still waiting for its first boot after the --wait time" "$OUT"
expect_eq "... after next boot PXE and a power-on" "set boot pxe set power 1" \
    "$(grep '^set' "$hw/calls" | head -2 | tr '\n' ' ' | sed 's/ $//')"
expect_eq "... then powered off" "set power 0" "$(grep '^set' "$hw/calls" | tail -1)"
expect_eq "... and its group removed" "0" "$(groups_of_runs)"
expect_contains "... its BMC kept for the machine" "$BMC" "$(curl -s "$ADMIN/api/v1/machines/$M3/bmc")"
: >"$hw/calls"
"$BOOTCFG" run ipmi installer --mac $M3 --endpoint "$ADMIN" --wait 5m --poll 1s \
    >"$WORK/run.out" 2>"$WORK/run.err" &
run=$!
for _ in $(seq 100); do grep -q "created device" "$WORK/run.out" && break; sleep 0.1; done
expect_eq "run ipmi without --bmc uses the BMC bootcfgd has: the group is registered" "1" "$(groups_of_runs)"
kill -INT $run
wait $run && rc=0 || rc=$?
expect_eq "Ctrl-C ends the run" "130" "$rc"
expect_eq "... powered off" "set power 0" "$(grep '^set' "$hw/calls" | tail -1)"
expect_eq "... and unregistered" "0" "$(groups_of_runs)"
timed "$BOOTCFG" run redfish installer --mac $M3 --endpoint "$ADMIN" --wait 2s
expect_eq "run redfish on a machine whose BMC speaks IPMI: refused" "1" "$RC"
expect_contains "... saying so" "machine $M3's BMC is $BMC, not redfish" "$OUT"

expect_eq "the password appears in no log line" "" "$(grep -ho 's3cret\|wrong' "$LOG" || true)"

# --- kept across a restart; removed with the BMC and with the machine
kill "$PID"
wait "$PID" 2>/dev/null || true
start_bootcfgd again -data-path="$WORK/data" -assets-path= -admin-address=127.0.0.1:0 -bmc-timeout=1s
ADMIN=http://127.0.0.1:$(grep -o 'admin API listening on 127.0.0.1:[0-9]*' "$LOG" | grep -o '[0-9]*$')
expect_eq "after a restart the BMC and its password still work" "$M: power is off ($BMC)" "$(cli power $M status)"
secrets() { python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("select count(*) from secrets").fetchone()[0])' "$BOOTCFG_STATE_PATH/inventory.db"; }
expect_eq "three passwords stored" "3" "$(secrets)"
expect_eq "remove-bmc" "machine $M2: BMC removed" "$(cli machine remove-bmc $M2)"
expect_eq "... its password gone" "2" "$(secrets)"
expect_eq "... no BMC to call" "404" "$(curl -s -o /dev/null -w '%{http_code}' "$ADMIN/api/v1/machines/$M2/power")"
cli machine forget $M >/dev/null
expect_eq "forgetting a machine removes its password" "1" "$(secrets)"

finish
