#!/usr/bin/env bash
# Differential test: bootcfg's template engine against Go's text/template on the same corpus.
# Usage: differential.sh RENDER_CORPUS_BINARY CORPUS.json WORKDIR
set -euo pipefail
ours=$1
corpus=$2
work=$(mkdir -p "$3" && cd "$3" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$work"
if ! command -v go >/dev/null; then
    echo "golang-go is not installed (scripts/deps --test installs it)" >&2
    exit 1
fi
# Offline build of a single-file program: no modules, no proxy, caches in the build tree.
export GOCACHE="$work/gocache" GOPATH="$work/gopath" GO111MODULE=off GOPROXY=off GOFLAGS=
go build -o "$work/oracle" "$here/oracle.go"
"$work/oracle" "$corpus" >"$work/expected.txt"
"$ours" "$corpus" >"$work/actual.txt"
cases=$(grep -c '^=== ' "$work/expected.txt")
if diff -u "$work/expected.txt" "$work/actual.txt" >"$work/diff.txt"; then
    echo "template differential: $cases passed, 0 failed"
    exit 0
fi
cat "$work/diff.txt"
bad=$(grep -c '^+=== ' "$work/diff.txt" || true)
echo "template differential: $((cases - bad)) passed, $bad failed"
exit 1
