#!/usr/bin/env bash
# Store faults against the real bootcfgd: a file rewritten in place while it is being written,
# truncated JSON, a 100 MB junk file, files deleted during a reload, permission denied, and a
# directory where a file should be. Each is logged with its path; everything else keeps being
# served, the broken entry keeps its last good version, and no request sees a partial file.
BOOTCFGD=$1
source "$(dirname "$0")/lib.sh"

data="$WORK/data"
mkdir -p "$data/profiles" "$data/groups" "$data/cloud"
chmod 755 "$WORK"
profile() {  # profile ID KERNEL
    printf '{"id": "%s", "boot": {"kernel": "%s", "args": ["a=1", "b=2"]}, "cloud_id": "c.yaml"}' "$1" "$2"
}
group() {  # group ID PROFILE MAC
    printf '{"id": "%s", "profile": "%s", "selector": {"mac": "%s"}}' "$1" "$2" "$3"
}
profile p1 /k/p1-v1 >"$data/profiles/p1.json"
profile p2 /k/p2-v1 >"$data/profiles/p2.json"
group g1 p1 52:54:00:00:00:01 >"$data/groups/g1.json"
group g2 p2 52:54:00:00:00:02 >"$data/groups/g2.json"
printf '#cloud-config\nhostname: {{.mac}}\n' >"$data/cloud/c.yaml"
chmod -R a+rX "$data"

ipxe() { body "/ipxe?mac=52:54:00:00:00:0$1"; }
script() { printf '#!ipxe\nkernel %s a=1 b=2\nboot\n' "$1"; }
loads() { grep -c ' loaded ' "$LOG" || true; }
# reload: SIGHUP, then wait until bootcfgd has loaded once more.
reload() {
    local before
    before=$(loads)
    kill -HUP "$PID"
    for _ in $(seq 200); do
        [[ $(loads) -gt $before ]] && return 0
        sleep 0.02
    done
    fail "no reload after SIGHUP"
}

start_bootcfgd faults -data-path="$data" -assets-path=
expect_eq "baseline p1" "$(script /k/p1-v1)" "$(ipxe 1)"
expect_eq "baseline p2" "$(script /k/p2-v1)" "$(ipxe 2)"

# --- a profile rewritten in place, slowly: the first half sits on disk across a reload
old=$(script /k/p1-v1) new=$(script /k/p1-v2)
( while true; do ipxe 1; printf '\n--\n'; sleep 0.02; done ) >"$WORK/midwrite.bodies" &
poller=$!
new_json=$(profile p1 /k/p1-v2)
exec 7>"$data/profiles/p1.json"
printf '%s' "${new_json:0:30}" >&7
sleep 0.3
reload
sleep 0.3
printf '%s' "${new_json:30}" >&7
exec 7>&-
reload
sleep 0.3
kill "$poller"; wait "$poller" 2>/dev/null || true
expect_log "half-written profile reported" "$data/profiles/p1.json:1: invalid JSON"
bad=$(awk -v RS='\n--\n' -v a="$old" -v b="$new" '{sub(/\n+$/, "")} $0 != a && $0 != b {n++} END {print n+0}' "$WORK/midwrite.bodies")
seen=$(grep -c '^kernel' "$WORK/midwrite.bodies")
expect_eq "no partial or failed reply while the profile was half written ($seen replies)" "0" "$bad"
expect_eq "finished write served" "$new" "$(ipxe 1)"

# --- truncated JSON keeps the last good group
head -c 25 "$data/groups/g2.json" >"$WORK/t" && cat "$WORK/t" >"$data/groups/g2.json"
reload
expect_log "truncated group reported" "$data/groups/g2.json:1: invalid JSON"
expect_eq "truncated group: last good version served" "$(script /k/p2-v1)" "$(ipxe 2)"
group g2 p2 52:54:00:00:00:02 >"$data/groups/g2.json"


