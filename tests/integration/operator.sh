#!/usr/bin/env bash
# An operator's first day (#25): every script and command answers --help/-h with its usage
# (exit 0, nothing run), dnsmasq-conf's drop-in mode leaves the host's DNS and interfaces alone,
# gen-data never deletes a directory that holds something without --force.
BOOTCFGD=$1
BOOTCFG=$(realpath "${2:?path to bootcfg}")
source "$(dirname "$0")/lib.sh"
repo=$(cd "$(dirname "$0")/../.." && pwd)

# --- --help everywhere: usage on stdout, exit 0, and nothing started or built
for script in "$repo"/scripts/*; do
    [[ -f $script && -x $script ]] || continue
    for flag in --help -h; do
        rc=0
        out=$(cd "$WORK" && timeout 10 "$script" $flag 2>"$WORK/err") || rc=$?
        expect_eq "$(basename "$script") $flag: exit 0 ($(head -c 200 "$WORK/err"))" 0 "$rc"
        [[ -n $out ]] && pass || fail "$(basename "$script") $flag: no usage printed"
    done
done
expect_eq "scripts --help started nothing" "" "$(ls -A "$WORK" | grep -v '^err$' || true)"
for flag in -h --help -help; do
    rc=0
    out=$("$BOOTCFGD" $flag 2>&1) || rc=$?
    expect_eq "bootcfgd $flag: exit 0" 0 "$rc"
    expect_contains "bootcfgd $flag: usage" "Usage: bootcfgd" "$out"
done
for cmd in "" "group" "group list" "profile create" "ignition put" "select" "image" "image save2image" \
    "image archive" "image compare" "push" "push equinixmetal" "run equinixmetal" "run bootcfg" "devices" \
    "devices delete"; do
    for flag in --help -h; do
        rc=0
        # shellcheck disable=SC2086
        out=$("$BOOTCFG" $cmd $flag 2>&1) || rc=$?
        expect_eq "bootcfg $cmd $flag: exit 0" 0 "$rc"
        expect_contains "bootcfg $cmd $flag: usage" "bootcfg" "$out"
    done
done

# --- global connection flags before the command; the admin API off says how to turn it on
rc=0
"$BOOTCFG" --endpoint "unix:$WORK/no-admin.sock" group list >/dev/null 2>"$WORK/err" || rc=$?
expect_eq "flags before the command: parsed (cannot connect, 3)" 3 "$rc"
expect_contains "admin API off: says it is off by default and how" "off by default: start bootcfgd with -admin-address=unix:$WORK/no-admin.sock" "$(cat "$WORK/err")"
rc=0
"$BOOTCFG" --endpoint=foo://x -o json group list >/dev/null 2>"$WORK/err" || rc=$?
expect_eq "a bad global --endpoint: usage" 2 "$rc"
rm -f "$WORK/err"

# --- -validate: what loads but fails at boot is a warning naming the file and what to do
v="$WORK/validate"
mkdir -p "$v/data/profiles" "$v/data/groups" "$v/data/ignition" "$v/assets/os"
touch "$v/assets/os/kernel"
echo '{"id": "os", "boot": {"kernel": "/assets/os/kernel", "initrd": ["--name main /assets/os/initrd.img"]}, "ignition_id": "node.bu"}' >"$v/data/profiles/os.json"
printf '{"id": "g", "profile": "os",\n "selector": {"mac": "52:54:00:00:00:zz"}}\n' >"$v/data/groups/g.json"
printf 'variant: fcos\nversion: 1.5.0\n' >"$v/data/ignition/node.bu"
rc=0
out=$("$BOOTCFGD" -validate -data-path="$v/data" -assets-path="$v/assets") || rc=$?
expect_contains "validate: a missing initrd is a warning" "profiles/os.json: warning: initrd /assets/os/initrd.img is not in the assets dir" "$out"
[[ $out == *"kernel /assets/os/kernel is not"* ]] && fail "validate: the kernel that is there was reported" || pass
expect_contains "validate: a Butane file says to transpile it" "ignition/node.bu: warning: a Butane config, not Ignition JSON: transpile it with Butane" "$out"
expect_contains "validate: the line of the bad key" "groups/g.json:2: selector mac" "$out"
expect_eq "validate: the bad group fails the check" 1 "$rc"
rm "$v/data/groups/g.json"
# Cross-file problems and the bootcfg layout's boot files carry the line of the field too.
printf '{"id": "m",\n "selector": {"mac": "52:54:00:00:00:01"},\n "profile": "nothing"}\n' >"$v/data/groups/m.json"
mkdir -p "$v/data/boot"
printf '{"kernel": "/k",\n "cmdline": {"a": "1\\nreboot"}}\n' >"$v/data/boot/default"
out=$("$BOOTCFGD" -validate -data-path="$v/data" -assets-path="$v/assets") || true
expect_contains "validate: a missing profile names the line of \"profile\"" "groups/m.json:3: group 'm' names missing profile 'nothing'" "$out"
expect_contains "validate: a layout boot file names the line of its field" "boot/default:2: " "$out"
rm -r "$v/data/groups/m.json" "$v/data/boot"
# A template reading a key that a group selecting its profile does not provide: a warning naming
# the group and the key, for that group only.
mkdir -p "$v/data/generic"
printf 'disk={{.disk}} mac={{.mac}} q={{.request.query.mac}}\n' >"$v/data/generic/install.sh"
echo '{"id": "inst", "boot": {"kernel": "/assets/os/kernel"}, "generic_id": "install.sh"}' >"$v/data/profiles/inst.json"
echo '{"id": "has-disk", "profile": "inst", "selector": {"mac": "52:54:00:00:00:0a"}, "metadata": {"disk": "/dev/sda"}}' >"$v/data/groups/has-disk.json"
echo '{"id": "no-disk", "profile": "inst", "selector": {"mac": "52:54:00:00:00:0b"}}' >"$v/data/groups/no-disk.json"
rc=0
out=$("$BOOTCFGD" -validate -data-path="$v/data" -assets-path="$v/assets") || rc=$?
expect_contains "validate: a template key the group lacks is a warning naming both" "groups/no-disk.json: warning: generic template 'install.sh' of profile 'inst' reads .disk, which group 'no-disk' provides in neither its metadata nor its selector" "$out"
[[ $out == *"group 'has-disk'"* || $out == *"reads .mac"* || $out == *"reads .request"* ]] && fail "validate: keys that are provided were reported: $out" || pass
expect_eq "validate: a missing template key alone does not fail it" 0 "$rc"
rm -r "$v/data/generic" "$v/data/profiles/inst.json" "$v/data/groups/has-disk.json" "$v/data/groups/no-disk.json"
rc=0
"$BOOTCFGD" -validate -data-path="$v/data" -assets-path="$v/assets" >/dev/null || rc=$?
expect_eq "validate: warnings alone do not fail it" 0 "$rc"
rm -rf "$v"

# --- qemu-lab's accelerator: proven by a probe VM that runs code, not by /dev/kvm opening
if command -v qemu-system-x86_64 >/dev/null; then
    expect_eq "qemu-lab accel --try tcg: the probe boot sector runs" tcg "$("$repo/scripts/qemu-lab" accel --try tcg)"
    got=$("$repo/scripts/qemu-lab" accel)
    [[ $got == kvm || $got == tcg ]] && pass || fail "qemu-lab accel printed '$got'"
    if [[ ! -w /dev/kvm ]]; then
        rc=0
        "$repo/scripts/qemu-lab" accel --try kvm >/dev/null 2>&1 || rc=$?
        expect_eq "no usable /dev/kvm: kvm is refused" 1 "$rc"
    fi
fi

# --- dnsmasq-conf --drop-in: network boot only, valid for dnsmasq, DNS and interfaces untouched
"$repo/scripts/dnsmasq-conf" --drop-in --bootcfgd http://192.0.2.10:8080 >"$WORK/dropin.conf"
if command -v dnsmasq >/dev/null; then
    expect_contains "drop-in: dnsmasq accepts it" "syntax check OK" "$(dnsmasq --test --conf-file="$WORK/dropin.conf" 2>&1)"
fi
for line in port= interface= bind-interfaces dhcp-range= dhcp-authoritative; do
    grep -q "^$line" "$WORK/dropin.conf" && fail "drop-in holds $line" || pass
done
expect_contains "drop-in: iPXE gets the chain script" "dhcp-boot=tag:ipxe,http://192.0.2.10:8080/boot.ipxe" "$(cat "$WORK/dropin.conf")"
rc=0
"$repo/scripts/dnsmasq-conf" --drop-in --bootcfgd http://192.0.2.10:8080 --interface eth0 >/dev/null 2>"$WORK/err" || rc=$?
expect_eq "drop-in with --interface: usage" 2 "$rc"
full=$("$repo/scripts/dnsmasq-conf" --bootcfgd http://192.0.2.10:8080 --interface br0 --range 192.0.2.100,192.0.2.150)
expect_contains "the full output is still a dnsmasq of its own" "port=0" "$full"

# --- gen-data: a directory with something in it is kept unless --force
mkdir -p "$WORK/mine"
echo precious >"$WORK/mine/notes"
rc=0
"$repo/scripts/gen-data" 3 "$WORK/mine" >/dev/null 2>"$WORK/err" || rc=$?
expect_eq "gen-data into a non-empty dir: usage" 2 "$rc"
expect_contains "gen-data says how" "--force" "$(cat "$WORK/err")"
expect_eq "gen-data kept the file" precious "$(cat "$WORK/mine/notes")"
"$repo/scripts/gen-data" --force 3 "$WORK/mine" >/dev/null
expect_eq "gen-data --force: replaced" "3" "$(ls "$WORK/mine/groups" | wc -l)"
"$repo/scripts/gen-data" 2 "$WORK/new" >/dev/null
expect_eq "gen-data into a new dir" "2" "$(ls "$WORK/new/groups" | wc -l)"
finish
