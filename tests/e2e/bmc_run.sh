#!/usr/bin/env bash
# From power-on to installed, hands-off, through a real IPMI BMC: OpenIPMI's ipmi_sim is the
# BMC of a QEMU machine (its chassis-control program starts QEMU on "power on", with the boot
# order the BMC's boot flags say: -boot n for PXE, c for the disk, and stops it on "power off").
# `bootcfg run ipmi` sets the machine's BMC, registers the group for the installer, sets next
# boot PXE and power-cycles it; the machine PXE-boots through bootcfgd and its test installer
# checks in; the run ends when the state is installed (--keep). Then `bootcfg power cycle`: the
# machine boots again and gets the installed answer (iPXE exit, on to the disk).
# Everything runs inside a network namespace made here. Exit 77 only where it cannot be made.
# Usage: bmc_run.sh BOOTCFGD BOOTCFG
set -euo pipefail

BOOTCFGD=$(realpath "${1:?path to bootcfgd}")
BOOTCFG=$(realpath "${2:?path to bootcfg}")
MAC=52:54:00:77:10:01
source "$(dirname "$0")/lib.sh"
enter_lab bmc
for tool in ipmi_sim ipmitool qemu-system-x86_64; do
    command -v "$tool" >/dev/null || { echo "SKIP: $tool missing (scripts/deps --test)"; exit 77; }
done
# Background processes start without the function: `in_ns CMD &` would fork a shell whose pid
# is recorded while CMD runs as its child and outlives the cleanup.
in_ns() { ip netns exec "$NS" "$@"; }

assets="$WORK/assets"
"$(dirname "$0")/../../scripts/lab-images" "$assets/lab"
data="$WORK/data"
# The installed machine boots its disk; the install group is the one `bootcfg run` registers.
installer_data "$data" "$MAC"

ip netns exec "$NS" "$BOOTCFGD" -address=127.0.0.1:8080 -data-path="$data" -assets-path="$assets" \
    -admin-address=127.0.0.1:8081 -state-path="$WORK/state" >"$WORK/bootcfgd.log" 2>&1 &
PIDS+=($!)
await_log "$WORK/bootcfgd.log" 'listening on'
pick_accel

# The machine: power and boot device as ipmi_sim's chassis-control program sees them. Power on
# starts QEMU (one boot per power-on: -no-reboot, so the installer's reboot powers it off).
hw="$WORK/hw"
mkdir -p "$hw"
cat >"$WORK/chassis" <<EOF
#!/bin/bash
shift; op=\$1; shift
echo "\$op \$*" >>"$hw/calls"
running() { [[ -f "$hw/pid" ]] && kill -0 "\$(cat "$hw/pid")" 2>/dev/null; }
case \$op in
get) for p in "\$@"; do
         case \$p in
         power) running && echo power:1 || echo power:0 ;;
         boot) echo "boot:\$(cat "$hw/boot" 2>/dev/null || echo default)" ;;
         esac
     done ;;
set) while [[ \$# -ge 2 ]]; do
         case \$1 in
         boot) echo "\$2" >"$hw/boot" ;;
         power)
             if [[ \$2 == 1 ]] && ! running; then
                 n=\$(( \$(cat "$hw/boots" 2>/dev/null || echo 0) + 1 )); echo \$n >"$hw/boots"
                 order=c; [[ \$(cat "$hw/boot" 2>/dev/null) == pxe ]] && order=n
                 echo "boot \$n: -boot \$order" >>"$hw/calls"
                 setsid qemu-system-x86_64 -accel $accel -m 512 -smp 1 -nographic -monitor none \\
                     -no-reboot -serial file:"$WORK/boot\$n.serial.log" \\
                     -netdev user,id=n0,bootfile=http://10.0.2.2:8080/boot.ipxe \\
                     -device e1000,netdev=n0,mac=$MAC -boot \$order \\
                     >"$WORK/boot\$n.qemu.out" 2>&1 </dev/null &
                 echo \$! >"$hw/pid"
             elif [[ \$2 == 0 ]] && running; then
                 kill "\$(cat "$hw/pid")"
             fi ;;
         esac
         shift 2
     done ;;
