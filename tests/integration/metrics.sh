#!/usr/bin/env bash
# /metrics: every figure checked against the requests that made it, parsed by Prometheus' own
# Python client; on its own listener and on the admin listener (its credentials); bad flags.
# Usage: metrics.sh BOOTCFGD
BOOTCFGD=$1
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"

data="$WORK/data" assets="$WORK/assets"
mkdir -p "$data/profiles" "$data/groups" "$assets"
echo '{"id": "node", "boot": {"kernel": "/assets/kernel"}}' >"$data/profiles/node.json"
M1=52:54:00:aa:00:01 M2=52:54:00:aa:00:02
echo "{\"id\": \"node1\", \"profile\": \"node\", \"selector\": {\"mac\": \"$M1\"}}" >"$data/groups/node1.json"
head -c 10000 /dev/urandom >"$assets/kernel"

start_bootcfgd main -data-path="$data" -assets-path="$assets" -metrics-address=127.0.0.1:0
MPORT=$(grep -o 'metrics: serving http://127.0.0.1:[0-9]*' "$LOG" | grep -o '[0-9]*$')
expect_contains "the metrics listener is logged" "metrics: serving http://127.0.0.1:" "$(cat "$LOG")"
scrape() { /usr/bin/python3 "$here/metrics_scrape.py" "http://127.0.0.1:$MPORT/metrics"; }
# metric NAME{LABELS}: its value in a fresh scrape ("" when absent).
metric() { scrape | awk -v k="$1" '$1 == k {print $2}'; }
# eventually NAME{LABELS} VALUE: within 3 s (the inventory writes once a second).
eventually() {
    local got=""
    for _ in $(seq 60); do
        got=$(metric "$1")
        [[ $got == "$2" ]] && break
        sleep 0.05
    done
    expect_eq "$1" "$2" "$got"
}

out=$(scrape) && pass || fail "the first scrape parses: $out"
expect_contains "build info" 'bootcfg_build_info{version="' "$out"
expect_contains "store objects" 'bootcfg_store_objects{kind="groups"} 1' "$out"

for _ in 1 2 3; do curl -s -o /dev/null "$(url "/ipxe?mac=$M1")"; done
curl -s -o /dev/null "$(url "/ipxe?mac=$M2")"  # no group, no default: 404
curl -s -o /dev/null "$(url "/ipxe?mac=nonsense")"
curl -s -o /dev/null "$(url /nothing)"
curl -s -o /dev/null "$(url /assets/kernel)"
curl -s -o /dev/null "$(url /assets/kernel)"
curl -s -o /dev/null -H 'Range: bytes=0-99' "$(url /assets/kernel)"
curl -s -o /dev/null -I "$(url /assets/kernel)"  # HEAD: no body bytes
out=$(scrape)
expect_contains "/ipxe 200s" 'bootcfg_requests_total{code="200",endpoint="ipxe"} 3' "$out"
expect_contains "/ipxe 404 (nothing matched)" 'bootcfg_requests_total{code="404",endpoint="ipxe"} 1' "$out"
expect_contains "/ipxe 400 (bad MAC)" 'bootcfg_requests_total{code="400",endpoint="ipxe"} 1' "$out"
expect_contains "an unknown path" 'bootcfg_requests_total{code="404",endpoint="other"} 1' "$out"
expect_contains "assets 200" 'bootcfg_requests_total{code="200",endpoint="assets"} 3' "$out"
expect_contains "assets 206" 'bootcfg_requests_total{code="206",endpoint="assets"} 1' "$out"
expect_contains "latency: every /ipxe request observed" 'bootcfg_request_duration_seconds_count{endpoint="ipxe"} 5' "$out"
expect_contains "latency: +Inf bucket" 'bootcfg_request_duration_seconds_bucket{endpoint="ipxe",le="+Inf"} 5' "$out"
expect_contains "match: a group" 'bootcfg_match_total{outcome="group"} 3' "$out"
expect_contains "match: none" 'bootcfg_match_total{outcome="none"} 1' "$out"
expect_contains "match: no default yet" 'bootcfg_match_total{outcome="default"} 0' "$out"
expect_contains "asset bytes: two whole files and a 100-byte range" 'bootcfg_asset_bytes_sent_total{} 20100' "$out"
eventually 'bootcfg_machines{state="provisioning"}' 1
eventually 'bootcfg_machines{state="discovered"}' 1
expect_eq "nothing dropped" 0 "$(metric 'bootcfg_inventory_dropped_total{}')"

# A default group arrives (the watcher reloads): M2 gets it; a broken file is a problem.
snapshots=$(metric 'bootcfg_store_snapshots_total{}')
echo '{"id": "default", "profile": "node"}' >"$data/groups/default.json"
for _ in $(seq 60); do [[ $(curl -s -o /dev/null -w '%{http_code}' "$(url "/ipxe?mac=$M2")") == 200 ]] && break; sleep 0.05; done
eventually 'bootcfg_match_total{outcome="default"}' 1
echo '{"id": "broken", "profile": ' >"$data/groups/broken.json"
eventually 'bootcfg_store_problems{}' 1
after=$(metric 'bootcfg_store_snapshots_total{}')
[[ $after -gt $snapshots ]] && pass || fail "snapshots counted: $snapshots then $after"
expect_eq "store reachable (a directory)" 1 "$(metric 'bootcfg_store_reachable{}')"
kill "$PID"

# On the admin listener: its credentials apply; no listener of its own.
echo "prom 0123456789abcdef0123456789abcdef" >"$WORK/tokens"
start_bootcfgd admin -data-path="$data" -assets-path= -admin-address=127.0.0.1:0 \
    -admin-token-file="$WORK/tokens" -metrics-address=127.0.0.1:0
APORT=$(grep -o 'admin API listening on 127.0.0.1:[0-9]*' "$LOG" | grep -o '[0-9]*$')
expect_contains "served on the admin listener" "metrics: /metrics on the admin listener 127.0.0.1:0" "$(cat "$LOG")"
expect_eq "no listener of its own" "" "$(grep -o 'metrics: serving' "$LOG" || true)"
expect_eq "admin /metrics without a token" 401 "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$APORT/metrics")"
out=$(/usr/bin/python3 "$here/metrics_scrape.py" "http://127.0.0.1:$APORT/metrics" 0123456789abcdef0123456789abcdef) \
    && pass || fail "admin /metrics with the token parses: $out"
expect_contains "admin /metrics: the same figures" 'bootcfg_store_objects{kind="groups"}' "$out"
kill "$PID"

# Bad settings: one line naming the flag.
rc=0
err=$("$BOOTCFGD" -address=127.0.0.1:0 -data-path="$data" -metrics-address=nonsense 2>&1) || rc=$?
expect_eq "a malformed -metrics-address is a usage error" 2 "$rc"
expect_contains "and names the flag" "-metrics-address" "$err"
start_bootcfgd holder -data-path="$data" -assets-path=
rc=0
err=$("$BOOTCFGD" -address=127.0.0.1:0 -data-path="$data" -assets-path= -state-path= \
    -metrics-address="127.0.0.1:$PORT" 2>&1) || rc=$?
expect_eq "a taken -metrics-address ends start-up" 1 "$rc"
expect_contains "naming the flag" "-metrics-address 127.0.0.1:$PORT: cannot listen" "$err"
finish
