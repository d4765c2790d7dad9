#!/usr/bin/env bash
# The builder end to end with the real bootcfg binary: save2image on docker save archives in
# both forms (Python-made: replaced and whited-out files, opaque dirs, hardlinks across layers,
# long paths, ids 0/1000, devices, xattrs) checked against the hand-written tree and against
# skopeo + umoci; broken archives refused with no output left; memory flat as images grow;
# archive and compare on rootfs images; push into a running bootcfgd (script, assets,
# microcode, idempotence, decompression, LinuxKit's Equinix Metal script).
BOOTCFGD=$1
BOOTCFG=$(realpath "${2:?path to bootcfg}")
source "$(dirname "$0")/lib.sh"
here=$(cd "$(dirname "$0")" && pwd)
make_archives="python3 $here/../builder/make_archives.py"
check_rootfs="python3 $here/../builder/check_rootfs.py"

# cli ARGS...: $rc, $out, $err of the bootcfg binary
cli() {
    rc=0
    out=$("$BOOTCFG" "$@" 2>"$WORK/cli.err") || rc=$?
    err=$(cat "$WORK/cli.err")
}
# expect_ok DESCRIPTION COMMAND...: exit 0 and no output lines of a checker
expect_ok() {
    local what=$1 result
    shift
    if result=$("$@" 2>&1); then pass; else fail "$what: $result"; fi
}

a="$WORK/archives"
$make_archives docker "$a"

# --- save2image: every form gives the expected tree
for form in classic oci oci-only; do
    cli image save2image -o "$WORK/$form.tar.gz" "$a/$form.tar"
    expect_eq "save2image $form exit" "0" "$rc"
    expect_ok "save2image $form tree" $check_rootfs expected "$a/expected.json" "$WORK/$form.tar.gz"
done
expect_contains "summary line" "5 layers merged" "$err"
cli image save2image "$a/classic.tar" -o "$WORK/again.tar.gz"
expect_ok "the same input gives the same bytes" cmp "$WORK/classic.tar.gz" "$WORK/again.tar.gz"
rc=0
cat "$a/classic.tar" | "$BOOTCFG" image save2image --temp-dir "$WORK" >"$WORK/stdin.tar.gz" 2>"$WORK/cli.err" || rc=$?
expect_eq "stdin to stdout exit" "0" "$rc"
expect_ok "stdin to stdout: same bytes as file to file" cmp "$WORK/classic.tar.gz" "$WORK/stdin.tar.gz"
expect_eq "stdin spool leaves nothing in --temp-dir" "" "$(find "$WORK" -maxdepth 1 -name '*save2image*')"
cli image save2image "$a/two.tar" -o "$WORK/two.tar.gz"
expect_eq "two images, none chosen: exit 1" "1" "$rc"
expect_contains "two images: names the tags" "bootcfg/one:1, bootcfg/two:2" "$err"
cli image save2image --image bootcfg/two:2 "$a/two.tar" -o "$WORK/two.tar.gz"
expect_eq "--image chooses" "0" "$rc"
cli image save2image --image nope:1 "$a/two.tar" -o "$WORK/two.tar.gz"
expect_contains "--image that is not there" "no image tagged nope:1" "$err"

if command -v script >/dev/null; then
    script -qec "$BOOTCFG image save2image -o $WORK/tty.tar.gz $a/classic.tar" /dev/null >"$WORK/tty.out" 2>&1 || true
    expect_contains "a progress line on a terminal" "save2image: verifying" "$(tr '\r' '\n' <"$WORK/tty.out")"
    expect_eq "no progress line without one" "" "$(grep -c 'writing layer' "$WORK/cli.err" | grep -v '^0$' || true)"
fi

# --- a tool nobody here wrote: skopeo to an OCI layout, umoci unpack, same tree
if command -v skopeo >/dev/null && command -v umoci >/dev/null; then
    skopeo --insecure-policy copy -q "docker-archive:$a/classic.tar" "oci:$WORK/oci-layout:latest"
    umoci raw unpack --rootless --image "$WORK/oci-layout:latest" "$WORK/umoci-rootfs" 2>/dev/null
    expect_ok "umoci's tree equals ours" $check_rootfs tree "$WORK/classic.tar.gz" "$WORK/umoci-rootfs"
    rm -rf "$WORK/oci-layout" "$WORK/umoci-rootfs"
