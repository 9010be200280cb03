# smallkern/smallkern.mk - builds the freestanding demo kernel $(B)/smallkern (included by the top Makefile).
#
# Kernel C is integer-only (-mgeneral-regs-only): on some hosts guest CPL0
# code is emulated without an FPU, and the kernel never owns FPU state
# anyway.  utask.c, the CPL3 task, is the one file built with x87/SSE.
# Both are built without red zone: see trapentry.S.

# gcc and clang both build it; SK_CC=gcc forces gcc whatever CC says.
SK_CC	?= $(CC)
SK_LD	?= ld

# SK_DEFS: extra -D options, e.g. SK_DEFS=-DMAX_FAULTS=1000 for long tests.
SK_DEFS	?=
SK_CFLAGS = -std=gnu11 -Wall -Wextra -Werror -O2 -g \
	-ffreestanding -fno-pic -fno-pie -nostdlib -mno-red-zone \
	-march=x86-64 -mtune=generic -fno-stack-protector \
	-fcf-protection=none -fno-asynchronous-unwind-tables \
	-fno-unwind-tables -Ismallkern $(SK_DEFS)
SK_KFLAGS = $(SK_CFLAGS) -mgeneral-regs-only
SK_UFLAGS = $(SK_CFLAGS) -fno-math-errno

# Objects live with the others under $(O) (the top Makefile's object
# directory); $(B)/smallkern is the kernel itself.
SK_OBJDIR = $(O)/smallkern
SK_SRCS	:= $(wildcard smallkern/*.c smallkern/*.S)
SK_OBJS	:= $(patsubst smallkern/%.c,$(SK_OBJDIR)/%.o,$(filter %.c,$(SK_SRCS))) \
	   $(patsubst smallkern/%.S,$(SK_OBJDIR)/%.o,$(filter %.S,$(SK_SRCS)))

$(B)/smallkern: $(SK_OBJS) smallkern/smallkern.ld
	$(SK_LD) -nostdlib -static -z max-page-size=4096 -z noexecstack \
		-T smallkern/smallkern.ld -o $@ $(SK_OBJS)

# The CPL3 task: floating point allowed (an explicit rule beats patterns).
$(SK_OBJDIR)/utask.o: smallkern/utask.c
	@mkdir -p $(dir $@)
	$(SK_CC) $(SK_UFLAGS) -MMD -MP -c $< -o $@

$(SK_OBJDIR)/%.o: smallkern/%.c
	@mkdir -p $(dir $@)
	$(SK_CC) $(SK_KFLAGS) -MMD -MP -c $< -o $@

$(SK_OBJDIR)/%.o: smallkern/%.S
	@mkdir -p $(dir $@)
	$(SK_CC) $(SK_KFLAGS) -MMD -MP -c $< -o $@
