#!/bin/sh
# Runs every test: installs what is missing, builds, runs the unit tests and the
# integration suite (real apache2 + pebble on loopback), then both again under
# AddressSanitizer/UBSan (apache2 with libasan preloaded), then a short run of every
# libFuzzer harness (scripts/fuzz.sh).
set -e
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/install-deps.sh"
build=$("$top/scripts/build.sh")
echo "== unit and integration tests ($build)"
make -C "$build" -s check || { cat "$build"/test-suite.log 2>/dev/null | tail -200; exit 1; }
grep -h "Checks:" "$build"/test/unit/*.log 2>/dev/null || true
tail -n 3 "$build"/test/integration/run-pytest.sh.log
asan=$("$top/scripts/build.sh" --sanitizers)
echo "== unit and integration tests under ASan/UBSan ($asan)"
make -C "$asan" -s check || { cat "$asan"/test-suite.log 2>/dev/null | tail -200; exit 1; }
tail -n 3 "$asan"/test/integration/run-pytest.sh.log
echo "== fuzz smoke run: every harness of fuzz/ for 15 s, two at a time (docs/fuzzing.md)"
FUZZ_JOBS=2 "$top/scripts/fuzz.sh" 15
echo "== all tests passed"