# --- a 100 MB junk file among the groups
# Moved in whole: written in place, the watcher would read it legitimately while it is still
# small, and the sanitizer build's allocator quarantine would keep those reads in the peak RSS.
# The check is on the rise of the peak RSS, not its level: the sanitizer build's baseline alone
# grew past a fixed 200 MB bound as the daemon grew (CI, stop 35).
peak_kb() { awk '/VmHWM/ {print $2}' "/proc/$PID/status"; }
head -c 100000000 /dev/urandom >"$WORK/junk.json"
before_kb=$(peak_kb)
mv "$WORK/junk.json" "$data/groups/junk.json"
reload
expect_log "junk reported" "$data/groups/junk.json: "
expect_eq "junk: others served" "$new" "$(ipxe 1)"
rise_kb=$(( $(peak_kb) - before_kb ))
[[ $rise_kb -lt 20000 ]] && pass || fail "peak RSS rose ${rise_kb} kB with the 100 MB junk file (the loader should refuse it unread)"
rm "$data/groups/junk.json"

# --- a directory where a file should be
# Swapped in at once (renameat2 RENAME_EXCHANGE): a remove then a mkdir could reach the watcher
# as two changes under load, and between them p2 is rightly gone.
mkdir "$WORK/p2.dir"
python3 -c 'import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
if libc.renameat2(-100, sys.argv[1].encode(), -100, sys.argv[2].encode(), 2) != 0:
    sys.exit("renameat2: " + os.strerror(ctypes.get_errno()))' "$WORK/p2.dir" "$data/profiles/p2.json"
rm "$WORK/p2.dir"  # now the old file
reload
expect_log "directory reported" "$data/profiles/p2.json: not a regular file"
expect_eq "directory: last good p2 served" "$(script /k/p2-v1)" "$(ipxe 2)"
rmdir "$data/profiles/p2.json" && profile p2 /k/p2-v1 >"$data/profiles/p2.json"

# --- a broken template keeps its last good version
printf '#cloud-config\nhostname: {{.mac\n' >"$data/cloud/c.yaml"
reload
expect_log "broken template reported" "$data/cloud/c.yaml:3: template: unclosed action; keeping the last good version"
expect_eq "broken template: last good version" "$(printf '#cloud-config\nhostname: 52:54:00:00:00:01')" \
    "$(body "/cloud?mac=52:54:00:00:00:01")"
printf '#cloud-config\nhostname: {{.mac}}\n' >"$data/cloud/c.yaml"

# --- files deleted while a reload reads them
for i in $(seq 3000); do group "many$i" p1 "02:00:00:00:$(printf '%02x:%02x' $((i / 256)) $((i % 256)))" >"$data/groups/many$i.json"; done
reload
expect_eq "many groups served" "$new" "$(body "/ipxe?mac=02:00:00:00:00:07")"
for round in 1 2 3; do
    kill -HUP "$PID"
    for i in $(seq $((round * 1000 - 999)) $((round * 1000))); do rm -f "$data/groups/many$i.json"; done
done
sleep 0.5
reload
kill -0 "$PID" && pass || fail "bootcfgd died while files vanished under a reload"
expect_eq "deleted groups gone after the next reload" "404" "$(status "/ipxe?mac=02:00:00:00:00:07")"
expect_eq "others still served" "$new" "$(ipxe 1)"
kill "$PID"

# --- permission denied (as an unprivileged user: root reads everything)
if command -v setpriv >/dev/null && id nobody >/dev/null 2>&1; then
    WRAPPER=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
    start_bootcfgd nobody -data-path="$data" -assets-path= -state-path=  # no inventory: about the data dir
    WRAPPER=()

    expect_eq "as nobody: p2 served" "$(script /k/p2-v1)" "$(ipxe 2)"
    chmod 000 "$data/profiles/p2.json"
    reload
    expect_log "permission denied reported" "$data/profiles/p2.json: Permission denied"
    expect_eq "permission denied: last good p2 served" "$(script /k/p2-v1)" "$(ipxe 2)"
    chmod 000 "$data/groups"
    reload
    expect_log "unreadable directory reported" "$data/groups"
    expect_eq "unreadable groups dir: last good groups kept" "$new" "$(ipxe 1)"
    chmod 755 "$data/groups"
    chmod 644 "$data/profiles/p2.json"
    kill "$PID"
    wait "$PID" 2>/dev/null || true
else
    fail "setpriv or the nobody user is missing"
fi
finish
