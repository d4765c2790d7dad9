#!/usr/bin/env bash
# scripts/get-fedora-coreos, get-flatcar and get-coreos against a local HTTP mirror made here:
# files signed by a key the test makes, checksums as the real servers publish them. Good releases
# land under images/<os>/<version>/ and bootcfgd serves them through the example data/ profiles;
# a corrupted file, a signature from another key, a missing file and a stale checksum are each
# refused, naming the file, and leave nothing behind.
BOOTCFGD=$1
source "$(dirname "$0")/lib.sh"
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
FCOS=42.20250914.3.0  # the versions the example profiles in data/ name
FLATCAR=4230.2.3

# --- two signing keys: the one the scripts are told to trust, and a stranger
export GNUPGHOME="$WORK/gnupg"
mkdir -m 700 "$GNUPGHOME"
gpg --batch --quiet --passphrase '' --quick-gen-key 'bootcfg mirror <mirror@bootcfg.invalid>' ed25519 sign never
gpg --batch --quiet --passphrase '' --quick-gen-key 'stranger <stranger@bootcfg.invalid>' ed25519 sign never
gpg --batch --armor --export mirror@bootcfg.invalid >"$WORK/trusted.asc"
sign() { gpg --batch --yes --quiet --local-user "${2:-mirror@bootcfg.invalid}" --output "$1.sig" --detach-sign "$1"; }

# --- the mirror
m="$WORK/mirror"
fc="$m/fcos/prod/streams/stable/builds/$FCOS/x86_64"
mkdir -p "$fc" "$m/fcos/streams"
fc_kernel=fedora-coreos-$FCOS-live-kernel-x86_64
fc_initramfs=fedora-coreos-$FCOS-live-initramfs.x86_64.img
fc_rootfs=fedora-coreos-$FCOS-live-rootfs.x86_64.img
head -c 300000 /dev/urandom >"$fc/$fc_kernel"
head -c 200000 /dev/urandom >"$fc/$fc_initramfs"
head -c 500000 /dev/urandom >"$fc/$fc_rootfs"
fcos_meta() {
    python3 - "$1" "$fc_kernel" "$fc_initramfs" "$fc_rootfs" >"$1/meta.json" <<'PY'
import hashlib, json, sys
d = sys.argv[1]
images = {}
for kind, name in zip(("live-kernel", "live-initramfs", "live-rootfs"), sys.argv[2:]):
    images[kind] = {"path": name, "sha256": hashlib.sha256(open(f"{d}/{name}", "rb").read()).hexdigest()}
print(json.dumps({"buildid": d.rsplit("/", 2)[-2], "images": images}))
PY
}
fcos_meta "$fc"
for f in "$fc_kernel" "$fc_initramfs" "$fc_rootfs"; do sign "$fc/$f"; done
echo "{\"stream\":\"stable\",\"architectures\":{\"x86_64\":{\"artifacts\":{\"metal\":{\"release\":\"$FCOS\"}}}}}" \
    >"$m/fcos/streams/stable.json"

fl="$m/flatcar/amd64-usr/$FLATCAR"
mkdir -p "$fl" "$m/flatcar/amd64-usr/current"
printf 'FLATCAR_BUILD=4230\nFLATCAR_VERSION=%s\nFLATCAR_VERSION_ID=%s\n' "$FLATCAR" "$FLATCAR" \
    >"$m/flatcar/amd64-usr/current/version.txt"
flatcar_digests() {  # the catalyst .DIGESTS layout Flatcar publishes
    local f=$1
    { echo "# MD5 HASH"; md5sum "$f" | sed "s|  .*/|  |"
      echo "# SHA1 HASH"; sha1sum "$f" | sed "s|  .*/|  |"
      echo "# SHA512 HASH"; sha512sum "$f" | sed "s|  .*/|  |"; } >"$f.DIGESTS"
}
head -c 300000 /dev/urandom >"$fl/flatcar_production_pxe.vmlinuz"
head -c 400000 /dev/urandom >"$fl/flatcar_production_pxe_image.cpio.gz"
for f in "$fl"/flatcar_production_pxe*[zb]; do flatcar_digests "$f"; sign "$f"; done

python3 -u -m http.server 0 --bind 127.0.0.1 --directory "$m" >"$WORK/mirror.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do
    mport=$(grep -o 'port [0-9]*' "$WORK/mirror.log" | grep -o '[0-9]*' || true)
    [[ -n $mport ]] && break
    sleep 0.05
done
[[ -n $mport ]] || { cat "$WORK/mirror.log"; exit 1; }
mirror="http://127.0.0.1:$mport"
images="$WORK/images"

# run NAME SCRIPT ARGS...: the script's status in $rc, its stderr+stdout in $WORK/NAME.out
run() {
    local name=$1
    shift
    rc=0
    "$repo/scripts/$1" --key "$WORK/trusted.asc" --dest "$images" "${@:2}" >"$WORK/$name.out" 2>&1 || rc=$?
    out=$(cat "$WORK/$name.out")
}
expect_refused() {  # DESCRIPTION NEEDLE DIR
    expect_eq "$1: exit status" 1 "$rc"
    expect_contains "$1: message" "$2" "$out"
    [[ ! -e $3 ]] && pass || fail "$1: $3 exists after a refusal"
    [[ -z $(find "$(dirname "$3")" -maxdepth 1 -name '.*partial*' 2>/dev/null) ]] && pass ||
        fail "$1: staging directory left behind"
}
same() { cmp -s "$1" "$2" && pass || fail "$3: $1 differs from the mirror's"; }

