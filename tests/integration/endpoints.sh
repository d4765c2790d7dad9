#!/usr/bin/env bash
# Every machine endpoint, status code and error path of bootcfgd, over real HTTP.
BOOTCFGD=$1
source "$(dirname "$0")/lib.sh"

data="$WORK/data"
assets="$WORK/assets"
mkdir -p "$data/boot/mac" "$data/boot/uuid" "$data/cloud/uuid" "$assets/lab" "$WORK/outside"
cat >"$data/boot/default" <<'JSON'
{"kernel": "/images/lab/vmlinuz", "initrd": ["/images/lab/initrd.img"],
 "cmdline": {"console": "ttyS0", "bootcfg.config": "default"}}
JSON
cat >"$data/boot/mac/52-54-00-AA-BB-CC" <<'JSON'
{"kernel": "/images/lab/vmlinuz", "initrd": ["/images/lab/initrd.img", "/images/lab/extra.img"],
 "cmdline": {"console": "ttyS0", "bootcfg.config": "node1", "quiet": "",
             "cloud-config-url": "http://bootcfg:8080/cloud?uuid=${uuid}&mac=${mac:hexhyp}"}}
JSON
cat >"$data/boot/uuid/1cff2cd8-f00a-42c8-9426-f55e6a1847f6" <<'JSON'
{"kernel": "/images/lab/vmlinuz", "cmdline": {"bootcfg.config": "by-uuid"}}
JSON
echo '{"kernel": "/broken"' >"$data/boot/mac/52:54:00:00:00:99"
printf '#cloud-config\nhostname: default\n' >"$data/cloud/default"
printf '#cloud-config\nhostname: by-uuid\n' >"$data/cloud/uuid/1CFF2CD8-F00A-42C8-9426-F55E6A1847F6"
head -c 3000000 /dev/urandom >"$assets/lab/vmlinuz"
truncate -s 256M "$assets/lab/big.img"  # sparse: larger than socket buffers, cheap to make
printf 'initrd' >"$assets/lab/initrd.img"
echo "canary-outside-the-root" >"$WORK/outside/secret"
ln -s "$WORK/outside/secret" "$assets/lab/escape"
ln -s ../../outside "$assets/lab/up"

start_bootcfgd main -data-path="$data" -assets-path="$assets"
MAIN_LOG=$LOG

# --- the broken data file is reported with its path, everything else served
expect_log "broken file logged" "data: $data/boot/mac/52:54:00:00:00:99:2: invalid JSON: "

# --- / and /healthz
expect_eq "banner" "bootcfg" "$(body /)"
expect_eq "healthz" "ok" "$(body /healthz)"

# --- /boot.ipxe
chain='#!ipxe
chain ipxe?uuid=${uuid}&mac=${mac:hexhyp}&domain=${domain}&hostname=${hostname}&serial=${serial}&arch=${buildarch:uristring}'
expect_eq "boot.ipxe" "$chain" "$(body /boot.ipxe)"
expect_eq "boot.ipxe.0" "$chain" "$(body /boot.ipxe.0)"
expect_eq "boot.ipxe ends in newline" "0a" "$(body /boot.ipxe | tail -c1 | od -An -tx1 | tr -d ' ')"

# --- /ipxe, as iPXE sends it
q='uuid=00000000-0000-0000-0000-000000000000&mac=52-54-00-aa-bb-cc&domain=&hostname=&serial=&arch=i386'
expect_eq "ipxe by mac" '#!ipxe
kernel /images/lab/vmlinuz bootcfg.config=node1 cloud-config-url=http://bootcfg:8080/cloud?uuid=${uuid}&mac=${mac:hexhyp} console=ttyS0 quiet initrd=initrd.img initrd=extra.img
initrd --name initrd.img /images/lab/initrd.img
initrd --name extra.img /images/lab/extra.img
boot' "$(body "/ipxe?$q")"
expect_log "access log names the selection" "GET /ipxe?$q 200"
expect_log "access log selected=" "selected=bootcfg:mac/52:54:00:aa:bb:cc"
expect_eq "ipxe uuid wins over mac" '#!ipxe
kernel /images/lab/vmlinuz bootcfg.config=by-uuid
boot' "$(body "/ipxe?uuid=1CFF2CD8-F00A-42C8-9426-F55E6A1847F6&mac=52:54:00:aa:bb:cc")"
expect_eq "ipxe default" '#!ipxe
kernel /images/lab/vmlinuz bootcfg.config=default console=ttyS0 initrd=initrd.img
initrd --name initrd.img /images/lab/initrd.img
boot' "$(body "/ipxe?mac=52:54:00:00:00:01")"
expect_eq "broken machine file: default, not a crash" "200" "$(status "/ipxe?mac=52:54:00:00:00:99")"
expect_eq "malformed mac 400" "400" "$(status "/ipxe?mac=52-54-00")"
expect_eq "malformed mac reason" "malformed mac '52-54-00'" "$(body "/ipxe?mac=52-54-00")"
expect_log "the access log says why a request was refused" "GET /ipxe?mac=52-54-00 400 "
expect_log "the access log's reason" "reason=\"malformed mac '52-54-00'\""
expect_eq "ipxe content type" "text/plain; charset=utf-8" \
    "$(curl -s -o /dev/null -w '%{content_type}' "$(url /ipxe?mac=52:54:00:aa:bb:cc)")"

