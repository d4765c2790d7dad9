#!/usr/bin/env python3
"""README doctest: runs the README's shell examples as written, so they cannot drift.

Every ```sh block in README.md is preceded by a marker comment:
  <!-- doctest: run -->                 run it
  <!-- doctest: run; given: a, b -->    run it after the named set-ups below
  <!-- doctest: skip: REASON -->        cannot run here, and why
A block without a marker fails the test, so a new example needs a decision.

A block runs in bash (errexit, pipefail) in an operator's working copy (data/, images/ and
scripts/ copied from the repository; every block shares it, as one operator following the README
top to bottom would), inside fresh network, mount and PID namespaces: 127.0.0.1:8080 is free,
addresses like 192.168.77.1 exist only there, /etc is a private overlay, /tmp, /run and
/var/lib/misc are private, and every process a block started ends with it. bootcfgd and bootcfg
are the binaries under test, first on PATH. We run as root, so `sudo` is a shim that runs its
command (the only double here, for a program that is not installed).

In a block:
  - each command must exit 0;
  - a command ending in `&` runs in the background; the next command waits until a new
    listening socket shows up in the namespace (a server started);
  - comment lines straight after a command (`# ...` at column 0) are its expected standard
    output, line for line; `...` inside a line matches any text, a line that is just `...`
    matches any number of lines.

Usage: readme_doctest.py README BOOTCFGD BOOTCFG WORKDIR
"""
import os
import re
import shutil
import subprocess
import sys
import textwrap
import time

