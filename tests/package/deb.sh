#!/usr/bin/env bash
# The .deb CPack builds: install it, run the installed bootcfgd, check the unit, user, env file
# and example data landed, then remove and purge it. Needs root and dpkg (skipped otherwise), and
# does not touch a bootcfg package already installed on the machine.
# Usage: deb.sh BUILD_DIR
set -euo pipefail
build=$1
[[ $(id -u) -eq 0 ]] || { echo "deb.sh: needs root to install a package; skipped"; exit 77; }
command -v dpkg-shlibdeps >/dev/null || { echo "FAIL: dpkg-shlibdeps missing (scripts/deps --test installs dpkg-dev)"; exit 1; }
if dpkg-query -W -f='${Status}' bootcfg 2>/dev/null | grep -q "install ok installed"; then
    echo "deb.sh: a bootcfg package is already installed here; skipped"
    exit 77
fi
work=$(mktemp -d /tmp/bootcfg-deb.XXXXXX)
trap 'dpkg -P bootcfg >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

(cd "$work" && cpack --config "$build/CPackConfig.cmake" -B "$work" >cpack.log 2>&1) || { cat "$work/cpack.log"; exit 1; }
deb=$(ls "$work"/bootcfg_*.deb)
echo "deb.sh: built $(basename "$deb") ($(stat -c %s "$deb") bytes)"
ls "$work"/bootcfg-dbgsym_*.*deb >/dev/null 2>&1 || fail "no bootcfg-dbgsym package with the debug symbols"
dpkg-deb -x "$deb" "$work/root"
for bin in bootcfgd bootcfg; do
    readelf -S "$work/root/usr/bin/$bin" | grep -q '\.debug_info' && fail "$bin in the .deb is not stripped"
done
grep -q '^ExecStart=/usr/bin/bootcfgd$' "$work/root/usr/lib/systemd/system/bootcfgd.service" ||
    fail "the .deb's unit does not start /usr/bin/bootcfgd"

# `cmake --install` elsewhere: the unit starts the bootcfgd it installed
DESTDIR="$work/local" cmake --install "$build" --prefix /usr/local >/dev/null
grep -q '^ExecStart=/usr/local/bin/bootcfgd$' "$work/local/usr/local/lib/systemd/system/bootcfgd.service" ||
    fail "cmake --install --prefix /usr/local: the unit's ExecStart is $(grep ExecStart "$work/local/usr/local/lib/systemd/system/bootcfgd.service")"
dpkg-deb -f "$deb" Depends | grep -q libspdlog && echo "deb.sh: Depends: $(dpkg-deb -f "$deb" Depends)" || fail "Depends lacks the shared libraries"
dpkg -i "$deb" >"$work/install.log" 2>&1 || { cat "$work/install.log"; fail "dpkg -i"; }
[[ $(/usr/bin/bootcfgd -version) == *"$(dpkg-deb -f "$deb" Version | cut -d- -f1)"* ]] || fail "installed bootcfgd -version: $(/usr/bin/bootcfgd -version 2>&1)"
for f in /usr/lib/systemd/system/bootcfgd.service /lib/systemd/system/bootcfgd.service; do
    [[ -f $f ]] && unit=$f
done
[[ -n ${unit:-} ]] || fail "unit not installed"
[[ -f /usr/lib/sysusers.d/bootcfg.conf ]] || fail "sysusers entry not installed"
[[ -f /etc/bootcfg/bootcfgd.env ]] || fail "env file not installed"
[[ -f /usr/share/doc/bootcfg/README.md ]] || fail "README not installed"
/usr/bin/bootcfgd -validate -data-path /usr/share/bootcfg/examples/data >/dev/null || fail "installed example data does not validate"
getent passwd bootcfg >/dev/null || fail "user bootcfg not created"
[[ -d /var/lib/bootcfg/data && -d /var/lib/bootcfg/assets ]] || fail "state dirs not created"
[[ $(stat -c %U /var/lib/bootcfg/data) == bootcfg ]] || fail "the data dir is not the service user's (admin writes would fail)"
# An admin write as the service user lands (what the documented admin setup does).
su -s /bin/sh bootcfg -c 'echo {} >/var/lib/bootcfg/data/.write-test && rm /var/lib/bootcfg/data/.write-test' ||
    fail "bootcfg cannot write its data dir"
dpkg-query -W -f='${Conffiles}' bootcfg | grep -q /etc/bootcfg/bootcfgd.env || fail "env file is not a conffile"
dpkg -r bootcfg >/dev/null 2>&1 || fail "dpkg -r"
[[ ! -e /usr/bin/bootcfgd ]] || fail "bootcfgd still installed after removal"
[[ -f /etc/bootcfg/bootcfgd.env ]] || fail "conffile removed by remove (only purge should)"
dpkg -P bootcfg >/dev/null 2>&1 || fail "dpkg -P"
[[ ! -e /etc/bootcfg/bootcfgd.env ]] || fail "conffile left after purge"
echo "deb.sh: $failures failed"
[[ $failures -eq 0 ]]
