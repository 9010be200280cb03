#!/bin/sh
# t_nvmmctl.sh - checks nvmmctl's usage errors, "identify" output and "list" header.
# Usage: sh tests/t_nvmmctl.sh BUILD_DIR.  Exit 0 pass, 77 skip, 1 fail.
# Machine lines of "list" are checked by t_registry (they need a live owner).

B=${1:-${B:-build}}
NVMMCTL=$B/nvmmctl
fail=0

if [ ! -x "$NVMMCTL" ]; then
	echo "FAIL: no $NVMMCTL"
	exit 1
fi

tmp=$(mktemp -d /tmp/t_nvmmctl.XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT

# Compares file $1 with the expected text $2 (newline appended).
same() {
	printf '%s\n' "$2" >"$tmp/expect"
	cmp -s "$1" "$tmp/expect"
}

# run NAME EXPECTED_STATUS ARGS...: runs nvmmctl, keeps out/err in $tmp/NAME.*
run() {
	name=$1
	want=$2
	shift 2
	"$NVMMCTL" "$@" >"$tmp/$name.out" 2>"$tmp/$name.err"
	rc=$?
	if [ "$rc" -ne "$want" ]; then
		echo "FAIL: nvmmctl $* exited $rc, expected $want"
		sed 's/^/    stderr: /' "$tmp/$name.err"
		fail=1
	fi
}

# check NAME FILE EXPECTED: compares a captured stream with the expectation.
check() {
	if ! same "$2" "$3"; then
		echo "FAIL: $1; got:"
		sed 's/^/    |/' "$2"
		echo "  expected:"
		printf '%s\n' "$3" | sed 's/^/    |/'
		fail=1
	fi
}

USAGE='usage: nvmmctl identify
       nvmmctl list'

# --- Usage errors: nothing on stdout, usage on stderr, status 1. ---
for args in "" "identify x" "list x" "list identify" "identify identify"; do
	# shellcheck disable=SC2086
	run usage 1 $args
	check "usage for '$args' (stderr)" "$tmp/usage.err" "$USAGE"
	if [ -s "$tmp/usage.out" ]; then
		echo "FAIL: usage for '$args' wrote to stdout"
		fail=1
	fi
done

run unknown 1 bogus
check "unknown command" "$tmp/unknown.err" "nvmmctl: unknown command \`\`bogus''"
run unknown2 1 bogus extra
check "unknown command with an argument" "$tmp/unknown2.err" \
    "nvmmctl: unknown command \`\`bogus''"
run unknown3 1 -h
check "unknown option" "$tmp/unknown3.err" "nvmmctl: unknown command \`\`-h''"

# --- identify ---
kvm_usable() {
	[ -c /dev/kvm ] && [ -r /dev/kvm ] && [ -w /dev/kvm ]
}

"$NVMMCTL" identify >"$tmp/id.out" 2>"$tmp/id.err"
rc=$?
if [ $rc -ne 0 ]; then
	if ! kvm_usable; then
		echo "/dev/kvm is not usable; nvmmctl identify said: $(cat "$tmp/id.err")"
		[ $fail -eq 0 ] && exit 77
		exit 1
	fi
	echo "FAIL: nvmmctl identify exited $rc with /dev/kvm usable"
	sed 's/^/    stderr: /' "$tmp/id.err"
	exit 1
fi

IDENTIFY='nvmm: Kernel API version 2
nvmm: State size 1008
nvmm: Max machines 128
nvmm: Max VCPUs per machine 256
nvmm: Max RAM per machine 128G
nvmm: Arch Mach conf 0x0
nvmm: Arch VCPU conf 0x7<CPUID,TPR,DEBUG>
nvmm: Guest FPU states 0x3<x87,SSE>'
head -n 8 "$tmp/id.out" >"$tmp/id.head"
check "identify (first 8 lines)" "$tmp/id.head" "$IDENTIFY"
# Line 9 names the kind of KVM host, which the KVM module loaded tells.
if [ -d /sys/module/kvm_pvm ]; then host="PVM (kvm_pvm)"
elif [ -d /sys/module/kvm_amd ]; then host="AMD-V (kvm_amd)"
elif [ -d /sys/module/kvm_intel ]; then host="VT-x (kvm_intel)"
else host=unknown
fi
sed -n 9p "$tmp/id.out" >"$tmp/id.host"
check "identify: the host kind" "$tmp/id.host" \
    "nvmm: Backend Linux KVM on $host; differences from NetBSD NVMM:"
# Any further lines are the backend notes, all in the "nvmm: " style.
if tail -n +9 "$tmp/id.out" | grep -v '^nvmm: ' >/dev/null; then
	echo "FAIL: identify line not starting with 'nvmm: ':"
	tail -n +9 "$tmp/id.out" | grep -v '^nvmm: ' | sed 's/^/    |/'
	fail=1
fi
if [ -s "$tmp/id.err" ]; then
	echo "FAIL: identify wrote to stderr:"
	sed 's/^/    |/' "$tmp/id.err"
	fail=1
fi

# --- list, on an empty registry of our own: the header only. ---
mkdir "$tmp/reg" && chmod 700 "$tmp/reg"
NVMM_REGISTRY_DIR=$tmp/reg "$NVMMCTL" list >"$tmp/list.out" 2>"$tmp/list.err"
rc=$?
HEADER='Machine ID VCPUs RAM  Owner PID Creation Time           
---------- ----- ---- --------- ------------------------'
if [ "$(id -u)" -ne 0 ]; then
	# nvmm_root_init is for root only.
	if [ $rc -ne 1 ] || ! grep -q '^nvmmctl: nvmm_root_init failed: ' "$tmp/list.err"; then
		echo "FAIL: nvmmctl list as non-root: exit $rc, stderr:"
		sed 's/^/    |/' "$tmp/list.err"
		fail=1
	fi
else
	if [ $rc -ne 0 ]; then
		echo "FAIL: nvmmctl list exited $rc"
		sed 's/^/    stderr: /' "$tmp/list.err"
		fail=1
	fi
	check "list on an empty registry" "$tmp/list.out" "$HEADER"
fi

# A registry directory that cannot be trusted makes nvmm_ctl fail.
mkdir "$tmp/bad" && chmod 777 "$tmp/bad"
if [ "$(id -u)" -eq 0 ]; then
	NVMM_REGISTRY_DIR=$tmp/bad "$NVMMCTL" list >"$tmp/bad.out" 2>"$tmp/bad.err"
	rc=$?
	check "list on an unsafe registry (stderr)" "$tmp/bad.err" \
	    "nvmmctl: nvmm_ctl failed: Permission denied"
	[ $rc -eq 1 ] || { echo "FAIL: list on an unsafe registry exited $rc"; fail=1; }
fi

[ $fail -eq 0 ] && echo "nvmmctl: all checks passed"
exit $fail
