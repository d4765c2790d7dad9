#!/usr/bin/env bash
# bootcfgd's command line: flag forms, environment, YAML config, and clear errors with exit 2.
BOOTCFGD=$1
source "$(dirname "$0")/lib.sh"

data="$WORK/data"
mkdir -p "$data/boot"
echo '{"kernel": "/k"}' >"$data/boot/default"

# run_cli ARGS...: sets OUT (stdout+stderr) and RC.
run_cli() {
    set +e
    OUT=$("$BOOTCFGD" "$@" 2>&1)
    RC=$?
    set -e
}

run_cli -version
expect_eq "-version exit" "0" "$RC"
expect_contains "-version output" "bootcfgd 0." "$OUT"
run_cli --help
expect_eq "-help exit" "0" "$RC"
expect_contains "-help lists -images-path" "-assets-path, -images-path" "$OUT"

run_cli -bogus
expect_eq "unknown flag exit" "2" "$RC"
expect_eq "unknown flag message" "bootcfgd: flag provided but not defined: -bogus (see -help)" "$OUT"
run_cli -log-level=loud
expect_eq "bad value exit" "2" "$RC"
expect_eq "bad value is one line" "1" "$(wc -l <<<"$OUT")"
run_cli -data-path="$WORK/missing"
expect_eq "missing data dir exit" "2" "$RC"
expect_eq "missing data dir message" "bootcfgd: data path $WORK/missing is not a readable directory" "$OUT"
run_cli -data-path="$data" -assets-path="$WORK/missing-assets" -address=127.0.0.1:0
expect_eq "missing assets dir exit" "2" "$RC"
expect_eq "missing assets dir message" "bootcfgd: assets path $WORK/missing-assets is not a readable directory" "$OUT"

# Space-separated value and double dash.
start_bootcfgd spaced --data-path "$data" -assets-path ""
expect_eq "space-separated flags" "ok" "$(body /healthz)"
taken=$PORT
# Bounded: a second server that silently shares the port would otherwise run forever.
run_cli_bounded() {
    set +e
    OUT=$(timeout 5 "$BOOTCFGD" "$@" 2>&1)
    RC=$?
    set -e
}
run_cli_bounded -data-path="$data" -assets-path= -address="127.0.0.1:$taken"

expect_eq "port in use exit" "1" "$RC"
expect_eq "port in use message" "bootcfgd: cannot listen on 127.0.0.1:$taken: Address already in use" "$(grep -v ' info ' <<<"$OUT")"
# The default assets dir may be absent: a warning, assets off, still serving.
cd "$WORK"
start_bootcfgd noassets -data-path="$data"
cd - >/dev/null
expect_log "missing default assets dir warns" "default assets path ./images does not exist" "$WORK/noassets.log"

# Environment and YAML; the command line wins over both.
printf 'data-path: %s\nlog-level: debug\nassets-path: ""\n' "$WORK/nowhere" >"$WORK/bootcfgd.yaml"
LOG="$WORK/env.log"
BOOTCFG_DATA_PATH="$data" BOOTCFG_CONFIG="$WORK/bootcfgd.yaml" "$BOOTCFGD" -address=127.0.0.1:0 >"$LOG" 2>&1 &
PID=$!
PIDS+=("$PID")
for _ in $(seq 100); do grep -q 'listening on' "$LOG" && break; sleep 0.05; done
expect_log "env beats YAML data-path" "data $data,"
expect_log "YAML log-level applied" "debug settings: address=127.0.0.1:0"
expect_log "YAML disables assets" "assets disabled"
printf 'adress: 1\n' >"$WORK/typo.yaml"
run_cli -config "$WORK/typo.yaml"
expect_eq "YAML typo exit" "2" "$RC"
expect_eq "YAML typo message" "bootcfgd: config file $WORK/typo.yaml: line 1: unknown setting \"adress\"" "$OUT"
BOOTCFG_LOG_LEVEL=loud run_cli -data-path="$data"
expect_eq "bad env exit" "2" "$RC"
expect_contains "bad env names the variable" "BOOTCFG_LOG_LEVEL" "$OUT"

finish
