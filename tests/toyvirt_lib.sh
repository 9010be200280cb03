# toyvirt_lib.sh - the set-up shared by toyvirt's test scripts (sourced, not run).
#
# Set B (the build directory) and HERE (tests/) before sourcing.  tv_init
# [kvm] sets TV (toyvirt, made absolute), checks that it is built (FAIL,
# exit 1, otherwise), that /dev/kvm is usable when asked (SKIP, exit 77) and
# that python3 exists (SKIP), makes a temporary directory T holding the
# images tests/toyvirt_elfgen.py writes, and moves into it.  At exit the
# script's tv_on_exit runs, if it defines one, then T is removed.
# fail MESSAGE reports a failure and counts it in $fails.

tv_cleanup() {
	if command -v tv_on_exit >/dev/null 2>&1; then
		tv_on_exit
	fi
	rm -rf "$T"
}

# kvm_usable: /dev/kvm is a character device we may read and write.  A
# test only looks: opening it for writing would create a file where none is.
kvm_usable() {
	[ -c /dev/kvm ] && [ -r /dev/kvm ] && [ -w /dev/kvm ]
}

tv_init() {
	TV=${TOYVIRT:-$B/toyvirt}
	case "$TV" in /*) ;; *) TV=$(pwd)/$TV ;; esac
	if [ ! -x "$TV" ] || [ -d "$TV" ]; then
		echo "FAIL: $TV is not built"
		exit 1
	fi
	if [ "${1:-}" = kvm ] && ! kvm_usable; then
		echo "SKIP: cannot open /dev/kvm (missing or no permission)"
		exit 77
	fi
	if ! command -v python3 >/dev/null 2>&1; then
		echo "SKIP: python3 is needed to generate the test guests"
		exit 77
	fi
	T=$(mktemp -d) || exit 1
	trap tv_cleanup EXIT
	python3 "$HERE/toyvirt_elfgen.py" "$T" ||
		{ echo "FAIL: generator"; exit 1; }
	cd "$T" || exit 1
	fails=0
}

fail() {
	echo "FAIL: $*"
	fails=$((fails + 1))
}