*) exit 1 ;;
esac
EOF
chmod +x "$WORK/chassis"
cat >"$WORK/lan.conf" <<EOF
name "bmc-e2e"
set_working_mc 0x20
  startlan 1
    addr 127.0.0.1 623
    priv_limit admin
    allowed_auths_admin none md2 md5 straight
    guid a123456789abcdefa123456789abcdef
  endlan
  chassis_control "$WORK/chassis 0x20"
  user 2 true "admin" "rack-pw" admin 10 none md2 md5 straight
EOF
printf 'mc_setbmc 0x20\nmc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr\nmc_enable 0x20\n' \
    >"$WORK/sim.emu"
ip netns exec "$NS" ipmi_sim -c "$WORK/lan.conf" -f "$WORK/sim.emu" -n -s "$WORK/sim" >"$WORK/ipmi_sim.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do
    in_ns ipmitool -I lanplus -C 3 -H 127.0.0.1 -U admin -P rack-pw chassis power status >/dev/null 2>&1 && break
    sleep 0.1
done
printf 'rack-pw\n' >"$WORK/bmc.pass" && chmod 600 "$WORK/bmc.pass"

# --- the run: no step by hand from here to installed
cli() { in_ns "$BOOTCFG" --endpoint http://127.0.0.1:8081 "$@"; }
set +e
in_ns "$BOOTCFG" run ipmi installer --mac "$MAC" --endpoint http://127.0.0.1:8081 \
    --bmc ipmi://127.0.0.1:623 --user admin --password-file "$WORK/bmc.pass" \
    --ipmi-workarounds opensesspriv --keep --wait 8m --poll 2s >"$WORK/run.out" 2>"$WORK/run.err"
run_rc=$?
set -e
echo "bootcfg run ipmi: exit $run_rc"
cat "$WORK/run.out"
checks=$((checks + 1))
if [[ $run_rc -eq 0 ]]; then echo "ok: bootcfg run ipmi ended with the machine up"; else echo "FAIL: bootcfg run ipmi: exit $run_rc"; failures=$((failures + 1)); fi
log="$WORK/bootcfgd.log"
check "the run set the machine's BMC" "action=set-bmc object=machines/$MAC bmc=ipmi://127.0.0.1:623" "$log"
check "... registered the install group" "audit: .*object=groups/installer-${MAC//:/-}" "$log"
check "... set next boot PXE through the BMC" "action=\"next-boot pxe\" object=machines/$MAC" "$log"
check "... and powered the machine on" "action=\"power cycle\" object=machines/$MAC" "$log"
check "the BMC's boot flags reached the machine: it booted from the network" "boot 1: -boot n" "$hw/calls"
check "the machine PXE-booted the installer" 'BOOTLAB-OK cmdline=.*bootcfg\.config=installer' "$WORK/boot1.serial.log"
check "its installer checked in" "POST /checkin\?id=$MAC&state=installed&.* 200 " "$log"
check "the run waited for the check-in" "device installer-${MAC//:/-} is active" "$WORK/run.out"
check "the machine is installed" '"state": "installed"' <(cli machine describe "$MAC")

# --- a power cycle now gets the installed answer
for _ in $(seq 100); do
    [[ $(in_ns ipmitool -I lanplus -C 3 -H 127.0.0.1 -U admin -P rack-pw chassis power status 2>/dev/null) == *off* ]] && break
    sleep 0.5
done
cli power "$MAC" cycle >"$WORK/cycle.out"
cat "$WORK/cycle.out"
for _ in $(seq 240); do grep -q 'No bootable device' "$WORK/boot2.serial.log" 2>/dev/null && break; sleep 0.5; done
check "the power cycle booted the machine again" "boot 2: -boot n" "$hw/calls"
check "the installed group answered: exit to the disk" \
    "GET /ipxe\?.*mac=${MAC//:/-}&.* 200 .* selected=installed \(disk\)" "$log"
check "the firmware went on to the disk" 'No bootable device' "$WORK/boot2.serial.log"
[[ $(grep -c 'POST /checkin' "$log") -eq 1 ]] && echo "ok: installed once" \
    || { echo "FAIL: the installer ran again"; failures=$((failures + 1)); }
checks=$((checks + 1))
cli power "$MAC" off >/dev/null
finish_lab "bmc_run" "boot1 boot2" "$log" "$WORK/run.err" "$hw/calls" "$WORK/ipmi_sim.log"
