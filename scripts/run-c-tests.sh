#!/bin/sh
# Runs every C test binary in the given directory; prints one summary line per binary and a total.
dir=${1:?usage: run-c-tests.sh DIR}
status=0
suites=0
failed_suites=0
for t in "$dir"/test_*; do
    [ -x "$t" ] || continue
    suites=$((suites + 1))
    if ! "$t"; then
        status=1
        failed_suites=$((failed_suites + 1))
        echo "FAILED: $t"
    fi
done
echo "C test suites: $((suites - failed_suites)) passed, $failed_suites failed"
exit $status
