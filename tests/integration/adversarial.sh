#!/usr/bin/env bash
# Regressions of the adversarial review (#24), each against the real bootcfgd: shell injection
# through /metadata names, deeply nested JSON and templates, admin connections starving the
# machine listener and a reload out of file descriptors, authentication before the body, SIGHUP
# during start-up, request framing (Transfer-Encoding, Host), writes that answered 2xx and changed
# nothing, reserved names, structural selectors, conditional writes, Range overflow, control bytes
# in scripts, token reload, log hygiene and the template quoting functions.
BOOTCFGD=$1
source "$(dirname "$0")/lib.sh"
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
py() { python3 "$here/adversarial_clients.py" "$@"; }

data="$WORK/data"
mkdir -p "$data/boot/mac" "$data/cloud/mac" "$data/profiles" "$data/groups" "$data/generic" "$WORK/assets"
printf '{"kernel": "/assets/k", "initrd": ["/assets/i"]}' >"$data/boot/default"
printf '{"kernel": "/assets/k-mac", "cmdline": {"node": "1"}}' >"$data/boot/mac/52:54:00:12:34:56"
printf '#cloud-config\nhostname: default\n' >"$data/cloud/default"
printf '#cloud-config\nhostname: mac\n' >"$data/cloud/mac/52:54:00:12:34:56"
printf 'NODE={{.name}}\n' >"$data/generic/env"
printf 'v: {{yamlQuote .request.query.v}}\n' >"$data/cloud/quoted.yaml"
echo '{"id": "p", "boot": {"kernel": "/assets/p"}, "generic_id": "env", "cloud_id": "quoted.yaml"}' >"$data/profiles/p.json"
cat >"$data/groups/g.json" <<'JSON'
{"id": "g", "profile": "p", "selector": {"mac": "52:54:00:00:00:01"},
 "metadata": {"name": "n1", "$(touch pwned)": "x", "nest": {"a`touch pwned`": 1, "ok": 2}}}
JSON
head -c 1000 /dev/urandom >"$WORK/assets/blob"

tokens="$WORK/tokens"
printf 'alice aaaaaaaaaaaaaaaaaaaaaaaa\nbob bbbbbbbbbbbbbbbbbbbbbbbb\n' >"$tokens"
start_bootcfgd main -data-path="$data" -assets-path="$WORK/assets" -admin-address=127.0.0.1:0 \
    -admin-token-file="$tokens"
expect_log "admin listener up" "admin API listening on"
aport=$(grep -o 'admin API listening on 127.0.0.1:[0-9]*' "$LOG" | grep -o '[0-9]*$')
admin() { # admin METHOD PATH [curl args...]: status; body in $WORK/admin.out
    local m=$1 p=$2
    shift 2
    curl -s -o "$WORK/admin.out" -w '%{http_code}' -X "$m" -H "Authorization: Bearer aaaaaaaaaaaaaaaaaaaaaaaa" \
        "$@" "http://127.0.0.1:$aport$p"
}

# --- 1. /metadata: names that are not shell identifiers never reach the output. Names are
# uppercased, so the injected command is TOUCH (ours, on PATH) creating PWNED in the cwd.
mkdir -p "$WORK/bin" "$WORK/src"
printf '#!/bin/sh\n: >"$1"\n' >"$WORK/bin/TOUCH"
chmod +x "$WORK/bin/TOUCH"
for name in 'a%3Btouch%20pwned' '%24(touch%20pwned)' 'a%0Atouch%20pwned%0Ab' '%60touch%20pwned%60' \
    'a%20b' '1abc' 'x-y' 'caf%C3%A9' 'a%26%26touch%20pwned' 'a%7Ctouch%20pwned'; do
    body "/metadata?mac=52:54:00:00:00:01&$name=1" >"$WORK/src/meta.env"
    bad=$(grep -v -E '^[A-Z_][A-Z0-9_]*=' "$WORK/src/meta.env" || true)
    expect_eq "metadata with label $name: only NAME= lines" "" "$bad"
    (cd "$WORK/src" && PATH="$WORK/bin:$PATH" sh -c '. ./meta.env' >/dev/null 2>&1) || true
    [[ -e "$WORK/src/PWNED" ]] && fail "metadata with label $name: sourcing it ran a command"
    rm -f "$WORK/src/PWNED"
done
expect_contains "metadata keeps good keys" "NEST_OK=2" "$(cat "$WORK/src/meta.env")"

