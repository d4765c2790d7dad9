#!/usr/bin/env bash
# bootcfgd and `bootcfg store` against a secured etcd (Debian's, on loopback ports): over TLS with
# client certificates (-etcd-ca-file, -etcd-cert-file, -etcd-key-file), and with auth on
# (-etcd-username, -etcd-password-file), its tokens living one second so every later request
# needs a renewed one. The password never reaches a log.
# Usage: secured.sh BOOTCFGD BOOTCFG
BOOTCFGD=$1
BOOTCFG=$(realpath "$2")
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../integration/lib.sh"
source "$here/cluster.sh"
FIXTURE="$here/../fixtures/matchbox"
NODE1=52:54:00:89:d8:10

# --- TLS with client certificates
"$here/../../scripts/tls-gen" "$WORK/tls" --client boot --client stranger >/dev/null
mkdir -p "$WORK/other"
"$here/../../scripts/tls-gen" "$WORK/other" --client stranger >/dev/null
read -r client peer < <(free_ports 2)
T="$WORK/tls"
etcd --name tls --data-dir "$WORK/etcd-tls" --listen-client-urls "https://127.0.0.1:$client" \
    --advertise-client-urls "https://127.0.0.1:$client" --listen-peer-urls "http://127.0.0.1:$peer" \
    --initial-advertise-peer-urls "http://127.0.0.1:$peer" --initial-cluster "tls=http://127.0.0.1:$peer" \
    --cert-file "$T/server.crt" --key-file "$T/server.key" --trusted-ca-file "$T/ca.crt" \
    --client-cert-auth >"$WORK/etcd-tls.log" 2>&1 &
PIDS+=($!)
TLS_E="https://127.0.0.1:$client"
tls_ctl() { ETCDCTL_API=3 etcdctl --endpoints="$TLS_E" --cacert "$T/ca.crt" --cert "$T/boot.crt" --key "$T/boot.key" "$@"; }
for _ in $(seq 100); do tls_ctl endpoint health >/dev/null 2>&1 && break; sleep 0.1; done
TLS_FLAGS=(--etcd-ca-file "$T/ca.crt" --etcd-cert-file "$T/boot.crt" --etcd-key-file "$T/boot.key")
out=$("$BOOTCFG" store import "$FIXTURE" --etcd-endpoints "$TLS_E" "${TLS_FLAGS[@]}")
expect_contains "import over TLS with a client certificate" "12 written" "$out"
start_bootcfgd tls -assets-path= -etcd-endpoints="$TLS_E" -etcd-ca-file="$T/ca.crt" \
    -etcd-cert-file="$T/boot.crt" -etcd-key-file="$T/boot.key"
expect_contains "served from etcd over TLS" "kernel " "$(body "/ipxe?mac=$NODE1")"
tls_ctl put /bootcfg/profiles/fedora-coreos '{"id":"fedora-coreos","boot":{"kernel":"/assets/tls-kernel"}}' >/dev/null
served_kernel() { curl -s "$(url "/ipxe?mac=$NODE1")" | grep -q "^kernel $1"; }
for _ in $(seq 100); do served_kernel /assets/tls-kernel && break; sleep 0.05; done
served_kernel /assets/tls-kernel && pass || fail "a change arrives through the TLS watch"
rc=0
"$BOOTCFGD" -address=127.0.0.1:0 -etcd-endpoints="$TLS_E" -etcd-ca-file="$WORK/other/ca.crt" \
    -etcd-cert-file="$WORK/other/stranger.crt" -etcd-key-file="$WORK/other/stranger.key" \
    -etcd-start-timeout=1s >"$WORK/stranger.log" 2>&1 || rc=$?
expect_eq "a certificate from another CA gets no first read: exit 1" 1 "$rc"
expect_contains "and says the server's certificate was refused" "certificate verify failed" "$(cat "$WORK/stranger.log")"
rc=0
"$BOOTCFGD" -etcd-endpoints="$TLS_E" -etcd-cert-file="$WORK/missing.crt" -etcd-key-file="$T/boot.key" \
    >"$WORK/missing.out" 2>&1 || rc=$?