else
    echo "builder.sh: skopeo/umoci not installed; cross-check skipped (scripts/deps --test installs them)"
fi

# --- broken archives: exit 1, one line naming the archive, no output, no temp file
mkdir -p "$WORK/out"
broken() {  # broken DESCRIPTION ARCHIVE NEEDLE
    cli image save2image -o "$WORK/out/image.tar.gz" "$2"
    expect_eq "$1: exit 1" "1" "$rc"
    expect_contains "$1: reason" "$3" "$err"
    expect_eq "$1: one line" "1" "$(printf '%s\n' "$err" | wc -l)"
    expect_eq "$1: nothing left in the output dir" "" "$(ls -A "$WORK/out")"
}
size=$(stat -c %s "$a/classic.tar")
for cut in 3000 30000 $((size / 2)) $((size - 3000)); do
    head -c "$cut" "$a/classic.tar" >"$WORK/truncated.tar"
    broken "truncated at $cut of $size" "$WORK/truncated.tar" "runcated"
done
# A damaged gzip layer in the classic form (no digest names it): the gzip error itself.
python3 - "$a/classic.tar" "$WORK/corrupt.tar" <<'PY'
import gzip, io, sys, tarfile
src = tarfile.open(sys.argv[1])
with tarfile.open(sys.argv[2], "w", format=tarfile.PAX_FORMAT) as out:
    for ti in src:
        data = src.extractfile(ti).read() if ti.isreg() else None
        if ti.name.endswith("layer.tar") and ti.isreg() and not getattr(out, "done", False):
            z = bytearray(gzip.compress(data, mtime=0))
            z[40:60] = b"\xff" * 20
            data, out.done = bytes(z), True
        if data is not None:
            ti.size = len(data)
        out.addfile(ti, io.BytesIO(data) if data is not None else None)
PY
broken "corrupt gzip layer" "$WORK/corrupt.tar" "gzip"
python3 - "$a/oci.tar" "$WORK/tampered.tar" <<'PY'
import sys
d = bytearray(open(sys.argv[1], "rb").read())
i = d.find(b"\x1f\x8b\x08")
d[i + 40:i + 60] = b"\xff" * 20
open(sys.argv[2], "wb").write(d)
PY
broken "a layer blob that is not its digest" "$WORK/tampered.tar" "does not match its digest"
echo "not an archive" >"$WORK/garbage.tar"
broken "not an archive" "$WORK/garbage.tar" "garbage.tar"
broken "a hardlink to nothing" "$a/bad-hardlink.tar" "points to 'nowhere'"
broken "no such file" "$WORK/missing.tar" "No such file"
python3 - "$WORK/noimage.tar" <<'PY'
import io, sys, tarfile
with tarfile.open(sys.argv[1], "w") as t:
    ti = tarfile.TarInfo("etc/hostname"); data = b"x\n"; ti.size = len(data); t.addfile(ti, io.BytesIO(data))
PY
broken "a plain tar" "$WORK/noimage.tar" "not a \`docker save\` archive"
cli image save2image --bogus "$a/classic.tar"
expect_eq "unknown flag: usage exit" "2" "$rc"

# --- memory stays flat as the image grows (file data is streamed, never held)
# Under ASan (scripts/test --sanitize) freed memory waits in a quarantine of up to 256 MB before
# reuse, so a program that frees and reallocates per block (libarchive's gzip state, one per
# 1 MiB member) looks as if it grew; a small quarantine measures the program, not the sanitizer.
peak_kib() {  # peak RSS of one bootcfg run
    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=4" python3 -c 'import resource, subprocess, sys
subprocess.run(sys.argv[1:], check=True, stderr=subprocess.DEVNULL)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)' "$@"
}
$make_archives big "$WORK/small.tar" 16
$make_archives big "$WORK/big.tar" 256
small_kib=$(peak_kib "$BOOTCFG" image save2image -o "$WORK/small.tar.gz" "$WORK/small.tar")
big_kib=$(peak_kib "$BOOTCFG" image save2image -o "$WORK/big.tar.gz" "$WORK/big.tar")
echo "builder.sh: peak RSS 16 MiB image: ${small_kib} KiB, 256 MiB image: ${big_kib} KiB"
if (( big_kib - small_kib < 8192 )); then pass; else fail "peak RSS grew by $(( (big_kib - small_kib) / 1024 )) MiB with the image"; fi
expect_eq "256 MiB file intact" "$(head -c $((256 << 20)) /dev/zero | sha256sum | cut -d' ' -f1)" \
    "$(tar xzOf "$WORK/big.tar.gz" ./big.bin | sha256sum | cut -d' ' -f1)"
