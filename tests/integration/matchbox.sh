#!/usr/bin/env bash
# A matchbox-shaped data dir (tests/fixtures/matchbox) served unchanged: every endpoint's exact
# bytes, matching rules, template errors, validation, and both layouts in one data dir.
BOOTCFGD=$1
source "$(dirname "$0")/lib.sh"
fixture="$(cd "$(dirname "$0")/../fixtures/matchbox" && pwd)"

start_bootcfgd matchbox -data-path="$fixture" -assets-path=
expect_eq "fixture loads without problems" "" "$(grep ' warning ' "$LOG" || true)"

ipxe_q='uuid=00000000-0000-0000-0000-000000000000&mac=52-54-00-89-d8-10&domain=&hostname=&serial=&arch=i386'

expect_body "ipxe for node1 by MAC" "/ipxe?$ipxe_q" <<'OUT'
#!ipxe
kernel /assets/fedora-coreos/kernel initrd=main ignition.config.url=http://matchbox.example.com:8080/ignition?uuid=${uuid}&mac=${mac:hexhyp} ignition.firstboot ignition.platform.id=metal
initrd --name main /assets/fedora-coreos/initramfs.img
boot
OUT
# Where a profile neither names its initrds nor passes initrd=, matchbox writes `initrd URL`
# and nothing else, which iPXE on UEFI boots without the initrd. bootcfg differs from
# matchbox's bytes there, on purpose: each initrd gets a name (the URL's last segment) and the
# kernel line names them. Profiles that name their own (node1 above) come out byte for byte.
expect_body "ipxe default group" "/ipxe?mac=52:54:00:00:00:09" <<'OUT'
#!ipxe
kernel /assets/fedora-coreos/fedora-coreos-36.20220618.3.1-live-kernel-x86_64 coreos.inst.install_dev=/dev/sda coreos.inst.ignition_url=http://matchbox.example.com:8080/ignition?uuid=${uuid}&mac=${mac:hexhyp} console=tty0 console=ttyS0 initrd=fedora-coreos-36.20220618.3.1-live-initramfs.x86_64.img initrd=fedora-coreos-36.20220618.3.1-live-rootfs.x86_64.img
initrd --name fedora-coreos-36.20220618.3.1-live-initramfs.x86_64.img /assets/fedora-coreos/fedora-coreos-36.20220618.3.1-live-initramfs.x86_64.img
initrd --name fedora-coreos-36.20220618.3.1-live-rootfs.x86_64.img /assets/fedora-coreos/fedora-coreos-36.20220618.3.1-live-rootfs.x86_64.img
boot
OUT
expect_body "ipxe by UUID, cmdline map after args in key order" "/ipxe?uuid=16E7D8A7-bfa9-428b-9117-363341bb330b&mac=52:54:00:00:00:02" <<'OUT'
#!ipxe
kernel /assets/flatcar/flatcar_production_pxe.vmlinuz flatcar.first_boot=yes cloud-config-url=http://matchbox.example.com:8080/cloud?mac=${mac:hexhyp} console=ttyS0 flatcar.autologin initrd=flatcar_production_pxe_image.cpio.gz
initrd --name flatcar_production_pxe_image.cpio.gz /assets/flatcar/flatcar_production_pxe_image.cpio.gz
boot
OUT
# A profile without boot (matchbox renders an empty kernel line): iPXE exits to the firmware,
# which boots the disk.
expect_eq "more selectors win: the os=installed group boots from disk" \
    "$(printf '#!ipxe\necho bootcfg: no boot config for this machine: booting from disk\nexit')" \
    "$(body "/ipxe?mac=52:54:00:89:d8:10&os=installed")"
expect_eq "... and GRUB exits too" \
    "$(printf "echo 'bootcfg: no boot config for this machine: booting from disk'\nexit")" \
    "$(body "/grub?mac=52:54:00:89:d8:10&os=installed")"

# GRUB and Pixiecore load initrds themselves: matchbox passes iPXE's `--name main` and
# initrd=main through, which GRUB reads as a file name and the kernel's EFI stub under linuxefi
# as a file to open. bootcfg leaves both out (another difference from matchbox's bytes).
expect_body "grub" "/grub?mac=52:54:00:89:d8:10" <<'OUT'
default=0
fallback=1
timeout=1
menuentry "CoreOS (EFI)" {
echo "Loading kernel"
linuxefi "/assets/fedora-coreos/kernel" ignition.config.url=http://matchbox.example.com:8080/ignition?uuid=${uuid}&mac=${mac:hexhyp} ignition.firstboot ignition.platform.id=metal
echo "Loading initrd"
initrdefi  "/assets/fedora-coreos/initramfs.img"
}
menuentry "CoreOS (BIOS)" {
echo "Loading kernel"
linux "/assets/fedora-coreos/kernel" ignition.config.url=http://matchbox.example.com:8080/ignition?uuid=${uuid}&mac=${mac:hexhyp} ignition.firstboot ignition.platform.id=metal
echo "Loading initrd"
initrd  "/assets/fedora-coreos/initramfs.img"
}
OUT
expect_body "grub arm64 has no linuxefi" "/grub?mac=52:54:00:89:d8:10&arch=arm64" <<'OUT'
default=0
timeout=1
menuentry "CoreOS (arm64)" {
echo "Loading kernel"
linux "/assets/fedora-coreos/kernel" ignition.config.url=http://matchbox.example.com:8080/ignition?uuid=${uuid}&mac=${mac:hexhyp} ignition.firstboot ignition.platform.id=metal
echo "Loading initrd"
initrd  "/assets/fedora-coreos/initramfs.img"
}
OUT

