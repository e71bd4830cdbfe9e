#!/bin/sh
# Runs the libFuzzer targets built by `make fuzz` (build-fuzz/fuzz_*). See docs/FUZZING.md.
#
#   scripts/run-fuzz.sh smoke BIN...          CI: per target, replay its corpus and saved crashes, then fuzz
#                                             a copy of the corpus for FUZZ_SECONDS (15) seconds
#   scripts/run-fuzz.sh long BIN [SECONDS]    fuzz one target for SECONDS (600); new inputs are kept in
#                                             build-fuzz/corpus/<target>, crashes in build-fuzz/artifacts/<target>
#   scripts/run-fuzz.sh replay BIN FILE...    run the given inputs once each (e.g. a crash reproducer)
#   scripts/run-fuzz.sh seeds                 regenerate tests/fuzz/corpus with tests/fuzz/make_seeds.c
#
# Environment: FUZZ_SECONDS (smoke time per target), FUZZ_RSS_MB (memory limit, 2048), FUZZ_TIMEOUT
# (seconds per input before it counts as a hang, 25), FUZZ_FLAGS (extra libFuzzer flags).
# UBSan findings are fatal (halt_on_error=1), like the C tests' -fno-sanitize-recover=undefined.
set -u
cd "$(dirname "$0")/.." || exit 1

CORPUS_ROOT=tests/fuzz/corpus
CRASH_ROOT=tests/fuzz/crashes
OUT=build-fuzz
RSS_MB=${FUZZ_RSS_MB:-2048}
TIMEOUT=${FUZZ_TIMEOUT:-25}
SMOKE_SECONDS=${FUZZ_SECONDS:-15}
EXTRA=${FUZZ_FLAGS:-}
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"

