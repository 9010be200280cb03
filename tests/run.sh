#!/bin/sh
# run.sh - runs every test program and script against each build directory
# given (default build), one line per test, then the closing line
# "N passed, N failed, N skipped".  Exit status 77 means skipped.
# Usage: tests/run.sh [BUILD_DIR...]      (TESTS="t_a t_b.sh" to select)
[ $# -gt 0 ] || set -- build
pass=0; fail=0; skip=0
TIMEOUT=${TEST_TIMEOUT:-600}
# LeakSanitizer reports fail the run; UBSan stops at the first error.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

for B in "$@"; do
	export B
	for t in "$B"/tests/t_* tests/t_*.sh; do
		name=${t##*/}
		case "$name" in
		*.sh) ;;
		*.*|"t_*") continue ;;	# logs, objects, no match
		esac
		if [ -n "$TESTS" ] && ! echo " $TESTS " | grep -q " $name "; then
			continue
		fi
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
			pass=$((pass + 1)); echo "PASS $B $name (${secs}s)"
		elif [ $rc -eq 77 ]; then
			skip=$((skip + 1))
			echo "SKIP $B $name: $(tail -n 1 "$log")"
		else
			fail=$((fail + 1))
			echo "FAIL $B $name (exit $rc, ${secs}s); end of $log:"
			tail -n 15 "$log" | sed 's/^/    /'
		fi
	done
done
echo "$pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
