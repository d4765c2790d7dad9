#!/usr/bin/env bash
# The classic chainload, end to end, as operators run it: in a network namespace made here, a
# bridge and client VMs made with scripts/qemu-lab, dnsmasq with the configuration
# scripts/dnsmasq-conf ships, bootcfgd on the bridge address, and two real firmware clients:
#   bios: SeaBIOS + QEMU's iPXE ROM (already iPXE: dnsmasq sends it straight to /boot.ipxe);
#   uefi: OVMF's own PXE client (virtio-net, no option ROM) -> TFTP snponly.efi -> iPXE ->
#         /boot.ipxe -> /ipxe -> kernel + initrd -> marker on the serial console.
# Exit 77 (skipped) only where network namespaces cannot be created.
set -euo pipefail

BOOTCFGD=$(realpath "${1:?path to bootcfgd}")
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
BIOS_MAC=52:54:00:12:34:56  # data/boot/mac/52:54:00:12:34:56: bootcfg.config=node1
UEFI_MAC=52:54:00:77:00:02  # no file of its own: data/boot/default, bootcfg.config=default
source "$(dirname "$0")/lib.sh"
enter_lab chain
for f in /usr/lib/ipxe/undionly.kpxe /usr/lib/ipxe/snponly.efi /usr/share/OVMF/OVMF_CODE_4M.fd; do
    [[ -f $f ]] || { echo "FAIL: $f missing (scripts/deps --test installs ipxe and ovmf)"; exit 1; }
done
command -v dnsmasq >/dev/null || { echo "FAIL: dnsmasq missing (scripts/deps --test installs dnsmasq-base)"; exit 1; }

# --- the lab network, made by the script operators use by hand: br0 192.168.77.1/24
lab="$repo/scripts/qemu-lab"
"$lab" network --netns "$NS" --bridge br0 --address 192.168.77.1/24
ip -n "$NS" addr add fd77::1/64 dev br0 nodad

# --- bootcfgd on the shipped example data itself (data/), unchanged: both firmwares boot it
# (UEFI iPXE only passes an initrd the kernel line names; bootcfgd names them). Each client
# gets its own config there, so each proves it got its own.
assets="$WORK/assets"
"$repo/scripts/lab-images" "$assets/lab"
data="$repo/data"
ip netns exec "$NS" "$BOOTCFGD" -address=192.168.77.1:8080 -data-path="$data" -assets-path="$assets" \
    >"$WORK/bootcfgd.log" 2>&1 &
PIDS+=($!)
await_log "$WORK/bootcfgd.log" 'listening on'

# --- dnsmasq with the shipped configuration
"$repo/scripts/dnsmasq-conf" --bootcfgd http://192.168.77.1:8080 --interface br0 \
    --range 192.168.77.100,192.168.77.150,255.255.255.0,1h --ipv6-prefix fd77:: >"$WORK/dnsmasq.conf"
dnsmasq --test --conf-file="$WORK/dnsmasq.conf" >/dev/null 2>&1 || { dnsmasq --test --conf-file="$WORK/dnsmasq.conf"; exit 1; }
ip netns exec "$NS" dnsmasq --no-daemon --conf-file="$WORK/dnsmasq.conf" --user=root \
    --dhcp-leasefile="$WORK/leases" --pid-file="$WORK/dnsmasq.pid" --log-dhcp \
    >"$WORK/dnsmasq.log" 2>&1 &
PIDS+=($!)
sleep 0.5

pick_accel


lab_client bios "$BIOS_MAC" bios &
bios=$!
lab_client uefi "$UEFI_MAC" uefi &
uefi=$!
wait "$bios" "$uefi"

log="$WORK/bootcfgd.log"
check "dnsmasq leased the BIOS client an address" "DHCPACK\(br0\) 192\.168\.77\.[0-9]+ $BIOS_MAC" "$WORK/dnsmasq.log"
check "BIOS iPXE fetched /ipxe with its MAC" "GET /ipxe\?.*mac=${BIOS_MAC//:/-}.*arch=i386 200 .*selected=bootcfg:mac/$BIOS_MAC" "$log"
check "BIOS guest booted its config" 'BOOTLAB-OK cmdline=.*bootcfg\.config=node1' "$WORK/bios.serial.log"
check "UEFI firmware got snponly.efi over TFTP" "sent /usr/lib/ipxe/snponly.efi to 192\.168\.77\.[0-9]+" "$WORK/dnsmasq.log"
check "UEFI iPXE fetched the chain script" "GET /boot.ipxe 200" "$log"
check "UEFI iPXE fetched /ipxe with its MAC" "GET /ipxe\?.*mac=${UEFI_MAC//:/-}.*arch=x86_64 200 .*selected=bootcfg:default" "$log"
check "UEFI guest booted the example data's default with its initrd" 'BOOTLAB-OK cmdline=.*bootcfg\.config=default.*initrd=initrd\.img' "$WORK/uefi.serial.log"
echo "taps left: $(ip -n "$NS" -o link show | grep -c ': bcl' || true)" >"$WORK/taps.log"
check "each qemu-lab client removed its tap when stopped" "taps left: 0" "$WORK/taps.log"
"$lab" down --netns "$NS" --bridge br0 >"$WORK/down.log"
check "qemu-lab down removed the bridge" "removed br0" "$WORK/down.log"
finish_lab dnsmasq_chainload "bios uefi" "$WORK/dnsmasq.log" "$log"
