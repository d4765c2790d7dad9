#!/usr/bin/env bash
# No dnsmasq boot options: bootcfgd answers PXE itself. In network namespaces made here: the
# site's DHCP server (dnsmasq with only an address range, no boot options, no TFTP) on a host of
# its own, joined by a veth to the boot network's bridge; bootcfgd on the bridge with
# -proxy-dhcp=br0 (ProxyDHCP on 67 and 4011, TFTP on its address); two real firmware clients:
#   bios: SeaBIOS + QEMU's iPXE ROM -> ProxyDHCP sends it to /boot.ipxe;
#   uefi: OVMF's own PXE client (virtio-net, no option ROM) -> ProxyDHCP: snponly.efi -> TFTP
#         from bootcfgd -> iPXE -> ProxyDHCP again -> /boot.ipxe -> /ipxe -> kernel + initrd;
#   http: OVMF again, its group saying "pxe_boot_file": "-" (no PXE answer), so the firmware
#         goes on to UEFI HTTP boot -> ProxyDHCP: http://.../ipxe-bin/ipxe.efi -> iPXE -> ...
# Each boots the config of its MAC to the marker. Exit 77 (skipped) only where network
# namespaces cannot be created.
set -euo pipefail

BOOTCFGD=$(realpath "${1:?path to bootcfgd}")
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
BIOS_MAC=52:54:00:12:34:56  # data/boot/mac/52:54:00:12:34:56: bootcfg.config=node1
UEFI_MAC=52:54:00:77:00:03  # no file of its own: data/boot/default, bootcfg.config=default
HTTP_MAC=52:54:00:77:00:04  # the group http-boot added below: bootcfg.config=http-boot
source "$(dirname "$0")/lib.sh"
enter_lab proxy
SITE=bootcfg-site-$$
trap 'leave_lab; ip netns del "$SITE" 2>/dev/null || true' EXIT
for f in /usr/lib/ipxe/undionly.kpxe /usr/lib/ipxe/snponly.efi /usr/share/OVMF/OVMF_CODE_4M.fd; do
    [[ -f $f ]] || { echo "FAIL: $f missing (scripts/deps --test installs ipxe and ovmf)"; exit 1; }
done

# --- the boot network (br0, 192.168.77.1) and the site's DHCP server on another host (.2)
lab="$repo/scripts/qemu-lab"
"$lab" network --netns "$NS" --bridge br0 --address 192.168.77.1/24
ip -n "$NS" addr add fd77::1/64 dev br0 nodad
ip netns add "$SITE"
ip -n "$SITE" link set lo up
ip -n "$NS" link add vsite type veth peer name eth0 netns "$SITE"
ip -n "$NS" link set vsite master br0 up
ip -n "$SITE" addr add 192.168.77.2/24 dev eth0
ip -n "$SITE" addr add fd77::2/64 dev eth0 nodad
ip -n "$SITE" link set eth0 up
# Addresses only (and IPv6 router advertisements, which iPXE otherwise waits for).
ip netns exec "$SITE" dnsmasq --no-daemon --conf-file=/dev/null --port=0 --interface=eth0 \
    --bind-interfaces --dhcp-authoritative --no-ping --user=root --pid-file="$WORK/dnsmasq.pid" \
    --dhcp-range=192.168.77.100,192.168.77.150,255.255.255.0,1h --dhcp-leasefile="$WORK/leases" \
    --enable-ra --dhcp-range=fd77::,ra-only,64 --log-dhcp >"$WORK/dnsmasq.log" 2>&1 &
PIDS+=($!)

# --- bootcfgd: HTTP, ProxyDHCP and TFTP, on the example data plus one group: a machine that
# PXE must leave alone, so that its firmware tries UEFI HTTP boot
assets="$WORK/assets"
"$repo/scripts/lab-images" "$assets/lab"
cp -r "$repo/data" "$WORK/data"
cat >"$WORK/data/profiles/http-boot.json" <<'J'
{"id": "http-boot", "boot": {"kernel": "/assets/lab/vmlinuz", "initrd": ["/assets/lab/initrd.img"],
 "args": ["console=ttyS0", "panic=-1", "bootcfg.config=http-boot"]}}
J
cat >"$WORK/data/groups/http-boot.json" <<J
{"id": "http-boot", "profile": "http-boot", "selector": {"mac": "$HTTP_MAC"},
 "metadata": {"pxe_boot_file": "-"}}
J
ip netns exec "$NS" "$BOOTCFGD" -address=192.168.77.1:8080 -data-path="$WORK/data" \
    -assets-path="$assets" -state-path="$WORK/state" -proxy-dhcp=br0 \
    -metrics-address=192.168.77.1:9100 >"$WORK/bootcfgd.log" 2>&1 &
