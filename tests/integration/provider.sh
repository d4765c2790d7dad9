#!/usr/bin/env bash
# bootcfg run / devices against a local double of the Equinix Metal API (HTTPS with a test CA,
# tests/provider/metal_api.py) and against a real bootcfgd (the bootcfg provider): create, wait
# with progress, keep vs delete, reuse with --device, Ctrl-C while polling deletes, failed and
# timed-out devices, 429 with X-RateLimit-Reset, a 503 then success, 401, env vs flag precedence,
# HEAD checks naming the failing URL, --serve answering the script while a device "boots",
# --console through ssh, pagination, and the dead endpoint's one-line error.
BOOTCFGD=$1
BOOTCFG=$(realpath "${2:?path to bootcfg}")
source "$(dirname "$0")/lib.sh"
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)

cli() {  # $rc, $out, $err of the bootcfg binary
    rc=0
    out=$("$BOOTCFG" "$@" 2>"$WORK/cli.err") || rc=$?
    err=$(cat "$WORK/cli.err")
}
export BOOTCFG_STATE_DIR="$WORK/state"  # the device ledger of runs
unset METAL_API_TOKEN METAL_AUTH_TOKEN PACKET_API_KEY METAL_PROJECT_ID PACKET_PROJECT_ID METAL_BASE_URL \
    METAL_METRO METAL_FACILITY METAL_API_URL BOOTCFG_ENDPOINT BOOTCFG_CA_FILE

# --- the API double over HTTPS with a test CA
"$repo/scripts/tls-gen" "$WORK/tls" >/dev/null
python3 "$here/../provider/metal_api.py" --port-file "$WORK/api.port" --token secret-token-1 \
    --project proj-1 --cert "$WORK/tls/server.crt" --key "$WORK/tls/server.key" --log "$WORK/api.log" &
PIDS+=($!)
for _ in $(seq 100); do [[ -s $WORK/api.port ]] && break; sleep 0.05; done
api="https://localhost:$(cat "$WORK/api.port")/metal/v1"
control() { curl -s --cacert "$WORK/tls/ca.crt" -X POST -d "$1" "${api%/metal/v1}/_control" >/dev/null; }
api_get() { curl -s --cacert "$WORK/tls/ca.crt" -H "X-Auth-Token: secret-token-1" "$api$1"; }
count_requests() { grep -c "\"method\": \"$1\", \"path\": \"/metal/v1$2" "$WORK/api.log" || true; }

# --- what devices boot: LinuxKit-style files published by bootcfgd
lk="$WORK/lk"
mkdir -p "$lk" "$WORK/images" "$WORK/no-data"
head -c 50000 /dev/urandom | gzip -n >"$lk/lk-kernel"
head -c 50000 /dev/urandom | gzip -n >"$lk/lk-initrd.img"
echo "console=ttyS1,115200" >"$lk/lk-cmdline"
start_bootcfgd files -data-path="$WORK/no-data" -assets-path="$WORK/images"
FILES_PORT=$PORT
base="http://127.0.0.1:$FILES_PORT/assets/lk"
"$BOOTCFG" push equinixmetal lk --dir "$lk" --base-url "$base" --destination "$WORK/images/lk" >/dev/null

common=(--api-url "$api" --ca-file "$WORK/tls/ca.crt" --project-id proj-1 --metro am --poll 1s)

# --- create, wait with progress, keep; then list and delete
cli run equinixmetal lk --base-url "$base" --api-key secret-token-1 "${common[@]}" --keep --console=false
expect_eq "run --keep exit" "0" "$rc"
id=$(sed -n 's/^created device \([^ ]*\) .*/\1/p' <<<"$out")
expect_contains "created, then active" "device $id is active" "$out"
expect_contains "progress shows state and percentage" "provisioning 66%" "$err"
expect_contains "kept: how to reach it" "kept device $id at 198.51.100." "$out"
expect_contains "kept: the SOS console" "ssh $id@sos.am6.platformequinix.com" "$out"
create=$(grep '"method": "POST", "path": "/metal/v1/projects/proj-1/devices"' "$WORK/api.log" | tail -1)
expect_contains "create: metro, not facility" '"metro": "am"' "$create"
expect_eq "create: never facility" "" "$(grep -o '"facility"' <<<"$create" || true)"
expect_contains "create: custom_ipxe" '"operating_system": "custom_ipxe"' "$create"
expect_contains "create: the script URL" "\"ipxe_script_url\": \"$base/lk-equinixmetal.ipxe\"" "$create"
expect_contains "create: hourly" '"billing_cycle": "hourly"' "$create"
expect_contains "the device fetched its script (the double boots it)" "\"state\": \"active\"" "$(api_get "/devices/$id")"
cli devices list --provider equinixmetal --api-key secret-token-1 "${common[@]}"
expect_contains "devices list shows it" "$id" "$out"
cli devices delete "$id" --provider equinixmetal --api-key secret-token-1 "${common[@]}"
expect_eq "devices delete exit" "0" "$rc"
expect_contains "devices delete: gone" "Not found" "$(api_get "/devices/$id")"

