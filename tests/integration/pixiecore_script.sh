#!/usr/bin/env bash
# scripts/pixiecore finds bootcfgd and hands Pixiecore the right API URL: a local bootcfgd process
# (found with ss), BOOTCFGD_URL winning over detection, several or no bootcfgd refused, a dead
# address refused, and a clear way to get Pixiecore when it is missing. Runs in a network
# namespace made here so that no other bootcfgd on the machine is found. Exit 77 without one.
BOOTCFGD=$1
source "$(dirname "$0")/lib.sh"
here=$(cd "$(dirname "$0")" && pwd)
script="$(cd "$here/../.." && pwd)/scripts/pixiecore"
NS=bootcfg-pxc-$$
if [[ $(id -u) -ne 0 ]] || ! ip netns add "$NS" 2>/dev/null; then
    echo "SKIP: cannot create a network namespace here"
    exit 77
fi
trap 'cleanup; ip netns del "$NS" 2>/dev/null || true' EXIT
ip -n "$NS" link set lo up
inns() { ip netns exec "$NS" env PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@"; }

data="$WORK/data"
mkdir -p "$data/boot/mac"
echo '{"kernel": "/assets/k", "initrd": ["/assets/i"], "cmdline": {"console": "ttyS0"}}' \
    >"$data/boot/mac/52-54-00-12-34-56"

# run ARGS...: scripts/pixiecore in the namespace; $rc, $out (stdout), $err (stderr)
run() {
    rc=0
    out=$(inns "$@" 2>"$WORK/err") || rc=$?
    err=$(cat "$WORK/err")
}

run "$script" --print
expect_eq "no bootcfgd: status" 1 "$rc"
expect_contains "no bootcfgd: says what to do" "found no bootcfgd" "$err"

WRAPPER=(ip netns exec "$NS")
start_bootcfgd one -data-path="$data"
one=$PORT
run "$script" --print -- --dhcp-no-bind
expect_eq "local process: status ($err)" 0 "$rc"
expect_eq "local process: command" "pixiecore api http://127.0.0.1:$one/pixiecore --dhcp-no-bind" "$out"
expect_contains "local process: says where it looked" "local bootcfgd process" "$err"
api_url=${out#pixiecore api }
api=$(inns curl -s "${api_url% *}/v1/boot/52:54:00:12:34:56")
expect_contains "the URL is bootcfgd's Pixiecore API" '"kernel":"/assets/k"' "$api"

start_bootcfgd two -data-path="$data"
two=$PORT
run "$script" --print
expect_eq "two bootcfgd: status" 1 "$rc"
expect_contains "two bootcfgd: names both" "http://127.0.0.1:$one" "$err"
expect_contains "two bootcfgd: names both" "http://127.0.0.1:$two" "$err"

run env BOOTCFGD_URL="http://127.0.0.1:$two" "$script" --print
expect_eq "BOOTCFGD_URL wins: command" "pixiecore api http://127.0.0.1:$two/pixiecore" "$out"
run "$script" --bootcfgd "http://127.0.0.1:$one/" --print
expect_eq "--bootcfgd: command" "pixiecore api http://127.0.0.1:$one/pixiecore" "$out"
kill "$PID" && wait "$PID" 2>/dev/null || true
run "$script" --bootcfgd "http://127.0.0.1:$two" --print
expect_eq "dead address: status" 1 "$rc"
expect_contains "dead address: names it" "bootcfgd at http://127.0.0.1:$two does not answer http://127.0.0.1:$two/healthz" "$err"
run "$script" --bootcfgd "127.0.0.1:$one"
expect_contains "not a URL" "'127.0.0.1:$one' is not http://HOST:PORT" "$err"

run env -u PIXIECORE "$script"
expect_eq "no pixiecore: status" 1 "$rc"
expect_contains "no pixiecore: how to get it" "go install go.universe.tf/netboot/cmd/pixiecore@latest" "$err"
run "$script" --frobnicate
expect_eq "unknown option: status" 2 "$rc"
finish