cli image compare -o json "$WORK/big.tar.gz" "$WORK/big.tar.gz"
expect_ok "our own output (many gzip members) reads back whole through libarchive" python3 -c '
import json, sys, tarfile
got = json.loads(sys.argv[2])["new"]
want = sum(t.size for t in tarfile.open(sys.argv[1], "r:gz") if t.isreg())
sys.exit(0 if got["filesystem_bytes"] == want and want > 256 << 20 else "%s != %s" % (got["filesystem_bytes"], want))
' "$WORK/big.tar.gz" "$out"
rm -f "$WORK"/big.tar* "$WORK"/small.tar*

# --- archive: the newest kernel by version, not by string
r="$WORK/rootfs"
$make_archives rootfs "$r"
cli image archive "$r/new.tar.gz" "$WORK/boot"
expect_eq "archive exit" "0" "$rc"
expect_contains "archive picks 5.10.0-10 over 5.10.0-9" "kernel 5.10.0-10-amd64" "$out"
expect_eq "kernel.tar.gz holds ./vmlinuz" "./vmlinuz" "$(tar tzf "$WORK/boot/kernel.tar.gz")"
expect_eq "the newest kernel's bytes" "KERNEL 5.10.0-10-amd64 newer" "$(tar xzOf "$WORK/boot/kernel.tar.gz" ./vmlinuz)"
expect_eq "initrd.tar.gz holds ./initrd" "INITRD 5.10.0-10-amd64" "$(tar xzOf "$WORK/boot/initrd.tar.gz" ./initrd)"
expect_eq "modules.tar.gz: that version's tree, no temp prefix" "lib/modules/5.10.0-10-amd64/
lib/modules/5.10.0-10-amd64/build
lib/modules/5.10.0-10-amd64/kernel/
lib/modules/5.10.0-10-amd64/kernel/drivers/
lib/modules/5.10.0-10-amd64/kernel/drivers/net-alias.ko
lib/modules/5.10.0-10-amd64/kernel/drivers/net.ko
lib/modules/5.10.0-10-amd64/modules.dep" "$(tar tzf "$WORK/boot/modules.tar.gz" | sort)"
mkdir -p "$WORK/modules-x" && tar xzf "$WORK/boot/modules.tar.gz" -C "$WORK/modules-x"
expect_eq "module hardlink kept" "2" "$(stat -c %h "$WORK/modules-x/lib/modules/5.10.0-10-amd64/kernel/drivers/net.ko")"
cli image archive "$r/fedora.tar.gz" "$WORK/fedora"
expect_eq "kernel beside its modules (merged /usr)" "FEDORA KERNEL|FEDORA INITRD" \
    "$(tar xzOf "$WORK/fedora/kernel.tar.gz" ./vmlinuz)|$(tar xzOf "$WORK/fedora/initrd.tar.gz" ./initrd)"
# --raw: the kernel and initrd as files iPXE boots, served by bootcfgd from the assets dir
cli image archive --raw "$r/new.tar.gz" "$WORK/raw/debian"
expect_eq "archive --raw: exit ($err)" 0 "$rc"
expect_eq "archive --raw: the kernel's bytes as they are" "KERNEL 5.10.0-10-amd64 newer" "$(cat "$WORK/raw/debian/vmlinuz")"
expect_eq "archive --raw: the initrd's bytes" "INITRD 5.10.0-10-amd64" "$(cat "$WORK/raw/debian/initrd.img")"
expect_eq "archive --raw: the modules still a tar" "lib/modules/5.10.0-10-amd64/modules.dep" \
    "$(tar tzf "$WORK/raw/debian/modules.tar.gz" | grep modules.dep)"
mkdir -p "$WORK/raw-data/profiles" "$WORK/raw-data/groups"
echo '{"id": "debian", "boot": {"kernel": "/assets/debian/vmlinuz", "initrd": ["/assets/debian/initrd.img"], "args": ["console=ttyS0"]}}' \
    >"$WORK/raw-data/profiles/debian.json"
