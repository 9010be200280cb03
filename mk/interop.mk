# mk/interop.mk - make interop: Debian's QEMU 7.2 built against this libnvmm runs guests with -accel nvmm (not part of make check).
#
# interop/run.sh fetches and builds QEMU under $(B)/interop (cached there:
# the first run takes minutes, later ones seconds) and compares the console
# output of smallkern and of interop/pvhguest under nvmm, tcg and kvm.

.PHONY: interop

interop: lib $(B)/smallkern $(B)/interop/pvhguest $(B)/interop/lcheck
	bash interop/run.sh $(B)

# The guest: 32-bit PVH code, assembled and linked on its own (no libc,
# none of the library's flags).
$(O)/interop/pvhguest.o: interop/pvhguest.S
	@mkdir -p $(dir $@)
	$(CC) -MMD -MP -c $< -o $@

$(B)/interop/pvhguest: $(O)/interop/pvhguest.o interop/pvhguest.ld
	@mkdir -p $(dir $@)
	ld -nostdlib -static -z max-page-size=4096 -z noexecstack \
		-T interop/pvhguest.ld -o $@ $<

# make interop's Linux guest: the checker its init runs, static (the
# initramfs has no libc).
$(B)/interop/lcheck: interop/linux/lcheck.c
	@mkdir -p $(dir $@)
	$(CC) -static -O2 -Wall -Wextra -Werror -o $@ $<
