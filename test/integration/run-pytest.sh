#!/bin/sh
# Runs the pytest integration suite against the build in $top_builddir.
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
export top_srcdir
export top_builddir=${top_builddir:-$top_srcdir}
cd "$top_srcdir/test/integration" || exit 1
PYTEST=${PYTEST:-pytest-3}
command -v "$PYTEST" >/dev/null 2>&1 || PYTEST=pytest-3
# Under ASan/UBSan (the second pass of scripts/test.sh) the suite looks for memory errors
# in our code: the differential scenarios (half of their time runs Debian's module), the
# package build and the kill test find none there that the other tests miss, and the first
# pass runs them; the soak is shorter. This keeps CI's two passes within its time.
if [ "${SANITIZERS:-}" = yes ]; then
    PYTEST_ARGS="--ignore=test_compat_config.py --ignore=test_compat_status.py \
--ignore=test_compat_driver.py --ignore=test_packaging.py --ignore=test_md_crash.py ${PYTEST_ARGS:-}"
    MD_HOT_SOAK_SECONDS=${MD_HOT_SOAK_SECONDS:-20}
    export MD_HOT_SOAK_SECONDS
fi
# every test has a time limit: a hung test fails instead of stalling the run
$PYTEST -q -p no:cacheprovider -o cache_dir=/tmp/md-pytest-cache -rfE --timeout=300 --timeout-method=signal ${PYTEST_ARGS:-} .
rc=$?
# pytest's exit 5 means no test ran: that is a failure of the suite, not a pass
[ $rc = 5 ] && { echo "no integration test ran"; exit 1; }
exit $rc
