#!/usr/bin/env bash
# End to end with real network-boot clients: QEMU's iPXE ROM, inside a network namespace made
# here, chainloads /boot.ipxe from bootcfgd, gets the config for its MAC (not the default),
# downloads a Debian kernel and a busybox initramfs built here, and prints a marker with its
# kernel command line on the serial console. Two clients: one matched by the bootcfg layout
# (boot/mac/<MAC>), one by a matchbox group selecting its MAC (profiles/ and groups/).
# With "etcd BOOTCFG" the store is a Debian etcd in the namespace instead, filled by
# `bootcfg store import` from the matchbox part (the layout has no place in etcd): one client.
# Exit 77 (skipped) only where network namespaces cannot be created.
# Usage: qemu_ipxe.sh BOOTCFGD [etcd BOOTCFG]
set -euo pipefail

BOOTCFGD=$(realpath "${1:?path to bootcfgd}")
BACKEND=${2:-dir}
MAC=52:54:00:12:34:56
UUID=8e8b2fd2-4c5e-4a8a-9b52-0e2f7a1c0d01
GROUP_MAC=52:54:00:65:43:21
GROUP_UUID=3b9b3c43-7d0e-4f55-8a4c-3c1f0a6b2e02
source "$(dirname "$0")/lib.sh"
enter_lab e2e

# --- guest kernel (Debian's) and a busybox initramfs that prints a marker
assets="$WORK/assets"
"$(dirname "$0")/../../scripts/lab-images" "$assets/lab"
kernel="$assets/lab/vmlinuz"
initrd="$assets/lab/initrd.img"

# --- bootcfgd's data and assets
data="$WORK/data"
mkdir -p "$data/boot/mac"
cat >"$data/boot/default" <<'JSON'
{"kernel": "/assets/lab/vmlinuz", "initrd": ["/assets/lab/initrd.img"],
 "cmdline": {"console": "ttyS0", "panic": "-1", "bootcfg.config": "default"}}
JSON
cat >"$data/boot/mac/${MAC//:/-}" <<'JSON'
{"kernel": "/assets/lab/vmlinuz", "initrd": ["/assets/lab/initrd.img"],
 "cmdline": {"console": "ttyS0", "panic": "-1", "bootcfg.config": "node1", "node.uuid": "${uuid}"}}
JSON
mkdir -p "$data/profiles" "$data/groups"
cat >"$data/profiles/lab-node.json" <<'JSON'
{"id": "lab-node", "name": "lab node via a matchbox group",
 "boot": {"kernel": "/assets/lab/vmlinuz", "initrd": ["/assets/lab/initrd.img"],
          "args": ["console=ttyS0", "panic=-1", "bootcfg.config=group-node2", "node.uuid=${uuid}"]}}
JSON
cat >"$data/groups/node2.json" <<JSON
{"id": "node2", "profile": "lab-node", "selector": {"mac": "${GROUP_MAC//:/-}"}}
JSON

# The reinstall loop, closed by a real client: the installer profile's initramfs checks in with
# the URL rendered into its cloud-config, reboots, and its next boot gets the installed group:
# a profile without boot, so iPXE exits and the firmware goes on to the (absent) disk.
INSTALL_MAC=52:54:00:77:00:01
installer_data "$data" "$INSTALL_MAC"
echo "{\"id\": \"installer\", \"profile\": \"installer\", \"selector\": {\"mac\": \"$INSTALL_MAC\"}}" \
    >"$data/groups/installer.json"

