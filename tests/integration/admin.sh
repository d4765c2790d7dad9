#!/usr/bin/env bash
# The admin API and the bootcfg client end to end: every client command over a unix socket,
# validation and conflicts, writes visible to the next /ipxe, hand edits beside API writes,
# 50 concurrent writers (distinct objects, and one object with If-Match: no lost update),
# kill -9 during writes then a clean reload, and over TCP: mTLS (good, none, another CA,
# expired), bearer tokens, plain HTTP refused, a non-loopback listener without TLS refused.
BOOTCFGD=$1
BOOTCFG=$(realpath "${2:?path to bootcfg}")
source "$(dirname "$0")/lib.sh"
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)

data="$WORK/data"
mkdir -p "$data/profiles" "$data/groups" "$data/ignition"
sock="$WORK/admin.sock"
start_bootcfgd admin -data-path="$data" -admin-address="unix:$sock"
export BOOTCFG_ENDPOINT="unix:$sock"
# cli ARGS...: $rc, $out, $err of the bootcfg client
cli() {
    rc=0
    out=$("$BOOTCFG" "$@" 2>"$WORK/cli.err") || rc=$?
    err=$(cat "$WORK/cli.err")
}

# --- every client command
cat >"$WORK/node.json" <<'JSON'
{"id": "node", "name": "Node", "boot": {"kernel": "/assets/node/vmlinuz", "args": ["console=ttyS0"]}, "ignition_id": "node.ign"}
JSON
echo '{"ignition": {"version": "3.4.0"}}' >"$WORK/node.ign"
cli profile create -f "$WORK/node.json"
expect_eq "profile naming a missing ignition config: refused" 1 "$rc"
expect_contains "profile naming a missing ignition config: why" "ignition template 'node.ign' does not exist" "$err"
expect_contains "profile naming a missing ignition config: field" "(field ignition_id)" "$err"
cli ignition put node.ign -f "$WORK/node.ign"
expect_eq "ignition put: status ($err)" 0 "$rc"
cli profile create -f "$WORK/node.json"
expect_eq "profile create: status ($err)" 0 "$rc"
expect_contains "profile create: says created" "created profiles/node (revision " "$out"
cli profile create -f "$WORK/node.json"
expect_eq "profile create again: refused" 1 "$rc"
expect_contains "profile create again: why" "profile 'node' already exists" "$err"
cli profile create -f "$WORK/node.json" --replace
expect_contains "profile create --replace" "replaced profiles/node" "$out"

echo '{"id": "rack", "profile": "node", "selector": {"mac": "52-54-00-AA-00-01"}, "metadata": {"rack": 7}}' >"$WORK/rack.json"
cli group create -f "$WORK/rack.json"
expect_eq "group create: status ($err)" 0 "$rc"
expect_contains "a write is visible to the next /ipxe" "kernel /assets/node/vmlinuz" "$(body '/ipxe?mac=52:54:00:aa:00:01')"
cli group list
expect_contains "group list: table" "rack  node     mac=52:54:00:aa:00:01" "$out"
cli group list --selector mac=52:54:00:aa:00:01 -o json
expect_contains "group list --selector -o json" '"id": "rack"' "$out"
cli group list --selector mac=52:54:00:aa:00:02 -o json
expect_eq "group list --selector: no match" '{
  "items": []
}' "$out"
cli profile list
expect_contains "profile list: table" "node  /assets/node/vmlinuz  node.ign" "$out"
cli group describe rack
expect_contains "group describe" '"rack": 7' "$out"
expect_contains "group describe: revision" "revision " "$err"
cli ignition describe node.ign
expect_eq "ignition describe: the stored bytes" "$(cat "$WORK/node.ign")" "$out"
cli ignition list
expect_contains "ignition list" "node.ign" "$out"
printf '#cloud-config\nhostname: {{.mac}\n' >"$WORK/bad.yaml"
cli cloud put bad.yaml -f "$WORK/bad.yaml"
expect_eq "broken template: refused" 1 "$rc"
expect_contains "broken template: why" "line 2" "$err"
printf '#cloud-config\nhostname: {{.mac}}\n' >"$WORK/good.yaml"
cli cloud put good.yaml -f "$WORK/good.yaml"
expect_eq "cloud put" 0 "$rc"
cli generic put env -f "$WORK/good.yaml"
expect_eq "generic put" 0 "$rc"
cli select mac=52:54:00:aa:00:01
expect_contains "select: boot part" "boot      rack   node" "$out"
expect_contains "select: explains" "matching groups, best first" "$out"
cli select mac=52:54:00:aa:00:01 -o json
expect_contains "select -o json" '"group": "rack"' "$out"