# --- without --keep: active, then Ctrl-C ends the run and deletes the device
"$BOOTCFG" run equinixmetal lk --base-url "$base" --api-key secret-token-1 "${common[@]}" --console=false \
    >"$WORK/run.out" 2>"$WORK/run.err" &
run_pid=$!
for _ in $(seq 200); do grep -q "is active" "$WORK/run.out" && break; sleep 0.05; done
kill -INT $run_pid
rc=0; wait $run_pid || rc=$?
id=$(sed -n 's/^created device \([^ ]*\) .*/\1/p' "$WORK/run.out")
expect_eq "Ctrl-C after active: exit 0" "0" "$rc"
expect_contains "Ctrl-C after active: deleted" "deleted device $id" "$(cat "$WORK/run.out")"
expect_contains "the API no longer has it" "Not found" "$(api_get "/devices/$id")"

# --- Ctrl-C while polling deletes the device
"$BOOTCFG" run equinixmetal lk --base-url "$base" --api-key secret-token-1 "${common[@]}" --poll 30s --console=false \
    >"$WORK/run.out" 2>"$WORK/run.err" &
run_pid=$!
for _ in $(seq 200); do grep -q "created device" "$WORK/run.out" && break; sleep 0.05; done
sleep 0.3
kill -INT $run_pid
rc=0; wait $run_pid || rc=$?
id=$(sed -n 's/^created device \([^ ]*\) .*/\1/p' "$WORK/run.out")
expect_eq "Ctrl-C while polling: exit 130" "130" "$rc"
expect_contains "Ctrl-C while polling: deleted" "deleted device $id (interrupted)" "$(cat "$WORK/run.out")"
expect_contains "Ctrl-C while polling: gone from the API" "Not found" "$(api_get "/devices/$id")"

# --- a device that fails, one that takes too long
cli run equinixmetal lk --base-url "$base" --api-key secret-token-1 "${common[@]}" --hostname fail-1 --console=false
expect_eq "failed device: exit 1" "1" "$rc"
expect_contains "failed device: says so" "failed to provision" "$err"
expect_contains "failed device: deleted" "deleted device" "$out"
cli run equinixmetal lk --base-url "$base" --api-key secret-token-1 "${common[@]}" --poll 2s --wait 1s --console=false
expect_eq "--wait runs out: exit 1" "1" "$rc"
expect_contains "--wait runs out: names the state" "after the --wait time" "$err"

# --- rate limits and server errors are retried; 401 and 404 are not
control '{"fail_next": [{"status": 429, "reset_in": 2, "match": "POST /metal/v1/projects", "body": {"errors": ["rate limited"]}}]}'
start=$(date +%s)
cli run equinixmetal lk --base-url "$base" --api-key secret-token-1 "${common[@]}" --keep --console=false
expect_eq "429 then success: exit 0" "0" "$rc"
expect_contains "429: waits for X-RateLimit-Reset" "HTTP 429: rate limited; retrying in" "$err"
if (( $(date +%s) - start >= 1 )); then pass; else fail "429: did not wait for the reset time"; fi
id=$(sed -n 's/^created device \([^ ]*\) .*/\1/p' <<<"$out")
control '{"fail_next": [{"status": 503, "match": "GET /metal/v1/devices", "body": {"error": "upstream unavailable"}}]}'
cli run equinixmetal lk --base-url "$base" --api-key secret-token-1 "${common[@]}" --device "$id" --keep --console=false
expect_eq "503 then success: exit 0" "0" "$rc"
expect_contains "503: retried with the message" "HTTP 503: upstream unavailable; retrying" "$err"
expect_contains "--device: reused" "reusing device $id" "$out"
expect_eq "--device: PUT the script URL" "1" "$(count_requests PUT "/devices/$id")"
expect_eq "--device: rebooted" "1" "$(count_requests POST "/devices/$id/actions")"
control '{"fail_next": [{"status": 422, "match": "POST /metal/v1/projects", "body": {"errors": ["facility is deprecated; use metro"]}}]}'
posts_before=$(count_requests POST /projects)
cli run equinixmetal lk --base-url "$base" --api-key secret-token-1 "${common[@]}" --console=false
expect_eq "422: exit 1" "1" "$rc"
expect_contains "422: the API's errors" "HTTP 422: facility is deprecated; use metro" "$err"
expect_eq "422: not retried" "$((posts_before + 1))" "$(count_requests POST /projects)"
cli run equinixmetal lk --base-url "$base" --api-key wrong-token "${common[@]}" --keep --console=false
expect_eq "401: exit 1" "1" "$rc"
expect_contains "401: the API's message" "HTTP 401: Invalid authentication token" "$err"
cli run equinixmetal lk --base-url "$base" --api-key secret-token-1 "${common[@]}" --device no-such-device --console=false
expect_contains "404 for --device: the API's message" "HTTP 404: Not found" "$err"