# --- 12. Range beyond 64 bits, unit in any case
expect_eq "Range past 2^64: 416" 416 "$(status /assets/blob -H 'Range: bytes=99999999999999999999999-')"
expect_eq "Range end past 2^64: 206" 206 "$(status /assets/blob -H 'Range: bytes=10-99999999999999999999999')"
expect_eq "Range unit BYTES: 206" 206 "$(status /assets/blob -H 'Range: BYTES=0-1')"

# --- 6, 11. framing on both listeners: Transfer-Encoding, Host
if py framing "$PORT" >"$WORK/framing.txt"; then pass; else fail "machine framing"; fi
cat "$WORK/framing.txt"
if py framing "$aport" aaaaaaaaaaaaaaaaaaaaaaaa >"$WORK/framing.txt"; then pass; else fail "admin framing"; fi
cat "$WORK/framing.txt"

# --- 4. credentials are checked on the header, before any body byte
if py auth-before-body "$aport" 30 >"$WORK/auth.txt"; then pass; else fail "auth before body"; fi
cat "$WORK/auth.txt"

# --- 7. writes land where the served object lives, or are refused
echo '{"id": "b", "boot": {"kernel": "/assets/old"}}' >"$data/profiles/a.json"
echo '{"id": "d", "boot": {"kernel": "/assets/d"}}' >"$data/profiles/c.json"
echo '{"id": "hb", "profile": "b", "selector": {"mac": "52:54:00:00:00:0b"}}' >"$data/groups/zz.json"
kill -HUP "$PID"
expect_log "hand-written files loaded" "profiles/a.json"
sleep 0.5
expect_eq "PUT profile b (file a.json): 200" 200 "$(admin PUT /api/v1/profiles/b -d '{"id": "b", "boot": {"kernel": "/assets/new"}}')"
expect_contains "PUT profile b: served" "kernel /assets/new" "$(body '/ipxe?mac=52:54:00:00:00:0b')"
expect_eq "PUT profile c over c.json holding d: 409" 409 "$(admin PUT /api/v1/profiles/c -d '{"id": "c", "boot": {"kernel": "/assets/c"}}')"
expect_contains "409 names the file" "profiles/c.json holds profile 'd'" "$(cat "$WORK/admin.out")"
expect_eq "DELETE d (file c.json): 200" 200 "$(admin DELETE /api/v1/profiles/d)"
expect_eq "GET d after DELETE: 404" 404 "$(admin GET /api/v1/profiles/d)"

# --- 8. names the bootcfg layout reserves
for n in default uuid mac; do
    expect_eq "PUT cloud/$n: 409" 409 "$(admin PUT /api/v1/cloud/$n --data-binary $'#cloud-config\nx: 1\n')"
done
expect_contains "409 says why" "reserved by the bootcfg layout" "$(cat "$WORK/admin.out")"
expect_eq "cloud/default untouched" $'#cloud-config\nhostname: default' "$(cat "$data/cloud/default")"

# --- 10. conditional writes
rev=$(curl -s -D - -o /dev/null -H "Authorization: Bearer aaaaaaaaaaaaaaaaaaaaaaaa" \
    "http://127.0.0.1:$aport/api/v1/profiles/p" | tr -d '\r' | sed -n 's/^ETag: "\(.*\)"$/\1/ip')
pbody='{"id": "p", "boot": {"kernel": "/assets/p2"}, "generic_id": "env", "cloud_id": "quoted.yaml"}'
expect_eq "If-Match weak: 412" 412 "$(admin PUT /api/v1/profiles/p -d "$pbody" -H "If-Match: W/\"$rev\"")"
expect_eq "If-None-Match current: 412" 412 "$(admin PUT /api/v1/profiles/p -d "$pbody" -H "If-None-Match: \"$rev\"")"
expect_eq "If-Match list: 200" 200 "$(admin PUT /api/v1/profiles/p -d "$pbody" -H "If-Match: \"nope\", \"$rev\"")"

# --- 13. control bytes in boot fields
expect_eq "kernel with a newline: 400" 400 "$(admin PUT /api/v1/profiles/evil -d '{"id": "evil", "boot": {"kernel": "/k\nchain http://evil/x"}}')"
expect_contains "field named" '"field":"boot.kernel"' "$(tr -d ' ' <"$WORK/admin.out")"
expect_eq "arg with CR: 400" 400 "$(admin PUT /api/v1/profiles/evil -d '{"id": "evil", "boot": {"kernel": "/k", "args": ["a\r\nb"]}}')"
expect_eq "initrd with NUL: 400" 400 "$(admin PUT /api/v1/profiles/evil -d '{"id": "evil", "boot": {"kernel": "/k", "initrd": ["/i\u0000"]}}')"

