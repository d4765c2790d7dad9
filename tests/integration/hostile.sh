#!/usr/bin/env bash
# Hostile clients against the real bootcfgd: thousands of idle connections with slow-header and
# slow-body clients, the -max-connections limit, and a path traversal corpus against every
# endpoint that turns request input into a file or a config, with strace proving that nothing
# outside the assets root is opened while serving.
BOOTCFGD=$1
source "$(dirname "$0")/lib.sh"
here=$(cd "$(dirname "$0")" && pwd)

data="$WORK/data"
assets="$WORK/assets"
mkdir -p "$data/boot/mac" "$data/cloud" "$assets/lab/deeper" "$WORK/outside"
printf '{"kernel": "/assets/lab/vmlinuz", "initrd": ["/assets/lab/initrd.img"]}' >"$data/boot/default"
printf '{"kernel": "/assets/lab/vmlinuz", "cmdline": {"node": "1"}}' >"$data/boot/mac/52:54:00:12:34:56"
printf '#cloud-config\nhostname: default\n' >"$data/cloud/default"
printf 'kernel' >"$assets/lab/vmlinuz"
printf 'initrd' >"$assets/lab/initrd.img"
traversal_tree "$assets"

# --- 2,000 idle connections plus slow-header and slow-body clients
start_bootcfgd storm -data-path="$data" -assets-path="$assets" -idle-timeout=4s -read-timeout=2s
if python3 "$here/hostile_clients.py" storm "$PORT" 2000 2 4 "$PID" >"$WORK/storm.txt" 2>&1; then pass; else fail "storm"; fi
cat "$WORK/storm.txt"
kill -0 "$PID" && pass || fail "bootcfgd survived the storm"
kill "$PID"

# --- -max-connections sheds load with a 503 and a close
start_bootcfgd shed -data-path="$data" -assets-path="$assets" -max-connections=100
expect_log "limit logged" "max 100 connections"
if python3 "$here/hostile_clients.py" shed "$PORT" 100 "$PID" >"$WORK/shed.txt" 2>&1; then pass; else fail "shed"; fi
cat "$WORK/shed.txt"
expect_log "shedding logged" "at -max-connections=100: "
kill "$PID"

# --- clients that reset the connection in the middle of an asset download (found by the soak:
# sendfile() on a reset socket raised SIGPIPE, which ended bootcfgd)
truncate -s 256M "$assets/lab/big.img"
start_bootcfgd abort -data-path="$data" -assets-path="$assets"
if python3 "$here/hostile_clients.py" abort "$PORT" /assets/lab/big.img 50 >"$WORK/abort.txt" 2>&1; then pass; else fail "aborted downloads"; fi
cat "$WORK/abort.txt"
kill -0 "$PID" 2>/dev/null && pass || { wait "$PID" && code=0 || code=$?; fail "bootcfgd ended with status $code during aborted downloads"; }
kill "$PID" 2>/dev/null || true

# --- garbage: 400 and the connection is closed

