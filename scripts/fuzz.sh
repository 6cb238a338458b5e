#!/bin/sh
# Fuzzing (docs/fuzzing.md): builds the libFuzzer harnesses of fuzz/ with clang in
# _build-fuzz and runs each of them for SECONDS (default 60), starting from the seed corpus
# committed in fuzz/corpus/<harness>/. Exits non-zero when a harness finds a crash, a leak,
# a hang or a violated property, and prints the input that reproduces it.
#   scripts/fuzz.sh [SECONDS]   build, then run every harness (FUZZ_JOBS=2: two at a time;
#                               FUZZ_ONLY="fuzz_ct_sct fuzz_md_acme": only these)
#   scripts/fuzz.sh --build     build only (what `make fuzz` runs outside a fuzzing build)
set -e
top=$(cd "$(dirname "$0")/.." && pwd)
dir="$top/_build-fuzz"
secs=60
case "$1" in
    --build) build_only=1 ;;
    "") ;;
    *[!0-9]*) echo "usage: $0 [SECONDS] | --build" >&2; exit 2 ;;
    *) secs=$1 ;;
esac

command -v clang >/dev/null || { echo "clang is missing: run scripts/install-deps.sh" >&2; exit 2; }
cd "$top"
if [ ! -x configure ] || [ configure.ac -nt configure ]; then autoreconf -fi >/dev/null 2>&1 || autoreconf -fi; fi
mkdir -p "$dir"
cd "$dir"
if [ ! -f Makefile ] || [ "$top/configure" -nt Makefile ]; then
    CC=clang "$top/configure" -q --enable-fuzzing >&2
fi
make -s -j"$(nproc)" fuzz >&2
[ -n "$build_only" ] && exit 0

harnesses=${FUZZ_ONLY:-$(cd "$top/fuzz" && ls fuzz_*.c | sed 's/\.c$//')}
jobs=${FUZZ_JOBS:-1}
out="$dir/fuzz-out"
mkdir -p "$out"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

# run_one NAME: fuzz NAME for $secs seconds; exit status 0 when nothing was found
run_one() {
    name=$1
    work="$out/$name/corpus" art="$out/$name/artifacts/" log="$out/$name/log"
    mkdir -p "$work" "$art"
    rm -f "$art"* 2>/dev/null || true
    dict=""
    [ -f "$top/fuzz/$name.dict" ] && dict="-dict=$top/fuzz/$name.dict"
    seeds="$top/fuzz/corpus/$name"
    [ -d "$seeds" ] || seeds=""
    "$dir/fuzz/$name" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$art" $dict "$work" $seeds >"$log" 2>&1
}

# report NAME STATUS: one line per harness; the reproducer when it failed
report() {
    name=$1 st=$2 log="$out/$1/log"
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | sed 's/cov: //')
    if [ "$st" = 0 ]; then
        printf '%-22s ok      %10s execs  cov %s\n' "$name" "${execs:-?}" "${cov:-?}"
        return 0
    fi
    printf '%-22s FAILED  (exit %s) after %s execs\n' "$name" "$st" "${execs:-?}"
    grep -E 'ERROR:|property violated|runtime error|SUMMARY' "$log" | head -5 | sed 's/^/    /'
    repro=$(ls "$out/$name/artifacts/"* 2>/dev/null | head -1)
    echo "    log:        $log"
    echo "    reproducer: ${repro:-none written}"
    [ -n "$repro" ] && echo "    reproduce:  $dir/fuzz/$name $repro"
    return 1
}

failed=0
set -- $harnesses
while [ $# -gt 0 ]; do
    batch=""
    i=0
    while [ $# -gt 0 ] && [ $i -lt "$jobs" ]; do
        batch="$batch $1"
        ( set +e; run_one "$1"; echo $? > "$out/$1/status" ) &
        shift
        i=$((i + 1))
    done
    wait
    for name in $batch; do
        report "$name" "$(cat "$out/$name/status")" || failed=1
    done
done
[ "$failed" = 0 ] && echo "== fuzzing: no findings (${secs}s per harness)"
exit $failed