# --- 2. deep documents through the API
python3 -c 'print("["*5000 + "]"*5000)' >"$WORK/deep.json"
expect_eq "deep Ignition JSON: 400" 400 "$(admin PUT /api/v1/ignition/deep.ign --data-binary @"$WORK/deep.json")"
expect_contains "deep: why" "nested deeper than 64" "$(cat "$WORK/admin.out")"
python3 -c 'print("{{if 1}}"*200 + "{{end}}"*200)' >"$WORK/deep.tmpl"
expect_eq "deep template: 400" 400 "$(admin PUT /api/v1/generic/deep --data-binary @"$WORK/deep.tmpl")"

# --- 16. template quoting: a label cannot add YAML lines
expect_eq "yamlQuote keeps a newline inside the string" 'v: "x\nevil: 1"' \
    "$(body '/cloud?mac=52:54:00:00:00:01&v=x%0Aevil:%201')"

# --- 15. logs: secrets masked, bytes escaped, early refusals logged and rate-limited
body '/ipxe?mac=52:54:00:00:00:01&token=SUPERSECRETVALUE1' >/dev/null
admin GET '/api/v1/groups?password=SUPERSECRETVALUE2' >/dev/null
printf 'x' >"$data/groups/evil
FORGED line.json"
kill -HUP "$PID"
expect_log "query secret masked" "token=***"
expect_log "forged name escaped" 'evil\x0aFORGED'
for i in $(seq 20); do
    curl -s -o /dev/null -H "Authorization: Bearer wrongwrongwrongwrong$i" "http://127.0.0.1:$aport/api/v1/groups"
done
curl -s -o /dev/null -H "Authorization: Bearer aaaaaaaaaaaaaaaaaaaaaaaa" -H "Content-Length: 5000000" \
    -X PUT "http://127.0.0.1:$aport/api/v1/groups/big"
curl -s -o /dev/null -H "Authorization: Bearer aaaaaaaaaaaaaaaaaaaaaaaa" -H "X-Big: $(head -c 20000 /dev/zero | tr '\0' a)" \
    "http://127.0.0.1:$aport/api/v1/groups"
expect_log "admin 413 logged" "413 body larger than"
expect_log "admin 431 logged" "431 request header fields larger"
sleep 0.3
expect_eq "secrets in the log" "" "$(grep -c SUPERSECRETVALUE "$LOG" | grep -v '^0$' || true)"
expect_eq "forged log lines" "" "$(grep '^FORGED' "$LOG" || true)"
refusals=$(grep -c 'invalid bearer token' "$LOG" || true)
[[ $refusals -ge 1 && $refusals -le 2 ]] && pass || fail "20 refusals logged $refusals times (rate limit)"
rm -f "$data/groups/evil"*

# --- 14. SIGHUP re-reads the token file
printf 'alice aaaaaaaaaaaaaaaaaaaaaaaa\n' >"$tokens"
kill -HUP "$PID"
expect_log "tokens reloaded" "admin: SIGHUP: 1 tokens loaded"
expect_eq "removed token: 401" 401 "$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer bbbbbbbbbbbbbbbbbbbbbbbb' "http://127.0.0.1:$aport/api/v1/groups")"
expect_eq "kept token: 200" 200 "$(admin GET /api/v1/groups)"
printf 'alice short\n' >"$tokens"
kill -HUP "$PID"
expect_log "broken token file: kept" "keeping the 1 tokens loaded before"
expect_eq "token still works after a broken file" 200 "$(admin GET /api/v1/groups)"

# --- 3. admin connections cannot starve the machine listener
if py admin-flood "$PORT" "$aport" "$PID" 300 >"$WORK/flood.txt"; then pass; else fail "admin flood"; fi
cat "$WORK/flood.txt"