# --- a create whose answer is lost (connection closed, or a 503 after the device was made):
# found by its run tag, never created twice
api_count() { python3 -c 'import json,sys; print(json.load(sys.stdin)["meta"]["total"])' <<<"$(api_get "/projects/proj-1/devices?per_page=1")"; }
for fault in '{"status": 0, "after": true' '{"status": 503, "after": true, "body": {"error": "gateway timeout"}'; do
    control "{\"fail_next\": [$fault, \"match\": \"POST /metal/v1/projects\"}]}"
    before=$(api_count)
    posts_before=$(count_requests POST /projects)
    cli run equinixmetal lk --base-url "$base" --api-key secret-token-1 "${common[@]}" --keep --console=false
    expect_eq "lost create answer ($fault): exit 0 ($err)" "0" "$rc"
    expect_contains "lost create answer: looked for the tag" "looking for a device tagged bootcfg-run-" "$err"
    expect_eq "lost create answer: one POST" "$((posts_before + 1))" "$(count_requests POST /projects)"
    expect_eq "lost create answer: one device more" "$((before + 1))" "$(api_count)"
    id=$(sed -n 's/^created device \([^ ]*\) .*/\1/p' <<<"$out")
    expect_contains "lost create answer: the device found is the tagged one" "bootcfg-run-" "$(api_get "/devices/$id")"
done
expect_eq "kept devices leave the ledger" '[]' "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["devices"])' "$WORK/state/devices.json")"

# --- a run killed while polling (kill -9: no cleanup) or before the create answered: the ledger
# keeps the device, and devices delete --orphans removes it
"$BOOTCFG" run equinixmetal lk --base-url "$base" --api-key secret-token-1 "${common[@]}" --poll 30s --console=false \
    >"$WORK/run.out" 2>"$WORK/run.err" &
run_pid=$!
for _ in $(seq 200); do grep -q "created device" "$WORK/run.out" && break; sleep 0.05; done
kill -9 $run_pid; wait $run_pid 2>/dev/null || true
killed_id=$(sed -n 's/^created device \([^ ]*\) .*/\1/p' "$WORK/run.out")
expect_contains "kill -9: the ledger has the device" "\"id\": \"$killed_id\"" "$(cat "$WORK/state/devices.json")"
tagged_ids() {
    api_get "/projects/proj-1/devices?per_page=100&page=1" | python3 -c 'import json,sys
print("\n".join(sorted(d["id"] for d in json.load(sys.stdin)["devices"] if any(t.startswith("bootcfg-run-") for t in d.get("tags", [])))))'
}
tagged_before=$(tagged_ids)
control '{"fail_next": [{"status": 0, "after": true, "delay": 30, "match": "POST /metal/v1/projects"}]}'
before=$(api_count)
"$BOOTCFG" run equinixmetal lk --base-url "$base" --api-key secret-token-1 "${common[@]}" --console=false \
    >"$WORK/run.out" 2>"$WORK/run.err" &