# --- apply -f DIR: templates, then profiles, then groups; a second run changes nothing
src="$WORK/apply"
mkdir -p "$src/ignition" "$src/profiles" "$src/groups"
echo '{"ignition": {"version": "3.3.0"}}' >"$src/ignition/ap.ign"
echo '{"id": "ap", "boot": {"kernel": "/assets/ap/k"}, "ignition_id": "ap.ign"}' >"$src/profiles/ap.json"
echo '{"id": "ap1", "profile": "ap", "selector": {"mac": "52:54:00:aa:0a:01"}}' >"$src/groups/ap1.json"
cli apply -f "$src"
expect_eq "apply: exit ($err)" 0 "$rc"
expect_eq "apply: in reference order" "created ignition/ap.ign|created profiles/ap|created groups/ap1" \
    "$(sed 's/ *(revision.*//; s/  */ /' <<<"$out" | paste -sd'|')"
expect_contains "apply: served at once" "kernel /assets/ap/k" "$(body "/ipxe?mac=52:54:00:aa:0a:01")"
cli apply -f "$src"
expect_eq "apply again: nothing changed" "unchanged ignition/ap.ign|unchanged profiles/ap|unchanged groups/ap1" "$(paste -sd'|' <<<"$out")"
sed -i 's|/assets/ap/k|/assets/ap/k2|' "$src/profiles/ap.json"
cli apply -f "$src/profiles/ap.json"
expect_contains "apply one file: updated" "updated   profiles/ap" "$out"
echo '{"id": "ap2", "profile": "nope"}' >"$src/groups/ap2.json"
cli apply -f "$src"
expect_eq "apply: a refusal is exit 1" 1 "$rc"
expect_contains "apply: the refusal names the file" "apply $src/groups/ap2.json: group 'ap2' names missing profile 'nope'" "$err"
rm "$src/groups/ap2.json"