store=(-data-path="$data")
clients="layout group"
if [[ $BACKEND == etcd ]]; then
    BOOTCFG=$(realpath "${3:?path to bootcfg}")
    # The namespace has its own loopback: etcd's usual ports are free there.
    ip netns exec "$NS" etcd --name e2e --data-dir "$WORK/etcd" \
        --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
        --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
        --initial-cluster e2e=http://127.0.0.1:2380 >"$WORK/etcd.log" 2>&1 &
    PIDS+=($!)
    for _ in $(seq 100); do
        ip netns exec "$NS" env ETCDCTL_API=3 etcdctl --endpoints=http://127.0.0.1:2379 \
            endpoint health >/dev/null 2>&1 && break
        sleep 0.1
    done
    rm -r "$data/boot"
    ip netns exec "$NS" "$BOOTCFG" store import "$data" --etcd-endpoints http://127.0.0.1:2379
    store=(-etcd-endpoints=http://127.0.0.1:2379)
    clients="group"
fi
ip netns exec "$NS" "$BOOTCFGD" -address=127.0.0.1:8080 "${store[@]}" -assets-path="$assets" \
    -admin-address=127.0.0.1:8081 -state-path="$WORK/state" >"$WORK/bootcfgd.log" 2>&1 &
PIDS+=($!)
await_log "$WORK/bootcfgd.log" 'listening on'

# The dashboard open in headless Chromium (in the namespace) while the clients boot: each
# machine's row must appear without a reload within 2 s of its first boot-script request.
ui_tests="$(dirname "$0")/../ui"
watched=""
for client in $clients; do
    [[ $client == layout ]] && watched+=" $MAC"
    [[ $client == group ]] && watched+=" $GROUP_MAC"
done
[[ $BACKEND == dir ]] && watched+=" $INSTALL_MAC $INSTALL_MAC=installed"
artifacts=${BOOTCFG_ARTIFACTS:-$WORK}
mkdir -p "$artifacts"
# shellcheck disable=SC2086 # one argument per MAC
ip netns exec "$NS" python3 "$ui_tests/dashboard_watch.py" http://127.0.0.1:8081/ui/ \
    "$WORK/bootcfgd.log" "$WORK/watch.stop" "$artifacts/qemu-$BACKEND-machines.png" $watched \
    >"$WORK/watch.out" 2>&1 &
watcher=$!
PIDS+=($watcher)
for _ in $(seq 200); do grep -q '^watching' "$WORK/watch.out" && break; sleep 0.1; done

pick_accel

# boot_client NAME MAC UUID: one real client, SeaBIOS + iPXE ROM, booting from the network.
boot_client() {
    boot_vm "$1" -uuid "$3" -netdev user,id=n0,bootfile=http://10.0.2.2:8080/boot.ipxe \
        -device e1000,netdev=n0,mac="$2" -boot n
}

for client in $clients; do
    if [[ $client == layout ]]; then boot_client layout "$MAC" "$UUID"; fi
    if [[ $client == group ]]; then boot_client group "$GROUP_MAC" "$GROUP_UUID"; fi
done
if [[ $BACKEND == dir ]]; then
    # Reboots allowed (no -no-reboot): the installer's reboot is the second boot.
    WATCH_UNTIL='No bootable device|BOOTLAB-ERROR' watch_client installer ip netns exec "$NS" \
        qemu-system-x86_64 -accel "$accel" -m 512 -smp 1 -nographic -monitor none \
        -serial file:"$WORK/installer.serial.log" \
        -netdev user,id=n0,bootfile=http://10.0.2.2:8080/boot.ipxe \
        -device e1000,netdev=n0,mac="$INSTALL_MAC" -boot n
    clients+=" installer"
fi

touch "$WORK/watch.stop"
wait "$watcher" || true
cat "$WORK/watch.out"
for mac in $watched; do
    if [[ $mac == *=* ]]; then
        check "the dashboard showed ${mac%=*} ${mac#*=} within 2 s of its check-in, without a reload" \
            "^state: ${mac%=*} ${mac#*=} after -?(0\.|1\.|2\.00)[0-9]* s$" "$WORK/watch.out"
        continue
    fi
    check "the dashboard showed $mac within 2 s of its boot, without a reload" \
        "^appeared: $mac after -?(0\.|1\.|2\.00)[0-9]* s$" "$WORK/watch.out"
done

log="$WORK/bootcfgd.log"
check "iPXE fetched the chain script" 'GET /boot.ipxe 200' "$log"
check "kernel downloaded" 'GET /assets/lab/vmlinuz 200' "$log"
check "initrd downloaded" 'GET /assets/lab/initrd.img 200' "$log"
if [[ $BACKEND == dir ]]; then
check "layout client reported its MAC in hexhyp form" "GET /ipxe\?uuid=$UUID&mac=${MAC//:/-}&.*arch=i386 200 .* selected=bootcfg:mac/$MAC" "$log"
check "layout guest booted the kernel and ran /init" 'BOOTLAB-OK' "$WORK/layout.serial.log"
check "layout guest got its MAC's config" 'BOOTLAB-OK cmdline=.*bootcfg\.config=node1' "$WORK/layout.serial.log"
check "iPXE expanded \${uuid} in the command line" "node\.uuid=$UUID" "$WORK/layout.serial.log"
check "layout guest is the machine we started" "BOOTLAB-UUID $UUID" "$WORK/layout.serial.log"
check "installer: booted the installer profile" 'BOOTLAB-OK cmdline=.*bootcfg\.config=installer' "$WORK/installer.serial.log"
check "installer: checked in over its own network" 'BOOTLAB-CHECKIN .*installed' "$WORK/installer.serial.log"
check "installer: the check-in was signed and taken" "POST /checkin\?id=$INSTALL_MAC&state=installed&.* 200 " "$log"
check "installer: after its reboot the installed group answered: exit to the disk" \
    "GET /ipxe\?.*mac=${INSTALL_MAC//:/-}&.* 200 .* selected=installed \(disk\)" "$log"
check "installer: the firmware went on to the disk" 'No bootable device' "$WORK/installer.serial.log"
[[ $(grep -c 'BOOTLAB-OK cmdline=.*bootcfg\.config=installer' "$WORK/installer.serial.log") -eq 1 ]] \
    && echo "ok: installer: no second install" || { echo "FAIL: installer: booted the installer again"; failures=$((failures + 1)); }
checks=$((checks + 1))
else
check "bootcfgd served from etcd" "listening on .*data etcd http://127.0.0.1:2379 /bootcfg/" "$log"
fi
check "group client matched group node2" "GET /ipxe\?uuid=$GROUP_UUID&mac=${GROUP_MAC//:/-}&.* 200 .* selected=node2" "$log"
check "group guest booted the group's profile" 'BOOTLAB-OK cmdline=.*bootcfg\.config=group-node2' "$WORK/group.serial.log"
check "group guest command line has its uuid" "node\.uuid=$GROUP_UUID" "$WORK/group.serial.log"
finish_lab "qemu_ipxe ($BACKEND)" "$clients" "$log" "$WORK/watch.out"