PIDS+=($!)
await_log "$WORK/bootcfgd.log" 'ProxyDHCP on'
sleep 0.5

pick_accel
lab_client bios "$BIOS_MAC" bios &
bios=$!
lab_client uefi "$UEFI_MAC" uefi &
uefi=$!
# PXE over IPv4 is refused by bootcfgd (the test's point); PXE over IPv6 would only wait out its
# DHCPv6 timeouts (about a minute: this network has no DHCPv6 server) before HTTP boot.
lab_client http "$HTTP_MAC" uefi --pxe-ipv6 no &
http=$!
wait "$bios" "$uefi" "$http"

log="$WORK/bootcfgd.log"
check "bootcfgd says where it answers" "ProxyDHCP on br0 192\.168\.77\.1, ports 67 and 4011 \(iPXE clients chain to http://192\.168\.77\.1:8080/boot\.ipxe\)" "$log"
check "TFTP on the interface's address by default" "TFTP listening on 192\.168\.77\.1:69" "$log"
check "the site's DHCP server leased the BIOS client an address" "DHCPACK\(eth0\) 192\.168\.77\.[0-9]+ $BIOS_MAC" "$WORK/dnsmasq.log"
check "ProxyDHCP sent the BIOS iPXE to the chain script" "proxydhcp: $BIOS_MAC iPXE -> http://192\.168\.77\.1:8080/boot\.ipxe" "$log"
check "BIOS iPXE fetched /ipxe with its MAC" "GET /ipxe\?.*mac=${BIOS_MAC//:/-}.*arch=i386 200 .*selected=bootcfg:mac/$BIOS_MAC" "$log"
check "BIOS guest booted its config" 'BOOTLAB-OK cmdline=.*bootcfg\.config=node1' "$WORK/bios.serial.log"
check "ProxyDHCP sent the UEFI firmware to snponly.efi" "proxydhcp: $UEFI_MAC UEFI x64 PXE -> snponly\.efi" "$log"
check "the firmware loaded it over bootcfgd's TFTP" "tftp: 192\.168\.77\.[0-9]+:[0-9]+ \"snponly\.efi\" sent 173792 bytes" "$log"
check "then iPXE got the chain script from ProxyDHCP" "proxydhcp: $UEFI_MAC iPXE -> http://192\.168\.77\.1:8080/boot\.ipxe" "$log"
check "UEFI iPXE fetched /ipxe with its MAC" "GET /ipxe\?.*mac=${UEFI_MAC//:/-}.*arch=x86_64 200 .*selected=bootcfg:default" "$log"
check "UEFI guest booted the default config with its initrd" 'BOOTLAB-OK cmdline=.*bootcfg\.config=default.*initrd=initrd\.img' "$WORK/uefi.serial.log"
check "PXE left the HTTP boot machine alone, as its group says" "proxydhcp: $HTTP_MAC not answered: UEFI x64 PXE: its group's pxe_boot_file is \"-\"" "$log"
check "its firmware's HTTP boot got the URL of ipxe.efi" "proxydhcp: $HTTP_MAC UEFI HTTP boot x64 -> http://192\.168\.77\.1:8080/ipxe-bin/ipxe\.efi" "$log"
check "and downloaded it from bootcfgd" "GET /ipxe-bin/ipxe\.efi 200" "$log"
check "HTTP-booted iPXE fetched /ipxe with its MAC" "GET /ipxe\?.*mac=${HTTP_MAC//:/-}.*arch=x86_64 200 .*selected=http-boot" "$log"
check "the HTTP boot guest booted its group's config" 'BOOTLAB-OK cmdline=.*bootcfg\.config=http-boot' "$WORK/http.serial.log"
ip netns exec "$NS" curl -s http://192.168.77.1:9100/metrics >"$WORK/metrics.txt"
check "/metrics counts ProxyDHCP's answers" '^bootcfg_proxydhcp_packets_total\{result="answered"\} ([5-9]|[1-9][0-9]+)$' "$WORK/metrics.txt"
check "and TFTP's transfers" '^bootcfg_tftp_transfers_total\{result="completed"\} [1-9]' "$WORK/metrics.txt"
# The site's DHCP server gave no boot information: bootcfgd alone did.
# (dnsmasq names itself as next server always; it sent no boot file, server name or PXE options.)
if grep -qE 'sent size: .* option: +(43|66|67) ' "$WORK/dnsmasq.log"; then
    echo "FAIL: dnsmasq took part in booting"; failures=$((failures + 1))
fi
checks=$((checks + 1))
finish_lab proxy_dhcp "bios uefi http" "$WORK/dnsmasq.log" "$log"
