# Sourced by scripts/bench*: wrk runs parsed into medians, ratios, and the summary table.
# Needs WORK, RUNS, DURATION, WRK_THREADS set by the caller; SELF and PEER name the two sides
# in report lines (default bootcfgd and nginx).

median() { sort -g | awk '{v[NR]=$1} END {if (NR == 0) print 0; else print v[int((NR + 1) / 2)]}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "n/a"; else printf "%.2f", a / b }'; }

# applied_changes LOG: how many changes bootcfgd's log says it applied in place (a line per
# change, or one line for the changes that followed within a second: "... in N more changes").
applied_changes() {
    awk '/ applied [0-9]+ changed file/ {
        if (match($0, / in [0-9]+ more change/)) n += substr($0, RSTART + 4) + 0; else n++
    } END { print n + 0 }' "$1"
}

# macs_lua FILE: a wrk script whose requests are /ipxe for 10,000 distinct MACs in turn
# (52:54:02:00:00:00 on).
macs_lua() {
    cat >"$1" <<'LUA'
local n = 0
request = function()
  n = n + 1
  local i = n % 10000
  return wrk.format("GET", string.format("/ipxe?mac=52:54:02:00:%02x:%02x", math.floor(i / 256), i % 256))
end
LUA
}

# wrk_parse < WRK-OUTPUT: prints "req/s p99_ms MB/s errors" (errors: non-2xx/3xx + socket)
wrk_parse() {
    awk '
        function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
        function mb(v) { if (v ~ /GB$/) return v * 1024; if (v ~ /MB$/) return v + 0; if (v ~ /KB$/) return v / 1024; return v / 1048576 }
        /Requests\/sec/ { rps = $2 }
        /Transfer\/sec/ { tps = mb($2) }
        $1 == "99%" { p99 = ms($2) }
        /Non-2xx/ { errors += $NF }
        /Socket errors/ { gsub(",", ""); errors += $4 + $6 + $8 + $10 }
        END { printf "%s %s %s %d\n", rps + 0, p99 + 0, tps + 0, errors }'
}

# wrk_once URL CONNS [DURATION]: one wrk run, parsed. The long timeout lets 64 MiB downloads
# finish: wrk's 2 s default would count slow transfers as errors. WRK_CPU, when set, pins wrk.
# WRK_SCRIPT, when set, is a Lua script for wrk (-s), e.g. one that varies the request;
# WRK_HEADER a header line for every request (e.g. "Connection: close").
wrk_once() {
    ${WRK_CPU:+taskset -c "$WRK_CPU"} wrk -t"$WRK_THREADS" -c"$2" -d"${3:-$DURATION}"s --timeout 60s --latency \
        ${WRK_SCRIPT:+-s "$WRK_SCRIPT"} ${WRK_HEADER:+-H "$WRK_HEADER"} "$1" 2>&1 | wrk_parse
}

# compare URL_BOOTCFGD URL_NGINX CONNS: RUNS runs of each, interleaved so drift hits both alike;
# prints the medians "b_req/s b_p99 b_MB/s n_req/s n_p99 n_MB/s". Any failed request stops the
# bench: a ratio against errors means nothing.
compare() {
    local out_b="$WORK/runs.b.$RANDOM" out_n="$WORK/runs.n.$RANDOM"
    for _ in $(seq "$RUNS"); do
        wrk_once "$1" "$3" >>"$out_b"
        wrk_once "$2" "$3" >>"$out_n"
    done
    check_errors "$1" "$out_b"
    check_errors "$2" "$out_n"
    echo "$(medians "$out_b") $(medians "$out_n")"
}
medians() { echo "$(cut -d' ' -f1 "$1" | median) $(cut -d' ' -f2 "$1" | median) $(cut -d' ' -f3 "$1" | median)"; }
check_errors() {
    if awk '$4 > 0 {bad = 1} END {exit !bad}' "$2"; then
        echo "bench: failed requests against $1 ($(awk '{s += $4} END {print s}' "$2")); figures would be meaningless" >&2
        kill -TERM $$
    fi
}
# single URL CONNS: RUNS runs, medians "req/s p99 MB/s".
single() {
    local out="$WORK/runs.s.$RANDOM"
    for _ in $(seq "$RUNS"); do wrk_once "$1" "$2" >>"$out"; done
    check_errors "$1" "$out"
    medians "$out"
}

SUMMARY=()
# report NAME BOOTCFGD NGINX UNIT TARGET_RATIO: one line with the ratio and whether it meets the target.
report() {
    local r
    r=$(ratio "$2" "$3")
    local ok
    ok=$(awk -v r="$r" -v t="$5" 'BEGIN { print (r + 0 >= t) ? "ok" : "BELOW" }')
    printf '  %-44s %s %10s %-5s %s %10s %-5s ratio %5s (target >= %s: %s)\n' "$1" "${SELF:-bootcfgd}" "$2" "$4" "${PEER:-nginx}" "$3" "$4" "$r" "$5" "$ok"
    SUMMARY+=("$(printf '%-44s %12s %12s %7s %8s %6s' "$1" "$2" "$3" "$r" ">= $5" "$ok")")
}
note() {  # note NAME VALUE TARGET OK
    printf '  %-44s %s (target %s: %s)\n' "$1" "$2" "$3" "$4"
    SUMMARY+=("$(printf '%-44s %12s %12s %7s %8s %6s' "$1" "$2" "-" "-" "$3" "$4")")
}
