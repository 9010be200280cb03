#!/bin/sh
# t_fuzz_elf.sh - fuzzes toyvirt's ELF loader (elf_parse) with libFuzzer under ASan+UBSan for FUZZ_SECONDS (default 60).
#
# Usage: tests/t_fuzz_elf.sh [BUILD_DIR]
#   FUZZ_SECONDS  how long to fuzz (default 60; `make fuzz` gives 600)
#   FUZZ_CC       the compiler (default clang)
# Builds BUILD_DIR/fuzz/fuzz_elf from tests/fuzz/fuzz_elf.c and
# toyvirt/elf.c, generates the seed corpus with tests/fuzz/gen_corpus.py,
# replays it, then fuzzes.  libFuzzer's final statistics are printed (the
# number of executions is "stat::number_of_executed_units").  Any crash,
# timeout, leak, sanitizer report or inconsistent plan fails the test, and
# libFuzzer leaves the input in BUILD_DIR/fuzz/.
#
# make check runs this once per build directory; the fuzzer is the same
# (always ASan+UBSan) for both, so in an ASan build directory (name ending
# in -asan) it replays the seeds and the corpus the normal pass kept, and
# fuzzes only if FUZZ_SECONDS is given.  Skipped (77) without clang's
# libFuzzer (Debian: clang and libclang-rt-14-dev).

B=${1:-build}
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(dirname "$HERE")
CC_FUZZ=${FUZZ_CC:-clang}
SECS=${FUZZ_SECONDS:-60}
case "$B" in
*-asan) [ -n "$FUZZ_SECONDS" ] || SECS=0 ;;
esac
F=$B/fuzz
mkdir -p "$F" || exit 1

if ! command -v "$CC_FUZZ" >/dev/null 2>&1; then
	echo "SKIP: $CC_FUZZ not installed (Debian: clang libclang-rt-14-dev)"
	exit 77
fi
if ! command -v python3 >/dev/null 2>&1; then
	echo "SKIP: python3 is needed to generate the seed corpus"
	exit 77
fi

# Can this clang link a libFuzzer program at all?
cat >"$F/probe.c" <<'PROBE'
#include <stddef.h>
#include <stdint.h>
int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);
int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }
PROBE
if ! "$CC_FUZZ" -fsanitize=fuzzer,address,undefined -o "$F/probe" "$F/probe.c" \
    >"$F/probe.log" 2>&1; then
	echo "SKIP: $CC_FUZZ cannot build a libFuzzer target (install" \
	    "libclang-rt-14-dev): $(head -n 1 "$F/probe.log")"
	exit 77
fi

echo "building $F/fuzz_elf"
"$CC_FUZZ" -std=gnu11 -Wall -Wextra -Werror -g -O1 -D_GNU_SOURCE \
    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
    -fno-omit-frame-pointer -I"$TOP/toyvirt" \
    -o "$F/fuzz_elf" "$HERE/fuzz/fuzz_elf.c" "$TOP/toyvirt/elf.c" ||
    { echo "FAIL: the fuzz target does not build"; exit 1; }

rm -rf "$F/seeds"
python3 "$HERE/fuzz/gen_corpus.py" "$F/seeds" || { echo "FAIL: corpus"; exit 1; }
mkdir -p "$F/corpus"

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
# -timeout: one input taking more than 5 s is a hang.  Artifacts (crash-*,
# timeout-*, leak-*) go to $F/.  The first corpus directory receives the
# new inputs; the seeds are read only.
# Inputs up to 2 KiB are mutated (ten times faster than 16 KiB, and every
# header field fits); the replay reads the seeds whole.
OPTS="-timeout=5 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix=$F/ -close_fd_mask=1"

# 1. Every seed and what earlier runs kept (in an ASan build directory,
# also the corpus of the normal one), once.
KEPT=
case "$B" in
*-asan) [ -d "${B%-asan}/fuzz/corpus" ] && KEPT=${B%-asan}/fuzz/corpus ;;
esac
echo "replaying the seeds"
if ! "$F/fuzz_elf" $OPTS -max_len=16384 -runs=0 "$F/corpus" "$F/seeds" $KEPT \
    >"$F/replay.log" 2>&1; then
	echo "FAIL: replaying the corpus:"
	tail -n 30 "$F/replay.log"
	exit 1
fi
grep -E '^(INFO: seed corpus|#[0-9]+.*(INITED|DONE))' "$F/replay.log" | tail -n 2

if [ "$SECS" -eq 0 ]; then
	echo "ASan build directory: corpus replayed; fuzzing runs in the" \
	    "normal pass (FUZZ_SECONDS=N to fuzz here too)"
	echo "all passed"
	exit 0
fi

# 2. Fuzz.
echo "fuzzing for $SECS s"
"$F/fuzz_elf" $OPTS -max_len=2048 -max_total_time="$SECS" "$F/corpus" "$F/seeds" \
    >"$F/fuzz.log" 2>&1
rc=$?
grep -E '^stat::' "$F/fuzz.log"
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$F/fuzz.log")
if [ $rc -ne 0 ]; then
	echo "FAIL: libFuzzer exited with status $rc:"
	grep -v '^#' "$F/fuzz.log" | tail -n 40
	ls "$F" | grep -E '^(crash|timeout|leak|oom|slow-unit)-' | sed 's/^/artifact: /'
	exit 1
fi
if [ -z "$execs" ] || [ "$execs" -eq 0 ]; then
	echo "FAIL: no executions reported"
	tail -n 20 "$F/fuzz.log"
	exit 1
fi
echo "fuzz_elf: $execs executions in $SECS s, $(ls "$F/corpus" | wc -l) inputs in the corpus, no failure"
echo "all passed"
exit 0