# --- /pixiecore/v1/boot/<mac>
expect_eq "pixiecore" '{"kernel":"/images/lab/vmlinuz","initrd":["/images/lab/initrd.img","/images/lab/extra.img"],"cmdline":"bootcfg.config=node1 cloud-config-url=http://bootcfg:8080/cloud?uuid=${uuid}&mac=${mac:hexhyp} console=ttyS0 quiet"}' \
    "$(body /pixiecore/v1/boot/52:54:00:aa:bb:cc)"
expect_eq "pixiecore content type" "application/json" \
    "$(curl -s -o /dev/null -w '%{content_type}' "$(url /pixiecore/v1/boot/52:54:00:aa:bb:cc)")"
expect_eq "pixiecore bad mac" "400" "$(status /pixiecore/v1/boot/not-a-mac)"

# --- /cloud
expect_eq "cloud by uuid" $'#cloud-config\nhostname: by-uuid' \
    "$(body "/cloud?uuid=1cff2cd8-f00a-42c8-9426-f55e6a1847f6&mac=52:54:00:aa:bb:cc")"
expect_eq "cloud falls back to default" $'#cloud-config\nhostname: default' \
    "$(body "/cloud?mac=52:54:00:aa:bb:cc")"

# --- unknown endpoint, methods
expect_eq "unknown endpoint" "404" "$(status /nope)"
expect_eq "POST refused" "405" "$(status /ipxe -X POST)"
expect_contains "Allow header" "Allow: GET, HEAD" "$(curl -s -i -X DELETE "$(url /ipxe)")"
head_out=$(curl -s -I "$(url /ipxe?mac=52:54:00:aa:bb:cc)")
get_len=$(body "/ipxe?mac=52:54:00:aa:bb:cc" | wc -c)
expect_contains "HEAD keeps Content-Length" "Content-Length: $get_len" "$head_out"

