#!/bin/sh
# t_toyvirt_cli.sh - toyvirt's command line: usage, options, unusable files, and the nvmm_init failures (no access, no /dev/kvm).
#
# Usage: tests/t_toyvirt_cli.sh [BUILD_DIR]   (TOYVIRT=path overrides)
# The permission case runs toyvirt as "nobody" through setpriv; the missing
# device case hides /dev in a private mount namespace (unshare).  Each is
# skipped alone when it cannot be set up.

B=${1:-build}
TV=${TOYVIRT:-$B/toyvirt}
HERE=$(cd "$(dirname "$0")" && pwd)
case "$TV" in /*) ;; *) TV=$(pwd)/$TV ;; esac

if [ ! -x "$TV" ] || [ -d "$TV" ]; then
	echo "FAIL: $TV is not built"
	exit 1
fi
T=$(mktemp -d) || exit 1
trap 'rm -rf "$T"' EXIT
chmod 755 "$T"
cd "$T" || exit 1

fails=0
fail() {
	echo "FAIL: $*"
	fails=$((fails + 1))
}

# expect NAME RC STDOUT_PATTERN STDERR_PATTERN -- ARGS...
# Patterns are fixed strings; "" means "must be empty".
expect() {
	name=$1 want=$2 opat=$3 epat=$4
	shift 5
	timeout 60 "$@" >out 2>err
	rc=$?
	if [ $rc -ne "$want" ]; then
		fail "$name: exit status $rc, expected $want" \
		    "(stdout: $(cat out); stderr: $(cat err))"
		return
	fi
	for f in out err; do
		if [ $f = out ]; then pat=$opat; else pat=$epat; fi
		if [ -z "$pat" ]; then
			[ -s $f ] && { fail "$name: unexpected std$f: $(cat $f)"; return; }
		elif ! grep -qF -- "$pat" $f; then
			fail "$name: std$f lacks '$pat': $(cat $f)"
			return
		fi
	done
	echo "ok: $name: $(head -n 1 err)$(head -n 1 out)"
}

USAGE='usage: toyvirt [-h] [-i MS] ELF'

expect "no argument" 1 "" "toyvirt: no ELF file given" -- "$TV"
grep -qF "$USAGE" err || fail "no argument: no usage line"
expect "-h" 0 "$USAGE" "" -- "$TV" -h
grep -qF "512 KiB" out || fail "-h: the extra RAM is not documented"
grep -qF "default 3000" out || fail "-h: the default interval is not documented"
expect "-h with a file" 0 "$USAGE" "" -- "$TV" -h nosuchfile
expect "bad option" 1 "" "toyvirt: unknown option -x" -- "$TV" -x nosuchfile
grep -qF "$USAGE" err || fail "bad option: no usage line"
expect "long option" 1 "" "toyvirt: unknown option" -- "$TV" --frobnicate f
expect "-i without value" 1 "" "toyvirt: option -i requires an argument" -- "$TV" -i
for v in 0 abc -5 12x 86400001 99999999999999999999 ""; do
	expect "-i '$v'" 1 "" "toyvirt: invalid interval '$v'" -- "$TV" -i "$v" f
done
expect "two files" 1 "" "toyvirt: too many arguments" -- "$TV" a b
expect "missing file" 1 "" \
    "toyvirt: nosuchfile: cannot open: No such file or directory" -- "$TV" nosuchfile
mkdir adir
expect "directory" 1 "" "toyvirt: adir: is a directory, not an ELF file" -- "$TV" adir
: >empty
expect "empty file" 1 "" "toyvirt: empty: empty file, not an ELF file" -- "$TV" empty
printf 'hello\n' >text
expect "text file" 1 "" "toyvirt: text: not an ELF file (bad magic)" -- "$TV" text
expect "not a regular file" 1 "" "toyvirt: /dev/null: not a regular file" -- "$TV" /dev/null
# A FIFO must be refused, not opened (opening it would block).
if mkfifo fifo 2>/dev/null; then
	expect "fifo" 1 "" "toyvirt: fifo: not a regular file" -- "$TV" fifo
fi

# --- nvmm_init failures need a valid image (it is checked first). ----------
if ! command -v python3 >/dev/null 2>&1; then
	echo "note: python3 missing: nvmm_init cases skipped"
else
	python3 "$HERE/toyvirt_elfgen.py" gen || fail "generator"
	cp gen/tiny.elf tiny.elf
	cp "$TV" ./toyvirt
	chmod 755 toyvirt
	chmod 644 tiny.elf

	# Permission: run as nobody, who cannot open /dev/kvm (root-only here).
	if ! command -v setpriv >/dev/null 2>&1; then
		echo "note: setpriv missing: permission case skipped"
	elif [ ! -e /dev/kvm ]; then
		echo "note: no /dev/kvm: permission case skipped"
	elif setpriv --reuid=nobody --regid=nogroup --clear-groups \
	    sh -c 'test -r /dev/kvm && test -w /dev/kvm' 2>/dev/null; then
		echo "note: nobody may open /dev/kvm: permission case skipped"
	elif ! setpriv --reuid=nobody --regid=nogroup --clear-groups \
	    sh -c 'test -x ./toyvirt && test -r ./tiny.elf' 2>/dev/null; then
		echo "note: nobody cannot reach $T: permission case skipped"
	else
		expect "no access to /dev/kvm" 1 "" \
		    "toyvirt: nvmm_init: Permission denied" -- \
		    setpriv --reuid=nobody --regid=nogroup --clear-groups \
		    ./toyvirt tiny.elf
		grep -qF "add your user to the kvm group" err ||
		    fail "no access: no advice: $(cat err)"
	fi

	# No device: a private mount namespace with an empty /dev.
	if command -v unshare >/dev/null 2>&1 &&
	    unshare --mount sh -c 'mount -t tmpfs none /dev' 2>/dev/null; then
		expect "no /dev/kvm" 1 "" "toyvirt: nvmm_init:" -- \
		    unshare --mount sh -c \
		    'mount -t tmpfs none /dev && exec ./toyvirt tiny.elf'
		grep -qF "load the kvm module (modprobe kvm_intel or kvm_amd)" err ||
		    fail "no /dev/kvm: no advice: $(cat err)"
	else
		echo "note: cannot hide /dev with unshare: missing device case skipped"
	fi
fi

[ $fails -eq 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "all passed"
exit 0
