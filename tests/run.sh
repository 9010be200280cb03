#!/bin/sh
# run.sh - runs every test program and script against each build directory given, where KVM is, one line per test, then "N passed, N failed, N skipped".
#
# Usage: tests/run.sh [--kvm-only] [BUILD_DIR...]   (default build)
#        TESTS="t_a t_b.sh" selects tests by name.
#
# Tests that need no KVM (HOST_TESTS) run on this host.  The others run
# here when this host's KVM is VT-x or AMD-V (vm/native-kvm), else inside
# the AMD-V test machine
# (vm/with-kvm; VM=1 forces the machine, VM=0 forbids it).  A test that
# exits 77 (skipped: no KVM, a tool missing) counts as failed, unless
# VM=0 was asked for: on our machines a skipped KVM test is an untested one.
# --kvm-only runs the KVM tests alone and writes "PASS FAIL SKIP" to
# $RUN_COUNTS instead of the closing line (how the host side gets the
# machine's counts).

# Tests that need no KVM: they run on the host, ~10x faster than in the
# machine.  Every other test is taken to need KVM.
HOST_TESTS="t_decode t_layout t_walk t_fuzz_elf.sh t_install.sh t_man.sh"

kvm_only=
[ "${1:-}" = --kvm-only ] && { kvm_only=1; shift; }
[ $# -gt 0 ] || set -- build
pass=0; fail=0; skip=0
TIMEOUT=${TEST_TIMEOUT:-600}
# LeakSanitizer reports fail the run; UBSan stops at the first error.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

kvm_here() {
	[ "${VM_GUEST:-}" = 1 ] || [ "${VM:-}" = 0 ] && return 0
	[ "${VM:-}" != 1 ] && "$(dirname "$0")/../vm/native-kvm"
}
is_host_test() {
	case " $HOST_TESTS " in *" $1 "*) return 0 ;; esac
	return 1
}

# run_tests WHICH B...: WHICH is host (HOST_TESTS), kvm (the others) or all.
run_tests() {
	which=$1; shift
	for B in "$@"; do
		export B
		for t in "$B"/tests/t_* tests/t_*.sh; do
			name=${t##*/}
			case "$name" in
			*.sh) ;;
			*.*|"t_*") continue ;;	# logs, objects, no match
			esac
			case "$which" in
			host) is_host_test "$name" || continue ;;
			kvm) is_host_test "$name" && continue ;;
			esac
			if [ -n "${TESTS:-}" ] && ! echo " $TESTS " | grep -q " $name "; then
				continue
			fi
			run_one "$t" "$name"
		done
	done
}

run_one() {
	log="$B/tests/$2.log"
	mkdir -p "$B/tests"
	start=$(date +%s)
	case "$1" in
	*.sh) timeout "$TIMEOUT" sh "$1" "$B" >"$log" 2>&1 ;;
	*) timeout "$TIMEOUT" "$1" >"$log" 2>&1 ;;
	esac
	rc=$?
	secs=$(( $(date +%s) - start ))
	if [ $rc -eq 0 ]; then
		pass=$((pass + 1)); echo "PASS $B $2 (${secs}s)"
	elif [ $rc -eq 77 ] && [ "${VM:-}" = 0 ]; then
		skip=$((skip + 1))
		echo "SKIP $B $2: $(tail -n 1 "$log")"
	elif [ $rc -eq 77 ]; then
		fail=$((fail + 1))
		echo "FAIL $B $2 skipped, which is a failure here (VM=0 allows it): $(tail -n 1 "$log")"
	else
		fail=$((fail + 1))
		echo "FAIL $B $2 (exit $rc, ${secs}s)"
		# The failed checks themselves (they may be far from the end),
		# then the end of the log.
		if grep -q '^FAIL: \|: check failed: ' "$log"; then
			echo "  failed checks in $log:"
			grep '^FAIL: \|: check failed: ' "$log" | head -n 10 |
			    cut -c1-400 | sed 's/^/    /'
		fi
		echo "  end of $log:"
		tail -n 15 "$log" | sed 's/^/    /'
	fi
}

if [ -n "$kvm_only" ]; then
	run_tests kvm "$@"
	echo "$pass $fail $skip" > "$RUN_COUNTS"
	exit 0
fi

if kvm_here; then
	run_tests all "$@"
else
	run_tests host "$@"
	# The KVM tests in the machine; its counts come back in a file of
	# the (shared) first build directory.
	counts=$1/tests/vm-counts
	mkdir -p "$1/tests"
	rm -f "$counts"
	echo "-- the KVM tests run in the AMD-V test machine (vm/)"
	vstart=$(date +%s)
	RUN_COUNTS=$counts vm/run -t "${VM_TIMEOUT:-3600}" sh tests/run.sh --kvm-only "$@"
	rc=$?
	echo "-- the machine ran for $(( $(date +%s) - vstart )) s"
	if [ -s "$counts" ]; then
		read -r p f s < "$counts"
		pass=$((pass + p)); fail=$((fail + f)); skip=$((skip + s))
	fi
	if [ $rc -ne 0 ] || [ ! -s "$counts" ]; then
		fail=$((fail + 1))
		echo "FAIL the AMD-V test machine did not finish the KVM tests (exit $rc)"
	fi
fi
echo "$pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