# --- good releases
run fcos get-fedora-coreos --base-url "$mirror/fcos"
expect_eq "fcos: exit status ($out)" 0 "$rc"
expect_contains "fcos: resolved the stream's release" "stable is at $FCOS" "$out"
for f in "$fc_kernel" "$fc_initramfs" "$fc_rootfs"; do same "$images/fedora-coreos/$FCOS/$f" "$fc/$f" fcos; done
run fcos-again get-fedora-coreos stable "$FCOS" --base-url "$mirror/fcos"
expect_eq "fcos again: exit status" 0 "$rc"
expect_contains "fcos again: nothing to do" "already exists" "$out"

run flatcar get-flatcar --base-url "$mirror/flatcar"
expect_eq "flatcar: exit status ($out)" 0 "$rc"
expect_contains "flatcar: resolved current" "stable is at $FLATCAR" "$out"
for f in flatcar_production_pxe.vmlinuz flatcar_production_pxe_image.cpio.gz; do
    same "$images/flatcar/$FLATCAR/$f" "$fl/$f" flatcar
done
rm -rf "$images/flatcar"
run coreos get-coreos stable "$FLATCAR" --base-url "$mirror/flatcar"
expect_eq "get-coreos: exit status" 0 "$rc"
expect_contains "get-coreos: says why" "end of life" "$out"
same "$images/flatcar/$FLATCAR/flatcar_production_pxe.vmlinuz" "$fl/flatcar_production_pxe.vmlinuz" get-coreos

# --- bootcfgd serves them through the example profiles in data/
start_bootcfgd examples -data-path="$repo/data" -assets-path="$images"
script=$(body "/ipxe?mac=52:54:00:a1:9c:01")
expect_contains "fcos profile: kernel" "kernel /assets/fedora-coreos/$FCOS/$fc_kernel" "$script"
expect_contains "fcos profile: rootfs" "initrd --name rootfs /assets/fedora-coreos/$FCOS/$fc_rootfs" "$script"
for f in "$fc_kernel" "$fc_initramfs" "$fc_rootfs"; do
    curl -fsS -o "$WORK/served" "$(url "/assets/fedora-coreos/$FCOS/$f")" && same "$WORK/served" "$fc/$f" "served $f"
done
script=$(body "/ipxe?mac=52:54:00:a1:9c:02")
expect_contains "flatcar profile: initrd" "/assets/flatcar/$FLATCAR/flatcar_production_pxe_image.cpio.gz" "$script"
curl -fsS -o "$WORK/served" "$(url "/assets/flatcar/$FLATCAR/flatcar_production_pxe_image.cpio.gz")" &&
    same "$WORK/served" "$fl/flatcar_production_pxe_image.cpio.gz" "served flatcar initrd"
expect_body "fcos ignition, as stored" "/ignition?mac=52:54:00:a1:9c:01" <"$repo/data/ignition/fedora-coreos.ign"

# --- refusals
rm -rf "$images"
cp "$fc/$fc_rootfs" "$WORK/rootfs.good"
printf 'X' | dd of="$fc/$fc_rootfs" bs=1 seek=1000 conv=notrunc status=none  # corrupted in transit
run corrupt get-fedora-coreos stable "$FCOS" --base-url "$mirror/fcos"
expect_refused "corrupted rootfs" "$fc_rootfs: sha256 mismatch" "$images/fedora-coreos/$FCOS"

fcos_meta "$fc"  # a mirror that rewrote the checksum too: only the signature can tell
run resigned get-fedora-coreos stable "$FCOS" --base-url "$mirror/fcos"
expect_refused "tampered rootfs, matching checksum" "$fc_rootfs: bad or untrusted signature" "$images/fedora-coreos/$FCOS"

sign "$fc/$fc_rootfs" stranger@bootcfg.invalid
run stranger get-fedora-coreos stable "$FCOS" --base-url "$mirror/fcos"
expect_refused "signed by another key" "$fc_rootfs: bad or untrusted signature" "$images/fedora-coreos/$FCOS"
cp "$WORK/rootfs.good" "$fc/$fc_rootfs" && sign "$fc/$fc_rootfs" && fcos_meta "$fc"

mv "$fl/flatcar_production_pxe_image.cpio.gz.sig" "$WORK/"
run nosig get-flatcar stable "$FLATCAR" --base-url "$mirror/flatcar"
expect_refused "missing signature" "cannot download $mirror/flatcar/amd64-usr/$FLATCAR/flatcar_production_pxe_image.cpio.gz.sig" "$images/flatcar/$FLATCAR"
mv "$WORK/flatcar_production_pxe_image.cpio.gz.sig" "$fl/"

head -c 1000 /dev/urandom >>"$fl/flatcar_production_pxe.vmlinuz"
sign "$fl/flatcar_production_pxe.vmlinuz"  # signed, but the published digest is stale
run stale get-flatcar stable "$FLATCAR" --base-url "$mirror/flatcar"
expect_refused "flatcar digest mismatch" "flatcar_production_pxe.vmlinuz: sha512 mismatch" "$images/flatcar/$FLATCAR"

run missing get-flatcar beta 9999.0.0 --base-url "$mirror/flatcar"
expect_refused "no such release" "cannot download $mirror/flatcar/amd64-usr/9999.0.0/flatcar_production_pxe.vmlinuz" "$images/flatcar/9999.0.0"

run usage get-fedora-coreos stabel --base-url "$mirror/fcos"
expect_eq "unknown stream: usage status" 2 "$rc"
expect_contains "unknown stream: names it" "stream 'stabel' is not stable, testing or next" "$out"
run badkey get-flatcar --key "$WORK/nokey" --base-url "$mirror/flatcar"
expect_contains "unreadable key" "--key '$WORK/nokey' is not a readable file" "$out"

finish