# --- 3. out of file descriptors: accept loops back off, a reload keeps every config
soft=$(prlimit --pid "$PID" --nofile --noheadings --output=SOFT)
prlimit --pid "$PID" --nofile=96:
mkfifo "$WORK/hold"
py exhaust "$PORT" "$aport" "$PID" 200 <"$WORK/hold" >"$WORK/exhaust.txt" &
holder=$!
exec 8>"$WORK/hold"
for _ in $(seq 100); do grep -q exhausted "$WORK/exhaust.txt" && break; sleep 0.1; done
kill -HUP "$PID"
expect_log "reload out of fds keeps directories" "keeping the last good versions of its files"
sleep 0.5
exec 8>&-
wait "$holder" && pass || fail "exhaustion"
cat "$WORK/exhaust.txt"
prlimit --pid "$PID" --nofile="$soft":
kill -0 "$PID" && pass || fail "bootcfgd survived fd exhaustion"
expect_contains "layout boot kept" "kernel /assets/k-mac" "$(body '/ipxe?mac=52:54:00:12:34:56')"
expect_eq "layout cloud kept" $'#cloud-config\nhostname: mac' "$(body '/cloud?mac=52:54:00:12:34:56')"
expect_eq "templates kept" "NODE=n1" "$(body '/generic?mac=52:54:00:00:00:01')"
kill "$PID"

# --- 2. deeply nested data files: a problem with the path, never a crash
deep="$WORK/deepdata"
mkdir -p "$deep/groups" "$deep/profiles"
echo '{"id": "p", "boot": {"kernel": "/k"}}' >"$deep/profiles/p.json"
python3 -c 'print("{\"id\": \"a\", \"profile\": \"p\", \"metadata\": {\"x\": " + "["*100000 + "]"*100000 + "}}")' >"$deep/groups/arrays.json"
python3 -c 'print("{\"id\": \"o\", \"profile\": \"p\", \"selector\": {\"mac\": \"52:54:00:00:00:02\"}, \"metadata\": " + "{\"a\":"*50000 + "1" + "}"*50000 + "}")' >"$deep/groups/objects.json"
rc=0
"$BOOTCFGD" -validate -data-path="$deep" >"$WORK/validate.txt" 2>&1 || rc=$?
expect_eq "-validate on deep files: exit 1" 1 "$rc"
expect_contains "-validate names the file" "groups/arrays.json: JSON nested deeper than 64 levels" "$(cat "$WORK/validate.txt")"
expect_contains "-validate names the other file" "groups/objects.json: JSON nested deeper" "$(cat "$WORK/validate.txt")"
start_bootcfgd deep -data-path="$deep"
expect_eq "deep files skipped, daemon serves" 404 "$(status '/metadata?mac=52:54:00:00:00:02')"
kill -HUP "$PID"
expect_log "reload with deep files" "generation 2"
kill -0 "$PID" && pass || fail "bootcfgd survived a reload with deep files"
kill "$PID"

# --- 9. selectors holding the separators are different selectors
sel="$WORK/seldata"
mkdir -p "$sel/groups" "$sel/profiles"
echo '{"id": "p", "boot": {"kernel": "/k"}}' >"$sel/profiles/p.json"
echo '{"id": "a", "profile": "p", "selector": {"k": "1,l=2"}}' >"$sel/groups/a.json"
echo '{"id": "b", "profile": "p", "selector": {"k": "1", "l": "2"}}' >"$sel/groups/b.json"
rc=0
"$BOOTCFGD" -validate -data-path="$sel" >"$WORK/validate.txt" 2>&1 || rc=$?
expect_eq "selectors with ',' and '=' are not duplicates ($(cat "$WORK/validate.txt"))" 0 "$rc"

# --- 5. SIGHUP while the data dir loads
"$repo/scripts/gen-data" 40000 "$WORK/big" >/dev/null
"$BOOTCFGD" -address=127.0.0.1:0 -data-path="$WORK/big" >"$WORK/hup.log" 2>&1 &
hpid=$!
PIDS+=("$hpid")
# From the moment main() has its handler (before that the kernel's default applies to any program).
for _ in $(seq 400); do
    grep -q '^SigCgt:.*[13579bdf]$' "/proc/$hpid/status" 2>/dev/null && break
    sleep 0.005
done
sent=0
while ! grep -q 'listening on' "$WORK/hup.log" && kill -0 "$hpid" 2>/dev/null && ((sent < 3000)); do
    kill -HUP "$hpid" 2>/dev/null && sent=$((sent + 1))
    sleep 0.002
done
kill -0 "$hpid" 2>/dev/null && pass || fail "SIGHUP during start-up killed bootcfgd (after $sent signals)"
expect_log "reload after start-up" "reloading" "$WORK/hup.log"
echo "SIGHUP during start-up: $sent signals"
kill "$hpid"

finish