start_bootcfgd garbage -data-path="$data" -assets-path="$assets"
reply=$(raw 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nBLAH\x01\x02 /x HTTP/9.9\r\n\r\nGET /healthz HTTP/1.1\r\n\r\n')
expect_eq "garbage after a good request: 200, then 400, then nothing" "200 400" \
    "$(grep -o '^HTTP/1.1 [0-9]*' <<<"$reply" | awk '{print $2}' | xargs)"
kill "$PID"

# --- path traversal corpus, under strace
if ! command -v strace >/dev/null; then
    fail "strace is not installed (scripts/deps --test installs it)"
    finish
    exit
fi
trace="$WORK/strace.log"
WRAPPER=(strace -f -y -qq -e trace=open,openat,openat2,creat,readlink,readlinkat -o "$trace")
start_bootcfgd traced -data-path="$data" -assets-path="$assets"
WRAPPER=()

expect_eq "traced bootcfgd serves" "200" "$(status /assets/lab/vmlinuz)"
sleep 0.5
start_line=$(wc -l <"$trace")

asset_paths=(
    '../canary' '../../canary' '..' '.' '%2e%2e/canary' '%2e%2e%2fcanary' '..%2fcanary'
    '%2E%2E%2F%2E%2E%2Fcanary' '.%2e/canary' 'lab/../../canary' 'lab/%2e%2e/%2e%2e/canary'
    '..%5ccanary' '..\\canary' '%5c..%5c..%5ccanary' 'lab%5c..%5c..%5ccanary'
    '%00' 'lab/vmlinuz%00.txt' '%00/../canary' 'lab/vmlinuz%00'
    '%c0%ae%c0%ae/canary' '%c0%ae%c0%ae%c0%afcanary' '%e0%80%ae%e0%80%ae/canary' '%25%32%65%25%32%65/canary'
    '/etc/passwd' '%2fetc%2fpasswd' '//etc/passwd' "$WORK/canary" "%2f${WORK#/}%2fcanary"
    'out-absolute' 'out-relative' 'lab/deeper/up/canary' 'root/etc/passwd' "root$WORK/canary"
    'lab//vmlinuz' './lab/vmlinuz' 'lab/./vmlinuz' '%2e/lab/vmlinuz'
    # directory URLs (listings) that would lead out of the root
    'lab/deeper/up/' 'root/' 'out-relative/' '../' '%2e%2e/' 'lab/../../'
)
# A listing inside the root is served, and names nothing a request could not open.
for dir in /assets/ /assets/lab/deeper/; do
    code=$(curl -s -o "$WORK/reply" -w '%{http_code}' "$(url "$dir")")
    expect_eq "$dir lists the directory" 200 "$code"
    grep -qE 'href="(up|root|out-absolute|out-relative)' "$WORK/reply" && fail "$dir lists a link out of the root" || pass
done
expect_contains "/assets/ lists what is inside" 'href="lab/"' "$(curl -s "$(url /assets/)")"
for p in "${asset_paths[@]}"; do
    for prefix in /assets/ /images/; do
        code=$(curl -s --path-as-is -o "$WORK/reply" -w '%{http_code}' "$(url "$prefix$p")")
        # 400 only where curl cannot send the path as a valid request line.
        if [[ $code == 404 || $code == 400 ]]; then pass; else fail "$prefix$p: status $code"; fi
        grep -q "$canary" "$WORK/reply" && fail "$prefix$p: canary served"
        grep -q "root:" "$WORK/reply" && fail "$prefix$p: /etc/passwd served"
    done
done

# Labels never name files (the data dir is read into memory at load), but try anyway.
label_values=('../../canary' '..%2f..%2fcanary' '%2e%2e%2f%2e%2e%2fcanary' "$WORK/canary" '..\\canary'
              '%00' '52:54:00:12:34:56%00../canary' '%c0%ae%c0%ae%c0%afcanary')
for v in "${label_values[@]}"; do
    for ep in /ipxe /boot.ipxe /grub /cloud /ignition /generic /metadata; do
        for key in mac uuid hostname; do
            code=$(curl -s --path-as-is -o "$WORK/reply" -w '%{http_code}' "$(url "$ep?$key=$v")")
            [[ $code == 200 || $code == 400 || $code == 404 ]] && pass || fail "$ep?$key=$v: status $code"
            grep -q "$canary" "$WORK/reply" && fail "$ep?$key=$v: canary served"
        done
    done
    code=$(curl -s --path-as-is -o "$WORK/reply" -w '%{http_code}' "$(url "/pixiecore/v1/boot/$v")")
    [[ $code == 400 || $code == 404 ]] && pass || fail "/pixiecore/v1/boot/$v: status $code"
done
# A control: a real asset request shows up in the trace as an open beneath the root.
expect_eq "control asset" "initrd" "$(body /images/lab/initrd.img)"

sleep 0.5
tail -n +"$((start_line + 1))" "$trace" >"$WORK/requests.trace"
# Every successful open while serving must be beneath the assets root (or the root itself, which
# a listing of /assets/ reads).
outside=$(grep -E '= [0-9]+<' "$WORK/requests.trace" | grep -v -E "= [0-9]+<$assets(/|>)" || true)
expect_eq "files opened outside the assets root while serving" "" "$outside"
expect_eq "canary opened" "" "$(grep -F 'canary' "$WORK/requests.trace" | grep -E '= [0-9]+<' || true)"
opens=$(grep -c -E 'open' "$WORK/requests.trace" || true)
expect_contains "control open traced" "<$assets/lab/initrd.img>" "$(cat "$WORK/requests.trace")"
echo "traversal: $(( ${#asset_paths[@]} * 2 + ${#label_values[@]} * 22 )) requests, $opens open calls traced, none outside $assets"
# SIGTERM to strace would only detach it: stop bootcfgd itself.
kill "$(pgrep -P "$PID" -x bootcfgd)"
wait "$PID" || true
finish

