#!/usr/bin/env bash
# bootcfgd's TFTP server with real clients (curl, tftp-hpa, atftp): every iPXE binary byte for
# byte at blksize 512, 1432 and 8192 and with windowsize; tsize, netascii, block numbers rolling
# over; writes and unknown files refused; lost packets (a relay that drops them) retransmitted;
# the traversal corpus under strace opening nothing outside the roots; the transfer and rate
# limits; bad flags.
BOOTCFGD=$1
source "$(dirname "$0")/lib.sh"
here=$(cd "$(dirname "$0")" && pwd)
clients() { python3 "$here/tftp_clients.py" "$@"; }

for tool in tftp atftp strace; do
    command -v $tool >/dev/null || { fail "$tool is not installed (scripts/deps --test installs it)"; finish; exit; }
done

data="$WORK/data" ipxe="$WORK/ipxe" assets="$WORK/assets"
mkdir -p "$data/profiles" "$data/groups" "$ipxe" "$assets/lab/deeper" "$WORK/outside"
cp /usr/lib/ipxe/undionly.kpxe /usr/lib/ipxe/snponly.efi "$ipxe/"
# As in Debian's package: ipxe.efi is a symlink out of the directory, which its owner made.
ln -s "$(readlink -f /usr/lib/ipxe/ipxe.efi)" "$ipxe/ipxe.efi"
ln -s ../outside "$ipxe/up"
traversal_tree "$assets"
head -c 5000000 /dev/urandom >"$assets/lab/initrd.img"
printf 'line one\nline two\r\nbare cr\r end\n' >"$assets/lab/notes.txt"

start_tftp() {
    local name=$1
    shift
    start_bootcfgd "$name" -data-path="$data" -assets-path="$assets" -ipxe-dir="$ipxe" \
        -tftp-address=127.0.0.1:0 "$@"
    TPORT=$(grep -o 'TFTP listening on 127.0.0.1:[0-9]*' "$LOG" | grep -o '[0-9]*$')
}

start_tftp main -tftp-assets -metrics-address=127.0.0.1:0
expect_contains "startup names the TFTP address and roots" "iPXE binaries from $ipxe, assets as assets/NAME" "$(cat "$LOG")"

# --- Every iPXE binary, byte for byte, with each client and block size.
for file in undionly.kpxe snponly.efi ipxe.efi; do
    want="$ipxe/$file"
    for blksize in 512 1432 8192; do
        rm -f "$WORK/got"
        curl -s --tftp-blksize $blksize -o "$WORK/got" "tftp://127.0.0.1:$TPORT/$file"
        cmp -s "$want" "$WORK/got" && pass || fail "curl $file blksize $blksize differs"
    done
    rm -f "$WORK/got"
    (cd "$WORK" && tftp -m binary 127.0.0.1 "$TPORT" -c get "$file" got)
    cmp -s "$want" "$WORK/got" && pass || fail "tftp-hpa $file differs"
    for window in 1 4 16; do
        rm -f "$WORK/got"
        atftp --option "blksize 1432" --option "windowsize $window" --option "tsize 0" \
            -g -r "$file" -l "$WORK/got" 127.0.0.1 "$TPORT" >/dev/null 2>&1
        cmp -s "$want" "$WORK/got" && pass || fail "atftp $file windowsize $window differs"
    done
done
expect_log "the log says what was sent" "\"ipxe.efi\" sent $(stat -Lc %s "$ipxe/ipxe.efi") bytes"
expect_log "windows as negotiated" "(blksize 1432, windowsize 16, 0 retransmissions)"

# --- Assets under assets/, 5 MB at blksize 512: past block 65,535? No: 9,766 blocks. The
# roll-over needs > 32 MiB at 512; with blksize 8 (RFC 2348's minimum) 600 KB is enough.
rm -f "$WORK/got"
curl -s -o "$WORK/got" "tftp://127.0.0.1:$TPORT/assets/lab/initrd.img"
cmp -s "$assets/lab/initrd.img" "$WORK/got" && pass || fail "assets/lab/initrd.img differs"
head -c 600000 "$assets/lab/initrd.img" >"$assets/lab/small.img"
rm -f "$WORK/got"
curl -s --tftp-blksize 8 -o "$WORK/got" "tftp://127.0.0.1:$TPORT/assets/lab/small.img"
cmp -s "$assets/lab/small.img" "$WORK/got" && pass || fail "75,000 blocks of 8 bytes (roll-over) differ"
# netascii: tftp-hpa's default mode converts line ends both ways.
rm -f "$WORK/got"
(cd "$WORK" && tftp 127.0.0.1 "$TPORT" -c get assets/lab/notes.txt got)
cmp -s "$assets/lab/notes.txt" "$WORK/got" && pass || fail "netascii round trip differs"
# 3 LF -> CR LF and 2 CR -> CR NUL: 32 bytes become 37.
expect_log "netascii sends CR LF and CR NUL" "\"assets/lab/notes.txt\" sent 37 bytes"