expect_body "ignition template rendered" "/ignition?$ipxe_q" <<'OUT'
{
  "ignition": {"version": "3.3.0"},
  "passwd": {"users": [{"name": "core", "sshAuthorizedKeys": ["ssh-ed25519 AAAA admin@example.com", "ssh-rsa BBBB ops@example.com"]}]},
  "storage": {"files": [{"path": "/etc/hostname", "mode": 420, "contents": {"source": "data:,node1.example.com"}}]},
  "systemd": {"units": [{"name": "etcd-member.service", "enabled": true, "contents": "# ETCD_NAME=node1 MAC=52:54:00:89:d8:10"}]}
}
OUT
expect_eq "ignition content type" "application/json" \
    "$(curl -s -o /dev/null -w '%{content_type}' "$(url "/ignition?$ipxe_q")")"
expect_body "raw .ign served as stored" "/ignition?mac=52:54:00:00:00:09" <"$fixture/ignition/install.ign"
expect_eq "profile without ignition" "profile 'flatcar' of group 'node2' has no Ignition config" \
    "$(body "/ignition?uuid=16e7d8a7-bfa9-428b-9117-363341bb330b")"

expect_body "cloud template with request query" "/cloud?uuid=16e7d8a7-bfa9-428b-9117-363341bb330b&os=installed" <<'OUT'
#cloud-config
hostname: node2.example.com
write_files:
  - path: /etc/zone
    content: rack-2
  - path: /etc/os-state
    content: installed
OUT
expect_body "generic template" "/generic?mac=52:54:00:89:d8:10&os=installed" <<'OUT'
# node1.example.com (4 keys) mac=52:54:00:89:d8:10
FQDN=node1.example.com
QUERY_mac=52%3A54%3A00%3A89%3Ad8%3A10
QUERY_os=installed
OUT

expect_body "metadata: sorted, flattened, shell-quoted" "/metadata?$ipxe_q" <<'OUT'
ETCD_INITIAL_CLUSTER=node1=http://node1.example.com:2380,node2=http://node2.example.com:2380
ETCD_NAME=node1
FQDN=node1.example.com
K8S_ENABLED=true
K8S_POD_NETWORK=10.2.0.0/16
K8S_REPLICAS=3
MAC=52:54:00:89:d8:10
MOTD='It'\''s node1 & friends'
REQUEST_QUERY_ARCH=i386
REQUEST_QUERY_DOMAIN=
REQUEST_QUERY_HOSTNAME=
REQUEST_QUERY_MAC=52:54:00:89:d8:10
REQUEST_QUERY_SERIAL=
REQUEST_QUERY_UUID=00000000-0000-0000-0000-000000000000
REQUEST_RAW_QUERY='uuid=00000000-0000-0000-0000-000000000000&mac=52-54-00-89-d8-10&domain=&hostname=&serial=&arch=i386'
OUT
# The metadata file is valid shell: source it and read the values back.
curl -s -o "$WORK/meta.env" "$(url "/metadata?$ipxe_q")"
expect_eq "metadata sources in sh" "It's node1 & friends|node1" "$(sh -c ". '$WORK/meta.env'; echo \"\$MOTD|\$ETCD_NAME\"")"

expect_body "pixiecore through groups" "/pixiecore/v1/boot/52:54:00:89:d8:10" <<'OUT'
{"kernel":"/assets/fedora-coreos/kernel","initrd":["/assets/fedora-coreos/initramfs.img"],"cmdline":"ignition.config.url=http://matchbox.example.com:8080/ignition?uuid=${uuid}&mac=${mac:hexhyp} ignition.firstboot ignition.platform.id=metal"}
OUT
expect_eq "malformed mac is 400, not the default group" "400" "$(status "/ipxe?mac=52:54:00:89:d8")"
expect_eq "malformed mac on metadata" "400" "$(status "/metadata?mac=zz")"