# --- limits: long targets 414, big headers 431, bodies 413, garbage 400
long=$(head -c 9000 /dev/zero | tr '\0' a)
expect_eq "target over the limit" "414" "$(status "/ipxe?x=$long")"
huge=$(head -c 40000 /dev/zero | tr '\0' a)
expect_eq "very long target" "414" "$(status "/ipxe?x=$huge")"
expect_eq "big header" "431" "$(status /healthz -H "X-Big: $huge")"
expect_eq "body refused" "413" "$(status /healthz -X GET --data-binary hello)"
expect_contains "garbage request" "HTTP/1.1 400 Bad Request" "$(raw 'NOT HTTP AT ALL\r\n\r\n')"
pipelined=$(raw 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /boot.ipxe HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
expect_contains "pipelined: first answered" "ok" "$pipelined"
expect_eq "pipelined: both answered in order" "2" "$(grep -c '^HTTP/1.1 200' <<<"$pipelined")"

# --- HTTP/1.0: answered in kind; closed unless the client asks for keep-alive
http10=$(raw 'GET /healthz HTTP/1.0\r\n\r\n')
expect_contains "HTTP/1.0 status line" "HTTP/1.0 200 OK" "$http10"
expect_contains "HTTP/1.0 body, then close" $'\r\n\r\nok' "$http10"
http10ka=$(curl -s -0 -v -H 'Connection: keep-alive' -o /dev/null -o /dev/null "$(url /healthz)" "$(url /healthz)" 2>&1)
expect_contains "HTTP/1.0 keep-alive honoured" "Connection: keep-alive" "$http10ka"
expect_contains "HTTP/1.0 keep-alive reuses the connection" "Re-using existing connection" "$http10ka"

# --- keep-alive: several requests on one connection

reuse=$(curl -s -v -o /dev/null -o /dev/null "$(url /healthz)" "$(url /boot.ipxe)" 2>&1)
expect_contains "keep-alive reuse" "Re-using existing connection" "$reuse"

# --- assets
expect_eq "asset GET" "3000000" "$(curl -s "$(url /assets/lab/vmlinuz)" | wc -c)"
expect_eq "asset bytes" "$(sha256sum <"$assets/lab/vmlinuz")" "$(curl -s "$(url /images/lab/vmlinuz)" | sha256sum)"
hdrs=$(curl -s -I "$(url /assets/lab/vmlinuz)")
expect_contains "asset Content-Length" "Content-Length: 3000000" "$hdrs"
expect_contains "asset Last-Modified" "Last-Modified: " "$hdrs"
expect_contains "asset Accept-Ranges" "Accept-Ranges: bytes" "$hdrs"
etag=$(grep -i '^ETag:' <<<"$hdrs" | cut -d' ' -f2 | tr -d '\r')
lastmod=$(grep -i '^Last-Modified:' <<<"$hdrs" | cut -d' ' -f2- | tr -d '\r')
expect_eq "If-None-Match 304" "304" "$(status /assets/lab/vmlinuz -H "If-None-Match: $etag")"
expect_eq "If-Modified-Since 304" "304" "$(status /assets/lab/vmlinuz -H "If-Modified-Since: $lastmod")"
expect_eq "stale If-None-Match 200" "200" "$(status /assets/lab/vmlinuz -H 'If-None-Match: "x"')"
expect_eq "range 206" "206" "$(status /assets/lab/vmlinuz -r 100-199)"
expect_eq "range bytes" "$(tail -c +101 "$assets/lab/vmlinuz" | head -c 100 | sha256sum)" \
    "$(curl -s -r 100-199 "$(url /assets/lab/vmlinuz)" | sha256sum)"
expect_contains "Content-Range" "Content-Range: bytes 100-199/3000000" "$(curl -s -i -r 100-199 "$(url /assets/lab/vmlinuz)" | head -20)"
expect_eq "suffix range" "$(tail -c 10 "$assets/lab/vmlinuz" | sha256sum)" "$(curl -s -r -10 "$(url /assets/lab/vmlinuz)" | sha256sum)"
expect_eq "unsatisfiable 416" "416" "$(status /assets/lab/vmlinuz -r 5000000-)"
expect_contains "416 Content-Range" "Content-Range: bytes */3000000" "$(curl -s -i -r 5000000- "$(url /assets/lab/vmlinuz)")"
expect_eq "HEAD asset has no body" "0" "$(curl -s -I "$(url /assets/lab/vmlinuz)" | sed '1,/^\r$/d' | wc -c)"
expect_eq "asset after HEAD on same connection" "200" "$(curl -s -o /dev/null -w '%{http_code}' -I "$(url /assets/lab/vmlinuz)" -o /dev/null -w '%{http_code}' "$(url /healthz)" | tail -c 3)"
# A client that disconnects mid-file does not disturb the server.
curl -s --max-time 0.3 --limit-rate 1M -o /dev/null "$(url /assets/lab/big.img)" || true
sleep 0.2
expect_eq "still serving after aborted download" "ok" "$(body /healthz)"
expect_log "aborted download logged" "(aborted)"

# --- path traversal: nothing outside the assets root, ever
for p in '/assets/../boot/default' '/assets/%2e%2e/outside/secret' '/assets/lab/..%2f..%2foutside%2fsecret' \
         '/assets/%2e%2e%2f%2e%2e%2foutside/secret' '/assets/lab/escape' '/assets/lab/up/secret' \
         '/assets/lab\..\..\outside\secret' '/assets/lab/vmlinuz%00.txt' '/assets//etc/passwd' \
         '/assets/%2fetc%2fpasswd' '/assets/%c0%ae%c0%ae/outside/secret' '/images/../../../../etc/passwd' \
         '/assets/lab' '/assets/%2e%2e/' '/assets/lab/up/' '/assets/lab/escape/' '/assets/lab/vmlinuz/' \
         '/images/../'; do
    out=$(curl -s --path-as-is -w ' %{http_code}' "$(url "$p")")
    expect_eq "traversal $p" "404" "${out##* }"
    [[ "$out" == *canary* || "$out" == *root:x:* ]] && fail "traversal $p leaked a file"
done

# Listings show what a request could open, nothing that leads out.
listing=$(curl -s "$(url /assets/lab/)")
expect_contains "listing of /assets/lab/" '<a href="vmlinuz">vmlinuz</a>' "$listing"
[[ $listing == *escape* || $listing == *'"up/"'* ]] && fail "a link out of the root is listed: $listing" || pass
expect_eq "listing of /assets/" 200 "$(status /assets/)"

# --- assets disabled
start_bootcfgd noassets -data-path="$data" -assets-path=
expect_eq "assets disabled" "404" "$(status /assets/lab/vmlinuz)"
expect_contains "assets disabled reason" "disabled" "$(body /assets/lab/vmlinuz)"

# --- timeouts: idle connections and slow headers are closed
start_bootcfgd timeouts -data-path="$data" -assets-path="$assets" -idle-timeout=1s -read-timeout=1s
exec 8<>"/dev/tcp/127.0.0.1/$PORT"
start=$(date +%s%N)
timeout 5 cat <&8 >/dev/null || true
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
exec 8<&-
# A silent connection reaches bootcfgd after a second (TCP_DEFER_ACCEPT), then waits -idle-timeout.
[[ $elapsed_ms -ge 1800 && $elapsed_ms -lt 3500 ]] && pass || fail "idle connection closed after ${elapsed_ms}ms (want ~2000)"
exec 8<>"/dev/tcp/127.0.0.1/$PORT"
printf 'GET /healthz HTTP/1.1\r\nHost: x\r\n' >&8  # header never finished
start=$(date +%s%N)
timeout 5 cat <&8 >/dev/null || true
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
exec 8<&-
[[ $elapsed_ms -ge 800 && $elapsed_ms -lt 3000 ]] && pass || fail "slow header closed after ${elapsed_ms}ms (want ~1000)"
expect_eq "serving after timeouts" "ok" "$(body /healthz)"

# --- graceful shutdown: a download in flight completes, idle connections do not hold us up
start_bootcfgd shutdown -data-path="$data" -assets-path="$assets"
exec 8<>"/dev/tcp/127.0.0.1/$PORT"   # an idle keep-alive connection
curl -s --limit-rate 2M -o "$WORK/slow.bin" "$(url /assets/lab/vmlinuz)" &
curl_pid=$!
sleep 0.4
kill -TERM "$PID"
start=$(date +%s%N)
wait "$curl_pid" && pass || fail "download in flight failed during shutdown"
expect_eq "download complete" "3000000" "$(wc -c <"$WORK/slow.bin")"
for _ in $(seq 60); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$PID" 2>/dev/null && fail "bootcfgd still running 6s after SIGTERM" || pass
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
[[ $elapsed_ms -lt 5000 ]] && pass || fail "shutdown took ${elapsed_ms}ms"
exec 8<&-
expect_log "stopped logged" "stopped"

# --- a download that outlasts -shutdown-timeout is cut off, and the process still exits cleanly
start_bootcfgd grace -data-path="$data" -assets-path="$assets" -shutdown-timeout=1s
curl -s --limit-rate 1M -o /dev/null "$(url /assets/lab/big.img)" &
slow_pid=$!
exec 8<>"/dev/tcp/127.0.0.1/$PORT"
sleep 0.3
kill -TERM "$PID"
set +e
wait "$PID"
grace_rc=$?
set -e
exec 8<&-
kill "$slow_pid" 2>/dev/null || true
expect_eq "exit status after the grace period" "0" "$grace_rc"
expect_log "grace period logged" "shutdown grace period over"


# --- -log-format=json: one JSON object per line, access lines as fields
saved_port=$PORT saved_log=$LOG
start_bootcfgd json -data-path="$data" -assets-path= -log-format=json
curl -s -o /dev/null "$(url "/ipxe?mac=52-54-00")"
curl -s -o /dev/null "$(url "/boot.ipxe")"
expect_log "json: the access line" '"status":400'
expect_ok_json() {
    python3 - "$LOG" <<'PY'
import json, sys
access = [], []
kinds = {"access": 0, "message": 0}
for line in open(sys.argv[1]):
    d = json.loads(line)  # every line is one JSON object
    assert "time" in d and "level" in d, line
    if "status" in d:
        kinds["access"] += 1
        assert d["method"] == "GET" and isinstance(d["bytes"], int) and isinstance(d["us"], int), line
        if d["status"] == 400:
            assert d["reason"] == "malformed mac '52-54-00'", line
    else:
        kinds["message"] += 1
        assert isinstance(d["message"], str), line
assert kinds["access"] >= 2 and kinds["message"] >= 1, kinds
PY
}
if expect_ok_json; then pass; else fail "json log lines: $(head -c 600 "$LOG")"; fi
rc=0
"$BOOTCFGD" -log-format=xml -data-path="$data" >/dev/null 2>&1 || rc=$?
expect_eq "-log-format=xml: usage" 2 "$rc"
PORT=$saved_port LOG=$saved_log
finish
