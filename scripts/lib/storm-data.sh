# The boot storm's data dir and assets (scripts/bench-storm, tests/integration/storm.sh). Source
# it, then: storm_data DATA ASSETS MACHINES KERNEL_BYTES INITRD_BYTES
# Machines 0..MACHINES-1 (MAC 52:54:03:xx:xx:xx from the number, as tests/bench/boot_storm.cpp
# makes them) each have their own group: one of four profiles, each with its own kernel
# arguments, and their own hostname, which their Ignition config carries with the signed
# check-in URL. Any other machine gets the default group. Every answer a machine gets before its
# kernel is its own, so an answer served to the wrong machine shows.

# The chain each machine walks in that data, as tests/bench/boot_storm.cpp takes it ({mac} and
# {uuid} filled in per machine): chain script, boot script, kernel, initrd, config.
STORM_PATHS=("/boot.ipxe?mac={mac}&uuid={uuid}" "/ipxe?mac={mac}&uuid={uuid}" /assets/storm/vmlinuz
             /assets/storm/initrd "/ignition?mac={mac}&uuid={uuid}")

storm_data() {
    local data=$1 assets=$2 machines=$3 kernel_bytes=$4 initrd_bytes=$5 p
    mkdir -p "$data/profiles" "$data/groups" "$data/ignition" "$assets/storm"
    for p in 0 1 2 3; do
        cat >"$data/profiles/storm-$p.json" <<J
{"id": "storm-$p", "boot": {"kernel": "/assets/storm/vmlinuz", "initrd": ["/assets/storm/initrd"],
 "args": ["console=ttyS0", "storm.profile=$p", "ignition.config.url=http://bootcfg/ignition?mac=\${mac:hexhyp}"]},
 "ignition_id": "storm.json"}
J
    done
    cat >"$data/ignition/storm.json" <<'J'
{"ignition": {"version": "3.3.0"}, "storage": {"files": [
 {"path": "/etc/hostname", "contents": {"source": "data:,{{.hostname}}"}},
 {"path": "/etc/checkin-url", "contents": {"source": "data:,{{.request.checkin_url}}"}}]}}
J
    echo '{"id": "default", "profile": "storm-0", "metadata": {"hostname": "unknown"}}' \
        >"$data/groups/default.json"
    awk -v n="$machines" -v dir="$data/groups" 'BEGIN {
        for (i = 0; i < n; i++) {
            mac = sprintf("52:54:03:%02x:%02x:%02x", int(i / 65536) % 256, int(i / 256) % 256, i % 256)
            printf "{\"id\": \"m%d\", \"profile\": \"storm-%d\", \"selector\": {\"mac\": \"%s\"}, \"metadata\": {\"hostname\": \"node-%d\"}}\n", i, i % 4, mac, i > (dir "/m" i ".json")
            close(dir "/m" i ".json")
        }
    }'
    head -c "$kernel_bytes" /dev/urandom >"$assets/storm/vmlinuz"
    head -c "$initrd_bytes" /dev/urandom >"$assets/storm/initrd"
}
