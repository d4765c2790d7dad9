#!/usr/bin/env bash
# lib/etcd's client and lib/store/etcd_codec against a real etcd (Debian's etcd-server): its
# transactions and reads over gRPC (compares, puts, deletes, single keys, paged listings around
# skipped prefixes, pages over the size bound) and the watch messages of the JSON gateway (PUT
# and DELETE events, a watch from a compacted revision) give the facts etcdctl shows.
# Usage: codec_real_etcd.sh ETCD_CODEC_TOOL
set -euo pipefail
TOOL=$(realpath "${1:?path to etcd_codec_tool}")
command -v etcd >/dev/null || { echo "FAIL: etcd missing (scripts/deps --test installs etcd-server)"; exit 1; }
command -v etcdctl >/dev/null || { echo "FAIL: etcdctl missing (scripts/deps --test installs etcd-client)"; exit 1; }
WORK=$(mktemp -d /tmp/bootcfg-etcd.XXXXXX)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill -9 "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT
CHECKS=0 FAILURES=0
expect_eq() {
    CHECKS=$((CHECKS + 1))
    [[ "$2" == "$3" ]] || { FAILURES=$((FAILURES + 1)); echo "FAIL: $1: expected [$2], got [$3]" >&2; }
}

read -r client peer < <(python3 -c 'import socket
s=[socket.socket() for _ in range(2)]
[x.bind(("127.0.0.1", 0)) for x in s]
print(*[x.getsockname()[1] for x in s])')
etcd --name codec --data-dir "$WORK/etcd" --listen-client-urls "http://127.0.0.1:$client" \
    --advertise-client-urls "http://127.0.0.1:$client" --listen-peer-urls "http://127.0.0.1:$peer" \
    --initial-advertise-peer-urls "http://127.0.0.1:$peer" \
    --initial-cluster "codec=http://127.0.0.1:$peer" >"$WORK/etcd.log" 2>&1 &
PIDS+=($!)
E=http://127.0.0.1:$client
ctl() { ETCDCTL_API=3 etcdctl --endpoints="$E" --command-timeout=5s "$@"; }
for _ in $(seq 100); do ctl endpoint health >/dev/null 2>&1 && break; sleep 0.1; done
ctl endpoint health >/dev/null 2>&1 || { cat "$WORK/etcd.log"; exit 1; }

# --- txn over gRPC: create only if absent (mod_revision 0), then the same again is refused
expect_eq "txn create: succeeded" "succeeded 1" "$("$TOOL" txn "$E" /bootcfg/groups/a '{"id":"a"}' 0 | head -1)"
expect_eq "txn create again: refused" "succeeded 0" "$("$TOOL" txn "$E" /bootcfg/groups/a '{"id":"a2"}' 0 | head -1)"
expect_eq "etcd holds the first value" '{"id":"a"}' "$(ctl get --print-value-only /bootcfg/groups/a)"
rev=$(ctl get /bootcfg/groups/a -w json | python3 -c 'import json,sys; print(json.load(sys.stdin)["kvs"][0]["mod_revision"])')
expect_eq "txn at a stale mod_revision: refused" "succeeded 0" "$("$TOOL" txn "$E" /bootcfg/groups/a '{"id":"a0"}' $((rev - 1)) | head -1)"
done_txn=$("$TOOL" txn "$E" /bootcfg/groups/a '{"id":"a3"}' "$rev")
expect_eq "txn at the current mod_revision: succeeded, at the next revision" "succeeded 1
revision $((rev + 1))" "$done_txn"
"$TOOL" txn "$E" /bootcfg/groups/gone x any >/dev/null
expect_eq "txn delete (any revision)" "succeeded 1" "$("$TOOL" txn "$E" /bootcfg/groups/gone - any | head -1)"
expect_eq "the deleted key is gone" "none" "$("$TOOL" get "$E" /bootcfg/groups/gone)"
ctl put /bootcfg/profiles/p '{"id":"p"}' >/dev/null
ctl put /other/x y >/dev/null

# --- reads over gRPC: one key with its mod_revision, the prefix only, the revision of the read
now=$(ctl get /bootcfg/ --prefix -w json | python3 -c 'import json,sys; print(json.load(sys.stdin)["header"]["revision"])')
expect_eq "get: the key, its mod_revision, its value" "kv /bootcfg/groups/a $((rev + 1)) {\"id\":\"a3\"}" \
    "$("$TOOL" get "$E" /bootcfg/groups/a)"
expect_eq "get of a missing key" "none" "$("$TOOL" get "$E" /bootcfg/groups/nope)"
expect_eq "list: revision, keys under the prefix only, values" "revision $now
kv /bootcfg/groups/a {\"id\":\"a3\"}
kv /bootcfg/profiles/p {\"id\":\"p\"}" "$("$TOOL" list "$E" /bootcfg/ 100)"
expect_eq "list with no match" "revision $now" "$("$TOOL" list "$E" /none/ 100)"

# --- watch: a PUT (no "type" in etcd's JSON) and a DELETE, from the next revision on
"$TOOL" watch /bootcfg/ $((now + 1)) >"$WORK/watch.req"
curl -s -N --max-time 20 -X POST -d @"$WORK/watch.req" "$E/v3/watch" \
    | "$TOOL" parse watch >"$WORK/watch.out" &
PIDS+=($!)
for _ in $(seq 50); do grep -q created "$WORK/watch.out" 2>/dev/null && break; sleep 0.1; done
ctl put /bootcfg/groups/b '{"id":"b"}' >/dev/null
ctl del /bootcfg/groups/a >/dev/null
ctl put /other/y z >/dev/null
for _ in $(seq 50); do grep -q DELETE "$WORK/watch.out" 2>/dev/null && break; sleep 0.1; done
expect_eq "watch: created, then a PUT and a DELETE under the prefix only" "created
PUT /bootcfg/groups/b $((now + 1)) {\"id\":\"b\"}
DELETE /bootcfg/groups/a $((now + 2)) " "$(cat "$WORK/watch.out")"

# --- the client's paged listing: pages of 3 keys, each read at the first page's revision, the
# skipped prefixes never read, so page boundaries fall before, inside and after the gap
for k in a0 a1 a2 a3 a4 a5 a6; do ctl put "/list/groups/$k" "v-$k" >/dev/null; done
for k in m0 m1 m2 m3; do ctl put "/list/machines/$k" "secret-$k" >/dev/null; done
for k in p0 p1 p2 p3 p4; do ctl put "/list/profiles/$k" "v-$k" >/dev/null; done
listed=$(ctl get /list/ --prefix -w json | python3 -c 'import json,sys; print(json.load(sys.stdin)["header"]["revision"])')
expected="revision $listed"
for k in a0 a1 a2 a3 a4 a5 a6; do expected+=$'\n'"kv /list/groups/$k v-$k"; done
for k in p0 p1 p2 p3 p4; do expected+=$'\n'"kv /list/profiles/$k v-$k"; done
for page in 3 4 100; do
    expect_eq "list in pages of $page, machines/ skipped" "$expected" \
        "$("$TOOL" list "$E" /list/ "$page" /list/machines/)"
done

# A page over the client's size bound is read again in smaller pages; one key over it is an error.
expect_eq "list in pages of 100 answered in at most 200 bytes each" "$expected" \
    "$(MAX_PAGE_BYTES=200 "$TOOL" list "$E" /list/ 100 /list/machines/)"
ctl put /big/groups/huge "$(printf 'x%.0s' $(seq 300))" >/dev/null
expect_eq "list with a key larger than the bound" \
    "error etcd's answer to a range read is larger than 200 bytes" \
    "$(MAX_PAGE_BYTES=200 "$TOOL" list "$E" /big/ 100)"

# --- a watch from a compacted revision is canceled with the compaction's revision
last=$(ctl get /bootcfg/ --prefix -w json | python3 -c 'import json,sys; print(json.load(sys.stdin)["header"]["revision"])')
ctl compaction "$last" >/dev/null
"$TOOL" watch /bootcfg/ 2 | curl -s -N --max-time 5 -X POST -d @- "$E/v3/watch" \
    | "$TOOL" parse watch >"$WORK/compacted.out" || true
expect_eq "watch from a compacted revision: canceled, compact_revision given" \
    "canceled compact_revision $last" "$(grep canceled "$WORK/compacted.out" | head -1)"

echo "$(basename "$0"): $((CHECKS - FAILURES)) passed, $FAILURES failed"
[[ $FAILURES -eq 0 ]]