MARKER = re.compile(r"^<!-- doctest: (.*) -->$")
BLOCK_TIMEOUT = 300
# What a terminal shows of an output: its control sequences (CSI, OSC, ESC x) and CRs dropped.
TERMINAL_CONTROL = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)|\x1b[@-Z\\-_`-~]|\r")

# Named set-ups a `given:` can ask for: bash run in the block's namespaces before the block.
GIVEN = {
    # A bridge the README's dnsmasq example names, with the address it serves on.
    "br0": """
        ip link add br0 type bridge
        ip addr add 192.168.77.1/24 dev br0
        ip link set br0 up
    """,
    # dnsmasq's drop-in directory (in the private /etc).
    "dnsmasq.d": "mkdir -p /etc/dnsmasq.d",
    # A bootcfgd with a TLS admin listener reachable as bootcfg.lab:8081 that knows the client
    # alice by certificate, on a data dir holding the template the example profile names; the
    # example's input files in the working directory.
    "admin-tls": """
        scripts/tls-gen tls --host bootcfg.lab --client alice >/dev/null
        cp tls/ca.crt tls/alice.crt tls/alice.key .
        echo "127.0.0.1 bootcfg.lab" >>/etc/hosts
        rm -rf admin-data && mkdir -p admin-data/ignition
        cp data/ignition/fedora-coreos.ign admin-data/ignition/
        cp data/profiles/fedora-coreos.json fedora-coreos.json
        printf '%s\\n' '{"id": "node1", "profile": "fedora-coreos",' \\
            ' "selector": {"mac": "52:54:00:a1:9c:01"}}' >node1.json
        printf '%s\\n' '{"ignition": {"version": "3.4.0"}}' >node1.ign
        doctest_background bootcfgd -address=127.0.0.1:8080 -data-path=admin-data \\
            -admin-address=0.0.0.0:8081 -cert-file tls/server.crt -key-file tls/server.key \\
            -ca-file tls/ca.crt
    """,
}

PRELUDE = r"""
set -euo pipefail
ip link set lo up
doctest_listeners() { ss -Hlntu 2>/dev/null | awk '{print $1, $5}' | sort; }
# Waits until a socket that was not listening before ($1) listens, for up to 60 s.
doctest_wait_listener() {
    local i
    for i in $(seq 600); do
        [[ "$(comm -13 <(printf '%s\n' "$1") <(doctest_listeners))" == "" ]] || return 0
        sleep 0.1
    done
    echo "doctest: nothing new listened within 60 s of a background command" >&2
    return 1
}
doctest_background() {
    local before
    before=$(doctest_listeners)
    "$@" >>"$DOCTEST_LOG.bg" 2>&1 &
    doctest_wait_listener "$before"
}
"""


def parse(readme):
    """[(line number, marker or None, [block lines])] for every ```sh block."""
    lines = open(readme, encoding="utf-8").read().split("\n")
    blocks, i = [], 0
    while i < len(lines):
        if lines[i].strip() == "```sh":
            start = i + 1
            marker = MARKER.match(lines[i - 1].strip()) if i > 0 else None
            j = start
            while j < len(lines) and lines[j].strip() != "```":
                j += 1
            blocks.append((start, marker.group(1) if marker else None, lines[start:j]))
            i = j
        i += 1
    return blocks


def commands(lines):
    """[(command text, [expected output lines] or None)]: continuation lines joined, the
    comment lines straight after a command are its expected output."""
    out, i = [], 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("#") or not line.strip():
            i += 1
            continue
        text = line
        while text.rstrip().endswith("\\") and i + 1 < len(lines):
            i += 1
            text += "\n" + lines[i]
        i += 1
        expected = []
        while i < len(lines) and lines[i].startswith("# "):
            expected.append(lines[i][2:])
            i += 1
        out.append((text, expected or None))
    return out


def backgrounded(text):
    code = re.sub(r"\s#[^'\"]*$", "", text.split("\n")[-1]).rstrip()
    return code.endswith("&") and not code.endswith("&&")


def matches(expected, got):
    def line_re(e):
        return re.compile("^" + ".*".join(re.escape(p) for p in e.split("...")) + "$")

    def walk(ei, gi):
        if ei == len(expected):
            return gi == len(got)
        if expected[ei] == "...":
            return any(walk(ei + 1, k) for k in range(gi, len(got) + 1))
        return gi < len(got) and line_re(expected[ei]).match(got[gi]) and walk(ei + 1, gi + 1)

    return walk(0, 0)


def script_for(number, given, cmds, outdir):
    parts = [PRELUDE]
    for name in given:
        parts.append(textwrap.dedent(GIVEN[name]))
    for k, (text, expected) in enumerate(cmds):
        if backgrounded(text):
            parts.append("doctest_before=$(doctest_listeners)\n" + text + "\n" +
                         'doctest_wait_listener "$doctest_before"')
        elif expected is not None:
            # The newline ends a trailing comment before the redirection.
            parts.append("{ " + text + f'\n}} >"{outdir}/{number}.{k}.out"')
        else:
            parts.append(text)
    return "\n".join(parts) + "\n"


def main():
    readme, bootcfgd, bootcfg, work = sys.argv[1:5]
    # Each block gets a tmpfs over /tmp: a work dir under /tmp (a build tree there) would vanish
    # inside it, so it moves to /var/tmp.
    if os.path.realpath(work).startswith("/tmp/"):
        work = os.path.join("/var/tmp", "bootcfg-readme-doctest-" + str(os.getuid()))
    repo = os.path.dirname(os.path.abspath(readme))
    blocks = parse(readme)
    failures = [f"README.md:{n}: a sh example without a <!-- doctest: run|skip: REASON --> marker"
                for n, marker, _ in blocks if marker is None]
    if failures:
        print("\n".join(failures))
        return 1
    if os.geteuid() != 0 or subprocess.run(["unshare", "--net", "true"]).returncode != 0:
        print("SKIP: needs root and network namespaces")
        return 77

    shutil.rmtree(work, ignore_errors=True)
    op = os.path.join(work, "op")
    os.makedirs(op)
    for d in ("data", "images", "scripts"):
        shutil.copytree(os.path.join(repo, d), os.path.join(op, d), symlinks=True)
    shims = os.path.join(work, "bin")
    os.makedirs(shims)
    for binary in (bootcfgd, bootcfg):
        shim = os.path.join(shims, os.path.basename(binary))
        if os.path.realpath(binary).startswith("/tmp/"):  # hidden in the blocks too: a copy
            shutil.copy2(binary, shim)
        else:
            os.symlink(os.path.abspath(binary), shim)
    bootcfgd = os.path.join(shims, os.path.basename(bootcfgd))
    if not shutil.which("sudo"):
        with open(os.path.join(shims, "sudo"), "w") as f:
            f.write('#!/bin/sh\n# root already: run the command as sudo would\nexec "$@"\n')
        os.chmod(os.path.join(shims, "sudo"), 0o755)
    # scripts/lab-images fetches Debian's kernel package once into its cache; the namespaces
    # have no route out, so warm the cache here.
    subprocess.run([os.path.join(repo, "scripts/lab-images"), os.path.join(work, "warm")],
                   check=True, stdout=subprocess.DEVNULL)
    env = dict(os.environ, PATH=shims + ":" + os.environ["PATH"], BOOTCFGD=os.path.abspath(bootcfgd))

    failed = ran = 0
    only = os.environ.get("DOCTEST_ONLY", "").split()  # fence line numbers, for debugging
    for number, marker, lines in blocks:
        if only and str(number) not in only:
            continue
        if marker.startswith("skip:"):
            print(f"skip README.md:{number}: {marker[5:].strip()}")
            continue
        given = []
        m = re.fullmatch(r"run(?:; given: (.*))?", marker)
        if not m:
            print(f"FAIL README.md:{number}: unknown marker '{marker}'")
            failed += 1
            continue
        if m.group(1):
            given = [g.strip() for g in m.group(1).split(",")]
            unknown = [g for g in given if g not in GIVEN]
            if unknown:
                print(f"FAIL README.md:{number}: unknown set-up {unknown}")
                failed += 1
                continue
        cmds = commands(lines)
        outdir = os.path.join(work, "out")
        os.makedirs(outdir, exist_ok=True)
        script = os.path.join(work, f"block{number}.sh")
        log = os.path.join(work, f"block{number}.log")
        with open(script, "w") as f:
            f.write(script_for(number, given, cmds, outdir))
        # Private /tmp, /run, /var/lib/misc (dnsmasq's leases) and an overlay over /etc.
        setup = ("set -e; mount --make-rprivate /; mount -t tmpfs tmpfs /tmp; "
                 "mount -t tmpfs tmpfs /run; mount -t tmpfs tmpfs /var/lib/misc; "
                 "mkdir -p /tmp/.etc/up /tmp/.etc/work; "
                 "mount -t overlay overlay -o lowerdir=/etc,upperdir=/tmp/.etc/up,workdir=/tmp/.etc/work /etc; "
                 f'cd "{op}"; exec bash "{script}"')
        ran += 1
        started = time.monotonic()
        try:
            with open(log, "w") as out:
                rc = subprocess.run(
                    ["unshare", "--net", "--mount", "--pid", "--fork", "--mount-proc", "bash", "-c", setup],
                    env=dict(env, DOCTEST_LOG=log), stdout=out, stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL, timeout=BLOCK_TIMEOUT).returncode
        except subprocess.TimeoutExpired:
            rc = "timeout"
        problems = []
        if rc != 0:
            problems.append(f"exit {rc}")
        for k, (text, expected) in enumerate(cmds):
            if expected is None or rc != 0:
                continue
            got = open(os.path.join(outdir, f"{number}.{k}.out"), errors="replace").read()
            got_lines = TERMINAL_CONTROL.sub("", got).rstrip("\n").split("\n")
            if not matches(expected, got_lines):
                problems.append(f"'{text.splitlines()[0]}' printed:\n{got}expected:\n" + "\n".join(expected))
        if problems:
            failed += 1
            print(f"FAIL README.md:{number}: " + "\n".join(problems))
            print("---- block log\n" + open(log, errors="replace").read()[-6000:])
            if os.path.exists(log + ".bg"):
                print("---- background servers\n" + open(log + ".bg", errors="replace").read()[-3000:])
        else:
            print(f"ok   README.md:{number}: {len(cmds)} commands "
                  f"({time.monotonic() - started:.1f} s)")
    print(f"{ran} examples run, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