# --- validation, conflicts, limits
echo '{"id": "bad", "profile": "node", "selector": {"mac": "nope"}}' >"$WORK/bad.json"
cli group create -f "$WORK/bad.json"
expect_contains "bad selector: field named" "selector mac 'nope' is not a MAC address (field selector.mac)" "$err"
echo '{"id": "x", "profile": "node", "colour": "red"}' >"$WORK/x.json"
cli group create -f "$WORK/x.json"
expect_contains "unknown field: rejected" "unknown field 'colour'" "$err"
echo '{"id": "broken",' >"$WORK/broken.json"
cli group create -f "$WORK/broken.json"
expect_contains "a file that is not JSON: says where" "broken.json: not JSON: parse error at line 2" "$err"
[[ $err == *"json.exception"* ]] && fail "the library's error tag reached the operator: $err" || pass
echo '{"id": "orphan", "profile": "nothing"}' >"$WORK/orphan.json"
cli group create -f "$WORK/orphan.json"
expect_contains "group naming a missing profile" "names missing profile 'nothing' (field profile)" "$err"
echo '{"id": "twin", "profile": "node", "selector": {"mac": "52:54:00:aa:00:01"}}' >"$WORK/twin.json"
cli group create -f "$WORK/twin.json"
expect_contains "same selector as another group" "same selector as" "$err"
expect_contains "a refused duplicate selector says what to change" "one group per selector; change this selector or that group" "$err"
[[ $err == *"smaller id wins"* ]] && fail "a refused write talks about which group wins" || pass
put_status() {  # put_status PATH BODY: the status and body of a raw PUT through the socket
    curl -s -w ' %{http_code}' --unix-socket "$sock" -X PUT -H 'Content-Type: application/json' --data-binary "$2" "http://x$1"
}
got=$(put_status "/api/v1/groups/bootcfg:new" '{"id": "bootcfg:new", "profile": "node"}')
expect_contains "a new bootcfg: id: reserved, not 'edit that file'" "reserved for the bootcfg layout" "$got"
expect_contains "a new bootcfg: id: 400" " 400" "$got"
got=$(put_status "/api/v1/groups/bad%20name%2F" '{"id": "x", "profile": "node"}')
expect_contains "an invalid id is echoed decoded" "'bad name/' is not a valid name" "$got"
cli profile delete node
expect_eq "deleting a profile in use: refused" 1 "$rc"
expect_contains "deleting a profile in use: why" "used by groups rack" "$err"
cli ignition delete node.ign
expect_contains "deleting a template in use: why" "used by profiles node" "$err"
cli group delete rack --if-match 0000000000000000
expect_contains "stale If-Match: refused" "has changed" "$err"
expect_eq "stale If-Match: body kept" 1 "$(ls "$data/groups" | grep -c rack.json)"
head -c 2000000 /dev/zero | tr '\0' ' ' >"$WORK/big.json"
expect_eq "413 for a body over 1 MiB" 413 "$(curl -s -o /dev/null -w '%{http_code}' --unix-socket "$sock" -X PUT --data-binary @"$WORK/big.json" http://x/api/v1/profiles/big)"
python3 -c 'print("{\"id\":\"deep\",\"profile\":\"node\",\"metadata\":" + "[" * 100 + "]" * 100 + "}")' >"$WORK/deep.json"
cli group create -f "$WORK/deep.json"
expect_contains "JSON too deep" "nested deeper than 64" "$err"
expect_eq "405 for POST" 405 "$(curl -s -o /dev/null -w '%{http_code}' --unix-socket "$sock" -X POST http://x/api/v1/groups/rack)"
expect_eq "machine port stays read-only" 405 "$(status /api/v1/groups/rack -X DELETE)"
expect_eq "machine port has no admin API" 404 "$(status /api/v1/groups)"
cli group frobnicate
expect_eq "usage error: exit 2" 2 "$rc"
BOOTCFG_ENDPOINT="unix:$WORK/nothing.sock" cli group list
expect_eq "cannot connect: exit 3" 3 "$rc"
expect_contains "cannot connect: names the endpoint" "unix:$WORK/nothing.sock" "$err"
expect_log "audit line per write" "audit: who=\"unix:uid=$(id -u)," 
expect_log "audit line names object and revisions" "action=put object=groups/rack old=- new="

# --- hand edits and API writes coexist
echo '{"id": "hand", "profile": "node", "selector": {"os": "hand"}}' >"$data/groups/hand.json"
for _ in $(seq 60); do cli group describe hand; [[ $rc -eq 0 ]] && break; sleep 0.05; done
expect_eq "a hand-written group shows up through the API" 0 "$rc"
cli group delete hand
expect_eq "and can be deleted through it" "deleted groups/hand" "$out"
[[ ! -e $data/groups/hand.json ]] && pass || fail "hand.json still on disk"

# --- 50 concurrent writers
python3 "$here/admin_writers.py" "$sock" distinct 50 >"$WORK/distinct.out" || fail "distinct writers: $(cat "$WORK/distinct.out")"
expect_eq "50 writers, 50 profiles" 50 "$(ls "$data/profiles" | grep -c '^d[0-9]*\.json$')"
echo '{"id": "shared", "boot": {"kernel": "/assets/k"}}' >"$WORK/shared.json"
cli profile create -f "$WORK/shared.json"
python3 "$here/admin_writers.py" "$sock" same 50 >"$WORK/same.out" || fail "same-object writers: $(cat "$WORK/same.out")"
echo "  $(cat "$WORK/same.out")"
marks=$(python3 -c 'import json,sys; a=json.load(open(sys.argv[1]))["boot"]["args"]; print(len(set(a)), len(a))' "$data/profiles/shared.json")
expect_eq "one object, 50 If-Match writers: no lost update, no duplicate" "50 50" "$marks"
expect_eq "no temp files left" "" "$(find "$data" -name '.*tmp*')"

