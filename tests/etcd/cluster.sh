# A local etcd cluster for tests and benchmarks: Debian's etcd, each member on its own loopback
# ports and data dir under $WORK. Source it after tests/integration/lib.sh (WORK, PIDS).
#   start_cluster N       starts N members, waits until the cluster is healthy; sets ENDPOINTS
#                         (comma-separated) and ENDPOINT[i] (i from 1)
#   stop_member I [SIG]   stops member I (default SIGTERM) and waits for it to exit
#   start_member I        starts member I again on its data dir (rejoins the cluster)
#   leader                the number of the current leader
#   ctl ARGS...           etcdctl against the cluster
#   start_replica NAME [flags]  bootcfgd with an admin listener (start_bootcfgd): sets
#                         <NAME>_PORT, <NAME>_ADMIN (http://127.0.0.1:PORT), <NAME>_LOG, <NAME>_PID
command -v etcd >/dev/null || { echo "FAIL: etcd missing (scripts/deps --test installs etcd-server)"; exit 1; }
command -v etcdctl >/dev/null || { echo "FAIL: etcdctl missing (scripts/deps --test installs etcd-client)"; exit 1; }

declare -a ENDPOINT PEER MEMBER_PID
CLUSTER_SIZE=0
INITIAL_CLUSTER=""

free_ports() {
    python3 -c 'import socket, sys
s = [socket.socket() for _ in range(int(sys.argv[1]))]
[x.bind(("127.0.0.1", 0)) for x in s]
print(*[x.getsockname()[1] for x in s])' "$1"
}

start_member() {
    local i=$1
    etcd --name "m$i" --data-dir "$WORK/etcd-m$i" \
        --listen-client-urls "${ENDPOINT[$i]}" --advertise-client-urls "${ENDPOINT[$i]}" \
        --listen-peer-urls "${PEER[$i]}" --initial-advertise-peer-urls "${PEER[$i]}" \
        --initial-cluster-token "bootcfg-test" --initial-cluster "$INITIAL_CLUSTER" \
        --initial-cluster-state new >>"$WORK/etcd-m$i.log" 2>&1 &
    MEMBER_PID[$i]=$!
    PIDS+=("${MEMBER_PID[$i]}")
}

ctl() { ETCDCTL_API=3 etcdctl --endpoints="$ENDPOINTS" --command-timeout=5s "$@"; }

# wait_healthy [ENDPOINTS]: until every given member (default: all) reports healthy.
wait_healthy() {
    local endpoints=${1:-$ENDPOINTS}
    for _ in $(seq 150); do
        ETCDCTL_API=3 etcdctl --endpoints="$endpoints" --command-timeout=2s endpoint health \
            >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "etcd did not become healthy ($endpoints); logs:" >&2
    tail -n 20 "$WORK"/etcd-m*.log >&2
    exit 1
}

start_cluster() {
    CLUSTER_SIZE=$1
    local ports i
    read -r -a ports < <(free_ports $((2 * CLUSTER_SIZE)))
    ENDPOINTS="" INITIAL_CLUSTER=""
    for i in $(seq "$CLUSTER_SIZE"); do
        ENDPOINT[$i]="http://127.0.0.1:${ports[$((2 * i - 2))]}"
        PEER[$i]="http://127.0.0.1:${ports[$((2 * i - 1))]}"
        ENDPOINTS+="${ENDPOINTS:+,}${ENDPOINT[$i]}"
        INITIAL_CLUSTER+="${INITIAL_CLUSTER:+,}m$i=${PEER[$i]}"
    done
    for i in $(seq "$CLUSTER_SIZE"); do start_member "$i"; done
    wait_healthy
}

stop_member() {
    local i=$1 sig=${2:-TERM}
    kill "-$sig" "${MEMBER_PID[$i]}" 2>/dev/null || true
    wait "${MEMBER_PID[$i]}" 2>/dev/null || true
}

leader() {
    local i
    for i in $(seq "$CLUSTER_SIZE"); do
        ETCDCTL_API=3 etcdctl --endpoints="${ENDPOINT[$i]}" --command-timeout=2s endpoint status \
            -w json 2>/dev/null | python3 -c 'import json, sys
s = json.load(sys.stdin)[0]["Status"]
sys.exit(0 if s["leader"] == s["header"]["member_id"] else 1)' && { echo "$i"; return; }
    done
    echo 0
}

start_replica() {
    local name=$1
    shift
    start_bootcfgd "$name" -assets-path= -admin-address=127.0.0.1:0 -etcd-timeout=2s "$@"
    local admin
    admin=$(grep -o 'admin API listening on 127.0.0.1:[0-9]*' "$LOG" | grep -o '[0-9]*$')
    printf -v "${name}_PORT" '%s' "$PORT"
    printf -v "${name}_ADMIN" '%s' "http://127.0.0.1:$admin"
    printf -v "${name}_LOG" '%s' "$LOG"
    printf -v "${name}_PID" '%s' "$PID"
}