run_pid=$!
for _ in $(seq 200); do [[ $(api_count) -gt $before ]] && break; sleep 0.05; done
kill -9 $run_pid; wait $run_pid 2>/dev/null || true
pending_id=$(comm -13 <(echo "$tagged_before") <(tagged_ids) | grep -v "^$killed_id$")
expect_eq "killed before the create answered: one device made" "1" "$(wc -w <<<"$pending_id")"
cli devices delete --orphans --provider equinixmetal --api-key secret-token-1 "${common[@]}"
expect_eq "--orphans: exit 0 ($err)" "0" "$rc"
expect_contains "--orphans: the killed run's device" "deleted device $killed_id" "$out"
expect_contains "kill -9 while polling: gone from the API" "Not found" "$(api_get "/devices/$killed_id")"
expect_eq "--orphans: two devices" "2" "$(grep -c '^deleted device' <<<"$out")"
expect_contains "killed before the create answered: found by its tag" "deleted device $pending_id" "$out"
expect_contains "killed before the create answered: gone from the API" "Not found" "$(api_get "/devices/$pending_id")"
expect_eq "--orphans: the ledger is empty" '[]' "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["devices"])' "$WORK/state/devices.json")"

# --- env and flag precedence
for var in METAL_API_TOKEN METAL_AUTH_TOKEN PACKET_API_KEY; do
    rc=0
    env "$var=secret-token-1" "$BOOTCFG" devices list --provider packet "${common[@]}" >/dev/null 2>"$WORK/cli.err" || rc=$?
    expect_eq "token from $var" "0" "$rc"
done
rc=0
env METAL_API_TOKEN=wrong-token "$BOOTCFG" devices list --provider packet --api-key secret-token-1 "${common[@]}" >/dev/null 2>&1 || rc=$?
expect_eq "--api-key beats METAL_API_TOKEN" "0" "$rc"
rc=0
env METAL_PROJECT_ID=proj-1 "$BOOTCFG" devices list --provider packet --api-key secret-token-1 --project-id nope \
    --api-url "$api" --ca-file "$WORK/tls/ca.crt" >/dev/null 2>"$WORK/cli.err" || rc=$?
expect_eq "--project-id beats METAL_PROJECT_ID" "1" "$rc"
rc=0
env PACKET_PROJECT_ID=proj-1 METAL_BASE_URL="$base" METAL_API_TOKEN=secret-token-1 "$BOOTCFG" run packet lk \
    --api-url "$api" --ca-file "$WORK/tls/ca.crt" --metro am --poll 1s --keep --console=false >"$WORK/run.out" 2>&1 || rc=$?
expect_eq "everything from the environment (PACKET_PROJECT_ID, METAL_BASE_URL)" "0" "$rc"

# --- pagination: 230 devices over pages of 100
control '{"seed": 230}'
cli devices list --provider equinixmetal --api-key secret-token-1 "${common[@]}"
total=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["meta"]["total"])' <<<"$(api_get "/projects/proj-1/devices?per_page=1")")
expect_eq "devices list reads every page" "$((total + 1))" "$(wc -l <<<"$out")"
control '{"pages": 1500}'
lists_before=$(count_requests GET '/projects/proj-1/devices?page=')
cli devices list --provider equinixmetal --api-key secret-token-1 "${common[@]}"
control '{"pages": 0}'
expect_eq "more than 100,000 devices: exit 1" "1" "$rc"
expect_contains "more than 100,000 devices: says the list stopped" "stopped at the limit of 1000 pages (1000 devices listed)" "$err"
expect_eq "more than 100,000 devices: 1,000 pages read, no more" "1000" "$(( $(count_requests GET '/projects/proj-1/devices?page=') - lists_before ))"

# --- HEAD checks: a missing file stops the run before any device exists
posts_before=$(count_requests POST /projects)
cli run equinixmetal missing --base-url "$base" --api-key secret-token-1 "${common[@]}" --console=false
expect_eq "missing file: exit 1" "1" "$rc"
expect_contains "missing file: names the URL" "$base/missing-equinixmetal.ipxe: HTTP 404" "$err"
expect_eq "missing file: no device created" "$posts_before" "$(count_requests POST /projects)"

# --- TLS: without the test CA the API's certificate is refused
cli devices list --provider equinixmetal --api-key secret-token-1 --api-url "$api" --project-id proj-1
expect_eq "unknown CA: exit 1" "1" "$rc"
expect_contains "unknown CA: certificate verify failed" "certificate verify failed" "$err"

# --- --serve: the embedded bootcfgd answers the script, kernel and initrd while the device boots
serve_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cp "$lk"/lk-* "$WORK/"
"$BOOTCFG" run equinixmetal lk --dir "$WORK" --serve "127.0.0.1:$serve_port" --base-url "http://127.0.0.1:$serve_port/assets" \
    --api-key secret-token-1 "${common[@]}" --console=false --wait 20s >"$WORK/run.out" 2>"$WORK/run.err" &