# --- kill -9 during writes, then a restart loads a consistent data dir
{ kill -9 "$PID" && wait "$PID"; } 2>/dev/null || true
for round in 1 2 3 4 5; do
    start_bootcfgd "kill$round" -data-path="$data" -admin-address="unix:$sock"
    python3 "$here/admin_writers.py" "$sock" forever >/dev/null 2>&1 &
    writer=$!
    sleep "0.$((RANDOM % 5 + 3))"
    { kill -9 "$PID" && wait "$PID"; } 2>/dev/null || true
    kill "$writer" 2>/dev/null || true
    wait "$writer" 2>/dev/null || true
    "$BOOTCFGD" -validate -data-path="$data" >"$WORK/validate.out" 2>&1 && pass ||
        fail "round $round: data dir inconsistent after kill -9: $(cat "$WORK/validate.out")"
done
start_bootcfgd after -data-path="$data" -admin-address="unix:$sock"
cli profile list -o json
expect_eq "after the kill -9 rounds: serving" 0 "$rc"
kill "$PID" || true

# --- TCP: TLS with client certificates and tokens
tls="$WORK/tls"
"$repo/scripts/tls-gen" "$tls" --client alice >/dev/null
"$repo/scripts/tls-gen" "$WORK/other" --client mallory >/dev/null
# An expired client certificate from the right CA (openssl ca can backdate; x509 -req cannot).
mkdir -p "$WORK/ca-db" && : >"$WORK/ca-db/index.txt" && echo 1000 >"$WORK/ca-db/serial"
printf '[ca]\ndefault_ca=d\n[d]\ndatabase=%s/index.txt\nserial=%s/serial\nnew_certs_dir=%s\ndefault_md=sha256\npolicy=p\n[p]\ncommonName=supplied\n' \
    "$WORK/ca-db" "$WORK/ca-db" "$WORK/ca-db" >"$WORK/ca-db/ca.cnf"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$tls/old.key" 2>/dev/null
openssl req -new -key "$tls/old.key" -subj "/CN=old" -out "$WORK/old.csr"
openssl ca -batch -config "$WORK/ca-db/ca.cnf" -cert "$tls/ca.crt" -keyfile "$tls/ca.key" -notext \
    -in "$WORK/old.csr" -out "$tls/old.crt" -startdate 20200101000000Z -enddate 20200102000000Z 2>/dev/null
echo "ci-bot 0123456789abcdef0123456789abcdef" >"$WORK/tokens"
echo "0123456789abcdef0123456789abcdef" >"$WORK/token"
echo "wrong-wrong-wrong-wrong" >"$WORK/wrong"

BOOTCFG_CA_FILE= start_bootcfgd tls -data-path="$data" -admin-address=127.0.0.1:0 -cert-file="$tls/server.crt" \
    -key-file="$tls/server.key" -ca-file="$tls/ca.crt" -admin-token-file="$WORK/tokens"
