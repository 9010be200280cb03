#!/bin/sh
# t_example.sh - README's minimal program: examples/minimal.c builds warning-free against <nvmm.h> and BUILD_DIR/libnvmm.a, runs, prints what it should, and README.md carries it verbatim.
#
# Usage: tests/t_example.sh [BUILD_DIR]
# The copy in README.md sits between the lines "<!-- minimal.c -->" and
# "<!-- /minimal.c -->" (inside a ```c fence, whose lines are ignored);
# without the markers a notice is printed and that check is skipped.
# README_MD=path checks another file instead.  Running the program needs
# /dev/kvm (exit 77 without it, after the build and README checks).

B=${1:-build}
TOP=$(cd "$(dirname "$0")/.." && pwd)
SRC=$TOP/examples/minimal.c
LIB=$B/libnvmm.a
CC=${CC:-cc}

if [ ! -f "$LIB" ]; then
	echo "FAIL: $LIB is not built"
	exit 1
fi
T=$(mktemp -d) || exit 1
trap 'rm -rf "$T"' EXIT
fails=0
fail() {
	echo "FAIL: $*"
	fails=$((fails + 1))
}

# A sanitizer build of the library needs the sanitizer runtimes too.
SAN=
if nm "$LIB" 2>/dev/null | grep -q '__asan_\|__ubsan_'; then
	SAN=-fsanitize=address,undefined
fi

# --- Build: with cc, and with clang too when there is one. ----------------
built=
for c in "$CC" clang; do
	command -v "$c" >/dev/null 2>&1 || continue
	case " $built " in *" $c "*) continue ;; esac
	if timeout 120 "$c" -Wall -Wextra -Werror $SAN -I"$TOP/include" \
	    -o "$T/minimal-$c" "$SRC" "$LIB" -lpthread >"$T/cc.log" 2>&1; then
		echo "ok: $c -Wall -Wextra -Werror builds examples/minimal.c"
	else
		fail "$c cannot build examples/minimal.c: $(cat "$T/cc.log")"
	fi
	built="$built $c"
done
EXE=$T/minimal-$CC

# --- Size: the README promises a small program. ---------------------------
n=$(grep -v '^[[:space:]]*$' "$SRC" | grep -cv '^[[:space:]]*/\*.*\*/[[:space:]]*$')
if [ "$n" -gt 50 ]; then
	fail "examples/minimal.c has $n lines of code (more than 50)"
fi

# --- README.md carries the file verbatim. ---------------------------------
README=${README_MD:-$TOP/README.md}
if grep -qx '<!-- minimal.c -->' "$README" &&
    grep -qx '<!-- /minimal.c -->' "$README"; then
	sed -n '/^<!-- minimal.c -->$/,/^<!-- \/minimal.c -->$/p' "$README" |
	    sed '1d;$d' | grep -v '^```' >"$T/readme.c"
	# Leading and trailing blank lines around the fence do not count.
	awk 'NF { p = 1 } p' "$T/readme.c" | awk '{ a[NR] = $0 }
	    END { n = NR; while (n > 0 && a[n] ~ /^[[:space:]]*$/) n--;
	    for (i = 1; i <= n; i++) print a[i] }' >"$T/readme2.c"
	if cmp -s "$SRC" "$T/readme2.c"; then
		echo "ok: README.md carries examples/minimal.c verbatim"
	else
		fail "README.md's copy differs from examples/minimal.c:"
		diff -u "$SRC" "$T/readme2.c"
	fi
else
	echo "notice: README.md has no <!-- minimal.c --> ... <!-- /minimal.c -->" \
	    "markers yet: the verbatim check is skipped"
fi

# --- Run. -----------------------------------------------------------------
if [ $fails -ne 0 ]; then
	echo "$fails failure(s)"
	exit 1
fi
if ! { [ -c /dev/kvm ] && [ -r /dev/kvm ] && [ -w /dev/kvm ]; }; then
	echo "SKIP: cannot open /dev/kvm (missing or no permission): not run"
	exit 77
fi
printf 'guest wrote 0x42 to port 0x10\nguest halted\n' >"$T/expected"
timeout 60 "$EXE" >"$T/out" 2>"$T/err"
rc=$?
if [ $rc -ne 0 ]; then
	fail "minimal exited $rc: $(cat "$T/err")"
elif ! cmp -s "$T/expected" "$T/out"; then
	fail "minimal printed something else:"
	diff -u "$T/expected" "$T/out"
elif [ -s "$T/err" ]; then
	fail "minimal wrote on stderr: $(cat "$T/err")"
else
	echo "ok: minimal runs: $(tr '\n' '|' <"$T/out")"
fi
[ $fails -eq 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "all passed"
exit 0
