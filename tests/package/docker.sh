#!/usr/bin/env bash
# The Dockerfiles without a Docker engine: every path they COPY exists (build outputs mapped onto
# this build tree), the runtime stage installs a package for every shared library the binary
# needs beyond debian:12-slim's own, and the default command line is accepted by the binary.
# Usage: docker.sh BOOTCFGD REPO_ROOT BUILD_DIR
set -euo pipefail
bootcfgd=$1 repo=$2 build=$3
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
work=$(mktemp -d /tmp/bootcfg-docker.XXXXXX)
trap 'rm -rf "$work"' EXIT

for dockerfile in "$repo"/dockerfiles/*/Dockerfile; do
    name=${dockerfile#"$repo"/}
    # COPY SRC... DEST: sources from the context (repo root) or from the build stage's /src.
    while read -r -a words; do
        [[ ${words[0]} == COPY ]] || continue
        srcs=("${words[@]:1:${#words[@]}-2}")
        for src in "${srcs[@]}"; do
            [[ $src == --* ]] && continue
            case $src in
                /src/build-release/*) path=$build/${src#/src/build-release/} ;;
                /src/*) path=$repo/${src#/src/} ;;
                /*) fail "$name: COPY from an unknown absolute path $src"; continue ;;
                *) path=$repo/$src ;;
            esac
            [[ -e $path ]] || fail "$name: COPY source $src does not exist (looked at $path)"
        done
    done < <(grep -E '^COPY ' "$dockerfile")
done

# The build context is the repository root: .dockerignore keeps build trees, images and git out,
# and nothing the Dockerfiles copy (checked above) is ignored by it.
[[ -f $repo/.dockerignore ]] || fail "no .dockerignore: the build/ trees would be sent as build context"
for dir in build build-sanitize build-fuzz images .git; do
    grep -qxE "$dir|${dir%%-*}-\*" "$repo/.dockerignore" || fail ".dockerignore does not leave out $dir"
done
for kept in lib daemon scripts data CMakeLists.txt; do
    grep -qx "$kept" "$repo/.dockerignore" && fail ".dockerignore leaves out $kept, which the build needs"
done

dockerfile=$repo/dockerfiles/bootcfgd/Dockerfile
runtime=$(sed -n 's/^# runtime-packages: //p' "$dockerfile")
[[ -n $runtime ]] || fail "no '# runtime-packages:' line in $dockerfile"
for p in $runtime; do
    grep -q -- "--no-install-recommends.* $p" "$dockerfile" || fail "runtime package $p is listed but not installed"
done
# Packages debian:12-slim already has (it is built from them; apt itself needs libstdc++6).
base="libc6 libgcc-s1 libstdc++6"
# Only the libraries bootcfgd itself names (DT_NEEDED) must be listed: apt installs what those
# packages depend on (libarchive13 brings its compression libraries).
needed=" $(readelf -d "$bootcfgd" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p' | tr '\n' ' ') "
while read -r lib; do
    [[ $needed == *" $(basename "$lib") "* ]] || continue
    # The sanitizer build's runtimes are not part of the image's Release build.
    [[ $(basename "$lib") == lib[at]san* || $(basename "$lib") == libubsan* ]] && continue
    dir=$(basename "$(dirname "$lib")")
    pkg=$(dpkg -S "*/$dir/$(basename "$lib")" 2>/dev/null | head -1 | cut -d: -f1)

    [[ -n $pkg ]] || { fail "no Debian package ships $lib"; continue; }
    [[ " $runtime $base " == *" $pkg "* ]] || fail "bootcfgd needs $lib from $pkg, which the runtime stage does not install"
    echo "docker: $lib <- $pkg"
done < <(ldd "$bootcfgd" | awk '$3 ~ /^\// {print $3}')

# ENTRYPOINT + CMD, with the image's paths mapped to temp dirs, must pass flag parsing and load.
mapfile -t cmd < <(sed -n 's/^CMD \[\(.*\)\]$/\1/p' "$dockerfile" | tr ',' '\n' | sed 's/^ *"//; s/"$//')
[[ $(sed -n 's/^ENTRYPOINT \[\(.*\)\]$/\1/p' "$dockerfile") == '"bootcfgd"' ]] || fail "ENTRYPOINT is not [\"bootcfgd\"]"
mkdir -p "$work/data" "$work/assets"
cp -r "$repo/data/." "$work/data/"
args=()
for a in "${cmd[@]}"; do args+=("${a//\/var\/lib\/bootcfg/$work}"); done
if out=$("$bootcfgd" "${args[@]}" -validate 2>&1); then
    echo "docker: default command accepted: bootcfgd ${cmd[*]}"
else
    fail "default command rejected: bootcfgd ${args[*]} -validate: $out"
fi
grep -q '^EXPOSE 8080$' "$dockerfile" || fail "EXPOSE 8080 missing"
grep -q '^USER bootcfg$' "$dockerfile" || fail "not running as the bootcfg user"
grep -q 'HEALTHCHECK.*/healthz' "$dockerfile" || fail "no HEALTHCHECK on /healthz"
# The dnsmasq images' entrypoint, with the real dnsmasq checking what it writes (--test).
mkdir -p "$work/bin"
ln -s "$repo/scripts/dnsmasq-conf" "$work/bin/dnsmasq-conf"
entry=$repo/dockerfiles/ipxe/entrypoint
if command -v dnsmasq >/dev/null; then
    for mode in ipxe dhcp; do
        out=$(PATH=$work/bin:$PATH CONF=$work/$mode.conf BOOTCFGD_URL=http://172.17.0.2:8080 \
            DHCP_RANGE=172.17.0.43,172.17.0.99,255.255.0.0,1h DHCP_ONLY=$([[ $mode == dhcp ]] && echo 1) \
            "$entry" --test 2>&1) || fail "$mode entrypoint: $out"
        [[ $out == *"syntax check OK"* ]] || fail "$mode entrypoint: dnsmasq did not accept the config: $out"
    done
    grep -q 'dhcp-boot=tag:ipxe,http://172.17.0.2:8080/boot.ipxe' "$work/ipxe.conf" || fail "ipxe config lacks the chain URL"
    grep -q 'dhcp-boot' "$work/dhcp.conf" && fail "dhcp-only config has boot options"
    out=$(PATH=$work/bin:$PATH CONF=$work/x.conf "$entry" 2>&1) && fail "entrypoint without DHCP_RANGE succeeded"
    [[ $out == *"set DHCP_RANGE"* ]] || fail "entrypoint without DHCP_RANGE: $out"
    echo "docker: ipxe and dhcp entrypoints write configs dnsmasq accepts"
else
    fail "dnsmasq missing (scripts/deps --test installs dnsmasq-base)"
fi
echo "docker.sh: $failures failed"

[[ $failures -eq 0 ]]