# --- errors at request time: template execution and non-JSON Ignition are 500 with a short body
data="$WORK/data"
cp -r "$fixture" "$data"
cat >"$data/profiles/broken.json" <<'JSON'
{"id": "broken", "boot": {"kernel": "/k"}, "generic_id": "needs-key", "ignition_id": "not-json.tmpl"}
JSON
cat >"$data/groups/broken.json" <<'JSON'
{"id": "broken", "profile": "broken", "selector": {"role": "broken"}}
JSON
echo 'value: {{.not_there}}' >"$data/generic/needs-key"
echo 'this is {{.role}}, not JSON' >"$data/ignition/not-json.tmpl"
start_bootcfgd errors -data-path="$data" -assets-path=
expect_eq "template error is 500" "500" "$(status "/generic?role=broken")"
expect_eq "template error body is short" "error rendering generic template 'needs-key'" "$(body "/generic?role=broken")"
expect_log "template error reason in the log" "$data/generic/needs-key:1: map has no entry for key \"not_there\""
expect_eq "non-JSON ignition is 500" "500" "$(status "/ignition?role=broken")"
expect_log "non-JSON ignition logged" "rendered output is not valid JSON"
expect_eq "other machines unaffected" "200" "$(status "/ignition?$ipxe_q")"

# --- validation: problems reported with path and line, the rest still served
bad="$WORK/bad"
cp -r "$fixture" "$bad"
echo '{"id": "x", "boot": {"kernel": "/k"}' >"$bad/profiles/x.json"
echo '{"name": "no id", "profile": "flatcar"}' >"$bad/groups/no-id.json"
echo '{"id": "dangling", "profile": "nope", "selector": {"rack": "9"}}' >"$bad/groups/dangling.json"
echo '{"id": "badmac", "profile": "flatcar", "selector": {"mac": "52:54:00:zz:00:01"}}' >"$bad/groups/badmac.json"
echo '{"id": "default2", "profile": "flatcar"}' >"$bad/groups/default2.json"
echo '{"id": "twin", "profile": "flatcar", "selector": {"uuid": "16e7d8a7-bfa9-428b-9117-363341bb330b"}}' >"$bad/groups/twin.json"
printf 'line one\n{{if .x}}unclosed\n' >"$bad/generic/bad-template"
echo '{"id": "needs", "cloud_id": "missing.yaml"}' >"$bad/profiles/needs.json"
set +e
validate_out=$("$BOOTCFGD" -validate -data-path="$bad")
validate_rc=$?
set -e
expect_eq "validate exits non-zero" "1" "$validate_rc"
expect_contains "validate: JSON syntax with line" "$bad/profiles/x.json:2: invalid JSON" "$validate_out"
expect_contains "validate: missing id" "$bad/groups/no-id.json: missing field 'id'" "$validate_out"
expect_contains "validate: dangling profile" "$bad/groups/dangling.json:1: group 'dangling' names missing profile 'nope'" "$validate_out"
expect_contains "validate: bad selector mac, with its line" "$bad/groups/badmac.json:1: selector mac '52:54:00:zz:00:01' is not a MAC address" "$validate_out"
expect_contains "validate: two default groups" "second default group (no selector)" "$validate_out"
expect_contains "validate: identical selectors" "$bad/groups/twin.json:1: same selector as $bad/groups/node2.json" "$validate_out"
expect_contains "validate: template syntax with line" "$bad/generic/bad-template:3: template: unexpected EOF" "$validate_out"
expect_contains "validate: missing template" "$bad/profiles/needs.json:1: cloud template 'missing.yaml' does not exist" "$validate_out"
expect_eq "validate on the clean fixture" "0" "$("$BOOTCFGD" -validate -data-path="$fixture" >/dev/null; echo $?)"
start_bootcfgd bad -data-path="$bad" -assets-path=
expect_eq "broken dir still serves node1" "200" "$(status "/ipxe?$ipxe_q")"
expect_eq "dangling group answers 404, not the default" "group 'dangling' names missing profile 'nope'" "$(body "/ipxe?rack=9")"

# --- both layouts in one data dir
both="$WORK/both"
cp -r "$fixture" "$both"
mkdir -p "$both/boot/mac" "$both/boot/uuid"
echo '{"kernel": "/layout/mac-kernel"}' >"$both/boot/mac/52-54-00-89-d8-10"
echo '{"kernel": "/layout/other-mac"}' >"$both/boot/mac/52:54:00:00:00:05"
echo '{"kernel": "/layout/uuid-kernel"}' >"$both/boot/uuid/aaaaaaaa-0000-0000-0000-000000000001"
echo '{"kernel": "/layout/default"}' >"$both/boot/default"
start_bootcfgd both -data-path="$both" -assets-path=
expect_contains "same MAC in both: the group wins" "kernel /assets/fedora-coreos/kernel" "$(body "/ipxe?mac=52:54:00:89:d8:10")"
expect_contains "layout MAC beats the matchbox default group" "kernel /layout/other-mac" "$(body "/ipxe?mac=52:54:00:00:00:05")"
expect_contains "layout UUID beats a matchbox MAC group" "kernel /layout/uuid-kernel" \
    "$(body "/ipxe?uuid=aaaaaaaa-0000-0000-0000-000000000001&mac=52:54:00:89:d8:10")"
expect_contains "two defaults: the group wins over boot/default" "fedora-coreos-36" "$(body "/ipxe?mac=52:54:00:00:00:07")"

finish