usage() {
    sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

# make_seeds DIR: builds the seed generator with the library sources and writes every corpus under DIR.
make_seeds() {
    mkdir -p "$OUT"
    # shellcheck disable=SC2046
    ${CC:-cc} -std=c11 -D_GNU_SOURCE -Iinclude -Isrc -O1 -g -o "$OUT/make_seeds" tests/fuzz/make_seeds.c \
        $(ls src/*/*.c) -lzstd -lxxhash -lturbojpeg -lzip -lpg_query -lstemmer -lopenblas -lpthread -lm || return 1
    "$OUT/make_seeds" "$1"
}

# Seed directory of a target: the committed corpus, or (when it is missing) one generated under build-fuzz/.
corpus_dir() {
    if [ -d "$CORPUS_ROOT/$1" ]; then
        echo "$CORPUS_ROOT/$1"
        return 0
    fi
    if [ ! -d "$OUT/seeds/$1" ]; then
        make_seeds "$OUT/seeds" >/dev/null || return 1
    fi
    [ -d "$OUT/seeds/$1" ] && echo "$OUT/seeds/$1"
}

# Regression inputs of a target: its seed files, then its saved crash reproducers.
regression_files() {
    find "$2" -type f | sort
    for f in "$CRASH_ROOT/$1"-*; do
        [ -f "$f" ] && echo "$f"
    done
}

# run BIN ARGS...: runs a target and removes the scratch file fuzz_datafile leaves behind when the
# process dies before its atexit handler (/tmp/fl-fuzz-<pid>.fld). Returns the target's status.
run() {
    "$@" &
    pid=$!
    wait $pid
    status=$?
    rm -f "/tmp/fl-fuzz-$pid.fld"
    return $status
}

dict_flag() {
    [ -f "tests/fuzz/$1.dict" ] && echo "-dict=tests/fuzz/$1.dict"
}

# One-line summary of a libFuzzer log: runs, exec/s, coverage.
summarize() {
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$1" | tail -n 1)
    speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$1" | tail -n 1)
    cov=$(grep -E '^#[0-9]+.*cov: ' "$1" | tail -n 1 | sed -n 's/.*\(cov: [0-9]*\).*\(ft: [0-9]*\).*\(corp: [0-9]*\).*/\1 \2 \3/p')
    echo "${runs:-?} runs, ${speed:-?} exec/s, ${cov:-cov: ?}"
}

# report_artifact DIR TARGET MARKER: points at the reproducers libFuzzer wrote since MARKER was created.
report_artifact() {
    find "$1" -type f -newer "$3" \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \
        -o -name 'slow-unit-*' \) | while read -r a; do
        echo "    reproducer: $a"
        echo "    keep it as a regression input: cp $a $CRASH_ROOT/$2-<short-name>"
    done
}

# replay BIN FILE...: each input once; on failure names the input and prints the report.
replay() {
    bin=$1
    shift
    log=$(mktemp)
    if run "$bin" -rss_limit_mb="$RSS_MB" -timeout="$TIMEOUT" "$@" >"$log" 2>&1; then
        rm -f "$log"
        return 0
    fi
    failing=$(sed -n 's/^Running: //p' "$log" | tail -n 1)
    echo "    replay failed on ${failing:-?}; libFuzzer output:"
    grep -v '^INFO:' "$log" | tail -n 60 | sed 's/^/    | /'
    rm -f "$log"
    return 1
}

smoke_one() {
    bin=$1
    name=$(basename "$bin")
    if [ ! -x "$bin" ]; then
        echo "FAIL $name: $bin is not built (make fuzz)"
        return 1
    fi
    seeds=$(corpus_dir "$name") || { echo "FAIL $name: no corpus and cannot generate seeds"; return 1; }
    files=$(regression_files "$name" "$seeds")
    n_files=$(printf '%s\n' "$files" | grep -c .)
    if [ "$n_files" -gt 0 ]; then
        # shellcheck disable=SC2086
        if ! replay "$bin" $files; then
            echo "FAIL $name: a regression input from $seeds or $CRASH_ROOT/$name-* fails"
            return 1
        fi
    fi
    work=$(mktemp -d "${TMPDIR:-/tmp}/fl-fuzz-smoke.XXXXXX")
    mkdir -p "$work/corpus" "$OUT/artifacts/$name" "$OUT/logs"
    cp "$seeds"/* "$work/corpus/" 2>/dev/null
    log="$OUT/logs/$name.log"
    touch "$work/start"
    # shellcheck disable=SC2046,SC2086
    run "$bin" -max_total_time="$SMOKE_SECONDS" -rss_limit_mb="$RSS_MB" -timeout="$TIMEOUT" -print_final_stats=1 \
        -artifact_prefix="$OUT/artifacts/$name/" $(dict_flag "$name") $EXTRA "$work/corpus" >"$log" 2>&1
    rc=$?
    if [ $rc -ne 0 ]; then
        echo "FAIL $name: libFuzzer exit $rc after $(summarize "$log"); log: $log"
        grep -E '^(==[0-9]+==.*ERROR|SUMMARY)|runtime error' "$log" | head -n 5 | sed 's/^/    /'
        report_artifact "$OUT/artifacts/$name" "$name" "$work/start"
    fi
    rm -rf "$work"
    [ $rc -eq 0 ] || return 1
    echo "ok   $name: replayed $n_files inputs; fuzzed ${SMOKE_SECONDS}s: $(summarize "$log")"
    return 0
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case $cmd in
smoke)
    [ $# -gt 0 ] || usage
    passed=0 failed=0
    for bin in "$@"; do
        if smoke_one "$bin"; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
    done
    echo "fuzz: $passed passed, $failed failed"
    [ $failed -eq 0 ]
    ;;
long)
    [ $# -ge 1 ] || usage
    bin=$1 seconds=${2:-600}
    name=$(basename "$bin")
    [ -x "$bin" ] || { echo "$bin is not built (make fuzz)" >&2; exit 1; }
    seeds=$(corpus_dir "$name") || { echo "no corpus for $name and cannot generate seeds" >&2; exit 1; }
    mkdir -p "$OUT/corpus/$name" "$OUT/artifacts/$name"
    marker=$(mktemp)
    echo "fuzzing $name for ${seconds}s; new inputs -> $OUT/corpus/$name, crashes -> $OUT/artifacts/$name/"
    # libFuzzer adds new inputs to the first directory only; the seed directory is just read.
    # shellcheck disable=SC2046,SC2086
    run "$bin" -max_total_time="$seconds" -rss_limit_mb="$RSS_MB" -timeout="$TIMEOUT" -print_final_stats=1 \
        -artifact_prefix="$OUT/artifacts/$name/" $(dict_flag "$name") $EXTRA "$OUT/corpus/$name" "$seeds"
    rc=$?
    [ $rc -ne 0 ] && report_artifact "$OUT/artifacts/$name" "$name" "$marker"
    rm -f "$marker"
    exit $rc
    ;;
replay)
    [ $# -ge 2 ] || usage
    bin=$1
    shift
    if replay "$bin" "$@"; then
        echo "replay: $# inputs ok"
    else
        exit 1
    fi
    ;;
seeds)
    make_seeds "$CORPUS_ROOT"
    ;;
*)
    usage
    ;;
esac
