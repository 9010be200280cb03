#!/bin/sh
# run.sh - runs every test program and script, prints one line per test and
# the closing "N passed, N failed, N skipped".  Exit status 77 means skipped.
# Usage: tests/run.sh BUILD_DIR [NAME...]
B=${1:-build}
shift
pass=0; fail=0; skip=0; failed=""
tests="$*"
if [ -z "$tests" ]; then
	tests="$(ls "$B"/tests/t_* 2>/dev/null | grep -v '\.[od]$') $(ls tests/t_*.sh 2>/dev/null)"
fi
TIMEOUT=${TEST_TIMEOUT:-300}
export B
for t in $tests; do
	name=$(basename "$t")
	log="$B/tests/$name.log"
	mkdir -p "$B/tests"
	start=$(date +%s)
	case "$t" in
	*.sh) timeout "$TIMEOUT" sh "$t" "$B" >"$log" 2>&1 ;;
	*) timeout "$TIMEOUT" "$t" >"$log" 2>&1 ;;
	esac
	rc=$?
	secs=$(( $(date +%s) - start ))
	if [ $rc -eq 0 ]; then
		pass=$((pass + 1)); echo "PASS $name (${secs}s)"
	elif [ $rc -eq 77 ]; then
		skip=$((skip + 1)); echo "SKIP $name: $(tail -n 1 "$log")"
	else
		fail=$((fail + 1)); failed="$failed $name"
		echo "FAIL $name (exit $rc, ${secs}s); last lines of $log:"
		tail -n 15 "$log" | sed 's/^/    /'
	fi
done
echo "$pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