aport=$(grep -o 'admin API listening on 127.0.0.1:[0-9]*' "$LOG" | grep -o '[0-9]*$')
export BOOTCFG_ENDPOINT="https://127.0.0.1:$aport" BOOTCFG_CA_FILE="$tls/ca.crt"
cli group list --cert-file "$tls/alice.crt" --key-file "$tls/alice.key"
expect_eq "mTLS: accepted ($err)" 0 "$rc"
cli ignition put tls.ign -f "$WORK/node.ign" --cert-file "$tls/alice.crt" --key-file "$tls/alice.key"
expect_log "mTLS: the audit line names the certificate" 'audit: who="cert:/CN=alice/O=bootcfg" action=put object=ignition/tls.ign'
cli group list
expect_eq "no certificate, no token: refused" 1 "$rc"
expect_contains "no certificate, no token: why" "client certificate or a bearer token is required" "$err"
cli group list --cert-file "$WORK/other/mallory.crt" --key-file "$WORK/other/mallory.key"
expect_eq "certificate from another CA: refused in the handshake" 3 "$rc"
cli group list --cert-file "$tls/old.crt" --key-file "$tls/old.key"
expect_eq "expired certificate: refused in the handshake" 3 "$rc"
expect_log "expired certificate: logged" "certificate verify failed (certificate has expired)"
cli group list --token-file "$WORK/token"
expect_eq "bearer token: accepted" 0 "$rc"
cli generic put tok -f "$WORK/good.yaml" --token-file "$WORK/token"
expect_log "token: the audit line names the token" 'audit: who="token:ci-bot" action=put object=generic/tok'
cli group list --token-file "$WORK/wrong"
expect_contains "wrong token: refused" "invalid bearer token" "$err"
cli group list --endpoint "http://127.0.0.1:$aport"
expect_eq "plain HTTP to the TLS listener: no answer" 3 "$rc"
cli group list --ca-file "$WORK/other/ca.crt" --token-file "$WORK/token"
expect_eq "client refuses a server its CA did not sign" 3 "$rc"
# The dashboard on the TLS listener: the same credentials as the API; only its login page without.
ui() { curl -s -o /dev/null -w '%{http_code}' --cacert "$tls/ca.crt" "$@"; }
expect_eq "dashboard over TLS: the login page needs no credentials" 200 "$(ui "https://127.0.0.1:$aport/ui/")"
expect_eq "dashboard over TLS: its script needs them" 401 "$(ui "https://127.0.0.1:$aport/ui/app.js")"
expect_eq "dashboard over TLS: a client certificate opens it" 200 \
    "$(ui --cert "$tls/alice.crt" --key "$tls/alice.key" "https://127.0.0.1:$aport/ui/app.js")"
expect_eq "dashboard over TLS: a token opens it" 200 \
    "$(ui -H "Authorization: Bearer $(cat "$WORK/token")" "https://127.0.0.1:$aport/ui/app.js")"
expect_eq "dashboard over TLS: another CA's certificate gets nothing, not even the login page" 000 \
    "$(ui --cert "$WORK/other/mallory.crt" --key "$WORK/other/mallory.key" "https://127.0.0.1:$aport/ui/")"
# A server certificate from the right CA that does not name the address the client dialled.
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$tls/misnamed.key" 2>/dev/null
openssl req -new -key "$tls/misnamed.key" -subj "/CN=other.example" -out "$WORK/misnamed.csr"
openssl x509 -req -in "$WORK/misnamed.csr" -CA "$tls/ca.crt" -CAkey "$tls/ca.key" -CAcreateserial -days 2 \
    -extfile <(printf 'subjectAltName=DNS:other.example\n') -out "$tls/misnamed.crt" 2>/dev/null
saved_pid=$PID saved_log=$LOG saved_port=$PORT
BOOTCFG_CA_FILE= start_bootcfgd misnamed -data-path="$data" -admin-address=127.0.0.1:0 \
    -cert-file="$tls/misnamed.crt" -key-file="$tls/misnamed.key"
mport=$(grep -o 'admin API listening on 127.0.0.1:[0-9]*' "$LOG" | grep -o '[0-9]*$')
cli group list --endpoint "https://127.0.0.1:$mport"
expect_eq "a certificate without the server's address: refused" 3 "$rc"
expect_contains "says which name is missing and how to make one" "does not name 127.0.0.1 (no matching subjectAltName); give the server a certificate for it, e.g. scripts/tls-gen DIR --host 127.0.0.1" "$err"
kill "$PID" || true
# Two listeners at once: a local unix socket (no TLS) and a TLS port, one store behind both.
BOOTCFG_CA_FILE= start_bootcfgd both -data-path="$data" -admin-address="unix:$WORK/both.sock,127.0.0.1:0" \
    -cert-file="$tls/server.crt" -key-file="$tls/server.key" -ca-file="$tls/ca.crt" -admin-token-file="$WORK/tokens"