# --- tsize, then an abort (OVMF's size probe), then the download.
expect_eq "the size probe gets the size" "probe: oack blksize 1468 tsize $(stat -c %s "$ipxe/snponly.efi")" \
    "$(clients probe "$TPORT" snponly.efi "$WORK/probe.out")"
cmp -s "$WORK/probe.out" "$ipxe/snponly.efi" && pass || fail "download after the probe differs"
expect_log "the probe's abort is logged as the client's" "ended: the client ended it (error 8: User aborted the transfer)"

# --- Refusals: writes, unknown files, bad modes and requests.
reply=$(cd "$WORK" && echo x >up.txt && tftp 127.0.0.1 "$TPORT" -c put up.txt up.txt 2>&1 || true)
expect_contains "a write is refused (error 2)" "Error code 2: read-only server" "$reply"
expect_eq "an unknown file is error 1" "error 1 file not found" "$(clients first "$TPORT" nothing.bin)"
expect_eq "assets/ is only there with -tftp-assets... here it is" "error 1 file not found" "$(clients first "$TPORT" assets/lab/missing)"
expect_eq "mail mode is refused" 'error 4 unsupported mode "mail" (octet, netascii)' "$(clients first "$TPORT" undionly.kpxe mail)"
expect_eq "an empty name is refused" "error 2 file name not allowed" "$(clients first "$TPORT" '')"
# /metrics counts what happened above.
metrics_url=$(grep -o 'metrics: serving http://[^ ]*' "$LOG" | cut -d' ' -f3)
scrape=$(curl -s "$metrics_url")
completed=$(awk '/^bootcfg_tftp_transfers_total\{result="completed"\}/ {print int($2)}' <<<"$scrape")
refused=$(awk '/^bootcfg_tftp_requests_refused_total/ {print int($2)}' <<<"$scrape")
if ((completed >= 25 && refused >= 5)); then pass; else fail "/metrics: $completed transfers completed, $refused refused"; fi
expect_contains "/metrics: the probe's abort is a failed transfer" 'bootcfg_tftp_transfers_total{result="failed"}' "$scrape"
expect_contains "/metrics: bytes acknowledged" 'bootcfg_tftp_bytes_total' "$scrape"
kill "$PID"

# --- Lost packets: a relay drops every 11th packet either way (the first: the OACK's ACK); curl
# and atftp still finish. curl's --connect-timeout 5 makes it ask for 1 s retransmissions.
mkfifo "$WORK/relay.in"
start_tftp lossy -tftp-assets
for pattern in 11:2; do
    clients relay "$TPORT" "$pattern" <"$WORK/relay.in" >"$WORK/relay.out" &
    relay_pid=$!
    exec 8>"$WORK/relay.in"
    for _ in $(seq 50); do [[ -s "$WORK/relay.out" ]] && break; sleep 0.05; done
    rport=$(head -1 "$WORK/relay.out")
    rm -f "$WORK/got"
    timeout 120 curl -s --connect-timeout 5 --tftp-blksize 1432 -o "$WORK/got" "tftp://127.0.0.1:$rport/undionly.kpxe"
    cmp -s "$ipxe/undionly.kpxe" "$WORK/got" && pass || fail "curl through a lossy path ($pattern) differs"
    rm -f "$WORK/got"
    timeout 120 atftp --option "blksize 1432" --option "windowsize 8" -g -r snponly.efi \
        -l "$WORK/got" 127.0.0.1 "$rport" >/dev/null 2>&1
    cmp -s "$ipxe/snponly.efi" "$WORK/got" && pass || fail "atftp windowsize 8 through a lossy path ($pattern) differs"
    exec 8>&-
    wait "$relay_pid"
    echo "relay $pattern: $(tail -1 "$WORK/relay.out")"
done
if grep -E 'sent .* [1-9][0-9]* retransmissions\)' "$LOG" >/dev/null; then pass; else fail "no retransmission logged"; fi
grep -E '"(undionly.kpxe|snponly.efi)" sent' "$LOG" | sed 's/^.*tftp: /  /'
kill "$PID"

# --- Limits: transfers at once, and requests per second from one address.
start_tftp limited -tftp-max-transfers=2
expect_eq "beyond -tftp-max-transfers: no answer, until one ends" \
    "answered: data 1 512|answered: data 1 512|no answer|after: data 1 512" \
    "$(clients limits "$TPORT" 2 | paste -sd'|')"
