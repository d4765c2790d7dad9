#!/usr/bin/env bash
# The bootcfg provider end to end: LinuxKit-style files (a Debian kernel, a busybox initramfs,
# a cmdline) go through `bootcfg push` with a microcode cpio in front of the initrd, `bootcfg run
# bootcfg` registers a MAC through the admin API of a live bootcfgd, and a QEMU iPXE client with
# that MAC, in a network namespace made here, chainloads and boots the pushed image.
# Exit 77 (skipped) only where network namespaces cannot be created.
set -euo pipefail

BOOTCFGD=$(realpath "${1:?path to bootcfgd}")
BOOTCFG=$(realpath "${2:?path to bootcfg}")
MAC=52:54:00:77:88:99
UUID=5d1f0b7e-2a43-4c8e-9d1e-7c2b8a9f0e03
source "$(dirname "$0")/lib.sh"
enter_lab provider
repo=$(cd "$(dirname "$0")/../.." && pwd)

# --- what LinuxKit would have built, and a microcode cpio
"$repo/scripts/lab-images" "$WORK/lab"
lk="$WORK/linuxkit"
mkdir -p "$lk" "$WORK/ucode/kernel/x86"
cp "$WORK/lab/vmlinuz" "$lk/rack-kernel"
cp "$WORK/lab/initrd.img" "$lk/rack-initrd.img"
echo "console=ttyS0 panic=-1 bootcfg.config=pushed-rack node.uuid=\${uuid}" >"$lk/rack-cmdline"
echo "not real microcode" >"$WORK/ucode/kernel/x86/readme"
(cd "$WORK/ucode" && find kernel | cpio -o -H newc --quiet) >"$WORK/ucode.cpio"

data="$WORK/data" assets="$WORK/assets"
mkdir -p "$data" "$assets"
"$BOOTCFG" push rack --dir "$lk" --ucode "$WORK/ucode.cpio" --assets-path "$assets" --data-path "$data"
sock="$WORK/admin.sock"
ip netns exec "$NS" "$BOOTCFGD" -address=127.0.0.1:8080 -data-path="$data" -assets-path="$assets" \
    -admin-address="unix:$sock" >"$WORK/bootcfgd.log" 2>&1 &
PIDS+=($!)
await_log "$WORK/bootcfgd.log" 'listening on'

# --- the machine is registered like a cloud device, then boots
"$BOOTCFG" run bootcfg rack --mac "$MAC" --endpoint "unix:$sock" --keep | tee "$WORK/run.out"
pick_accel
boot_vm rack -uuid "$UUID" -netdev user,id=n0,bootfile=http://10.0.2.2:8080/boot.ipxe \
    -device e1000,netdev=n0,mac="$MAC" -boot n

log="$WORK/bootcfgd.log"
check "run registered the machine's group" "kept group rack-${MAC//:/-}" "$WORK/run.out"
check "the admin API wrote the group" "audit: .*action=put object=groups/rack-${MAC//:/-}" "$log"
check "the client got the pushed profile for its MAC" "GET /ipxe\?uuid=$UUID&mac=${MAC//:/-}&.* 200 .* selected=rack-${MAC//:/-}" "$log"
check "pushed kernel downloaded" 'GET /assets/rack/rack-kernel 200' "$log"
check "pushed initrd (microcode first) downloaded" 'GET /assets/rack/rack-initrd.img 200' "$log"
check "the guest booted the pushed image" 'BOOTLAB-OK cmdline=.*bootcfg\.config=pushed-rack' "$WORK/rack.serial.log"
check "with its own uuid" "node\.uuid=$UUID" "$WORK/rack.serial.log"
"$BOOTCFG" devices delete "rack-${MAC//:/-}" --provider bootcfg --endpoint "unix:$sock" >"$WORK/delete.out"
check "devices delete removed the registration" "deleted device rack-${MAC//:/-}" "$WORK/delete.out"
finish_lab provider_boot rack "$log" "$WORK/run.out"
