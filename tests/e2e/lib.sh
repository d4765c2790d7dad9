# Helpers shared by the QEMU end-to-end tests. Source it, then call enter_lab first.

PIDS=()  # processes the test started; killed on exit

# enter_lab NAME: WORK (a temp dir) and NS (a network namespace with lo up), both removed on exit
# with every process in PIDS. Exits 77 (skipped) where namespaces cannot be created.
enter_lab() {
    WORK=$(mktemp -d "/tmp/bootcfg-$1.XXXXXX")
    NS=bootcfg-$1-$$
    trap leave_lab EXIT
    if [[ $(id -u) -ne 0 ]] || ! ip netns add "$NS" 2>/dev/null || ! ip netns exec "$NS" true 2>/dev/null; then
        echo "SKIP: cannot create and enter a network namespace here (needs root and CAP_SYS_ADMIN)"
        exit 77
    fi
    ip -n "$NS" link set lo up
}

leave_lab() {
    for pid in "${PIDS[@]}"; do
        kill -9 "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true  # reaped quietly: no "Killed" job notices
    done
    # Whatever still runs in the namespace (a child of a recorded wrapper) goes with it.
    ip netns pids "$NS" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
    ip netns del "$NS" 2>/dev/null || true
    rm -rf "$WORK"
}

# pick_accel: sets accel to what scripts/qemu-lab's probe VM proves works here (kvm only when
# a VM really runs under it, not merely when /dev/kvm opens).
pick_accel() {
    accel=$("$(dirname "${BASH_SOURCE[0]}")/../../scripts/qemu-lab" accel)
    echo "accelerator: $accel"
}

# await_log FILE TEXT: waits up to 5 s for a line with TEXT in FILE (a server saying it is up);
# without it, prints the file and exits 1.
await_log() {
    for _ in $(seq 100); do grep -q -- "$2" "$1" && return 0; sleep 0.05; done
    cat "$1"
    exit 1
}

# lab_client NAME MAC FIRMWARE [OPTIONS...]: a scripts/qemu-lab client on the bridge br0 of $NS
# (with pick_accel's accelerator and qemu-lab's client OPTIONS), its console in
# $WORK/NAME.serial.log.
lab_client() {
    watch_client "$1" "$(dirname "${BASH_SOURCE[0]}")/../../scripts/qemu-lab" client --netns "$NS" \
        --bridge br0 --mac "$2" --firmware "$3" --accel "$accel" --serial "$WORK/$1.serial.log" \
        "${@:4}"
}

# boot_vm NAME QEMU-ARGS...: one client in the namespace, serial console in $WORK/NAME.serial.log.
boot_vm() {
    local name=$1
    shift
    watch_client "$name" ip netns exec "$NS" qemu-system-x86_64 -accel "$accel" -m 512 -smp 1 -nographic \
        -monitor none -no-reboot -serial file:"$WORK/$name.serial.log" "$@"
}

# watch_client NAME COMMAND...: runs a client whose serial console goes to $WORK/NAME.serial.log
# until the guest's marker (WATCH_UNTIL, default BOOTLAB-UUID), a firmware dead end (no boot
# device, UEFI shell) or 300 s.
watch_client() {
    local name=$1
    shift
    local serial="$WORK/$name.serial.log" until=${WATCH_UNTIL:-BOOTLAB-UUID}
    : >"$serial"
    timeout 300 "$@" >"$WORK/$name.qemu.out" 2>&1 &
    local client=$!
    PIDS+=("$client")
    local start=$SECONDS
    while kill -0 "$client" 2>/dev/null; do
        grep -qE "$until" "$serial" && break
        grep -qE 'No bootable device|Shell> ' "$serial" && break
        sleep 0.5
    done
    sleep 1
    kill "$client" 2>/dev/null || true
    wait "$client" 2>/dev/null || true
    echo "$name: client finished after $((SECONDS - start)) s"
}

# installer_data DATA MAC: the reinstall loop's data for the machine MAC: an installer profile
# whose initramfs checks in with the URL rendered into its cloud-config, and the installed
# group (MAC with state installed) whose profile has no boot, so iPXE exits to the disk. Which
# group installs is the test's.
installer_data() {
    local data=$1 mac=$2
    mkdir -p "$data/profiles" "$data/groups" "$data/cloud"
    cat >"$data/profiles/installer.json" <<'JSON'
{"id": "installer", "name": "an installer that checks in",
 "boot": {"kernel": "/assets/lab/vmlinuz", "initrd": ["/assets/lab/initrd.img"],
          "args": ["console=ttyS0", "panic=-1", "bootcfg.config=installer",
                   "bootlab.install=http://10.0.2.2:8080/cloud?mac=${mac:hexhyp}"]},
 "cloud_id": "installer.yaml"}
JSON
    echo '{"id": "local-disk", "name": "installed: boot from the local disk"}' >"$data/profiles/local-disk.json"
    printf '#cloud-config\ncheckin_url: {{.request.checkin_url}}\n' >"$data/cloud/installer.yaml"
    echo "{\"id\": \"installed\", \"profile\": \"local-disk\", \"selector\": {\"mac\": \"$mac\", \"state\": \"installed\"}}" \
        >"$data/groups/installed.json"
}

failures=0
checks=0
# check DESCRIPTION PATTERN FILE: the file has a line matching the extended regex.
check() {
    checks=$((checks + 1))
    if grep -qE "$2" "$3"; then
        echo "ok: $1"
    else
        echo "FAIL: $1 (no /$2/ in $(basename "$3"))"
        failures=$((failures + 1))
    fi
}

# finish_lab TEST CLIENTS LOGS...: on failure, each client's serial console and QEMU output, then
# the given logs; prints the tally and returns its status.
finish_lab() {
    local test=$1 clients=$2
    shift 2
    if [[ $failures -ne 0 ]]; then
        for name in $clients; do
            echo "--- $name serial console"; tail -c 3000 "$WORK/$name.serial.log" | tr -d '\r'
            echo "--- $name qemu"; cat "$WORK/$name.qemu.out"
        done
        for f in "$@"; do echo "--- $(basename "$f")"; cat "$f"; done
    fi
    echo "$test: $((checks - failures)) passed, $failures failed"
    [[ $failures -eq 0 ]]
}