expect_log "the dropped request is logged with the limits" "dropped: 2 transfers running (limits 2 in all"
answered=$(clients rate "$TPORT" 100)
if ((answered >= 30 && answered <= 45)); then pass; else fail "rate limit: $answered of 100 burst requests answered (burst 40)"; fi
kill "$PID"

# --- Path traversal corpus, under strace: nothing outside the roots is opened.
trace="$WORK/strace.log"
WRAPPER=(strace -f -y -qq -e trace=open,openat,openat2,creat -o "$trace")
start_tftp traced -tftp-assets
WRAPPER=()
expect_eq "traced bootcfgd serves" "data 1 512" "$(clients first "$TPORT" undionly.kpxe)"
sleep 0.3
start_line=$(wc -l <"$trace")
names=(
    '../canary' '../../canary' '..' '.' '/..' '/../canary' '..\canary' '\..\..\canary' 'up/canary'
    'up/../canary' "$WORK/canary" "/$WORK/canary" "//$WORK/canary" '/etc/passwd' '\etc\passwd'
    'assets/../canary' 'assets/../../canary' 'assets/out-absolute' 'assets/out-relative'
    'assets/lab/deeper/up/canary' 'assets/root/etc/passwd' "assets/root$WORK/canary"
    'assets//lab/initrd.img' 'assets/./lab/initrd.img' 'assets/lab/../../canary' 'assets\..\canary'
    '%2e%2e/canary' 'assets/%2e%2e/%2e%2e/canary' 'undionly.kpxe<NUL>../canary' 'assets<NUL>/../canary'
    'assets/lab' 'assets/' 'assets' 'up' 'up/'
)
for n in "${names[@]}"; do
    reply=$(clients first "$TPORT" "$n")
    [[ $reply == error* ]] && pass || fail "traversal name [$n] answered [$reply]"
done
expect_eq "the control file is still served" "data 1 512" "$(clients first "$TPORT" assets/lab/initrd.img)"
sleep 0.3
tail -n +"$((start_line + 1))" "$trace" >"$WORK/requests.trace"
outside=$(grep -oE '= [0-9]+<[^>]*>' "$WORK/requests.trace" | grep -oE '<[^>]*>' | tr -d '<>' |
    grep -vE "^($assets|$ipxe)/" | grep -vE '^/(dev|proc)/|^socket:|^UDP' || true)
expect_eq "files opened outside the roots while serving" "" "$outside"
expect_contains "control open traced" "<$assets/lab/initrd.img>" "$(cat "$WORK/requests.trace")"
echo "traversal: ${#names[@]} names, $(grep -c open "$WORK/requests.trace" || true) open calls traced, none outside the roots"
kill "$(pgrep -P "$PID" -x bootcfgd)"
wait "$PID" || true

# --- Bad flags: one line, exit 2 (usage) or 1 (cannot serve).
flag_case() {  # DESCRIPTION EXPECTED-STATUS NEEDLE FLAGS...
    local what=$1 want=$2 needle=$3 code=0
    shift 3
    "$BOOTCFGD" -address=127.0.0.1:0 -data-path="$data" "$@" >"$WORK/flag.out" 2>&1 &
    local pid=$!
    for _ in $(seq 40); do kill -0 $pid 2>/dev/null || break; sleep 0.05; done
    if kill -0 $pid 2>/dev/null; then kill $pid; fail "$what: still running"; wait $pid || true; return; fi
    wait $pid || code=$?
    expect_eq "$what: exit status" "$want" "$code"
    expect_contains "$what: says why" "$needle" "$(cat "$WORK/flag.out")"
}
flag_case "-tftp-address without a port" 2 "invalid value for flag -tftp-address" -tftp-address=nonsense
flag_case "-tftp-assets alone" 2 "-tftp-assets needs -tftp-address" -tftp-assets
flag_case "-tftp-assets with assets off" 2 "-tftp-assets: serving assets is disabled" \
    -tftp-address=127.0.0.1:0 -tftp-assets -assets-path=
flag_case "a missing -ipxe-dir" 1 "iPXE directory $WORK/none: No such file or directory" \
    -tftp-address=127.0.0.1:0 -ipxe-dir="$WORK/none"
python3 -c 'import socket,time; s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1],flush=True); time.sleep(30)' >"$WORK/busy" &
busy=$!
PIDS+=("$busy")
for _ in $(seq 40); do [[ -s "$WORK/busy" ]] && break; sleep 0.05; done
flag_case "a TFTP port in use" 1 "cannot listen on TFTP address 127.0.0.1:$(cat "$WORK/busy"): Address already in use" \
    -tftp-address=127.0.0.1:"$(cat "$WORK/busy")" -ipxe-dir="$ipxe"
finish
