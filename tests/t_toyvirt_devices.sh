#!/bin/sh
# t_toyvirt_devices.sh - toyvirt's devices, MSRs, HLT handling and event injection, on tiny generated guests.
#
# Usage: tests/t_toyvirt_devices.sh [BUILD_DIR]   (TOYVIRT=path overrides)
# Guests come from tests/toyvirt_elfgen.py.  Needs /dev/kvm (exit 77 without).

B=${1:-build}
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/toyvirt_lib.sh"
tv_init kvm

TAB=$(printf '\t')
HDR='[+] NVMM initialization succeeded
[+] Machine creation succeeded
[+] VCPU creation succeeded
[+] VCPU callbacks configuration succeeded
[+] State set'
TAIL='[+] Machine received shutdown
[+] Machine execution successful
[+] Machine destroyed'

# check NAME WANT_RC INTERVAL: runs NAME.elf, compares stdout with
# NAME.expected (lines "mach>" + TAB written as "mach> ").
check() {
	name=$1 want=$2 ms=$3
	sed "s/^mach> /mach>$TAB/" "$name.want" >"$name.expected"
	timeout 60 "$TV" -i "$ms" "$name.elf" >"$name.out" 2>"$name.err"
	rc=$?
	sed 's/rip=0x[0-9a-f]*/rip=X/' "$name.out" >"$name.norm"
	if [ $rc -ne "$want" ]; then
		fail "$name: exit status $rc, expected $want: $(cat "$name.err")"
	elif ! cmp -s "$name.expected" "$name.norm"; then
		fail "$name: unexpected output:"
		diff -u "$name.expected" "$name.norm"
	else
		echo "ok: $name"
	fi
}

# Unknown ports and MMIO read as all ones and are reported; LAPIC writes
# are dropped; an IN from the console reads all ones; a report in the
# middle of a guest line ends that line first; control characters are
# shown in caret notation; the flood guard stops after
# three reports of port 0x80; an unknown MSR gets #GP with error code 0
# (the guest's #GP handler prints "GP0", then triple-faults).
cat >devices.want <<EOF
$HDR
[!] Unknown IO device PORT=128
[!] Unknown IO device PORT=129
mach> Y
[!] Unknown MMIO device GPA=0xc0000000
mach> Y
[!] Unexpected LAPIC write at 0xfee00080 ignored
mach> x
[!] Unexpected IN for the console
mach> Y
mach> ab
[!] Unknown IO device PORT=130
mach> c
mach> ^[[31mred^?
[!] Unknown IO device PORT=128
[!] Unknown IO device PORT=128 (further reports suppressed)
[!] Unknown MSR 0x12345 read: #GP
mach> GP0
$TAIL
EOF
check devices 0 600000

# The first event comes one interval after toyvirt starts: the intervals
# below leave the guest time to print its first line first even where
# everything is slow (an ASan build in the emulated AMD-V machine took
# more than 100 ms to print "halting").

# HLT with interrupts enabled waits for the next event: the #GP wakes it.
cat >halt.want <<EOF
$HDR
mach> halting
[+] Inject #GP event
mach> GP0
$TAIL
EOF
check halt 0 1500

# HLT with interrupts disabled: the guest is dead; exit 1, with a reason.
cat >cli_halt.want <<EOF
$HDR
mach> dead end
[!] Guest halted with interrupts disabled at rip=X
[+] Machine destroyed
EOF
check cli_halt 1 600000
grep -q 'toyvirt: guest died: halted with interrupts disabled at rip=0x[0-9a-f]*; last console line: "dead end"' \
    cli_halt.err || fail "cli_halt: stderr: $(cat cli_halt.err)"

# Flood guard: 1000 accesses to one port give 3 reports; then 1000 new
# ports fill the 64-entry table (63 more reports) and share 12 reports
# for the rest.  78 "[!]" lines in all, and the guest runs to its end.
timeout 60 "$TV" -i 600000 flood.elf >flood.out 2>flood.err
rc=$?
nrep=$(grep -c '^\[!\]' flood.out)
if [ $rc -ne 0 ]; then
	fail "flood: exit status $rc: $(cat flood.err)"
elif [ "$nrep" -ne 78 ]; then
	fail "flood: $nrep reports, expected 78"
elif ! grep -qxF '[!] Unknown IO device PORT=128 (further reports suppressed)' flood.out ||
    ! grep -qF '(further reports of other devices suppressed)' flood.out ||
    ! grep -qxF "mach>${TAB}done" flood.out; then
	fail "flood: unexpected output: $(cat flood.out)"
else
	echo "ok: flood: $nrep reports"
fi

# Executing unbacked memory kills the guest: exit 1 with the reason.  How
# it shows depends on the platform (KVM: an invalid exit; NetBSD NVMM: a
# memory exit the assist cannot fetch), so both are accepted.
timeout 60 "$TV" -i 600000 wild.elf >wild.out 2>wild.err
rc=$?
if [ $rc -ne 1 ]; then
	fail "wild: exit status $rc, expected 1: $(cat wild.err)"
elif ! grep -q '^toyvirt: guest died: invalid exit (hwcode 0x[0-9a-f]*) at rip=0x50000000; last console line: "jumping"$' wild.err &&
    ! grep -q '^toyvirt: nvmm_assist_mem' wild.err; then
	fail "wild: stderr: $(cat wild.err)"
elif [ "$(tail -n 1 wild.out)" != "[+] Machine destroyed" ] ||
    grep -q 'execution successful' wild.out; then
	fail "wild: stdout: $(cat wild.out)"
else
	echo "ok: wild: $(cat wild.err)"
fi

# Injection from the second thread into a guest spinning with interrupts
# on: #GP, NMI, interrupt 200 in turn (each handler prints and spins; CR8
# stays 0 in 32-bit mode), the fourth event triple-faults.
cat >events.want <<EOF
$HDR
mach> spinning
[+] Inject #GP event
mach> GP
[+] Inject #NMI event
mach> NMI
[+] Inject hardware interrupt event
mach> INT
[+] Inject #GP event
$TAIL
EOF
check events 0 1500

[ $fails -eq 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "all passed"
exit 0