echo '{"id": "all", "profile": "debian"}' >"$WORK/raw-data/groups/all.json"
start_bootcfgd raw -data-path="$WORK/raw-data" -assets-path="$WORK/raw"
expect_contains "the profile's script names the raw files" "initrd --name initrd.img /assets/debian/initrd.img" "$(body "/ipxe?mac=52:54:00:00:00:01")"
expect_eq "bootcfgd serves the raw kernel" "KERNEL 5.10.0-10-amd64 newer" "$(body "/assets/debian/vmlinuz")"
kill "$PID" || true
cli image archive "$r/nokernel.tar.gz" "$WORK/nokernel"
expect_eq "no kernel: exit 1" "1" "$rc"
expect_contains "no kernel: says so" "no kernel in the image" "$err"
expect_eq "no kernel: no output files" "" "$(ls -A "$WORK/nokernel" 2>/dev/null)"

# --- compare: exact differences
cli image compare -o json "$r/old.tar.gz" "$r/new.tar.gz"
expect_eq "compare exit" "0" "$rc"
expect_ok "compare json is exact" python3 - "$r" "$out" <<'PY'
import json, os, sys
facts = json.load(open(os.path.join(sys.argv[1], "facts.json")))
got = json.loads(sys.argv[2])
want = {"added": {"wget": "1.21.3-1+b2"}, "removed": {"oldtool": "1.0-1"},
        "updated": {"libc6": {"old": "2.36-9+deb12u3", "new": "2.36-9+deb12u4"}}}
problems = [k for k in want if got[k] != want[k]]
for side in ("old", "new"):
    for k in ("files", "filesystem_bytes"):
        if got[side][k] != facts[side][k]:
            problems.append("%s.%s %s != %s" % (side, k, got[side][k], facts[side][k]))
    if got[side]["image_bytes"] != os.path.getsize(os.path.join(sys.argv[1], side + ".tar.gz")):
        problems.append(side + ".image_bytes")
if got["old"]["kernels"] != ["5.10.0-9-amd64"] or got["new"]["kernels"] != ["5.10.0-9-amd64", "5.10.0-10-amd64"]:
    problems.append("kernels %s %s" % (got["old"]["kernels"], got["new"]["kernels"]))
if got["old"]["packages"] != 4 or got["new"]["packages"] != 4:
    problems.append("package counts")
print(problems) if problems else None
sys.exit(1 if problems else 0)
PY
cli image compare "$r/old.tar.gz" "$r/new.tar.gz"
expect_contains "compare text: updated" "libc6 2.36-9+deb12u3 -> 2.36-9+deb12u4" "$out"
cli image compare "$r/old.tar.gz" "$WORK/missing.tar.gz"
expect_eq "compare with a missing image: exit 1" "1" "$rc"

# --- push into a running bootcfgd
lk="$WORK/linuxkit"
mkdir -p "$lk" "$WORK/data" "$WORK/images"
head -c 300000 /dev/urandom >"$lk/kernel.raw"
head -c 200000 /dev/urandom >"$lk/initrd.raw"
gzip -n -c "$lk/kernel.raw" >"$lk/lk-kernel"
gzip -n -c "$lk/initrd.raw" >"$lk/lk-initrd.img"
printf 'console=ttyS0 page_poison=1\n' >"$lk/lk-cmdline"
printf '070701 microcode cpio bytes' >"$lk/intel-ucode.cpio"
start_bootcfgd push -data-path="$WORK/data" -assets-path="$WORK/images"
cli push lk --dir "$lk" --ucode "$lk/intel-ucode.cpio" --base-url "http://boot.example/assets/lk" \
    --assets-path "$WORK/images" --data-path "$WORK/data" --mac 52:54:00:12:34:56
expect_eq "push exit" "0" "$rc"
expect_eq "push wrote 6 files (kernel, initrd, cmdline, script, profile, group)" "6" "$(grep -c '^wrote' <<<"$out")"
script=""
for _ in $(seq 60); do
    script=$(body "/ipxe?mac=52:54:00:12:34:56")
    [[ $script == *lk-kernel* ]] && break
    sleep 0.1
