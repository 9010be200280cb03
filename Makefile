# Makefile - builds libnvmm, toyvirt, smallkern, nvmmctl, tests and benchmarks
# into $(B) (default build/).  GNU make.
#
#   make            everything
#   make check      build and run the test suite (normal and ASan builds)
#   make demo       run toyvirt on smallkern
#   make bench      run the benchmarks
#   make CC=clang   build with clang
#
# What needs KVM runs where KVM is: on this host when /dev/kvm is usable,
# else in the AMD-V test machine (vm/README.md).  VM=1 forces the
# machine, VM=0 forbids it.

CC	?= cc
B	?= build
SAN	?=

SOVERSION	= 0
SOMINOR		= 0.1
SONAME		= libnvmm.so.$(SOVERSION)

WARN	= -Wall -Wextra -Werror
CFLAGS	?= -O2 -g
ALL_CFLAGS = -std=gnu11 $(WARN) $(CFLAGS) -Iinclude -D_GNU_SOURCE
ifeq ($(SAN),1)
ALL_CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer \
	      -fno-sanitize-recover=all
SAN_LDFLAGS = -fsanitize=address,undefined
endif
LDLIBS	= -lpthread

# Objects live under $(O); programs sit directly in $(B).
O		= $(B)/obj

LIB_SRCS	= $(wildcard lib/*.c)
LIB_OBJS	= $(LIB_SRCS:%.c=$(O)/%.o)
LIB_PIC_OBJS	= $(LIB_SRCS:%.c=$(O)/pic/%.o)

TOYVIRT_SRCS	= $(wildcard toyvirt/*.c)
TOOLS_SRCS	= $(wildcard tools/*.c)

TEST_COMMON	= $(filter-out tests/t_%,$(wildcard tests/*.c))
TEST_COMMON_OBJS = $(TEST_COMMON:%.c=$(O)/%.o)
TEST_SRCS	= $(wildcard tests/t_*.c)
TEST_BINS	= $(TEST_SRCS:tests/%.c=$(B)/tests/%)

PROGRAMS = $(if $(TOYVIRT_SRCS),$(B)/toyvirt) $(if $(TOOLS_SRCS),$(B)/nvmmctl) \
	   $(if $(wildcard smallkern/smallkern.mk),$(B)/smallkern)

# Installation (Debian-like layout).
PREFIX		?= /usr/local
LIBDIR		?= $(PREFIX)/lib
INCLUDEDIR	?= $(PREFIX)/include
BINDIR		?= $(PREFIX)/bin
SBINDIR		?= $(PREFIX)/sbin
DATADIR		?= $(PREFIX)/share
MANDIR		?= $(DATADIR)/man
VERSION		= $(SOVERSION).$(SOMINOR)

.PHONY: all lib check demo bench clean tests install uninstall
all: lib $(PROGRAMS) tests

lib: $(B)/libnvmm.a $(B)/libnvmm.so

$(O)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(PRIV_CFLAGS) -MMD -MP -c $< -o $@

$(O)/pic/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -fPIC -MMD -MP -c $< -o $@

$(O)/%.o: %.S
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

$(B)/libnvmm.a: $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(B)/libnvmm.so.$(SOVERSION).$(SOMINOR): $(LIB_PIC_OBJS) lib/libnvmm.map
	$(CC) -shared -Wl,-soname,$(SONAME) -Wl,--version-script=lib/libnvmm.map \
		-Wl,-z,defs -Wl,-z,now -Wl,-z,relro \
		$(SAN_LDFLAGS) -o $@ $(LIB_PIC_OBJS) $(LDLIBS)

$(B)/libnvmm.so: $(B)/libnvmm.so.$(SOVERSION).$(SOMINOR)
	ln -sf libnvmm.so.$(SOVERSION).$(SOMINOR) $(B)/$(SONAME)
	ln -sf $(SONAME) $@

# Only the tests and nvmmctl (the host kind) see the library's private
# headers.
$(O)/tests/%.o: PRIV_CFLAGS = -Ilib
$(O)/tools/%.o: PRIV_CFLAGS = -Ilib

# Programs link the static library: they run from build/ without setup.
$(B)/toyvirt: $(TOYVIRT_SRCS:%.c=$(O)/%.o) $(B)/libnvmm.a
	$(CC) $(SAN_LDFLAGS) -o $@ $^ $(LDLIBS)

$(B)/nvmmctl: $(TOOLS_SRCS:%.c=$(O)/%.o) $(B)/libnvmm.a
	$(CC) $(SAN_LDFLAGS) -o $@ $^ $(LDLIBS)

# Tests: tests/t_NAME.c, plus tests/t_NAME_guest.S when present, plus the
# common helpers tests/*.c; linked against the static library.
tests: $(TEST_BINS)

.SECONDARY:
.SECONDEXPANSION:
$(B)/tests/t_%: $(O)/tests/t_%.o \
		$$(addprefix $(O)/,$$(subst .S,.o,$$(wildcard tests/t_$$*_guest.S))) \
		$(TEST_COMMON_OBJS) $(B)/libnvmm.a
	@mkdir -p $(dir $@)
	$(CC) $(SAN_LDFLAGS) -o $@ $^ $(LDLIBS)

# smallkern has its own freestanding rules.
-include smallkern/smallkern.mk
-include bench/bench.mk
# Further targets (fuzz, stress, interop) live in mk/*.mk.
-include $(wildcard mk/*.mk)

export VM

# The suite runs twice: the normal build and an ASan+UBSan build.
check: all
	$(MAKE) SAN=1 B=$(B)-asan all
	@sh tests/run.sh $(B) $(B)-asan

demo: all
	@vm/with-kvm $(B)/toyvirt $(B)/smallkern

$(B)/nvmm.pc: lib/nvmm.pc.in
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
	    -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' -e 's|@VERSION@|$(VERSION)|' \
	    $< > $@

install: all $(B)/nvmm.pc
	install -d $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR) \
	    $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR) \
	    $(DESTDIR)$(DATADIR)/libnvmm
	install -m 644 $(B)/libnvmm.a $(DESTDIR)$(LIBDIR)/
	install -m 755 $(B)/libnvmm.so.$(VERSION) $(DESTDIR)$(LIBDIR)/
	ln -sf libnvmm.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libnvmm.so
	install -m 644 $(B)/nvmm.pc $(DESTDIR)$(LIBDIR)/pkgconfig/
	install -m 644 include/nvmm.h $(DESTDIR)$(INCLUDEDIR)/
	install -m 755 $(B)/toyvirt $(DESTDIR)$(BINDIR)/
	install -m 755 $(B)/nvmmctl $(DESTDIR)$(SBINDIR)/
	install -m 644 $(B)/smallkern $(DESTDIR)$(DATADIR)/libnvmm/
	for m in man/*.[0-9]; do \
		[ -f "$$m" ] || continue; \
		s=$${m##*.}; install -d $(DESTDIR)$(MANDIR)/man$$s; \
		install -m 644 $$m $(DESTDIR)$(MANDIR)/man$$s/; \
	done

uninstall:
	rm -f $(DESTDIR)$(LIBDIR)/libnvmm.a $(DESTDIR)$(LIBDIR)/libnvmm.so \
	    $(DESTDIR)$(LIBDIR)/$(SONAME) \
	    $(DESTDIR)$(LIBDIR)/libnvmm.so.$(VERSION) \
	    $(DESTDIR)$(LIBDIR)/pkgconfig/nvmm.pc \
	    $(DESTDIR)$(INCLUDEDIR)/nvmm.h $(DESTDIR)$(BINDIR)/toyvirt \
	    $(DESTDIR)$(SBINDIR)/nvmmctl $(DESTDIR)$(DATADIR)/libnvmm/smallkern
	-rmdir $(DESTDIR)$(DATADIR)/libnvmm 2>/dev/null
	for m in man/*.[0-9]; do \
		[ -f "$$m" ] || continue; \
		rm -f $(DESTDIR)$(MANDIR)/man$${m##*.}/$${m##*/}; \
	done

clean:
	rm -rf $(B)

-include $(shell find $(O) -type f -name '*.d' 2>/dev/null)
