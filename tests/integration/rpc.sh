#!/usr/bin/env bash
# matchbox's gRPC API, driven by an independent client (Debian's python3-grpcio, stubs generated
# from lib/rpc/proto at test time; rpc_client.py): every method over mTLS, handshake refusals,
# validation with the REST API's messages, REST <-> gRPC, the audit lines, the Terraform
# provider's sequence against one and two bootcfgd, and a gRPC write on one etcd-backed replica
# served by another. Usage: rpc.sh BOOTCFGD
BOOTCFGD=$1
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
source "$here/lib.sh"
PY=/usr/bin/python3  # Debian's, with python3-grpcio and python3-grpc-tools
"$PY" -c 'import grpc, grpc_tools' 2>/dev/null ||
    { echo "FAIL: python3-grpcio / python3-grpc-tools missing (scripts/deps --test installs them)"; exit 1; }

tls="$WORK/tls"
"$repo/scripts/tls-gen" "$tls" --client terraform >/dev/null
"$repo/scripts/tls-gen" "$WORK/other" --client mallory >/dev/null
tls_flags=(-cert-file="$tls/server.crt" -key-file="$tls/server.key" -ca-file="$tls/ca.crt")

make_data() {
    mkdir -p "$1/profiles" "$1/groups" "$1/ignition" "$1/generic"
    echo '{"id":"base","boot":{"kernel":"/assets/base-kernel"}}' >"$1/profiles/base.json"
}

# start_rpc NAME [flags]: bootcfgd with the gRPC API (and an mTLS admin API); sets RPC, ADMIN.
start_rpc() {
    local name=$1
    shift
    start_bootcfgd "$name" -assets-path= -rpc-address=127.0.0.1:0 -admin-address=127.0.0.1:0 \
        "${tls_flags[@]}" "$@"
    RPC=127.0.0.1:$(grep -o 'gRPC API listening on 127.0.0.1:[0-9]*' "$LOG" | grep -o '[0-9]*$')
    ADMIN=https://127.0.0.1:$(grep -o 'admin API listening on 127.0.0.1:[0-9]*' "$LOG" | grep -o '[0-9]*$')
}

client() {
    if "$PY" "$here/rpc_client.py" "$@" --proto "$repo/lib/rpc/proto" --tls "$tls"; then pass; else fail "rpc_client.py $1"; fi
}

# --- Flags: the gRPC API needs the three TLS files; a bad one is named.
make_data "$WORK/d0"
err=$("$BOOTCFGD" -data-path="$WORK/d0" -rpc-address=127.0.0.1:0 2>&1) && rc=0 || rc=$?
expect_eq "without certificates: usage error" 2 "$rc"
expect_contains "names the flags it needs" "-rpc-address needs -cert-file, -key-file and -ca-file" "$err"
err=$("$BOOTCFGD" -data-path="$WORK/d0" -rpc-address=127.0.0.1:0 -cert-file="$tls/server.crt" \
    -key-file="$tls/ca.crt" -ca-file="$tls/ca.crt" 2>&1) && rc=0 || rc=$?
expect_eq "a certificate as the key: usage error" 2 "$rc"
expect_contains "names the file" "-key-file $tls/ca.crt" "$err"
err=$("$BOOTCFGD" -data-path="$WORK/d0" -rpc-address=nonsense "${tls_flags[@]}" 2>&1) && rc=0 || rc=$?
expect_eq "an address without a port: usage error" 2 "$rc"

# --- Every method against one bootcfgd on a data dir.
make_data "$WORK/d1"
start_rpc one -data-path="$WORK/d1"
one_log=$LOG one_port=$PORT
client full --other-ca "$WORK/other" --rpc "$RPC" --http "http://127.0.0.1:$PORT" --admin "$ADMIN"
grep -q 'audit: who="cert:/CN=terraform/O=bootcfg" action=put object=groups/g1 old=- new=' "$one_log" && pass ||
    fail "a gRPC write logs the REST API's audit line, naming the certificate"
grep -q 'audit: who="cert:/CN=terraform/O=bootcfg" action=delete object=profiles/p1' "$one_log" && pass ||
    fail "a gRPC delete logs its audit line"
grep -q 'rpc: grpc: .*[Hh]andshake' "$one_log" && pass || fail "a refused handshake is logged as one line"
grep -q 'rpc: protobuf: .*UTF-8' "$one_log" && pass || fail "a request that is not UTF-8 is logged in bootcfgd's log"
grep -q '^\[libprotobuf\|^E[0-9]\{4\}' "$one_log" && fail "protobuf or gRPC wrote to stderr directly" || pass
expect_eq "the written group file is the data dir's JSON form" "0" \
    "$(test -f "$WORK/d1/groups/g1.json" && echo 1 || echo 0)"  # deleted at the end of `full`
expect_eq "the Ignition written over gRPC was removed by IgnitionDelete" "0" \
    "$(ls "$WORK/d1/ignition" | wc -l)"
expect_eq "the REST-written profile is a file of the data dir" "1" \
    "$(ls "$WORK/d1/profiles/from-rest.json" 2>/dev/null | wc -l)"
expect_eq "still serving after all that" 200 "$(status /healthz)"

# --- terraform-provider-matchbox's sequence against one endpoint, then two (it writes the same
# objects to each).
make_data "$WORK/d2"
start_rpc two -data-path="$WORK/d2"
two_rpc=$RPC two_http="http://127.0.0.1:$PORT"
client terraform --rpc "$RPC" --http "$two_http"
make_data "$WORK/d3"
start_rpc three -data-path="$WORK/d3"
client terraform --rpc "$two_rpc,$RPC" --http "$two_http,http://127.0.0.1:$PORT"
expect_eq "the group files were written and removed in the data dir" "0" "$(ls "$WORK/d3/groups" | wc -l)"

# --- The etcd backend: a gRPC write on replica A is served by replica B.
source "$here/../etcd/cluster.sh"
start_cluster 1
start_rpc A -etcd-endpoints="$ENDPOINTS" -etcd-timeout=2s
a_rpc=$RPC
start_bootcfgd B -assets-path= -etcd-endpoints="$ENDPOINTS" -etcd-timeout=2s
client terraform --rpc "$a_rpc" --http "http://127.0.0.1:$PORT"
# The inventory's keys (machines/, secrets/) are state, not config: the destroy leaves them.
expect_eq "etcd holds no object after the destroy" "" \
    "$(ctl get --prefix /bootcfg/ --keys-only | grep -v '^/bootcfg/\(machines\|secrets\)/' | grep . || true)"

echo "rpc: $((CHECKS - FAILURES))/$CHECKS checks passed"
[[ $FAILURES -eq 0 ]]