done
expect_contains "bootcfgd serves the pushed profile" "kernel /assets/lk/lk-kernel initrd=initrd console=ttyS0 page_poison=1" "$script"
expect_contains "with its initrd" "initrd --name initrd /assets/lk/lk-initrd.img" "$script"
curl -s -o "$WORK/got-kernel" "$(url /assets/lk/lk-kernel)"
expect_ok "kernel asset bytes" cmp "$lk/lk-kernel" "$WORK/got-kernel"
curl -s -o "$WORK/got-initrd" "$(url /assets/lk/lk-initrd.img)"
expect_ok "initrd = microcode cpio, then the initrd" cmp <(cat "$lk/intel-ucode.cpio" "$lk/lk-initrd.img") "$WORK/got-initrd"
printf '#!ipxe\n\ndhcp\nset base-url http://boot.example/assets/lk\nset kernel-params ip=dhcp nomodeset ro serial console=ttyS1,115200 console=ttyS0 page_poison=1\nkernel ${base-url}/lk-kernel ${kernel-params}\ninitrd ${base-url}/lk-initrd.img\nboot' >"$WORK/want.ipxe"
expect_ok "LinuxKit's x86_64 Equinix Metal script, byte for byte" cmp "$WORK/want.ipxe" "$WORK/images/lk/lk-equinixmetal.ipxe"
before=$(find "$WORK/images" "$WORK/data" -type f -printf '%p %T@ %s\n' | sort)
cli push lk --dir "$lk" --ucode "$lk/intel-ucode.cpio" --base-url "http://boot.example/assets/lk" \
    --assets-path "$WORK/images" --data-path "$WORK/data" --mac 52-54-00-12-34-56
expect_eq "second push: nothing written" "0" "$(grep -c '^wrote' <<<"$out" || true)"
expect_eq "second push: files untouched (mtimes)" "$before" "$(find "$WORK/images" "$WORK/data" -type f -printf '%p %T@ %s\n' | sort)"
expect_eq "no temp files left" "" "$(find "$WORK/images" "$WORK/data" -name '.*tmp*')"
expect_eq "bootcfgd loaded the data dir without a problem" "" "$(grep -E ' (warn|error) |[1-9][0-9]* problems' "$LOG" || true)"

cli push lk --dir "$lk" --decompress --assets-path "$WORK/images" --data-path "$WORK/data"
expect_ok "--decompress gunzips the kernel" cmp "$lk/kernel.raw" "$WORK/images/lk/lk-kernel"
expect_ok "--decompress gunzips the initrd" cmp "$lk/initrd.raw" "$WORK/images/lk/lk-initrd.img"
cp "$lk/kernel.raw" "$lk/plain-kernel"; cp "$lk/lk-initrd.img" "$lk/plain-initrd.img"
printf 'console=ttyAMA0' >"$lk/plain-cmdline"
cli push equinixmetal plain --dir "$lk" --arch aarch64 --base-url http://boot.example/arm --destination "$WORK/publish"
expect_eq "push equinixmetal exit" "0" "$rc"
expect_contains "a kernel that is not gzip is copied with a note" "plain-kernel is not compressed; copied as is" "$out"
expect_ok "aarch64 decompresses the initrd" cmp "$lk/initrd.raw" "$WORK/publish/plain-initrd.img"
printf '#!ipxe\n\ndhcp\nset base-url http://boot.example/arm\ninitrd --name initrd ${base-url}/plain-initrd.img\nset kernel-params ip=dhcp nomodeset ro console=ttyAMA0\nkernel ${base-url}/plain-kernel initrd=initrd root=/dev/ram0 ${kernel-params}\nboot' >"$WORK/want-arm.ipxe"
expect_ok "LinuxKit's aarch64 script, byte for byte" cmp "$WORK/want-arm.ipxe" "$WORK/publish/plain-equinixmetal.ipxe"
expect_eq "push equinixmetal writes no profile" "" "$(ls "$WORK/publish" | grep json || true)"
rm "$lk/lk-cmdline"
cli push lk --dir "$lk" --assets-path "$WORK/images" --data-path "$WORK/data"
expect_eq "missing cmdline: exit 1" "1" "$rc"
expect_contains "missing cmdline: names the file" "lk-cmdline" "$err"
cli push lk --dir "$lk" --data-path "$WORK/data"
expect_eq "missing --assets-path: usage exit" "2" "$rc"
cli push ../evil --dir "$lk" --assets-path "$WORK/images" --data-path "$WORK/data"
expect_eq "a NAME that is a path: a usage error (#26)" "2" "$rc"
finish
