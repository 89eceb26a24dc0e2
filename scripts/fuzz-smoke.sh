#!/usr/bin/env bash
# Runs the cargo-fuzz targets of fuzz/ one after the other and prints one line per target.
#   scripts/fuzz-smoke.sh [--seconds S | --runs N] [--max-seconds S] [TARGET...]
# `make test` runs every target for a few seconds (--seconds 5, the default) so none rots;
# `make fuzz` runs each for 10^6 executions (--runs 1000000); --max-seconds caps each
# target's time as well (a short run on a busy machine). New inputs go to
# fuzz/target/corpus/TARGET; the committed seeds in fuzz/corpus/TARGET are only read.
# Installs the nightly toolchain and cargo-fuzz when missing. Exit status 1 if any target
# crashed, leaked or timed out (libFuzzer saves the input under fuzz/artifacts/TARGET/).
set -euo pipefail

mode=(-max_total_time=5)
cap=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --seconds) mode=(-max_total_time="$2"); shift 2 ;;
        --runs) mode=(-runs="$2"); shift 2 ;;
        --max-seconds) cap=(-max_total_time="$2"); shift 2 ;;
        -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
        -*) echo "fuzz-smoke: unknown option $1" >&2; exit 2 ;;
        *) break ;;
    esac
done

export PATH="$HOME/.cargo/bin:$PATH"
cd "$(dirname "$0")/../fuzz"

if ! rustup toolchain list | grep -q '^nightly'; then
    rustup toolchain install nightly --profile minimal
fi
if ! command -v cargo-fuzz >/dev/null; then
    cargo install cargo-fuzz --locked
fi

cargo +nightly fuzz build -O
targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then
    mapfile -t targets < <(cargo +nightly fuzz list)
fi

failed=0
printf '%-18s %12s %9s %10s  %s\n' target executions seconds exec/s result
for target in "${targets[@]}"; do
    work="target/corpus/$target"
    mkdir -p "$work" "corpus/$target"
    log="target/fuzz-$target.log"
    started=$(date +%s.%N)
    if cargo +nightly fuzz run -O "$target" "$work" "corpus/$target" -- \
        "${mode[@]}" "${cap[@]}" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1; then
        result=ok
    else
        result="FAILED (see fuzz/$log)"
        failed=1
    fi
    seconds=$(awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    printf '%-18s %12s %9.1f %10s  %s\n' "$target" "${runs:-?}" "$seconds" "${rate:-?}" "$result"
    if [[ $failed -eq 1 && $result != ok ]]; then
        grep -E '^(==[0-9]+==|thread .* panicked|SUMMARY|artifact_prefix|Test unit written)' "$log" | head -8 >&2 || true
    fi
done
exit "$failed"