expect_eq "a missing certificate file: usage error naming it" \
    "2 bootcfgd: -etcd-cert-file $WORK/missing.crt: No such file or directory" "$rc $(cat "$WORK/missing.out")"

# --- auth on, tokens living one second
read -r client peer < <(free_ports 2)
etcd --name auth --data-dir "$WORK/etcd-auth" --listen-client-urls "http://127.0.0.1:$client" \
    --advertise-client-urls "http://127.0.0.1:$client" --listen-peer-urls "http://127.0.0.1:$peer" \
    --initial-advertise-peer-urls "http://127.0.0.1:$peer" --initial-cluster "auth=http://127.0.0.1:$peer" \
    --auth-token-ttl 1 >"$WORK/etcd-auth.log" 2>&1 &
PIDS+=($!)
AUTH_E="http://127.0.0.1:$client"
auth_ctl() { ETCDCTL_API=3 etcdctl --endpoints="$AUTH_E" "$@"; }
for _ in $(seq 100); do auth_ctl endpoint health >/dev/null 2>&1 && break; sleep 0.1; done
SECRET=s3cret-$RANDOM$RANDOM
auth_ctl user add "root:$SECRET" >/dev/null
auth_ctl user grant-role root root >/dev/null
auth_ctl auth enable >/dev/null
printf '%s\n' "$SECRET" >"$WORK/password"
printf 'wrong\n' >"$WORK/wrong"
out=$("$BOOTCFG" store import "$FIXTURE" --etcd-endpoints "$AUTH_E" --etcd-username root \
    --etcd-password-file "$WORK/password")
expect_contains "import as an etcd user" "12 written" "$out"
start_bootcfgd auth -assets-path= -etcd-endpoints="$AUTH_E" -etcd-username=root \
    -etcd-password-file="$WORK/password" -etcd-timeout=2s -admin-address=127.0.0.1:0
admin=$(grep -o 'admin API listening on 127.0.0.1:[0-9]*' "$LOG" | grep -o '[0-9]*$')
expect_contains "served from etcd with auth on" "kernel " "$(body "/ipxe?mac=$NODE1")"
sleep 2.5  # the token bootcfgd holds has expired
auth_ctl --user "root:$SECRET" put /bootcfg/profiles/fedora-coreos \
    '{"id":"fedora-coreos","boot":{"kernel":"/assets/auth-kernel"}}' >/dev/null
for _ in $(seq 200); do served_kernel /assets/auth-kernel && break; sleep 0.05; done
served_kernel /assets/auth-kernel && pass || fail "a change arrives after the token expired (renewed)"
sleep 2.5
code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT --data-binary '{"id":"late","boot":{"kernel":"/assets/k"}}' \
    "http://127.0.0.1:$admin/api/v1/profiles/late")
expect_eq "an admin write with an expired token renews it and lands" 201 "$code"
expect_eq "the write is in etcd" '{"id":"late","boot":{"kernel":"/assets/k"}}' \
    "$(auth_ctl --user "root:$SECRET" get --print-value-only /bootcfg/profiles/late)"
rc=0
"$BOOTCFGD" -address=127.0.0.1:0 -etcd-endpoints="$AUTH_E" -etcd-username=root \
    -etcd-password-file="$WORK/wrong" -etcd-start-timeout=1s >"$WORK/wrong.log" 2>&1 || rc=$?
expect_eq "a wrong password: no first read, exit 1" 1 "$rc"
expect_contains "and says the user cannot log in" "user 'root' cannot log in" "$(cat "$WORK/wrong.log")"
rc=0
"$BOOTCFG" store export "$WORK/out" --etcd-endpoints "$AUTH_E" 2>"$WORK/anon.err" || rc=$?
expect_eq "export without a user when auth is on: refused, exit 1" 1 "$rc"
leaks=$(grep -l -- "$SECRET" "$WORK"/*.log "$WORK"/*.err 2>/dev/null | grep -v etcd- || true)
expect_eq "the password is in no bootcfg log" "" "$leaks"

finish
