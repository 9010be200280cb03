# mk/reliability.mk - the long reliability runs: `make fuzz` (libFuzzer on
# toyvirt's ELF loader) and `make stress` (ThreadSanitizer build, events
# and stops at 1 kHz, 10000 machine cycles).  Included by the top Makefile;
# works for any B.  The short versions run in `make check`.
#
#   make fuzz   [FUZZ_SECONDS=600] [FUZZ_CC=clang]
#   make stress [STRESS_SECONDS=10] [HYGIENE_CYCLES=10000]
#               [TSAN_CC=clang] [TSAN_B=$(B)-tsan]

FUZZ_SECONDS	?= 600
STRESS_SECONDS	?= 10
HYGIENE_CYCLES	?= 10000
TSAN_CC		?= $(if $(shell command -v clang 2>/dev/null),clang,gcc)
TSAN_B		?= $(B)-tsan

.PHONY: fuzz stress stress-tsan-build

# The script builds the fuzzer (clang, ASan+UBSan) into $(B)/fuzz,
# generates the seeds, replays them and fuzzes; it prints libFuzzer's
# final statistics.
fuzz:
	FUZZ_SECONDS=$(FUZZ_SECONDS) sh tests/t_fuzz_elf.sh $(B)

# The library and the stress test with -fsanitize=thread in $(TSAN_B).
stress-tsan-build:
	$(MAKE) B=$(TSAN_B) CC=$(TSAN_CC) SAN= \
	    CFLAGS="-O1 -g -fsanitize=thread -fno-omit-frame-pointer" \
	    SAN_LDFLAGS=-fsanitize=thread \
	    $(TSAN_B)/tests/t_stress $(TSAN_B)/tests/t_hygiene

# t_stress under TSan (STRESS_SECONDS per variant; any report fails it),
# then the hygiene cycles at full length on the normal build.
stress: stress-tsan-build $(B)/tests/t_hygiene
	vm/with-kvm sh -c 'TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
	    $(TSAN_B)/tests/t_stress $(STRESS_SECONDS) && \
	    $(B)/tests/t_hygiene $(HYGIENE_CYCLES)'
