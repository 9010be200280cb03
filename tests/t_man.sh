#!/bin/sh
# t_man.sh - lints the manual pages in man/ and checks libnvmm.3 against the exported functions and the exit reasons.
#
# Usage: sh tests/t_man.sh [BUILD_DIR]   (the build directory is not used)
# Exit 0 pass, 1 fail, 77 skip (no formatter at all).
#
# Linter: mandoc -Tlint -W warning when mandoc is installed (Debian package
# "mandoc"), else man-db's "man --warnings -l" (groff), else groff itself.
# Any message from the linter fails the test.  T_MAN_LINTER=mandoc|man|groff
# forces one; T_MAN_DIR, T_MAN_MAP and T_MAN_HEADER point the test at other
# files (to test the test).

ROOT=$(cd "$(dirname "$0")/.." && pwd) || exit 1
MANDIR=${T_MAN_DIR:-$ROOT/man}
MAP=${T_MAN_MAP:-$ROOT/lib/libnvmm.map}
HEADER=${T_MAN_HEADER:-$ROOT/include/nvmm.h}
PAGES="libnvmm.3 toyvirt.1 nvmmctl.8"

tmp=$(mktemp -d /tmp/t_man.XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT

fails=0
fail() {
	echo "FAIL: $*"
	fails=$((fails + 1))
}

# -------------------------------------------------------------------------
# Which linter.
# -------------------------------------------------------------------------

linter=${T_MAN_LINTER:-}
if [ -z "$linter" ]; then
	if command -v mandoc >/dev/null 2>&1; then
		linter="mandoc"
	elif command -v man >/dev/null 2>&1 &&
	    command -v groff >/dev/null 2>&1; then
		linter="man"
	elif command -v groff >/dev/null 2>&1; then
		linter="groff"
	else
		echo "SKIP: no manual formatter (neither mandoc nor groff) installed"
		exit 77
	fi
fi
case $linter in
mandoc|man|groff)
	command -v "$linter" >/dev/null 2>&1 ||
	    { echo "FAIL: T_MAN_LINTER=$linter is not installed"; exit 1; } ;;
*)
	echo "FAIL: unknown T_MAN_LINTER '$linter' (mandoc, man or groff)"
	exit 1 ;;
esac
echo "linter: $linter"

# Lints one page; prints the linter's messages, returns non-zero on any.
lint() {
	case $linter in
	mandoc)
		mandoc -Tlint -W warning "$1" >"$tmp/lint" 2>&1 ;;
	man)
		# No pager, a fixed width; man-db's seccomp sandbox can fail in
		# containers.  groff's warnings go to stderr, the page is dropped.
		MAN_DISABLE_SECCOMP=1 MANWIDTH=80 MANPAGER=cat PAGER=cat \
		    LC_ALL=C.UTF-8 man --warnings=w -l "$1" \
		    >/dev/null 2>"$tmp/lint" ;;
	groff)
		# From stdin: groff's mdoc package reports more that way.
		LC_ALL=C.UTF-8 groff -mandoc -ww -Tutf8 -z <"$1" \
		    >"$tmp/lint" 2>&1 ;;
	esac
	rc=$?
	if [ $rc -ne 0 ] || [ -s "$tmp/lint" ]; then
		sed 's/^/    /' "$tmp/lint"
		[ $rc -ne 0 ] && echo "    ($linter exit status $rc)"
		return 1
	fi
	return 0
}

# -------------------------------------------------------------------------
# Every page exists and lints clean.
# -------------------------------------------------------------------------

for p in $PAGES; do
	if [ ! -f "$MANDIR/$p" ]; then
		fail "$MANDIR/$p is missing"
		continue
	fi
	if lint "$MANDIR/$p"; then
		echo "ok: $p lints clean"
	else
		fail "$p: $linter reports the messages above"
	fi
done
# Pages nobody listed above are linted too.
for f in "$MANDIR"/*.[0-9]; do
	[ -f "$f" ] || continue
	case " $PAGES " in *" ${f##*/} "*) continue ;; esac
	if lint "$f"; then
		echo "ok: ${f##*/} lints clean"
	else
		fail "${f##*/}: $linter reports the messages above"
	fi
done

# -------------------------------------------------------------------------
# libnvmm.3 against lib/libnvmm.map and include/nvmm.h.
# -------------------------------------------------------------------------

LIBPAGE=$MANDIR/libnvmm.3
[ -f "$LIBPAGE" ] || { echo "$fails check(s) failed"; exit 1; }

# The exported functions: "name;" lines of the version script's global part.
sed -n '/global:/,/local:/p' "$MAP" |
    sed -n 's/^[[:space:]]*\(nvmm_[A-Za-z0-9_]*\);.*/\1/p' | sort >"$tmp/exported"
n=$(wc -l <"$tmp/exported")
if [ "$n" -ne 24 ]; then
	fail "$MAP exports $n functions, NVMM has 24"
fi

# The functions in the SYNOPSIS (.Fn or .Fo) and in the NAME section (.Nm).
section() {
	awk -v s="$1" '
		/^\.Sh / { on = ($0 == ".Sh " s); next }
		on { print }
	' "$LIBPAGE"
}
section SYNOPSIS | sed -n 's/^\.F[no] \(nvmm_[A-Za-z0-9_]*\).*/\1/p' |
    sort -u >"$tmp/synopsis"
section NAME | sed -n 's/^\.Nm \(nvmm_[A-Za-z0-9_]*\).*/\1/p' |
    sort -u >"$tmp/name"

before=$fails
while read -r f; do
	grep -qx "$f" "$tmp/synopsis" ||
	    fail "libnvmm.3: $f is exported but not in the SYNOPSIS"
	grep -qx "$f" "$tmp/name" ||
	    fail "libnvmm.3: $f is exported but not in the NAME section"
done <"$tmp/exported"
while read -r f; do
	grep -qx "$f" "$tmp/exported" ||
	    fail "libnvmm.3: the SYNOPSIS has $f, which is not exported"
done <"$tmp/synopsis"
[ $fails -eq "$before" ] &&
    echo "ok: SYNOPSIS and NAME list the $n exported functions"

# Every exit reason of the header is described.
sed -n 's/^#define[[:space:]]\{1,\}\(NVMM_VCPU_EXIT_[A-Z0-9_]*\)[[:space:]].*/\1/p' \
    "$HEADER" | sort -u >"$tmp/exits"
n=$(wc -l <"$tmp/exits")
if [ "$n" -lt 15 ]; then
	fail "$HEADER defines only $n NVMM_VCPU_EXIT_* constants (expected 15)"
fi
before=$fails
while read -r x; do
	grep -qw "$x" "$LIBPAGE" ||
	    fail "libnvmm.3 does not mention the exit reason $x"
done <"$tmp/exits"
[ $fails -eq "$before" ] && echo "ok: libnvmm.3 mentions the $n exit reasons"

if [ $fails -ne 0 ]; then
	echo "$fails check(s) failed"
	exit 1
fi
echo "all manual page checks passed"
exit 0