bport=$(grep -o 'admin API listening on 127.0.0.1:[0-9]*' "$LOG" | grep -o '[0-9]*$')
expect_contains "two admin listeners: the unix socket" "admin API listening on unix:$WORK/both.sock" "$(cat "$LOG")"
cli group list --endpoint "unix:$WORK/both.sock" --token-file "$WORK/token"
expect_eq "two admin listeners: the unix socket answers (token, no TLS) ($err)" 0 "$rc"
cli ignition put both.ign -f "$WORK/node.ign" --endpoint "https://127.0.0.1:$bport" --cert-file "$tls/alice.crt" --key-file "$tls/alice.key"
expect_eq "two admin listeners: the TLS port answers (client certificate) ($err)" 0 "$rc"
cli ignition describe both.ign --endpoint "unix:$WORK/both.sock" --token-file "$WORK/token"
expect_eq "one store behind both" 0 "$rc"
expect_eq "dashboard on the unix socket: a token opens it" 200 "$(curl -s -o /dev/null -w '%{http_code}' \
    --unix-socket "$WORK/both.sock" -H "Authorization: Bearer $(cat "$WORK/token")" http://admin/ui/app.js)"
expect_eq "dashboard on the unix socket: not without one" 401 "$(curl -s -o /dev/null -w '%{http_code}' \
    --unix-socket "$WORK/both.sock" http://admin/ui/app.js)"
kill "$PID" || true
rc=0
"$BOOTCFGD" -address=127.0.0.1:0 -data-path="$data" -admin-address="unix:$WORK/x.sock," >/dev/null 2>&1 || rc=$?
expect_eq "an empty address in the list: usage" 2 "$rc"
PID=$saved_pid LOG=$saved_log PORT=$saved_port
kill "$PID" || true

# --- a non-loopback listener needs TLS: checked in a namespace with its own address
unset BOOTCFG_ENDPOINT BOOTCFG_CA_FILE  # bootcfgd reads BOOTCFG_<FLAG> too
NS=bootcfg-admin-$$
if [[ $(id -u) -eq 0 ]] && ip netns add "$NS" 2>/dev/null; then
    ip -n "$NS" link set lo up && ip -n "$NS" addr add 10.77.0.1/32 dev lo
    rc=0
    ip netns exec "$NS" "$BOOTCFGD" -address=127.0.0.1:0 -data-path="$data" -admin-address=10.77.0.1:0 \
        >"$WORK/nonloop.out" 2>&1 || rc=$?
    expect_eq "non-loopback without TLS: a usage error (2)" 2 "$rc"
    expect_contains "non-loopback without TLS: why" "is not loopback: it needs TLS" "$(cat "$WORK/nonloop.out")"
    expect_eq "non-loopback without TLS: one line, refused before loading" "1" "$(wc -l <"$WORK/nonloop.out")"
    rc=0
    timeout 5 ip netns exec "$NS" "$BOOTCFGD" -address=127.0.0.1:0 -data-path="$data" -admin-address=10.77.0.1:0 \
        -cert-file="$tls/server.crt" -key-file="$tls/server.key" >"$WORK/nonloop.out" 2>&1 || rc=$?
    expect_contains "non-loopback with TLS but no client auth: why" "needs -ca-file (client certificates) or -admin-token-file" "$(cat "$WORK/nonloop.out")"
    ip netns del "$NS"
fi

# --- every bad admin setting: one line, exit 2, before the data dir loads
printf 'ops short\n' >"$WORK/short-tokens"
for args in "-admin-token-file=$WORK/short-tokens" "-admin-token-file=$WORK/missing-tokens" \
    "-cert-file=$tls/server.crt" "-ca-file=$tls/ca.crt" "-cert-file=$WORK/missing.crt -key-file=$tls/server.key"; do
    rc=0
    # shellcheck disable=SC2086
    "$BOOTCFGD" -address=127.0.0.1:0 -data-path="$data" -admin-address=127.0.0.1:0 $args >"$WORK/bad.out" 2>&1 || rc=$?
    expect_eq "bad admin setting ($args): exit 2" 2 "$rc"
    expect_eq "bad admin setting ($args): one line ($(cat "$WORK/bad.out"))" "1" "$(wc -l <"$WORK/bad.out")"
    grep -q "loaded" "$WORK/bad.out" && fail "bad admin setting ($args): loaded the data dir first" || pass
done
finish
