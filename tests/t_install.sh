#!/bin/sh
# t_install.sh - make install into a temporary DESTDIR: files, soname, the
# exported symbols, a client built with pkg-config; then make uninstall.
B=${1:-build}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }

# The build directory may be a sanitizer build: keep its flags.
san=; sanflags=
if nm "$B/libnvmm.a" 2>/dev/null | grep -q __asan_init; then
	san=1; sanflags=-fsanitize=address,undefined
fi
if ! make -s B="$B" SAN="$san" install DESTDIR="$tmp/root" PREFIX=/usr/local \
    >"$tmp/log" 2>&1; then
	cat "$tmp/log"; echo "make install failed"; exit 1
fi
r=$tmp/root/usr/local
for f in lib/libnvmm.a lib/libnvmm.so.0.0.1 lib/pkgconfig/nvmm.pc \
    include/nvmm.h bin/toyvirt sbin/nvmmctl share/libnvmm/smallkern; do
	[ -f "$r/$f" ] || bad "missing $f"
done
[ "$(readlink "$r/lib/libnvmm.so.0")" = libnvmm.so.0.0.1 ] ||
	bad "libnvmm.so.0 link"
[ "$(readlink "$r/lib/libnvmm.so")" = libnvmm.so.0 ] || bad "libnvmm.so link"
readelf -d "$r/lib/libnvmm.so.0.0.1" | grep -q 'SONAME.*\[libnvmm\.so\.0\]' ||
	bad "soname"

# Exactly NVMM's 24 functions are exported.
sed -n 's/^[[:space:]]*\(nvmm_[a-z_0-9]*\);$/\1/p' lib/libnvmm.map | sort \
    >"$tmp/want"
nm -D --defined-only "$r/lib/libnvmm.so.0.0.1" |
    awk '$2 != "A" { sub(/@.*/, "", $3); print $3 }' | sort >"$tmp/got"
[ "$(wc -l <"$tmp/want")" -eq 24 ] || bad "map lists $(wc -l <"$tmp/want")"
if ! cmp -s "$tmp/want" "$tmp/got"; then
	bad "exported symbols differ:"; diff "$tmp/want" "$tmp/got"
fi

cat >"$tmp/client.c" <<'C'
#include <errno.h>
#include <stdio.h>
#include <nvmm.h>

int
main(void)
{
	struct nvmm_capability cap;

	if (nvmm_init() == -1) {
		printf("no kvm (%d)\n", errno);
		return errno == ENXIO || errno == EACCES ? 0 : 1;
	}
	if (nvmm_capability(&cap) == -1)
		return 1;
	printf("version %u state %u\n", cap.version, cap.state_size);
	return 0;
}
C
flags=$(PKG_CONFIG_PATH="$r/lib/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$tmp/root" \
    pkg-config --cflags --libs nvmm) || bad "pkg-config"
${CC:-cc} $sanflags -Wall -Werror -o "$tmp/client" "$tmp/client.c" $flags ||
	bad "client build (pkg-config: $flags)"
out=$(LD_LIBRARY_PATH="$r/lib" "$tmp/client") || bad "client run"
case "$out" in
"version 2 state 1008"|"no kvm"*) ;;
*) bad "client said: $out" ;;
esac
LD_LIBRARY_PATH="$r/lib" ldd "$tmp/client" | grep -q "$r/lib/libnvmm.so.0" ||
	bad "client not linked to the installed library"
flags=$(PKG_CONFIG_PATH="$r/lib/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$tmp/root" \
    pkg-config --static --cflags --libs nvmm)
# A sanitizer build's archive needs the sanitizer runtime.
if [ -n "$san" ]; then
	${CC:-cc} $sanflags -o "$tmp/client-static" "$tmp/client.c" $flags ||
		bad "static client build"
else
	${CC:-cc} -static -o "$tmp/client-static" "$tmp/client.c" $flags ||
		bad "static client build"
fi

make -s B="$B" SAN="$san" uninstall DESTDIR="$tmp/root" PREFIX=/usr/local \
    >"$tmp/log" 2>&1 ||
	bad "make uninstall"
left=$(find "$tmp/root" -type f -o -type l)
[ -z "$left" ] || bad "left after uninstall: $left"
[ $fail -eq 0 ] && echo "install: ok"
exit $fail