run_pid=$!
for _ in $(seq 300); do grep -q "is active" "$WORK/run.out" && break; sleep 0.05; done
expect_contains "--serve: the device booted from the embedded server" "is active" "$(cat "$WORK/run.out")"
expect_eq "--serve: the script" "200" "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$serve_port/assets/lk-equinixmetal.ipxe")"
expect_contains "--serve: LinuxKit's x86_64 script for the plan" 'kernel ${base-url}/lk-kernel ${kernel-params}' \
    "$(curl -s "http://127.0.0.1:$serve_port/assets/lk-equinixmetal.ipxe")"
expect_eq "--serve: nothing else of the dir" "404" "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$serve_port/assets/lk-cmdline")"
kill -INT $run_pid; wait $run_pid || true
expect_eq "--serve: the hidden serving dir is gone" "" "$(ls -A "$WORK" | grep bootcfg-serve || true)"
expect_eq "--serve: the generated script is not left in --dir" "" "$(ls "$WORK"/lk-equinixmetal.ipxe 2>/dev/null || true)"
expect_eq "--serve: the originals stay" "3" "$(ls "$WORK"/lk-kernel "$WORK"/lk-initrd.img "$WORK"/lk-cmdline | wc -l)"

# --- --console runs ssh to the SOS host; the end of the session ends the run
mkdir -p "$WORK/bin"
printf '#!/bin/sh\necho "$@" >"%s/ssh.args"\n' "$WORK" >"$WORK/bin/ssh"
chmod +x "$WORK/bin/ssh"
rc=0
PATH="$WORK/bin:$PATH" "$BOOTCFG" run equinixmetal lk --base-url "$base" --api-key secret-token-1 "${common[@]}" \
    >"$WORK/run.out" 2>"$WORK/run.err" || rc=$?
id=$(sed -n 's/^created device \([^ ]*\) .*/\1/p' "$WORK/run.out")
expect_eq "--console: exit 0" "0" "$rc"
expect_eq "--console: ssh DEVICE@sos.FACILITY.platformequinix.com" "$id@sos.am6.platformequinix.com" "$(cat "$WORK/ssh.args" 2>/dev/null)"
expect_contains "--console: then deleted" "deleted device $id" "$(cat "$WORK/run.out")"

# --- the real endpoint is gone: one clear line (in a namespace with no network, nothing is sent)
if ip netns add "bootcfg-prov-$$" 2>/dev/null; then
    rc=0
    ip netns exec "bootcfg-prov-$$" env METAL_API_TOKEN=x "$BOOTCFG" devices list --provider equinixmetal \
        --project-id p >/dev/null 2>"$WORK/cli.err" || rc=$?
    ip netns delete "bootcfg-prov-$$"
    expect_eq "dead endpoint: exit 1" "1" "$rc"
    expect_contains "dead endpoint: says the service is gone" "Equinix Metal was shut down on 2026-06-30" "$(cat "$WORK/cli.err")"
    expect_eq "dead endpoint: one line" "1" "$(grep -vc '^note:' "$WORK/cli.err")"
fi

# --- the bootcfg provider: a group in a live bootcfgd
data="$WORK/data"
mkdir -p "$data"
"$BOOTCFG" push lk --dir "$lk" --assets-path "$WORK/images" --data-path "$data" >/dev/null
sock="$WORK/admin.sock"
start_bootcfgd rack -data-path="$data" -assets-path="$WORK/images" -admin-address="unix:$sock"
cli run bootcfg lk --mac 52:54:00:ab:cd:ef --endpoint "unix:$sock" --keep
expect_eq "bootcfg provider: exit 0" "0" "$rc"
expect_contains "bootcfg provider: registered" "kept group lk-52-54-00-ab-cd-ef" "$out"
expect_contains "the machine now gets the pushed profile" "kernel /assets/lk/lk-kernel" "$(body "/ipxe?mac=52:54:00:ab:cd:ef")"
cli devices list --provider bootcfg --endpoint "unix:$sock"
expect_contains "devices list --provider bootcfg" "lk-52-54-00-ab-cd-ef" "$out"
cli devices delete lk-52-54-00-ab-cd-ef --provider bootcfg --endpoint "unix:$sock"
expect_eq "bootcfg provider: delete" "0" "$rc"
expect_eq "the machine falls back to no profile" "404" "$(status "/ipxe?mac=52:54:00:ab:cd:ef")"
cli run bootcfg nothing-pushed --mac 52:54:00:ab:cd:ef --endpoint "unix:$sock" --keep
expect_contains "bootcfg provider: a profile that is not there" "has no profile 'nothing-pushed'" "$err"
finish
